"""Soak: a long run of the fast path with seeded random idle cycles on every input stream,
back-pressure on the results and a reset in the middle of the first run.

The runs are random conv layers (1x1 and 3x3 kernels, strides 1 and 2, padding, unsigned and
signed windows, every precision mode the tile has) with ReLU-like codes, so detected precisions
vary from step to step; they are played back to back until their model cycle counts reach the
target (random stalls make the simulation longer still). A soak passes when every result is
exact, every stream transferred exactly what it had to (nothing lost or repeated) and the tile's
cycle counter equals the harness's own count in every run. ``scripts/bench/soak.py`` runs it on
the published tile; the test suite runs a short form.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from dstripes.hw.design import TileDesign
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer

from .fast_path import HarnessVerilog
from .runs import TileRun, layer_runs
from .simulate import Played, path_verilog, play


def relu_like(rng: np.random.Generator, shape, window: Window) -> np.ndarray:
    """Codes inside ``window``: many zeros, a tail of small values, some full-range ones."""
    raw = rng.integers(window.lo, window.hi + 1, size=shape)
    pick = rng.random(shape)
    codes = np.where(pick < 0.35, 0, np.where(pick < 0.75, raw >> rng.integers(1, window.msb + 1, shape), raw))
    return np.clip((codes >> window.lsb) << window.lsb, window.lo, window.hi)


def soak_runs(tile: TileDesign, cycles: int, seed: int = 0) -> list[TileRun]:
    """Random runs (see the module docstring) whose model cycle counts add up to ``cycles``."""
    rng = np.random.default_rng(seed)
    cfg = tile.config
    modes = tile.modes
    runs, total = [], 0
    while total < cycles:
        c = int(rng.integers(1, 3 * cfg.lanes))
        size = int(rng.integers(4, 20))
        kh = int(rng.choice([1, 3]))
        stride = int(rng.choice([1, 2]))
        layer = Layer(c, size, size, int(rng.integers(1, 3 * cfg.rows)), kh, kh, stride, stride, kh // 2, kh // 2)
        msb = int(rng.integers(2, cfg.act_bits))
        signed = bool(rng.random() < 0.25)
        window = Window(msb, int(rng.integers(0, msb - 1)), signed)
        acts = relu_like(rng, (c, size, size), window)
        wmax = 1 << (cfg.weight_bits - 1)
        weights = rng.integers(-wmax, wmax, (layer.k, c, kh, kh))
        sets = tuple(range(layer.filter_sets(cfg.rows)))
        new = layer_runs(tile, layer, window, acts, weights, mode=str(rng.choice(modes)),
                         filter_sets=sets)
        runs += new
        total += sum(r.cycles for r in new)
    return runs


@dataclass(frozen=True)
class Soak(Played):
    """The outcome of :func:`soak`.

    Members
    -------
    play : Play
    target_cycles : int
        The model cycles asked for.
    runs_played : int
    reset_at : int or None
        Cycles into the first run at which harness and tile were reset.
    wall_seconds : float
    """

    target_cycles: int
    runs_played: int
    reset_at: int | None
    wall_seconds: float


def soak(tile: TileDesign, simulator: str, cycles: int, *, idle: float = 0.2, stall: float = 0.3,
         seed: int = 0, reset: bool = True, designed: HarnessVerilog | None = None, quick: bool | None = None,
         build_root=None) -> Soak:
    """Build the runs (:func:`soak_runs`) and play them on the fast path (:func:`.simulate.play`)."""
    t0 = time.perf_counter()
    designed = designed if designed is not None else path_verilog(tile, "fast", build_root)
    runs = soak_runs(tile, cycles, seed)
    reset_at = max(1, runs[0].cycles // 2) if reset else None
    out = play(tile, simulator, runs, path="fast", designed=designed, idle=idle, stall=stall,
               seed=seed, reset_at=reset_at, quick=quick, build_root=build_root)
    return Soak(out, cycles, len(runs), reset_at, time.perf_counter() - t0)
