"""One call from a layer to a checked RTL simulation: the API under ``dstripes simulate`` and the
demo."""
from __future__ import annotations

import os
import time

import numpy as np

from dstripes.sim.config import TileConfig
from dstripes.sim.cycles import step_costs
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer

from .tile_sim import layer_run, simulate_tile, tile_design


def simulate_layer(scheme: str, simulator: str, config: TileConfig, layer: Layer, window: Window,
                   acts: np.ndarray, weights: np.ndarray, *, window_sets: int | None = None,
                   filter_set: int = 0, mode: str | None = None, waves_dir: str | os.PathLike | None = None,
                   seed: int = 0, idle: float = 0.0, stall: float = 0.0, quick: bool = True) -> dict:
    """Generate the ``scheme`` tile, run a layer slice on ``simulator`` and check it.

    Returns a JSON-able dict: ``sim``, ``scheme``, ``cycles_rtl`` (the tile's counter),
    ``cycles_model`` (the golden model's RTL-exact count), ``ideal`` (sum of step costs: the
    paper-level count) and ``latency``, ``results_match``, ``results_checked`` (individual
    results), ``cycles_match``, ``wall_seconds`` (build + simulation), ``sim_seconds``,
    ``cycles_per_second`` (simulated cycles per second of simulation), ``window_sets`` and
    ``steps``.
    """
    t0 = time.perf_counter()
    design, man = tile_design(scheme, config)
    run = layer_run(scheme, config, man["latency"], layer, window, acts, weights, mode=mode,
                    filter_set=filter_set, window_sets=window_sets)
    waves = None
    if waves_dir is not None:
        waves = "fst" if simulator == "icarus" else "vcd"
    res = simulate_tile(design, man, [run], simulator=simulator, idle=idle, stall=stall, seed=seed,
                        waves=waves, quick=quick, run_dir=waves_dir)
    wall = time.perf_counter() - t0
    out = (res.results.get("tile_runs") or {}).get("runs") or [{}]
    o = out[0]
    n_results = int(np.asarray(run.expected).size)
    checked = n_results if o.get("results") == o.get("expected_results") else 0
    cycles = o.get("cycles")
    return {
        "sim": simulator,
        "scheme": scheme,
        "passed": res.passed,
        "cycles_rtl": cycles,
        "cycles_model": run.cycles,
        "cycles_match": cycles == run.cycles,
        "cycles_exact_required": idle == 0 and stall == 0,
        "ideal": run.cycles - man["latency"],
        "latency": man["latency"],
        "results_match": res.passed and o.get("mismatches", 1) == 0,
        "results_checked": checked,
        "window_sets": run.config["window_sets"],
        "steps": run.config["steps"],
        "wall_seconds": wall,
        "sim_seconds": res.seconds,
        "cycles_per_second": (cycles / res.seconds) if cycles and res.seconds else 0.0,
        "waves": str(res.waves) if res.waves else None,
        "log": str(res.log),
        "failure": None if res.passed else "; ".join(res.messages.values())[:2000],
    }


def model_slice_cycles(config: TileConfig, layer: Layer, window: Window, acts: np.ndarray,
                       window_sets: int) -> dict:
    """Ideal cycles of the first ``window_sets`` window-sets of one filter-set on one tile for
    every scheme (bit-parallel: the same windows, one brick per cycle)."""
    dstr = step_costs(acts, layer, window, config, config.trim)[:window_sets]
    steps = dstr.shape[1]
    windows = min(window_sets * config.columns, layer.windows)
    return {"dadn": windows * steps, "stripes": window_sets * steps * window.bits,
            "dstripes": int(dstr.sum())}
