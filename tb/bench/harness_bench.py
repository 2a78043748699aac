"""cocotb testbench of the fast path: a tile inside its verification harness.

Driven by :func:`dstripes.tb.host.fast_path.simulate_harness`. Python does no work per clock
cycle: the clock runs in the simulator (cocotb's GPI clock), the harness hardware
(:mod:`dstripes.tb.gateware.tile_harness`) feeds the tile from memories and checks every result,
and this module only

* writes the memory files and pulses their ``load`` ports (the run table and the weight bricks
  once per batch; the activation and expected-result rings half by half, each time the harness
  moves on to the other half: one wake-up per few thousand transfers);
* starts a batch and awaits ``done`` with one trigger (with a time limit);
* reads the run log and the counters, and judges each run with the same checks as the
  per-cycle testbench (:func:`dstripes.tb.verdict.run_verdict`), plus the transfer counts of
  every stream over the batch (nothing lost or repeated), and saves a
  :class:`dstripes.tb.verdict.BenchReport`.

With ``reset_at``, harness and tile are reset that many cycles into the first run (which must
still be running, and whose results so far must be right), and every run is played again.
"""
from __future__ import annotations

import bisect
import itertools

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.simtime import convert, get_sim_time
from cocotb.triggers import Edge, RisingEdge, SimTimeoutError, Timer, with_timeout

from dstripes.sim.files import write_atomic

from .. import memfile
from ..handoff import load_arrays, load_params, save_result
from ..memfile import MemoryMap
from ..verdict import (REPORT_KEY, BenchReport, Check, FAILED, Interruption, PASSED, RunOutcome, Verdict,
                       runs_verdict)
from .streams import level


class HarnessClock:
    """The harness clock: cocotb's GPI clock (in the simulator, no Python per cycle), low for
    the first half period, so falling edges are at whole periods and rising edges half-way.

    The testbench writes only right after a falling edge and waits with timers, never on the
    clock's own edges: Verilator reports a value change of a signal relative to the last time a
    callback on it fired, so awaiting ``RisingEdge(clk)`` after a long pause can return at once.
    """

    def __init__(self, dut, period_ns: int):
        self.period = convert(period_ns, "ns", to="step")
        Clock(dut.clk, self.period, unit="step", impl="gpi").start(start_high=False)

    def now(self) -> int:
        return get_sim_time("step")

    async def fall(self) -> None:
        """Wait for the next falling edge (a writable point before the next rising edge)."""
        t = get_sim_time("step")
        await Timer(self.period - t % self.period, "step")

    async def cycles(self, n: int) -> None:
        """From a falling edge, wait ``n`` rising edges; returns at a falling edge."""
        await Timer(n * self.period, "step")


class Stream:
    """The transfers of consecutive runs as one sequence; a run's words are a slice of
    ``words`` starting at ``at[run]`` (runs that share their words store them once)."""

    def __init__(self, words: np.ndarray, counts, at):
        self.words, self.at = words, list(at)
        self.first = [0, *itertools.accumulate(counts)]  # where each run starts in the sequence

    def __getitem__(self, span: slice) -> np.ndarray:
        lo, hi = span.start, span.stop
        r = bisect.bisect_right(self.first, lo) - 1
        parts = []
        while lo < hi:
            end = min(hi, self.first[r + 1])
            parts.append(self.words[self.at[r] + lo - self.first[r]:self.at[r] + end - self.first[r]])
            lo, r = end, r + 1
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


class Ring:
    """One ring memory: a long stream written half by half as the harness reads it."""

    def __init__(self, dut, clock: HarnessClock, words: Stream, elem_bits: int, lane: int, depth: int, files,
                 load, half, pointer):
        self.dut, self.clock, self.words, self.elem_bits, self.lane = dut, clock, words, elem_bits, lane
        self.half = depth // 2
        self.files, self.load, self.half_sig, self.pointer = files, load, half, pointer
        self.task = None

    def chunks(self, first: int, stop: int) -> int:
        return -(-(stop - first) // self.half)

    def write(self, k: int, first: int, stop: int) -> None:
        lo = first + k * self.half
        write_atomic(self.files[k % 2], memfile.hex_words(self.words[lo:min(lo + self.half, stop)], self.elem_bits,
                                                              self.lane))

    def prime(self, first: int, stop: int) -> int:
        """Write the first two chunks of ``words[first:stop]``; returns the load bits."""
        n = self.chunks(first, stop)
        for k in range(min(2, n)):
            self.write(k, first, stop)
        return (1 << min(2, n)) - 1

    def follow(self, first: int, stop: int) -> None:
        """Refill each half as soon as the harness has moved to the other one."""
        self.stop()
        self.task = cocotb.start_soon(self._follow(first, stop))

    async def _follow(self, first: int, stop: int) -> None:
        # Chunk k goes to half k % 2 once chunk k - 2 was read, i.e. once the harness's pointer
        # entered chunk k - 1 (the half bit changed). The pointer itself decides, so an edge
        # seen twice (or the pointer's reset at a batch start) never puts a chunk in the wrong
        # place. A half holds at least two words, so the load (next rising edge) always comes
        # before the pointer can reach the loaded half.
        n = self.chunks(first, stop)
        k = 2
        while k < n:
            if level(self.pointer) < (k - 1) * self.half:
                await Edge(self.half_sig)
                continue
            await self.clock.fall()
            self.write(k, first, stop)
            self.load.value = 1 << (k % 2)
            await self.clock.cycles(1)
            self.load.value = 0
            k += 1

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None


class HarnessBench:
    """The memories, batches and verdict of one simulation."""

    def __init__(self, dut, params: dict, arrays: dict):
        self.dut, self.params = dut, params
        self.clock = clock = HarnessClock(dut, params["period_ns"])
        h = MemoryMap.from_dict(params["memories"])
        self.h, self.bits, self.lanes = h, h.elem_bits, h.lanes
        self.runs = runs = params["runs"]
        self.acts = Stream(arrays["acts"], [r["acts"] for r in runs], [r["act_at"] for r in runs])
        self.weights = arrays["weights"]
        self.expected = Stream(arrays["expected"], [r["window_sets"] for r in runs],
                               itertools.accumulate([0] + [r["window_sets"] for r in runs]))
        files = h.files
        self.rings = {
            "act": Ring(dut, clock, self.acts, self.bits["act"], self.lanes["act"], h.depths["act"],
                        files["acts"], dut.act_load, dut.act_half, dut.act_count),
            "result": Ring(dut, clock, self.expected, self.bits["result"], self.lanes["result"], h.depths["result"],
                           files["expected"], dut.result_load, dut.result_half, dut.result_count),
        }
        # where each run's transfers start in the streams (plain ints for cocotb)
        self.act_first, self.res_first = self.acts.first, self.expected.first
        self.starts = 0
        self.log_lines = 0

    def load(self, b: dict, brick_first: int) -> None:
        """Write a batch's memory files and set its ports (loaded at the next rising edge)."""
        first, stop = b["runs"]
        files = self.h.files
        write_atomic(files["table"], memfile.hex_ints([int(t, 16) for t in self.params["table"][first:stop]],
                                                        self.h.table_width, self.lanes["table"]))
        write_atomic(files["weights"], memfile.hex_words(self.weights[brick_first:brick_first + b["weights"]],
                                                          self.bits["weight"], self.lanes["weight"]))
        d = self.dut
        d.act_load.value = self.rings["act"].prime(self.act_first[first], self.act_first[stop])
        d.result_load.value = self.rings["result"].prime(self.res_first[first], self.res_first[stop])
        d.table_load.value = 1
        d.runs.value = stop - first
        d.acts.value = self.act_first[stop] - self.act_first[first]
        seed = (self.params["seed"] * 0x9E3779B1 + self.starts * 0x85EBCA77) & 0xFFFFFFFF
        d.seed.value = seed
        d.idle.value = min(0xFFFF, round(self.params["idle"] * 65536))
        d.stall.value = min(0xFFFF, round(self.params["stall"] * 65536))

    async def begin(self, b: dict, brick_first: int) -> int:
        """Load and start a batch; returns the simulated time (steps) of its first edge."""
        await self.clock.fall()
        self.load(b, brick_first)
        self.starts += 1
        self.dut.start.value = self.starts & 0xFF
        await self.clock.cycles(1)  # the memories load at this rising edge, and ``start`` is registered
        for port in ("table_load", "act_load", "result_load"):
            getattr(self.dut, port).value = 0
        await self.clock.cycles(1)  # the batch starts at this one
        first, stop = b["runs"]
        self.rings["act"].follow(self.act_first[first], self.act_first[stop])
        self.rings["result"].follow(self.res_first[first], self.res_first[stop])
        return self.clock.now() - self.clock.period // 2

    def counters(self) -> dict:
        d = self.dut
        return {name: level(getattr(d, name)) for name in
                ("logged", "act_count", "weight_count", "result_count", "mismatches", "first_index", "busy")}

    def new_log(self) -> list[dict]:
        lines = memfile.read_log(self.h.files["log"], self.h.log_fields)
        out, self.log_lines = lines[self.log_lines:], len(lines)
        return out

    async def reset(self, cycles: int = 2) -> None:
        """Reset harness and tile (not the memories) for ``cycles`` rising edges: the harness
        registers ``rst``, so they are reset from the second edge after it rises to the first
        after it falls; this returns after the last of them."""
        for ring in self.rings.values():
            ring.stop()
        await self.clock.fall()
        self.dut.rst.value = 1
        await self.clock.cycles(cycles)
        self.dut.rst.value = 0
        await self.clock.cycles(1)

    def stop(self) -> None:
        for ring in self.rings.values():
            ring.stop()


@cocotb.test()
async def harness_runs(dut):
    """Every batch of runs through the harness (optionally after a reset in the first run)."""
    params, arrays = load_params(), load_arrays()
    for port in ("start", "table_load", "act_load", "result_load", "runs", "acts", "seed", "idle", "stall"):
        getattr(dut, port).value = 0
    hb = HarnessBench(dut, params, arrays)
    clock = hb.clock
    await hb.reset()

    runs = params["runs"]
    interrupted = None
    if params["reset_at"] is not None:
        b = params["batches"][0]
        await hb.begin(b, 0)
        await clock.cycles(params["reset_at"])
        c = hb.counters()
        first_run = runs[0]["window_sets"]
        assert c["busy"] == 1 and c["result_count"] < first_run and c["logged"] == 0, \
            f"reset_at {params['reset_at']} is not inside the first run (busy {c['busy']}, " \
            f"{c['result_count']} results)"
        interrupted = Interruption(params["reset_at"], c["result_count"], c["mismatches"])
        await hb.reset()
        hb.new_log()

    outcomes, batch_checks, first_mismatch = [], [], None
    brick_first = 0
    sim_cycles = 0
    for bi, b in enumerate(params["batches"]):
        first, stop = b["runs"]
        t0 = await hb.begin(b, brick_first)
        brick_first += b["weights"]
        try:
            await with_timeout(RisingEdge(dut.done), b["budget"] * clock.period, "step")
        except SimTimeoutError:
            hb.stop()
            c = hb.counters()
            raise AssertionError(
                f"batch {bi} (runs {first}..{stop - 1}) did not finish in {b['budget']:,} cycles: "
                f"{c['logged']} of {stop - first} runs ended, {c['result_count']} result transfers, "
                f"tile busy {c['busy']}") from None
        sim_cycles += (clock.now() - t0) // clock.period
        hb.stop()
        c = hb.counters()
        log = hb.new_log()
        if len(log) != stop - first:
            raise AssertionError(f"batch {bi}: {len(log)} run-log lines for {stop - first} runs")
        for rec in log:
            i = first + rec["run"]
            outcomes.append(RunOutcome(run=i, results=rec["results"], expected_results=runs[i]["window_sets"],
                                       mismatches=rec["mismatches"], cycles=rec["cycles"], tb_cycles=rec["tb_cycles"],
                                       expected_cycles=runs[i]["cycles"]))
        want = {"act_count": hb.act_first[stop] - hb.act_first[first],
                "weight_count": sum(runs[i]["steps"] * runs[i]["window_sets"] for i in range(first, stop)),
                "result_count": hb.res_first[stop] - hb.res_first[first]}
        batch_checks.append({k: [c[k], v] for k, v in want.items()})
        if c["mismatches"] and first_mismatch is None:
            idx = c["first_index"]
            g = bisect.bisect_right(hb.res_first, hb.res_first[first] + idx) - 1
            first_mismatch = {"batch": bi, "index": hb.res_first[first] + idx, "run": g,
                              "window_set": hb.res_first[first] + idx - hb.res_first[g] if g < len(runs) else None,
                              "got": f"{level(dut.first_got):x}" if level(dut.first_got) is not None else "x",
                              "expected": f"{level(dut.first_want):x}" if g < len(runs) else None}

    verdict = runs_verdict(outcomes, cycles_required=params["check_cycles"])
    totals = {k: [sum(bc[k][0] for bc in batch_checks), sum(bc[k][1] for bc in batch_checks)]
              for k in ("act_count", "weight_count", "result_count")}
    names = {"act_count": "activation transfers", "weight_count": "weight transfers",
             "result_count": "result transfers in all"}
    verdict = verdict + Verdict(tuple(
        Check(names[k], PASSED if got == want else FAILED, f"{got} of {want}") for k, (got, want) in totals.items()))
    if interrupted is not None:
        verdict = verdict + interrupted.verdict()
    save_result(REPORT_KEY, BenchReport(tuple(outcomes), verdict, interrupted, first_mismatch, totals,
                                        sim_cycles).as_dict())
    assert verdict.passed, verdict.message() + (f"; first mismatch: {first_mismatch}" if first_mismatch else "")
