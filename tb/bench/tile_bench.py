"""cocotb testbench of a Dynamic Stripes / Stripes / bit-parallel tile.

Driven by :func:`dstripes.tb.host.cycle_path.simulate_tile`, which passes
(:mod:`dstripes.tb.handoff`) the stream payload descriptions, the runs' configurations and
RTL-exact cycle counts, and per run ``i`` the arrays ``acts{i}``, ``weights{i}`` and
``expected{i}``, all derived from the golden model.

:class:`TileTestbench` drives ``config``, ``act`` and ``weight``, collects ``result`` and
scoreboards every result transfer bit-exactly, in order, against the expected array. At the end
of a run (all results taken and ``busy`` low) it reads the tile's ``cycles`` counter and checks

* that it equals the testbench's own count, from the edge the configuration was accepted to the
  edge of the last result transfer (so the counter itself is verified, stalls or not), and
* with always-ready streams, that it equals the model's RTL-exact count.

It saves a :class:`dstripes.tb.verdict.BenchReport` under ``REPORT_KEY``.
"""
from __future__ import annotations

from collections import deque

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly

from ..handoff import load_arrays, load_params, save_result
from ..payload import codec
from ..verdict import REPORT_KEY, BenchReport, Interruption, RunOutcome, runs_verdict
from .streams import Domain, StreamDriver, StreamMonitor, level
from .toggles import ToggleMonitor

_MAX_MISMATCHES = 10  # reported in full; the rest are only counted


class TileTestbench:
    """Drivers, monitor and scoreboard of one tile.

    Parameters
    ----------
    dut
        cocotb handle of the tile's top module.
    params : dict
        ``streams``, ``runs``, ``idle``, ``stall``, ``seed`` (see
        :func:`dstripes.tb.host.cycle_path.simulate_tile`).
    arrays : dict
        ``acts{i}``, ``weights{i}``, ``expected{i}`` per run.
    """

    def __init__(self, dut, params: dict, arrays: dict):
        self.dut, self.params, self.arrays = dut, params, arrays
        self.domain = Domain(dut)
        streams, idle, seed = params["streams"], params["idle"], params["seed"]
        self.config = StreamDriver(dut, "config", self.domain, codec=codec(streams["config"]),
                                   idle=idle, seed=seed)
        self.act = StreamDriver(dut, "act", self.domain, codec=codec(streams["act"]),
                                idle=idle, seed=seed + 1)
        self.weight = StreamDriver(dut, "weight", self.domain, codec=codec(streams["weight"]),
                                   idle=idle, seed=seed + 2)
        self.result = StreamMonitor(dut, "result", self.domain, codec=codec(streams["result"]),
                                    stall=params["stall"], seed=seed + 3, callback=self._score)
        self.expected: deque = deque()
        self.checked = 0
        self.mismatches: list[dict] = []
        self.mismatch_count = 0

    def load(self, i: int) -> None:
        """Queue run ``i``: its configuration, all its activations and weights (so the tile
        never waits on the testbench), and its expected results."""
        self.config.send(self.params["runs"][i]["config"])
        self.act.send_all(self.arrays[f"acts{i}"])
        self.weight.send_all(self.arrays[f"weights{i}"])
        self.expected.extend(self.arrays[f"expected{i}"])

    def _score(self, item) -> None:
        if not self.expected:
            self._mismatch({"index": self.checked, "got": np.asarray(item).tolist(), "expected": None})
            return
        want = self.expected.popleft()
        if not np.array_equal(np.asarray(item), want):
            self._mismatch({"index": self.checked, "got": np.asarray(item).tolist(),
                            "expected": np.asarray(want).tolist()})
        self.checked += 1

    def _mismatch(self, record: dict) -> None:
        self.mismatch_count += 1
        if len(self.mismatches) < _MAX_MISMATCHES:
            self.mismatches.append(record)

    async def play(self, i: int) -> RunOutcome:
        """Run ``i`` to its end; return what was measured."""
        run = self.params["runs"][i]
        n = len(self.arrays[f"expected{i}"])
        before, bad_before = len(self.result.items), self.mismatch_count
        self.load(i)
        # Generous: every transfer may wait on random stalls.
        budget = 20 * run["cycles"] + 1000
        await self.result.wait_for(before + n, timeout_cycles=budget)
        await self._wait_idle(budget)
        await self.domain.cycles(2)  # a result beyond the last would be collected here
        await ReadOnly()
        measured = level(self.dut.cycles)
        await FallingEdge(self.domain.clk)
        # the tile finished: every configuration, activation and weight must have been taken
        left = {d.name: d.pending for d in (self.config, self.act, self.weight) if d.pending}
        return RunOutcome(run=i, results=len(self.result.items) - before, expected_results=n,
                          mismatches=self.mismatch_count - bad_before, cycles=measured,
                          tb_cycles=self.result.edges[-1] - self.config.edges[-1], expected_cycles=run["cycles"],
                          inputs_left=left)

    async def _wait_idle(self, budget: int) -> None:
        for _ in range(budget):
            await FallingEdge(self.domain.clk)
            await ReadOnly()
            if level(self.dut.busy) == 0:
                await FallingEdge(self.domain.clk)
                return
        raise AssertionError(f"busy still high {budget} cycles after the last result")

    async def abort(self, reset_cycles: int = 2) -> None:
        """Drop everything in flight and reset the tile (from a writable phase)."""
        for d in (self.config, self.act, self.weight):
            d.flush()
        self.result.clear()
        self.expected.clear()
        await self.domain.reset(reset_cycles)


@cocotb.test()
async def tile_runs(dut):
    """Play every run back to back (optionally after a reset in the middle of the first)."""
    params, arrays = load_params(), load_arrays()
    tb = TileTestbench(dut, params, arrays)
    tb.domain.start()
    await tb.domain.reset(2)
    toggles = None
    if params.get("toggles"):  # switching activity of the listed signals (tb/bench/toggles.py)
        toggles = ToggleMonitor(dut, tb.domain.clk, params["toggles"])
        cocotb.start_soon(toggles.run())
    interrupted = None
    if params["reset_at"] is not None:
        tb.load(0)
        await tb.domain.cycles(params["reset_at"])
        await ReadOnly()
        busy = level(dut.busy)
        await FallingEdge(tb.domain.clk)
        taken = len(tb.result.items)
        assert busy == 1 and taken < len(arrays["expected0"]), \
            f"reset_at {params['reset_at']} is not inside the first run (busy {busy}, {taken} results)"
        # What left the tile before the reset must already be right.
        interrupted = Interruption(params["reset_at"], taken, tb.mismatch_count)
        await tb.abort()
        tb.checked = 0
    outcomes = [await tb.play(i) for i in range(len(params["runs"]))]
    if toggles is not None:
        toggles.stop()
        save_result("toggles", toggles.result())
    verdict = runs_verdict(outcomes, cycles_required=params["check_cycles"])
    if interrupted is not None:
        verdict = verdict + interrupted.verdict()
    for stream in (tb.config, tb.act, tb.weight, tb.result):
        stream.stop()  # quiet ports for the last cycles of the simulation
    report = BenchReport(tuple(outcomes), verdict, interrupted, tb.mismatches[0] if tb.mismatches else None)
    save_result(REPORT_KEY, report.as_dict())
    assert verdict.passed, verdict.message() + \
        (f"; first mismatches: {tb.mismatches[:3]}" if tb.mismatches else "")
