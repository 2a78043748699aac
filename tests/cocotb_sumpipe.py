"""cocotb tests of the stream infrastructure on :class:`tb_fixtures.SumPipe`.

Run through :func:`tb.host.runner.run` (see ``tests/test_tb_streams.py``); parameters come from
:func:`tb.handoff.load_params`: ``payloads`` (the stream payload descriptions), ``lanes``,
``columns``, ``width``, ``count``, ``idle``, ``stall``, ``seed`` and ``latency`` (the latency
``full_throughput`` must measure; 1 for SumPipe, another value makes that test fail on
purpose).
"""
from __future__ import annotations

from collections import deque

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly

from dstripes.tb.bench.streams import Domain, StreamDriver, StreamMonitor, level
from dstripes.tb.handoff import load_params, save_result
from dstripes.tb.payload import codec


class SumPipeTB:
    """Driver on ``inp``, monitor on ``out``, a reference model and an in-order checker."""

    def __init__(self, dut, params: dict, idle: float, stall: float, seed: int):
        self.dut, self.params = dut, params
        self.domain = Domain(dut)
        self.rng = np.random.default_rng(seed)
        self.driver = StreamDriver(dut, "inp", self.domain, codec=codec(params["payloads"]["inp"]),
                                   idle=idle, seed=seed + 1)
        self.monitor = StreamMonitor(dut, "out", self.domain, codec=codec(params["payloads"]["out"]),
                                     stall=stall, seed=seed + 2, callback=self._check)
        self.expected: deque = deque()
        self.tag = 0
        self.checked = 0

    def stimulus(self, n: int) -> np.ndarray:
        """``n`` random payloads covering the full signed range of the elements."""
        w = self.params["width"]
        return self.rng.integers(-(1 << (w - 1)), 1 << (w - 1),
                                 size=(n, self.params["columns"], self.params["lanes"]))

    def send(self, payloads: np.ndarray) -> None:
        for p in payloads:
            self.expected.append({"sums": p.sum(axis=1), "tag": self.tag % 256})
            self.tag += 1
            self.driver.send(p)

    async def play(self, n: int, *, until: int | None = None, cycles_per_item: int = 50) -> None:
        """Send ``n`` random payloads and wait until ``until`` (default all) results came back,
        within ``cycles_per_item`` cycles per payload (and 100 more)."""
        self.send(self.stimulus(n))
        await self.monitor.wait_for(n if until is None else until, timeout_cycles=cycles_per_item * n + 100)

    def restart(self) -> None:
        """Forget the run in flight (around a reset): the DUT's tag restarts at 0."""
        self.driver.flush()
        self.monitor.clear()
        self.expected.clear()
        self.tag = 0

    def _check(self, item: dict) -> None:
        assert self.expected, f"unexpected extra result {item}"
        want = self.expected.popleft()
        assert item["tag"] == want["tag"], f"result {self.checked}: tag {item['tag']}, expected {want['tag']}"
        assert np.array_equal(item["sums"], want["sums"]), \
            f"result {self.checked}: sums {item['sums'].tolist()}, expected {want['sums'].tolist()}"
        self.checked += 1

    async def count(self) -> int:
        await ReadOnly()
        value = level(self.dut.count)
        await FallingEdge(self.domain.clk)
        return value


async def _start(dut, *, stalls: bool) -> SumPipeTB:
    """A testbench with its clock running and the DUT reset; with ``stalls``, the parameters'
    idle cycles and back-pressure."""
    params = load_params()
    idle, stall = (params["idle"], params["stall"]) if stalls else (0.0, 0.0)
    tb = SumPipeTB(dut, params, idle, stall, params["seed"])
    tb.domain.start()
    await tb.domain.reset(2)
    return tb


@cocotb.test()
async def in_order_under_stalls(dut):
    """Every payload arrives once, in order, with random idle cycles and back-pressure."""
    tb = await _start(dut, stalls=True)
    n = tb.params["count"]
    await tb.play(n)
    await tb.domain.cycles(5)  # a duplicated or extra result would show up here
    assert tb.checked == n and not tb.expected, f"checked {tb.checked} of {n}"
    assert len(tb.monitor.items) == n, f"{len(tb.monitor.items)} results for {n} inputs"
    count = await tb.count()
    assert count == n, f"DUT count {count}, expected {n}"
    save_result("in_order_under_stalls", {"count": n, "checked": tb.checked,
                                          "cycles": tb.monitor.edges[-1] - tb.driver.edges[0] + 1})


@cocotb.test()
async def full_throughput(dut):
    """With no stalls the driver and monitor move one payload per cycle: no bubbles."""
    tb = await _start(dut, stalls=False)
    n = tb.params["count"]
    await tb.play(n, cycles_per_item=4)
    ins, outs = tb.driver.edges, tb.monitor.edges
    assert ins == list(range(ins[0], ins[0] + n)), f"input bubbles at edges {ins}"
    assert outs == list(range(outs[0], outs[0] + n)), f"output bubbles at edges {outs}"
    latency = outs[0] - ins[0]
    want = tb.params["latency"]
    assert latency == want, f"SumPipe latency is {latency} cycles, expected {want}"
    save_result("full_throughput", {"count": n, "latency": latency, "cycles": outs[-1] - ins[0] + 1})


@cocotb.test()
async def reset_mid_run(dut):
    """A reset in the middle of a run drops it; a second run afterwards is clean."""
    tb = await _start(dut, stalls=True)
    n = tb.params["count"]
    await tb.play(n, until=n // 3)
    await FallingEdge(tb.domain.clk)
    first = tb.checked
    assert first < n, "the first run finished before the reset; use more payloads"
    tb.restart()
    await tb.domain.reset(3)
    count = await tb.count()
    assert count == 0, f"DUT count {count} after reset"
    m = n // 2
    await tb.play(m)
    await tb.domain.cycles(5)
    assert tb.checked - first == m and len(tb.monitor.items) == m and not tb.expected, \
        f"second run: {len(tb.monitor.items)} results for {m} inputs"
    count = await tb.count()
    assert count == m, f"DUT count {count}, expected {m}"
    save_result("reset_mid_run", {"first_run": first, "second_run": m})
