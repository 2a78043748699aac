# amaranth: UnusedElaboratable=no
"""Runner side of the fast path: a tile inside its verification harness, built and run.

Typical use (``dstripes simulate``, ``dstripes verify``, the demo)::

    tile = TileDesign.of("dstripes", config)
    design, harness = harness_verilog(tile)
    run = layer_run(tile, layer, window, acts, weights)
    result = simulate_harness(tile, design, harness, [run], simulator="verilator").check()
    result.results["tile_runs"]["runs"][0]["cycles"]

The runs are the same :class:`tb.tile_sim.TileRun` objects as the per-cycle testbench plays,
so both paths check the same stimulus against the same golden model, and both report in the
same format (``results["tile_runs"]``: per-run outcomes, :mod:`tb.verdict` checks). Here the
harness hardware (:mod:`tb.harness_hw`) drives and checks the tile, Python only loads memories
between long stretches of simulated time (:mod:`tb.harness_tb`), and Verilator exposes only the
harness ports (:attr:`tb.runner.Design.public`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from dstripes.hw.design import TileDesign
from dstripes.hw.emit import generator_sources
from dstripes.sim.errors import ConfigError

from .harness_hw import FILES, LOG_FIELDS, TileHarness
from .payload import codec, stream_payloads
from .runner import Design, SimResult, build, emit_verilog, run
from .tile_sim import TileRun

TEST_MODULE = "dstripes.tb.harness_tb"
MODELS = Path(__file__).with_name("mem_models.v")
#: Modules of this package the harness Verilog depends on (with the generator's).
HARNESS_SOURCES = ("harness_hw.py", "memfile.py")
#: Memory sizes of the harness (words): ring memories stream any length; a batch of runs holds
#: at most ``run`` runs and ``weight`` weight bricks (one window-set's per run).
DEPTHS = {"act_depth": 1 << 13, "result_depth": 1 << 11, "weight_depth": 1 << 12, "run_depth": 1 << 10}
#: The simulated clock period (ns) and the slack of a batch's time limit over its model count.
PERIOD_NS = 10
BUDGET_FACTOR, BUDGET_SLACK = 20, 10_000


def harness_verilog(tile: TileDesign, build_root: str | os.PathLike | None = None,
                    **depths) -> tuple[Design, dict]:
    """Verilog of ``tile`` inside :class:`tb.harness_hw.TileHarness`, and the harness's own
    description (memory depths, run-table and log layouts).

    ``depths``: ``act_depth``, ``result_depth``, ``weight_depth``, ``run_depth`` (default
    :data:`DEPTHS`; small memories exercise the streaming in tests).
    """
    unknown = set(depths) - set(DEPTHS)
    if unknown:
        raise ValueError(f"unknown harness depth {sorted(unknown)[0]!r} (known: {', '.join(DEPTHS)})")
    d = {**DEPTHS, **depths}
    harness = TileHarness(tile.component, **d)
    top = f"{tile.top}_harness"
    design = emit_verilog(lambda: harness, top, {"scheme": tile.name, "tile": tile.manifest.parameters, "harness": d},
                          public="ports", models=MODELS.read_text(),
                          sources=generator_sources() + [Path(__file__).with_name(f) for f in HARNESS_SOURCES],
                          build_root=build_root)
    info = {"top": top, "depths": harness.depths, "widths": harness.widths,
            "table_width": harness.table_width, "lanes": harness.lanes,
            "elem_bits": harness.elem_bits, "log_fields": [list(f) for f in LOG_FIELDS],
            "files": FILES, "streams": stream_payloads(tile.component)}
    return design, info


def batches(runs: Sequence[TileRun], depths: dict) -> list[range]:
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


def simulate_harness(tile: TileDesign, design: Design, harness: dict, runs: Sequence[TileRun], *,
                     simulator: str = "verilator", idle: float = 0.0, stall: float = 0.0,
                     seed: int = 0, reset_at: int | None = None,
                     build_root: str | os.PathLike | None = None, waves: str | None = None,
                     quick: bool = False, optimise: bool = False,
                     run_dir: str | os.PathLike | None = None) -> SimResult:
    """Build the harness (or reuse its build) and play ``runs`` back to back through it.

    Parameters as :func:`tb.tile_sim.simulate_tile` (``idle`` and ``stall`` become the
    harness's generator thresholds, ``reset_at`` resets harness and tile that many cycles into
    the first run and plays every run again), plus ``optimise`` (:func:`tb.runner.build`).

    Returns
    -------
    SimResult
        ``results["tile_runs"]`` as the per-cycle testbench records it (per-run ``cycles``,
        ``tb_cycles``, ``expected_cycles``, ``results``, ``mismatches``; ``verdict``), plus
        ``transfers`` (each stream's transfers and the expected ones), ``first_mismatch`` and
        ``sim_cycles`` (simulated clock cycles of the batches).
    """
    if not runs:
        raise ConfigError("simulate_harness needs at least one run")
    for name, p in (("idle", idle), ("stall", stall)):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ConfigError(f"{name} probability must be in [0, 1), not {p!r}")
    if reset_at is not None and (isinstance(reset_at, bool) or not isinstance(reset_at, int) or reset_at < 1):
        raise ConfigError(f"reset_at must be a positive number of cycles, not {reset_at!r}")
    h = harness
    streams = h["streams"]
    cfg_codec = codec(streams["config"])
    wbits = h["depths"]["weight"].bit_length() - 1
    groups = batches(runs, h["depths"])
    table, bricks, base = [], [], 0
    plan = []
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
    if wbits < 1:
        raise ConfigError("the harness needs a weight memory of at least two bricks")
    # the filter-sets of one input share its activation stream: stored once
    shared, offset, at = {}, {}, 0
    for r in runs:
        if id(r.acts) not in shared:
            shared[id(r.acts)], offset[id(r.acts)] = r.acts, at
            at += len(r.acts)
    act_at = [offset[id(r.acts)] for r in runs]

    params = {
        "scheme": tile.name,
        "latency": tile.latency,
        "harness": h,
        "table": [f"{t:x}" for t in table],  # big integers travel as hex text
        "batches": plan,
        "runs": [{"cycles": r.cycles, "window_sets": r.config["window_sets"], "steps": r.config["steps"],
                  "acts": len(r.acts), "act_at": act_at[i]} for i, r in enumerate(runs)],
        "idle": idle, "stall": stall, "seed": seed, "reset_at": reset_at,
        "check_cycles": idle == 0 and stall == 0,
        "period_ns": PERIOD_NS,
    }
    arrays = {
        "acts": np.concatenate([a.reshape(len(a), -1) for a in shared.values()]),
        "weights": np.concatenate([b.reshape(len(b), -1) for b in bricks]),
        "expected": np.concatenate([np.asarray(r.expected).reshape(len(r.expected), -1) for r in runs]),
    }
    b = build(design, simulator, build_root=build_root, waves=waves, quick=quick, optimise=optimise)
    return run(b, TEST_MODULE, params=params, arrays=arrays, run_dir=run_dir)
