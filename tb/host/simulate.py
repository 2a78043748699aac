"""From layers to checked RTL simulations: the API under ``dstripes simulate``, ``dstripes verify``
and the demo.

Two paths play the same :class:`~dstripes.tb.host.runs.TileRun` objects (stimulus, expected
results and RTL-exact cycle counts from the golden model) through a generated tile and judge them
with the same checks (:mod:`dstripes.tb.verdict`):

* ``"cycle"``: the per-cycle cocotb testbench (:mod:`.cycle_path`): Python drives and monitors
  every stream every cycle; a few thousand cycles per second; right for short slices, block
  and stall tests;
* ``"fast"``: the memory-backed harness (:mod:`.fast_path`): the hardware drives and checks the
  tile, Python only loads memories; tens of thousands of cycles per second on Verilator; right
  for whole layers and networks.

``"auto"`` takes the fast path for runs of at least :data:`LONG_RUN` cycles. :func:`play`
returns a :class:`Play`, :func:`simulate_layer` a :class:`LayerSimulation`; their ``as_dict()``
is what ``dstripes simulate --json`` prints.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dstripes.hw.design import TileDesign
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.sim.schemes import SCHEMES

from ..handoff import fields_as_dict
from ..verdict import REPORT_KEY, BenchReport, Check, FAILED, Interruption, Verdict, merged
from .cycle_path import simulate_tile, tile_verilog
from .fast_path import HarnessVerilog, harness_verilog, simulate_harness
from .runs import TileRun, check_stimulus, layer_run
from .verilog import DutVerilog

PATHS = ("auto", "fast", "cycle")
#: Model cycles from which ``path="auto"`` takes the fast path.
LONG_RUN = 20_000
#: Longest failure text kept in a result.
FAILURE_CHARS = 2000


def choose_path(path: str, cycles: int) -> str:
    """The path ``"auto"`` stands for, for runs of ``cycles`` model cycles in all."""
    if path not in PATHS:
        raise ConfigError(f"path must be one of {', '.join(PATHS)}, not {path!r}")
    if path == "auto":
        return "fast" if cycles >= LONG_RUN else "cycle"
    return path


def path_verilog(tile: TileDesign, path: str, build_root=None) -> DutVerilog | HarnessVerilog:
    """The Verilog ``path`` (``"fast"`` or ``"cycle"``) simulates: the tile in its harness
    (:func:`.fast_path.harness_verilog`), or the tile alone (:func:`.cycle_path.tile_verilog`)."""
    if path == "fast":
        return harness_verilog(tile, build_root=build_root)
    return tile_verilog(tile, build_root=build_root)


@dataclass(frozen=True)
class Play:
    """The outcome of :func:`play`: what ran, the verdict, and what was measured.

    Members
    -------
    sim, scheme, path : str
        Simulator, tile kind, path (``"fast"`` or ``"cycle"``).
    passed : bool
        Every check that applies passed (and the testbench reported).
    checks : tuple of Check
        One per check over all runs (:func:`dstripes.tb.verdict.merged`).
    runs : tuple of RunOutcome
    cycles_rtl, cycles_model, ideal : int
        Sums of the tile's counters, of the model's RTL-exact counts, and of those without the
        latency.
    latency : int
    results_checked : int
        Individual results compared, all equal (0 unless every run was exact).
    mismatches : int
        Result transfers that differed.
    first_mismatch : dict or None
        :attr:`dstripes.tb.verdict.BenchReport.first_mismatch`.
    interrupted : Interruption or None
        What a reset interrupted.
    transfers : dict or None; sim_cycles : int or None
        Fast path: each stream's transfers against the expected ones; simulated clock cycles.
    cycles_exact_required : bool
        The streams were always ready, so the model's cycle counts were checked.
    build_seconds : float
        0 when an earlier build was reused.
    sim_seconds : float
    cycles_per_second : float
        RTL cycles per second of simulation, start-up included.
    waves, log : str or None
        The waveform file; the simulator log, kept when a run failed or waveforms were asked.
    failure : str or None
    """

    sim: str
    scheme: str
    path: str
    passed: bool
    checks: tuple
    runs: tuple
    cycles_rtl: int
    cycles_model: int
    ideal: int
    latency: int
    results_checked: int
    mismatches: int
    first_mismatch: dict | None
    interrupted: Interruption | None
    transfers: dict | None
    sim_cycles: int | None
    cycles_exact_required: bool
    build_seconds: float
    sim_seconds: float
    cycles_per_second: float
    waves: str | None
    log: str | None
    failure: str | None

    def as_dict(self) -> dict:
        return fields_as_dict(self)


@dataclass(frozen=True)
class Played:
    """A :class:`Play` with what a caller adds to it (base of :class:`LayerSimulation` and
    :class:`dstripes.tb.host.soak.Soak`): ``as_dict()`` is the play's, then the added members."""

    play: Play

    @property
    def passed(self) -> bool:
        return self.play.passed

    def as_dict(self) -> dict:
        added = fields_as_dict(self)
        del added["play"]
        return {**self.play.as_dict(), **added}


def play(tile: TileDesign, simulator: str, runs: Sequence[TileRun], *, path: str = "fast",
         designed: DutVerilog | HarnessVerilog | None = None, idle: float = 0.0, stall: float = 0.0,
         seed: int = 0, reset_at: int | None = None, waves_dir: str | os.PathLike | None = None,
         quick: bool | None = None, build_root: str | os.PathLike | None = None) -> Play:
    """Play ``runs`` back to back through ``tile`` on ``path`` and judge them.

    Parameters
    ----------
    designed : DutVerilog or HarnessVerilog, optional
        From :func:`path_verilog` for the chosen path (made here otherwise).
    quick : bool, optional
        Verilator: ``True`` builds an ``-O0`` model, ``False`` an ``-O3`` one; by default the
        fast path builds with ``-O3`` (long runs) and the per-cycle path with ``-O0`` (short
        slices, tests).
    Others as :func:`dstripes.tb.host.cycle_path.simulate_tile`.
    """
    check_stimulus(runs, idle=idle, stall=stall, reset_at=reset_at)
    path = choose_path(path, sum(r.cycles for r in runs))
    designed = designed if designed is not None else path_verilog(tile, path, build_root)
    want = HarnessVerilog if path == "fast" else DutVerilog
    if not isinstance(designed, want):
        raise TypeError(f"the {path} path simulates a {want.__name__}, not a {type(designed).__name__}")
    latency = tile.latency
    if latency * len(runs) > sum(r.cycles for r in runs):
        raise ConfigError("the runs were derived for another tile (their cycle counts are below its latency)")
    waves = None if waves_dir is None else "fst" if simulator == "icarus" else "vcd"
    # the run folder is kept only when it holds waveforms or the log of a failed run
    run_dir = waves_dir if waves_dir is not None else tempfile.mkdtemp(prefix="dstripes-sim-")
    kw = dict(simulator=simulator, idle=idle, stall=stall, seed=seed, reset_at=reset_at, waves=waves,
              run_dir=run_dir, build_root=build_root)
    try:
        if path == "fast":
            res = simulate_harness(tile, designed, runs, quick=bool(quick), optimise=not quick, **kw)
        else:
            res = simulate_tile(tile, designed, runs, quick=quick is not False, optimise=quick is False, **kw)
    except BaseException:
        if waves_dir is None:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    if REPORT_KEY in res.results:
        report = BenchReport.from_dict(res.results[REPORT_KEY])
    else:  # the testbench ended before it could judge (a crash or a timeout)
        report = BenchReport((), Verdict((Check("testbench", FAILED, "; ".join(res.messages.values())[:FAILURE_CHARS]
                                                or "no verdict recorded"),)))
    passed = res.passed and report.verdict.passed
    if passed and waves_dir is None:
        shutil.rmtree(run_dir, ignore_errors=True)
    outcomes = report.runs
    cycles = sum(o.cycles or 0 for o in outcomes)
    model = sum(r.cycles for r in runs)
    exact = len(outcomes) == len(runs) and all(o.mismatches == 0 and o.results == o.expected_results
                                               for o in outcomes)
    return Play(
        sim=simulator, scheme=tile.name, path=path, passed=passed, checks=merged(report.verdict).checks,
        runs=outcomes, cycles_rtl=cycles, cycles_model=model, ideal=model - latency * len(runs), latency=latency,
        results_checked=sum(int(np.asarray(r.expected).size) for r in runs) if exact else 0,
        mismatches=sum(o.mismatches for o in outcomes), first_mismatch=report.first_mismatch,
        interrupted=report.interrupted, transfers=report.transfers, sim_cycles=report.sim_cycles,
        cycles_exact_required=idle == 0 and stall == 0, build_seconds=res.build.seconds, sim_seconds=res.seconds,
        cycles_per_second=cycles / res.seconds if cycles and res.seconds else 0.0,
        waves=str(res.waves) if res.waves else None,
        log=None if passed and waves_dir is None else str(res.log),
        failure=None if passed else (report.verdict.message() or "; ".join(res.messages.values()))[:FAILURE_CHARS],
    )


@dataclass(frozen=True)
class LayerSimulation(Played):
    """The outcome of :func:`simulate_layer`: its :class:`Play` and the slice it simulated.

    Members
    -------
    play : Play
    window_sets, steps : int
        Window-sets of the run (windows on the bit-parallel tile), steps per window-set.
    cycles_match : bool
        The tile's counter equals the model's RTL-exact count.
    results_match : bool
        Every result was checked and equal.
    wall_seconds : float
        Generation, build and simulation.
    """

    window_sets: int
    steps: int
    cycles_match: bool
    results_match: bool
    wall_seconds: float


def simulate_layer(tile: TileDesign, simulator: str, layer: Layer, window: Window,
                   acts: np.ndarray, weights: np.ndarray, *, window_sets: int | None = None,
                   filter_set: int = 0, mode: str | None = None, conv_group: int = 0,
                   waves_dir: str | os.PathLike | None = None, seed: int = 0, idle: float = 0.0,
                   stall: float = 0.0, quick: bool | None = None, path: str = "auto",
                   build_root: str | os.PathLike | None = None) -> LayerSimulation:
    """Generate ``tile``, run one filter-set of one layer (or its first ``window_sets``) on
    ``simulator`` and check it (parameters as :func:`dstripes.tb.host.runs.layer_run` and
    :func:`play`)."""
    t0 = time.perf_counter()
    # the run's length chooses the path: its latency is known before any Verilog is generated
    run = layer_run(tile, layer, window, acts, weights, mode=mode,
                    filter_set=filter_set, window_sets=window_sets, conv_group=conv_group)
    out = play(tile, simulator, [run], path=choose_path(path, run.cycles), idle=idle, stall=stall, seed=seed,
               waves_dir=waves_dir, quick=quick, build_root=build_root)
    measured = out.runs[0].cycles if out.runs else None
    return LayerSimulation(out, run.config["window_sets"], run.config["steps"], measured == run.cycles,
                           bool(out.results_checked), time.perf_counter() - t0)


def model_slice_cycles(config: TileConfig, layer: Layer, window: Window, acts: np.ndarray,
                       window_sets: int | None, conv_group: int = 0) -> dict[str, int]:
    """``{scheme: ideal cycles}`` of every scheme on the first ``window_sets`` window-sets (all:
    ``None``) of one filter-set of convolution group ``conv_group`` on one tile (bit-parallel:
    the same windows, one brick per cycle)."""
    if window_sets is None:
        window_sets = layer.window_sets(config.columns)
    windows = min(window_sets * config.columns, layer.windows)
    out = {}
    for s in SCHEMES.values():
        units = window_sets if s.serial else windows
        out[s.name] = s.run_cycles(s.run_bits(acts, layer, window, config, conv_group=conv_group, units=units),
                                   config)
    return out
