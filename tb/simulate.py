"""One call from a layer to a checked RTL simulation: the API under ``dstripes simulate`` and the
demo."""
from __future__ import annotations

import os
import shutil
import tempfile
import time

import numpy as np

from dstripes.sim.config import TileConfig
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.sim.schemes import SCHEMES

from .tile_sim import check_run, layer_run, simulate_tile, tile_design
from .verdict import Check, FAILED, Verdict


def simulate_layer(scheme: str, simulator: str, config: TileConfig, layer: Layer, window: Window,
                   acts: np.ndarray, weights: np.ndarray, *, window_sets: int | None = None,
                   filter_set: int = 0, mode: str | None = None, conv_group: int = 0,
                   waves_dir: str | os.PathLike | None = None, seed: int = 0, idle: float = 0.0,
                   stall: float = 0.0, quick: bool = True) -> dict:
    """Generate the tile of kind ``scheme``, run a layer slice on ``simulator`` and check it.

    Returns a JSON-able dict: ``sim``, ``scheme``, ``passed`` (the verdict), ``checks`` (every
    check with its status: passed, failed or not checked, see :mod:`dstripes.tb.verdict`),
    ``cycles_rtl`` (the tile's counter), ``cycles_model`` (the golden model's RTL-exact count),
    ``ideal`` (the paper-level count) and ``latency``, ``results_match``, ``results_checked``
    (individual results), ``cycles_match``, ``cycles_exact_required``, ``wall_seconds`` (build
    and simulation), ``sim_seconds``, ``cycles_per_second``, ``window_sets``, ``steps``,
    ``waves``, ``failure``.
    """
    t0 = time.perf_counter()
    # every check of the run before the tile is generated (seconds) and built (minutes)
    check_run(scheme, config, layer, window, acts, weights, mode=mode, filter_set=filter_set,
              window_sets=window_sets, conv_group=conv_group)
    design, man = tile_design(scheme, config)
    run = layer_run(scheme, config, man["latency"], layer, window, acts, weights, mode=mode,
                    filter_set=filter_set, window_sets=window_sets, conv_group=conv_group)
    waves = None
    if waves_dir is not None:
        waves = "fst" if simulator == "icarus" else "vcd"
    # the run folder is kept only when it holds waveforms or the log of a failed run
    run_dir = waves_dir if waves_dir is not None else tempfile.mkdtemp(prefix="dstripes-sim-")
    try:
        res = simulate_tile(design, man, [run], simulator=simulator, idle=idle, stall=stall, seed=seed,
                            waves=waves, quick=quick, run_dir=run_dir)
    except BaseException:
        if waves_dir is None:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    wall = time.perf_counter() - t0
    tile_runs = res.results.get("tile_runs") or {}
    o = (tile_runs.get("runs") or [{}])[0]
    if "verdict" in tile_runs:
        verdict = Verdict.from_dict(tile_runs["verdict"])
    else:  # the testbench ended before it could judge (a crash or a timeout)
        verdict = Verdict((Check("testbench", FAILED, "; ".join(res.messages.values())[:2000] or
                                 "no verdict recorded"),))
    n_results = int(np.asarray(run.expected).size)
    exact = bool(o) and o.get("mismatches") == 0 and o.get("results") == o.get("expected_results")
    cycles = o.get("cycles")
    passed = res.passed and verdict.passed
    if passed and waves_dir is None:
        shutil.rmtree(run_dir, ignore_errors=True)
    return {
        "sim": simulator,
        "scheme": scheme,
        "passed": passed,
        "checks": [c.as_dict() for c in verdict.checks],
        "cycles_rtl": cycles,
        "cycles_model": run.cycles,
        "cycles_match": cycles == run.cycles,
        "cycles_exact_required": idle == 0 and stall == 0,
        "ideal": run.cycles - man["latency"],
        "latency": man["latency"],
        "results_match": exact,
        "results_checked": n_results if exact else 0,
        "window_sets": run.config["window_sets"],
        "steps": run.config["steps"],
        "wall_seconds": wall,
        "sim_seconds": res.seconds,
        "cycles_per_second": (cycles / res.seconds) if cycles and res.seconds else 0.0,
        "waves": str(res.waves) if res.waves else None,
        "log": None if passed and waves_dir is None else str(res.log),
        "failure": None if passed else (verdict.message() or "; ".join(res.messages.values()))[:2000],
    }


def model_slice_cycles(config: TileConfig, layer: Layer, window: Window, acts: np.ndarray,
                       window_sets: int) -> dict:
    """Ideal cycles of every scheme on the first ``window_sets`` window-sets of one filter-set on
    one tile (bit-parallel: the same windows, one brick per cycle)."""
    windows = min(window_sets * config.columns, layer.windows)
    out = {}
    for s in SCHEMES.values():
        units = window_sets if s.serial else windows
        out[s.name] = s.run_cycles(s.run_bits(acts, layer, window, config, units=units), config)
    return out
