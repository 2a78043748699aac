"""From layers to checked RTL simulations: the API under ``dstripes simulate``, ``dstripes verify``
and the demo.

Two paths play the same :class:`tb.tile_sim.TileRun` objects (stimulus, expected results and
RTL-exact cycle counts from the golden model) through a generated tile and judge them with the
same checks (:mod:`tb.verdict`):

* ``"cycle"``: the per-cycle cocotb testbench (:mod:`tb.tile_tb`): Python drives and monitors
  every stream every cycle; a few thousand cycles per second; right for short slices, block
  and stall tests;
* ``"fast"``: the memory-backed harness (:mod:`tb.harness_hw`, :mod:`tb.harness_tb`): the
  hardware drives and checks the tile, Python only loads memories; tens of thousands of cycles
  per second on Verilator; right for whole layers and networks.

``"auto"`` takes the fast path for runs of at least :data:`LONG_RUN` cycles.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from typing import Sequence

import numpy as np

from dstripes.hw.design import TileDesign
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.sim.schemes import SCHEMES

from .harness_sim import harness_verilog, simulate_harness
from .tile_sim import TileRun, layer_run, simulate_tile, tile_verilog
from .verdict import Check, FAILED, Verdict, merged

PATHS = ("auto", "fast", "cycle")
#: Model cycles from which ``path="auto"`` takes the fast path.
LONG_RUN = 20_000


def choose_path(path: str, cycles: int) -> str:
    """The path ``"auto"`` stands for, for runs of ``cycles`` model cycles in all."""
    if path not in PATHS:
        raise ConfigError(f"path must be one of {', '.join(PATHS)}, not {path!r}")
    if path == "auto":
        return "fast" if cycles >= LONG_RUN else "cycle"
    return path


def design(tile: TileDesign, path: str, build_root=None) -> tuple:
    """The Verilog a path simulates, with the harness's description (``None`` on the
    per-cycle path): the tile, or the tile in its harness."""
    if path == "fast":
        return harness_verilog(tile, build_root=build_root)
    return tile_verilog(tile, build_root=build_root), None


def play(tile: TileDesign, simulator: str, runs: Sequence[TileRun], *, path: str = "fast",
         designed: tuple | None = None, idle: float = 0.0, stall: float = 0.0, seed: int = 0,
         reset_at: int | None = None, waves_dir: str | os.PathLike | None = None, quick: bool | None = None,
         build_root: str | os.PathLike | None = None) -> dict:
    """Play ``runs`` back to back through ``tile`` on ``path`` and judge them.

    Parameters
    ----------
    designed : (Design, harness), optional
        From :func:`design` (built here otherwise).
    quick : bool, optional
        Verilator: ``True`` builds an ``-O0`` model, ``False`` an ``-O3`` one; by default the
        fast path builds with ``-O3`` (long runs) and the per-cycle path with ``-O0`` (short
        slices, tests).
    Others as :func:`tb.tile_sim.simulate_tile`.

    Returns
    -------
    dict
        JSON-able: ``sim``, ``scheme``, ``path``, ``passed``, ``checks`` (one per check over all
        runs, :func:`tb.verdict.merged`), ``runs`` (per run: ``cycles``, ``tb_cycles``,
        ``expected_cycles``, ``results``, ``mismatches``), ``cycles_rtl`` (sum of the tile's
        counters), ``cycles_model`` (sum of the model's RTL-exact counts), ``ideal`` (the same
        without the latency), ``latency``, ``results_checked`` (individual results compared, all
        equal), ``mismatches`` (result transfers that differed), ``first_mismatch``,
        ``interrupted`` (what a reset interrupted), ``transfers`` and ``sim_cycles`` (fast path:
        each stream's transfers against the expected ones, and the simulated clock cycles),
        ``cycles_exact_required``, ``build_seconds`` (0 when an earlier build was reused),
        ``sim_seconds``, ``cycles_per_second``
        (RTL cycles per second of simulation, start-up included), ``waves``, ``log``, ``failure``.
    """
    if not runs:
        raise ConfigError("nothing to simulate: no runs")
    path = choose_path(path, sum(r.cycles for r in runs))
    d, harness = designed if designed is not None else design(tile, path, build_root)
    latency = tile.latency
    if latency * len(runs) > sum(r.cycles for r in runs):
        raise ConfigError("the runs were derived for another tile (their cycle counts are below its latency)")
    waves = None
    if waves_dir is not None:
        waves = "fst" if simulator == "icarus" else "vcd"
    # the run folder is kept only when it holds waveforms or the log of a failed run
    run_dir = waves_dir if waves_dir is not None else tempfile.mkdtemp(prefix="dstripes-sim-")
    kw = dict(simulator=simulator, idle=idle, stall=stall, seed=seed, reset_at=reset_at, waves=waves,
              run_dir=run_dir, build_root=build_root)
    try:
        if path == "fast":
            res = simulate_harness(tile, d, harness, runs, quick=bool(quick), optimise=not quick, **kw)
        else:
            res = simulate_tile(tile, d, runs, quick=quick is not False, optimise=quick is False, **kw)
    except BaseException:
        if waves_dir is None:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    tile_runs = res.results.get("tile_runs") or {}
    outcomes = tile_runs.get("runs") or []
    if "verdict" in tile_runs:
        verdict = Verdict.from_dict(tile_runs["verdict"])
    else:  # the testbench ended before it could judge (a crash or a timeout)
        verdict = Verdict((Check("testbench", FAILED, "; ".join(res.messages.values())[:2000] or
                                 "no verdict recorded"),))
    passed = res.passed and verdict.passed
    if passed and waves_dir is None:
        shutil.rmtree(run_dir, ignore_errors=True)
    cycles = sum(o.get("cycles") or 0 for o in outcomes)
    model = sum(r.cycles for r in runs)
    exact = len(outcomes) == len(runs) and all(
        o.get("mismatches") == 0 and o.get("results") == o.get("expected_results") for o in outcomes)
    first = tile_runs.get("first_mismatch")
    if first is None and tile_runs.get("first_mismatches"):
        first = tile_runs["first_mismatches"][0]
    return {
        "sim": simulator,
        "scheme": tile.name,
        "path": path,
        "passed": passed,
        "checks": [c.as_dict() for c in merged(verdict).checks],
        "runs": [{k: o.get(k) for k in ("run", "cycles", "tb_cycles", "expected_cycles", "results",
                                         "expected_results", "mismatches")} for o in outcomes],
        "cycles_rtl": cycles,
        "cycles_model": model,
        "ideal": model - latency * len(runs),
        "latency": latency,
        "results_checked": sum(int(np.asarray(r.expected).size) for r in runs) if exact else 0,
        "mismatches": sum(o.get("mismatches") or 0 for o in outcomes),
        "first_mismatch": first,
        "interrupted": tile_runs.get("interrupted"),
        "transfers": tile_runs.get("transfers"),
        "sim_cycles": tile_runs.get("sim_cycles"),
        "cycles_exact_required": idle == 0 and stall == 0,
        "build_seconds": res.build.seconds if res.build is not None else 0.0,
        "sim_seconds": res.seconds,
        "cycles_per_second": cycles / res.seconds if cycles and res.seconds else 0.0,
        "waves": str(res.waves) if res.waves else None,
        "log": None if passed and waves_dir is None else str(res.log),
        "failure": None if passed else (verdict.message() or "; ".join(res.messages.values()))[:2000],
    }


def simulate_layer(tile: TileDesign, simulator: str, layer: Layer, window: Window,
                   acts: np.ndarray, weights: np.ndarray, *, window_sets: int | None = None,
                   filter_set: int = 0, mode: str | None = None, conv_group: int = 0,
                   waves_dir: str | os.PathLike | None = None, seed: int = 0, idle: float = 0.0,
                   stall: float = 0.0, quick: bool | None = None, path: str = "auto",
                   build_root: str | os.PathLike | None = None) -> dict:
    """Generate ``tile``, run one filter-set of one layer (or its first ``window_sets``) on
    ``simulator`` and check it.

    Returns :func:`play`'s dict plus ``window_sets``, ``steps``, ``cycles_match``,
    ``results_match`` and ``wall_seconds`` (generation, build and simulation).
    """
    t0 = time.perf_counter()
    # the run's length chooses the path: its latency is known before any Verilog is generated
    run = layer_run(tile, layer, window, acts, weights, mode=mode,
                    filter_set=filter_set, window_sets=window_sets, conv_group=conv_group)
    path = choose_path(path, run.cycles)
    out = play(tile, simulator, [run], path=path, idle=idle, stall=stall, seed=seed,
               waves_dir=waves_dir, quick=quick, build_root=build_root)
    o = out["runs"][0] if out["runs"] else {}
    out.update({
        "window_sets": run.config["window_sets"],
        "steps": run.config["steps"],
        "cycles_match": o.get("cycles") == run.cycles,
        "results_match": bool(out["results_checked"]),
        "wall_seconds": time.perf_counter() - t0,
    })
    return out


def model_slice_cycles(config: TileConfig, layer: Layer, window: Window, acts: np.ndarray,
                       window_sets: int | None, conv_group: int = 0) -> dict:
    """Ideal cycles of every scheme on the first ``window_sets`` window-sets (all: ``None``) of
    one filter-set of convolution group ``conv_group`` on one tile (bit-parallel: the same
    windows, one brick per cycle)."""
    if window_sets is None:
        window_sets = layer.window_sets(config.columns)
    windows = min(window_sets * config.columns, layer.windows)
    out = {}
    for s in SCHEMES.values():
        units = window_sets if s.serial else windows
        out[s.name] = s.run_cycles(s.run_bits(acts, layer, window, config, conv_group=conv_group, units=units),
                                   config)
    return out
