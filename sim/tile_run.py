"""The model of one tile run (``docs/design.md`` §5): what each step of a run costs, and the run's
cycles.

A *run* is one filter-set of one convolution group of one input. Its steps come in pallet order
(:mod:`.pallets`); each precision group detects the bits it processes in each step
(:func:`step_group_bits`), and :func:`run_cycles` turns those bits into the run's cycles:

* lock-step (``run_ahead = 0``): a step costs ``max(1, max_g bits_g)``;
* run-ahead ``R > 0``: a group may start step ``s`` once every group finished step
  ``s - R - 1``, a step costs the group ``max(1, bits_g)``, and a group closes a window-set
  only after every group closed the previous one (one window-set of results staged per group);
* a fully-connected layer's bricks are issued round-robin to the columns (:func:`fc_cycles`).

The RTL-exact count of a run is the ideal count plus the tile's constant pipeline latency, a
number the testbench reads from the generated hardware. :func:`run_cycles` is **the** golden
model of a run, shared by the testbenches and the evaluation; the schemes
(:mod:`.schemes`) apply it to their runs and the layer counts (:mod:`.cycles`) sum it over a
layer. :func:`check_layer` and :func:`check_pass_memory` refuse a layer before anything large
is computed.
"""
from __future__ import annotations

import numpy as np

from .bricks import BrickStats, compact_codes, kernel_group_bits
from .checks import check_integer
from .config import TileConfig
from .errors import ConfigError
from .fixed import Window
from .layer import Layer
from .limits import check_memory
from .pallets import BrickGrid, group_inputs


def check_layer(layer: Layer, config: TileConfig) -> None:
    """Reject a layer whose reduction could overflow the configured accumulators."""
    red = layer.kh * layer.kw * layer.channel_blocks(config.lanes) * config.lanes
    if red > config.max_reduction:
        raise ConfigError(
            f"layer reduction length {red} (kh*kw*ceil(C/L)*L) exceeds max_reduction "
            f"{config.max_reduction} of the {config.acc_bits}-bit accumulators")


def pass_bytes(layer: Layer, config: TileConfig, conv_groups: int = 1) -> int:
    """Estimated peak memory of counting one pass (one input, ``conv_groups`` convolution groups
    stacked): the padded brick grid, its per-position statistics, one kernel position's view of
    every window-set, and the run's per-step group bits."""
    cb = conv_groups * layer.channel_blocks(config.lanes)
    positions = cb * (layer.h + 2 * layer.py) * (layer.w + 2 * layer.px)
    # codes of at most 16 bits: their 16-bit pattern and look-ups; wider: int64 temporaries
    per_code = 4 if config.act_bits <= 16 else 64
    slots = cb * layer.window_sets(config.columns) * config.columns
    steps = layer.steps(config.lanes) * conv_groups * layer.window_sets(config.columns) * config.precision_groups
    return positions * config.lanes * per_code + positions * 32 + slots * 32 + steps * 3


def check_pass_memory(layer: Layer, config: TileConfig, conv_groups: int = 1) -> None:
    """Refuse a layer whose one-input pass needs more memory than is available."""
    check_memory(pass_bytes(layer, config, conv_groups),
                 f"counting one input of {layer.describe()} (padded {layer.h + 2 * layer.py}x"
                 f"{layer.w + 2 * layer.px}, {config.lanes} lanes, {config.columns} columns)")


def fc_cycles(costs: np.ndarray, columns: int) -> int:
    """Round-robin FC dispatch: brick ``i`` issues at ``max(issue[i-1] + 1, free[i % Nc])``
    and keeps its column busy for ``max(1, costs[i])`` cycles; returns the last finish."""
    free = [0] * columns
    issue = -1
    end = 0
    for i, c in enumerate(np.maximum(1, np.asarray(costs, dtype=np.int64)).tolist()):
        col = i % columns
        issue = max(issue + 1, free[col])
        free[col] = issue + c
        end = max(end, free[col])
    return end


def run_cycles(group_bits: np.ndarray, *, run_ahead: int = 0, latency: int = 0) -> int:
    """Cycles of one run of one tile: **the** golden model of a run, shared by the testbench
    (``latency`` = the generated tile's) and the evaluation (``latency = 0``: the ideal count).

    Parameters
    ----------
    group_bits : array (window_sets, steps, groups) or (steps, groups)
        Bits each precision group processes in each step, in pallet order (bit-parallel tile:
        one column of ones, one per brick). A 2-D array is one window-set of ``steps`` steps.
    run_ahead : int
        Steps a group may run ahead (``docs/design.md`` §5): it may start step ``s`` once every
        group has finished step ``s - run_ahead - 1``; a step costs the group ``max(1, bits)``.
        Each group stages the results of one closed window-set until every group has closed it
        and they leave, so a group closes window-set ``w`` no earlier than the cycle after the
        last group closed ``w - 1``, and its next step waits for that close. ``0`` is
        lock-step: a step costs ``max(1, max_g bits_g)``.
    latency : int
        The tile's constant pipeline latency, added once per run.

    Returns
    -------
    int
        The cycle of the run's last window-set close, plus ``latency``.
    """
    check_integer("run_ahead", run_ahead, 0, numpy=True)
    check_integer("latency", latency, 0, numpy=True)
    bits = np.asarray(group_bits)
    if bits.ndim == 2:
        bits = bits[None]
    if bits.ndim != 3:
        raise ConfigError(f"group bits must be (window_sets, steps, groups) or (steps, groups), "
                          f"not shape {np.asarray(group_bits).shape}")
    if run_ahead == 0 or bits.shape[2] == 1 or bits.size == 0:
        # lock-step: the slowest group sets each step's cost (int8 maxima, int64 sum)
        return int(np.maximum(1, bits.max(axis=2, initial=0)).sum(dtype=np.int64)) + int(latency)
    return _run_ahead(np.maximum(1, bits.astype(np.int64)), int(run_ahead)) + int(latency)


def _run_ahead(cost: np.ndarray, run_ahead: int) -> int:
    """Cycle of the last window-set close when each group may run ``run_ahead`` steps ahead,
    ``cost`` ``(window_sets, steps, groups)`` (each ``>= 1``).

    Times count from the first bit plane of the run. ``end`` is the cycle after a group's last
    plane of a step (the step's add cycle); a closing add waits until the group's result stage
    is free, which is the cycle after the last group closed the previous window-set (``out``).
    """
    nws, steps, groups = cost.shape
    flat = cost.reshape(-1, groups).tolist()
    r1 = run_ahead + 1
    slowest = [0] * (len(flat) + 1)  # slowest[s + 1]: last group's end of step s
    ready = [0] * groups              # when each group may start its next step
    out = 0                           # cycle the previous window-set's results leave
    s = 0
    for _ in range(nws):
        for _ in range(steps):
            gate = slowest[s + 1 - r1] if s + 1 >= r1 else 0
            row = flat[s]
            ready = [(r if r > gate else gate) + c for r, c in zip(ready, row)]
            s += 1
            slowest[s] = max(ready)
        ready = [r if r > out else out for r in ready]   # the close (add) of this window-set
        out = max(ready) + 1
    return out - 1


def step_group_bits(acts: np.ndarray, layer: Layer, window: Window, config: TileConfig,
                    mode: str = "leading", conv_group: int = 0) -> np.ndarray:
    """Bits each precision group processes in every step of one convolution group,
    ``(window_sets, steps, precision_groups)`` int8, in pallet order.

    ``mode`` is ``static`` (Stripes), ``leading`` or ``both``.
    """
    check_pass_memory(layer, config)
    acts = window.check(acts, config.act_bits).reshape(layer.c, layer.h, layer.w)
    acts = compact_codes(group_inputs(acts, layer)[conv_group], config.act_bits)
    grid = BrickGrid(acts, layer, config.lanes, config.columns)
    stats = BrickStats(grid, window, mode, bounds=False)
    out = np.empty((grid.window_sets, layer.kh, layer.kw, grid.cb, config.precision_groups), dtype=np.int8)
    for ky, kx, bits in kernel_group_bits(grid, stats, window, config, mode):
        out[:, ky, kx] = bits.transpose(1, 0, 2)
    return out.reshape(grid.window_sets, -1, config.precision_groups)


def step_costs(acts: np.ndarray, layer: Layer, window: Window, config: TileConfig,
               mode: str = "leading", conv_group: int = 0) -> np.ndarray:
    """Lock-step cycles of every step of one convolution group, ``(window_sets, steps)``:
    ``max(1, max_g bits_g)`` of :func:`step_group_bits`."""
    bits = step_group_bits(acts, layer, window, config, mode, conv_group)
    return np.maximum(1, bits.max(axis=-1)).astype(np.int64)
