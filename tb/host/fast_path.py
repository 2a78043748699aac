"""The fast path: a tile inside its verification harness (:mod:`dstripes.tb.gateware.tile_harness`),
built and run.

Typical use (``dstripes simulate``, ``dstripes verify``, the demo)::

    tile = TileDesign.of("dstripes", config)
    harness = harness_verilog(tile)
    run = layer_run(tile, layer, window, acts, weights)
    result = simulate_harness(tile, harness, [run], simulator="verilator").check()
    BenchReport.from_dict(result.results[REPORT_KEY]).runs[0].cycles

The runs are the same :class:`~dstripes.tb.host.runs.TileRun` objects as the per-cycle path
plays, so both paths check the same stimulus against the same golden model, and both report in
the same form (a :class:`~dstripes.tb.verdict.BenchReport`). Here the harness hardware drives and
checks the tile, Python only loads memories between long stretches of simulated time
(:mod:`dstripes.tb.bench.harness_bench`), and Verilator exposes only the harness ports
(:attr:`~dstripes.tb.host.verilog.DutVerilog.public`): tens of thousands of cycles per second,
right for whole layers and networks.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from dstripes.hw.design import TileDesign
from dstripes.hw.emit import generator_sources
from dstripes.sim.errors import ConfigError

from .. import memfile
from ..gateware import tile_harness
from ..gateware.tile_harness import DEPTHS, TileHarness, memory_map
from ..memfile import MemoryMap
from ..payload import codec
from .runner import SimResult, build, run
from .runs import TileRun, check_stimulus
from .verilog import DutVerilog, cached_verilog, stream_payloads

TEST_MODULE = "dstripes.tb.bench.harness_bench"
MODELS = Path(tile_harness.__file__).with_name("mem_models.v")
#: Modules the harness Verilog depends on, besides the generator's.
HARNESS_SOURCES = (Path(tile_harness.__file__), Path(memfile.__file__))
#: The simulated clock period (ns) and the slack of a batch's time limit over its model count.
PERIOD_NS = 10
BUDGET_FACTOR, BUDGET_SLACK = 20, 10_000


@dataclass(frozen=True)
class HarnessVerilog:
    """A tile inside its harness, as the fast path simulates it.

    Members
    -------
    dut : DutVerilog
        The harness's Verilog (the tile inside).
    memories : MemoryMap
        The harness's memories.
    streams : dict
        The payload descriptions of the tile's streams (:func:`.verilog.stream_payloads`).
    """

    dut: DutVerilog
    memories: MemoryMap
    streams: dict


def harness_verilog(tile: TileDesign, build_root: str | os.PathLike | None = None,
                    **depths: int) -> HarnessVerilog:
    """``tile`` inside :class:`~dstripes.tb.gateware.tile_harness.TileHarness`.

    ``depths``: ``act_depth``, ``result_depth``, ``weight_depth``, ``run_depth`` (default
    :data:`~dstripes.tb.gateware.tile_harness.DEPTHS`; small memories exercise the streaming in
    tests).
    """
    unknown = set(depths) - set(DEPTHS)
    if unknown:
        raise ValueError(f"unknown harness depth {sorted(unknown)[0]!r} (known: {', '.join(DEPTHS)})")
    d = {**DEPTHS, **depths}
    dut = cached_verilog(lambda: TileHarness(tile.component, **d), f"{tile.top}_harness",
                         {"scheme": tile.name, "tile": tile.manifest.parameters, "harness": d},
                         public="ports", models=MODELS.read_text(),
                         sources=generator_sources() + list(HARNESS_SOURCES), build_root=build_root)
    return HarnessVerilog(dut, memory_map(tile.signature, **d), stream_payloads(tile))  # no tile built


def batches(runs: Sequence[TileRun], depths) -> list[range]:
    """Split runs into batches that fit the run table and the weight memory."""
    out, first, bricks = [], 0, 0
    for i, r in enumerate(runs):
        steps = len(r.bricks)
        if steps > depths["weight"]:
            raise ConfigError(f"a run of {steps} steps needs more weight bricks than the harness's "
                              f"{depths['weight']}")
        if i > first and (i - first == depths["run"] or bricks + steps > depths["weight"]):
            out.append(range(first, i))
            first, bricks = i, 0
        bricks += steps
    out.append(range(first, len(runs)))
    return out


def simulate_harness(tile: TileDesign, harness: HarnessVerilog, runs: Sequence[TileRun], *,
                     simulator: str = "verilator", idle: float = 0.0, stall: float = 0.0,
                     seed: int = 0, reset_at: int | None = None,
                     build_root: str | os.PathLike | None = None, waves: str | None = None,
                     quick: bool = False, optimise: bool = False,
                     run_dir: str | os.PathLike | None = None) -> SimResult:
    """Build the harness (or reuse its build) and play ``runs`` back to back through it.

    Parameters as :func:`dstripes.tb.host.cycle_path.simulate_tile` (``idle`` and ``stall``
    become the harness's generator thresholds, ``reset_at`` resets harness and tile that many
    cycles into the first run and plays every run again), with the harness from
    :func:`harness_verilog` instead of the tile's Verilog.

    Returns
    -------
    SimResult
        ``results[REPORT_KEY]`` holds the :class:`~dstripes.tb.verdict.BenchReport` as the
        per-cycle testbench records it, plus ``transfers`` (each stream's transfers and the
        expected ones), ``first_mismatch`` and ``sim_cycles`` (simulated clock cycles of the
        batches).
    """
    check_stimulus(runs, idle=idle, stall=stall, reset_at=reset_at)
    memories = harness.memories
    cfg_codec = codec(harness.streams["config"])
    if memories.depths["weight"] < 2:
        raise ConfigError("the harness needs a weight memory of at least two bricks")
    groups = batches(runs, memories.depths)
    table, bricks, plan = [], [], []
    slow = 1.0 / (1.0 - max(idle, stall))
    for g in groups:
        base = 0
        for i in g:
            r = runs[i]
            table.append(cfg_codec.pack(r.config) | (base << cfg_codec.width))
            bricks.append(r.bricks)
            base += len(r.bricks)
        cycles = sum(runs[i].cycles for i in g)
        plan.append({"runs": [g.start, g.stop], "weights": base,
                     "budget": int(BUDGET_FACTOR * slow * cycles) + BUDGET_SLACK})
    # the filter-sets of one input share its activation stream: stored once
    shared, offset, at = {}, {}, 0
    for r in runs:
        if id(r.acts) not in shared:
            shared[id(r.acts)], offset[id(r.acts)] = r.acts, at
            at += len(r.acts)
    params = {
        "scheme": tile.name,
        "latency": tile.latency,
        "memories": memories.as_dict(),
        "table": [f"{t:x}" for t in table],  # big integers travel as hex text
        "batches": plan,
        "runs": [{"cycles": r.cycles, "window_sets": r.config["window_sets"], "steps": r.config["steps"],
                  "acts": len(r.acts), "act_at": offset[id(r.acts)]} for r in runs],
        "idle": idle, "stall": stall, "seed": seed, "reset_at": reset_at,
        "check_cycles": idle == 0 and stall == 0,
        "period_ns": PERIOD_NS,
    }
    arrays = {
        "acts": np.concatenate([a.reshape(len(a), -1) for a in shared.values()]),
        "weights": np.concatenate([b.reshape(len(b), -1) for b in bricks]),
        "expected": np.concatenate([np.asarray(r.expected).reshape(len(r.expected), -1) for r in runs]),
    }
    b = build(harness.dut, simulator, build_root=build_root, waves=waves, quick=quick, optimise=optimise)
    return run(b, TEST_MODULE, params=params, arrays=arrays, run_dir=run_dir)
