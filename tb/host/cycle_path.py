"""The per-cycle path: a tile alone, every stream driven and monitored by Python every cycle
(:mod:`dstripes.tb.bench.tile_bench`).

Typical use (pytest, or :func:`dstripes.tb.host.simulate.play`)::

    tile = TileDesign.of("dstripes", config)
    run = layer_run(tile, layer, window, acts, weights, window_sets=4)
    result = simulate_tile(tile, tile_verilog(tile), [run], simulator="verilator").check()
    BenchReport.from_dict(result.results[REPORT_KEY]).runs[0].cycles

A few thousand cycles per second: right for short slices, block and stall tests, and for
measuring switching activity (:class:`dstripes.tb.bench.toggles.ToggleMonitor`).
"""
from __future__ import annotations

import os
from typing import Sequence

from dstripes.hw.design import TileDesign
from dstripes.hw.emit import generator_sources

from .runner import SimResult, build, run
from .runs import TileRun, check_stimulus
from .verilog import DutVerilog, cached_verilog

TEST_MODULE = "dstripes.tb.bench.tile_bench"


def tile_verilog(tile: TileDesign, build_root: str | os.PathLike | None = None, *,
                 internals: bool = False) -> DutVerilog:
    """Verilog of ``tile`` for the per-cycle testbench; ``internals``: every signal visible to
    the testbench (for a :class:`~dstripes.tb.bench.toggles.ToggleMonitor`), not only the ports."""
    # Only the ports are visible unless asked: Verilator then optimises the rest (the per-cycle
    # testbench touches nothing else).
    return cached_verilog(lambda: tile.component, tile.top, {"scheme": tile.name, "tile": tile.manifest.parameters},
                          public=None if internals else "ports", sources=generator_sources(),
                          build_root=build_root)


def simulate_tile(tile: TileDesign, dut: DutVerilog, runs: Sequence[TileRun], *,
                  simulator: str = "verilator", idle: float = 0.0, stall: float = 0.0,
                  seed: int = 0, reset_at: int | None = None,
                  build_root: str | os.PathLike | None = None, waves: str | None = None,
                  quick: bool = False, optimise: bool = False,
                  run_dir: str | os.PathLike | None = None, toggles: Sequence[str] = ()) -> SimResult:
    """Build the tile (or reuse its build) and play ``runs`` back to back through the per-cycle
    testbench.

    Parameters
    ----------
    tile : TileDesign
    dut : DutVerilog
        Its Verilog, from :func:`tile_verilog`.
    runs : sequence of TileRun
    simulator : {"icarus", "verilator"}
    idle : float
        Probability of an idle cycle before each config / activation / weight transfer.
    stall : float
        Probability of back-pressure on the result stream in a cycle.
    seed : int
        Seed of the stall generators.
    reset_at : int, optional
        Reset the tile this many cycles into the first run (which must still be running),
        then play every run from the start.
    build_root, waves, quick, optimise
        As for :func:`dstripes.tb.host.runner.build`.
    run_dir : path, optional
        As for :func:`dstripes.tb.host.runner.run`.
    toggles : sequence of str
        Hierarchical signal paths below the tile whose per-bit switching activity the
        testbench counts from the end of reset to the end of the last run
        (:class:`~dstripes.tb.bench.toggles.ToggleMonitor`; ``results["toggles"]``).

    Returns
    -------
    SimResult
        ``results[REPORT_KEY]`` holds the :class:`~dstripes.tb.verdict.BenchReport`: per run the
        measured ``cycles`` (the tile's counter), ``tb_cycles`` (counted by the testbench from
        the config to the last result transfer), ``expected_cycles``, ``results`` and
        ``mismatches``. Cycles are checked exactly only when ``idle`` and ``stall`` are both 0.
    """
    check_stimulus(runs, idle=idle, stall=stall, reset_at=reset_at)
    params = {
        "scheme": tile.name,
        "streams": dut.streams,
        "latency": tile.latency,
        "runs": [{"config": r.config, "cycles": r.cycles} for r in runs],
        "idle": idle, "stall": stall, "seed": seed, "reset_at": reset_at,
        "check_cycles": idle == 0 and stall == 0,
        "toggles": list(toggles),
    }
    arrays = {}
    for i, r in enumerate(runs):
        arrays[f"acts{i}"] = r.acts
        arrays[f"weights{i}"] = r.weights
        arrays[f"expected{i}"] = r.expected
    b = build(dut, simulator, build_root=build_root, waves=waves, quick=quick, optimise=optimise)
    return run(b, TEST_MODULE, params=params, arrays=arrays, run_dir=run_dir)
