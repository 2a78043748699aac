"""Amaranth-simulator harness: drive a tile's streams from the golden model's data.

The shape of every block test: the hardware output compared against :mod:`sim` over the same
inputs, with optional random idle cycles on the producers and back-pressure on the consumer.
One testbench process steps the clock and plays all stream ends, so reset and run boundaries
are exact. Payload words are packed by the testbenches' own codec (:mod:`dstripes.tb.payload`).
"""
from __future__ import annotations

import random

import numpy as np
from amaranth.hdl import ClockDomain, Elaboratable, Module
from amaranth.sim import Simulator

from dstripes.tb.payload import pack_ints, unpack_ints


def pack(values, width: int) -> int:
    """Pack integers, signed or not, into one word: ``width``-bit two's complement fields,
    element 0 (row-major) in the low bits (:func:`dstripes.tb.payload.pack_ints`)."""
    a = np.asarray(values, dtype=np.int64) & ((1 << width) - 1)
    return pack_ints(a, a.shape, width, signed=False)


def unpack(word: int, width: int, count: int) -> list[int]:
    """``count`` signed ``width``-bit fields of ``word`` (:func:`dstripes.tb.payload.unpack_ints`)."""
    return unpack_ints(word, (count,), width, signed=True).tolist()


class _Harness(Elaboratable):
    def __init__(self, dut):
        self.dut = dut
        self.cd = ClockDomain("sync")

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.cd
        m.submodules.dut = self.dut
        return m


def run_tile(tile, runs, *, idle: float = 0.0, backpressure: float = 0.0, seed: int = 0,
             reset_at: int | None = None, max_cycles: int = 500_000):
    """Play ``runs`` on ``tile`` one after the other in one simulation.

    Each run is a dict with ``config`` (int), ``acts`` and ``weights`` (payload ints) and
    ``results`` (expected number of result transfers). Returns, per run, ``(results, cycles)``:
    the result payloads and the tile's ``cycles`` once ``busy`` fell. With ``reset_at`` the
    first run is interrupted by a one-cycle reset at that cycle and is then replayed in full
    (its interrupted outputs are discarded).
    """
    tile = getattr(tile, "component", tile)  # a TileDesign or a component
    rng = random.Random(seed)
    harness = _Harness(tile)
    outcome = []

    async def bench(ctx):
        cycle = 0
        pending_reset = reset_at
        i = 0
        while i < len(runs):
            run = runs[i]
            a_i = w_i = 0
            got = []
            started = False
            while True:
                if pending_reset is not None and cycle == pending_reset:
                    ctx.set(harness.cd.rst, 1)
                    for p in (tile.act, tile.weight, tile.config):
                        ctx.set(p.valid, 0)
                    await ctx.tick()
                    ctx.set(harness.cd.rst, 0)
                    cycle += 1
                    pending_reset = None
                    break  # replay this run from the start
                a_valid = started and a_i < len(run["acts"]) and not (idle and rng.random() < idle)
                w_valid = started and w_i < len(run["weights"]) and not (idle and rng.random() < idle)
                r_ready = not (backpressure and rng.random() < backpressure)
                ctx.set(tile.config.valid, not started)
                ctx.set(tile.config.payload.as_value(), run["config"])
                ctx.set(tile.act.valid, a_valid)
                if a_valid:
                    ctx.set(tile.act.payload.as_value(), run["acts"][a_i])
                ctx.set(tile.weight.valid, w_valid)
                if w_valid:
                    ctx.set(tile.weight.payload.as_value(), run["weights"][w_i])
                ctx.set(tile.result.ready, r_ready)
                _, _, c_ready, a_ready, w_ready, r_valid, r_payload, busy = await ctx.tick().sample(
                    tile.config.ready, tile.act.ready, tile.weight.ready, tile.result.valid,
                    tile.result.payload.as_value(), tile.busy)
                cycle += 1
                if cycle > max_cycles:
                    raise AssertionError(f"run {i} did not finish within {max_cycles} cycles "
                                         f"(acts {a_i}/{len(run['acts'])}, weights {w_i}, results {len(got)})")
                if not started:
                    started = bool(c_ready)
                    continue
                a_i += bool(a_valid and a_ready)
                w_i += bool(w_valid and w_ready)
                if r_ready and r_valid:
                    got.append(int(r_payload))
                if len(got) == run["results"] and not ctx.get(tile.busy):
                    outcome.append((got, ctx.get(tile.cycles)))
                    i += 1
                    break
        for p in (tile.act, tile.weight, tile.config):
            ctx.set(p.valid, 0)

    sim = Simulator(harness)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return outcome
