"""What the sequencer walks for one layer (``docs/design.md`` §10.4): the passes, the step order,
each step's NM reads and fetch cycles, each window-set's write-back cycles, and the tile's step
costs in that order. Numpy only; the pallets themselves are never built here."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from ..bricks import BrickStats, compact_codes, kernel_group_bits
from ..fixed import Window
from ..layer import Layer
from ..pallets import BrickGrid
from ..schemes import DADN, STRIPES
from ..tile_run import check_layer, check_pass_memory
from .config import ChipConfig


@dataclass(frozen=True)
class Pass:
    """One pass: filter-set ``filter_set`` of convolution group ``group``.

    Members
    -------
    k0, filters : int
        Its first filter (of the layer) and how many it has (``<= Nr*T``).
    out_bricks : int
        Output bricks it writes (``n_kb``).
    """

    index: int
    group: int
    filter_set: int
    k0: int
    filters: int
    out_bricks: int


@dataclass(frozen=True)
class LayerPlan:
    """The walk of one layer on one chip.

    Members
    -------
    steps : int
        Steps per window-set ``S = kh*kw*ceil(Cg/L)``.
    window_sets : int
        Window-sets of a pass (bit-parallel: windows).
    passes : tuple of Pass
    """

    layer: Layer
    chip: ChipConfig

    @cached_property
    def columns(self) -> int:
        return self.chip.columns

    @cached_property
    def channel_blocks(self) -> int:
        return self.layer.channel_blocks(self.chip.tile.lanes)

    @cached_property
    def steps(self) -> int:
        return self.layer.steps(self.chip.tile.lanes)

    @cached_property
    def window_sets(self) -> int:
        return self.layer.window_sets(self.columns)

    @cached_property
    def passes(self) -> tuple:
        l, t = self.layer, self.chip.tile
        per = t.rows * t.tiles
        out = []
        for g in range(l.conv_groups):
            for f in range(l.filter_sets(per)):
                k0 = g * l.kg + f * per
                n = min(per, l.kg - f * per)
                out.append(Pass(len(out), g, f, k0, n, (k0 + n - 1) // t.lanes - k0 // t.lanes + 1))
        return tuple(out)

    @cached_property
    def valid_windows(self) -> np.ndarray:
        """Windows of each window-set, ``(window_sets,)``."""
        n = np.full(self.window_sets, self.columns, dtype=np.int64)
        n[-1] = self.layer.windows - (self.window_sets - 1) * self.columns
        return n

    @cached_property
    def reads(self) -> np.ndarray:
        """NM reads of every step, ``(window_sets, kh, kw)`` (the same for every channel block, group
        and pass): the columns whose window exists, whose position is inside the image and whose
        brick is not the one the previous step's column ``c + q`` had (reuse, §10.4)."""
        return step_reads(self.layer, self.columns, self.chip.reuse)

    def fetch_cycles(self, nm_read: int | None = None) -> np.ndarray:
        """``f_s = max(1, ceil(r_s / B))`` of a pass's steps in order, ``(window_sets * S,)`` (a
        read-only broadcast of ones when every step reads at most ``B`` bricks)."""
        b = self.chip.nm_read if nm_read is None else nm_read
        n = self.window_sets * self.steps
        if int(self.reads.max(initial=0)) <= b:
            return np.broadcast_to(np.int64(1), (n,))
        f = np.maximum(1, -(-self.reads // b))                               # (nws, kh, kw)
        f = np.broadcast_to(f[:, :, None, :], (self.window_sets, self.layer.kh, self.channel_blocks, self.layer.kw))
        return f.reshape(-1)

    def write_cycles(self, p: Pass, nm_read: int | None = None) -> np.ndarray:
        """``o_w = n_w * ceil(n_kb / B)`` of every window-set of pass ``p``."""
        b = self.chip.nm_read if nm_read is None else nm_read
        return self.valid_windows * -(-p.out_bricks // b)

    def chip_order(self, bits: np.ndarray) -> np.ndarray:
        """Per-step values in §3 order ``(window_sets, S, ...)`` in the accelerator's order
        (``ky, cb, kx``), flattened to ``(window_sets * S, ...)``."""
        l = self.layer
        b = np.asarray(bits)
        tail = b.shape[2:]
        b = b.reshape((b.shape[0], l.kh, l.kw, self.channel_blocks) + tail)
        return np.swapaxes(b, 2, 3).reshape((-1,) + tail)

    def step_costs(self, acts: np.ndarray, window: Window, mode: str = "leading", *,
                   checked: bool = False) -> np.ndarray:
        """The tile's lock-step cost of every step of every convolution group, in the accelerator's
        order: ``(groups, window_sets * S)`` int64 (bit-parallel: 1 per brick, Stripes ``p_L``);
        on a run-ahead Dynamic Stripes tile each precision group's cost ``max(1, bits_g)``,
        ``(groups, window_sets * S, precision_groups)``.
        ``checked``: the codes were already checked against ``window``."""
        l, chip = self.layer, self.chip
        check_layer(l, chip.tile)
        n = self.window_sets * self.steps
        kind = chip.kind
        if not checked:
            acts = window.check(acts, chip.tile.act_bits)
        if kind.name in (DADN.name, STRIPES.name):
            return np.full((l.conv_groups, n), 1 if kind is DADN else window.bits, dtype=np.int64)
        return group_step_costs(acts, l, window, chip, mode, self)


@lru_cache(maxsize=64)
def step_reads(layer: Layer, columns: int, reuse: bool = True) -> np.ndarray:
    """NM reads per step ``(window_sets, kh, kw)`` of ``layer`` walked ``columns`` windows at a
    time (see :attr:`LayerPlan.reads`): for each window-set, the count over columns of
    ``[window and row ky inside] x [column kx inside and not reused]``, one batched product."""
    l, nc = layer, columns
    nws = l.window_sets(nc)
    n = np.arange(nws * nc).reshape(-1, nc)
    valid = n < l.windows
    oy, ox = np.divmod(n, l.ow)
    ys = oy[:, :, None] * l.sy + np.arange(l.kh) * l.dy - l.py          # (nws, Nc, kh)
    xs = ox[:, :, None] * l.sx + np.arange(l.kw) * l.dx - l.px          # (nws, Nc, kw)
    rows = valid[:, :, None] & (ys >= 0) & (ys < l.h)
    cols = (xs >= 0) & (xs < l.w)
    q = reuse_shift(l) if reuse else 0
    if q and q < nc and l.kw > 1:
        same = valid[:, q:] & (oy[:, q:] == oy[:, :-q])                  # column c reuses c + q
        cols[:, :nc - q, 1:] &= ~same[:, :, None]
    out = np.matmul(np.swapaxes(rows, 1, 2).astype(np.float32), cols.astype(np.float32))  # (nws, kh, kw)
    out = out.astype(np.int64)
    out.setflags(write=False)
    return out


def reuse_shift(layer: Layer) -> int:
    """``q = dx / sx`` when the stride divides the dilation (reuse possible), else 0."""
    return layer.dx // layer.sx if layer.dx % layer.sx == 0 else 0


def group_step_costs(acts, layer: Layer, window: Window, chip: ChipConfig, mode: str,
                     plan: LayerPlan) -> np.ndarray:
    """Dynamic Stripes step costs of every convolution group at once, in the accelerator's order:
    lock-step ``(groups, window_sets * S)``, run-ahead each precision group's own cost
    ``(groups, window_sets * S, precision_groups)``; through the stacked brick grid of
    :mod:`dstripes.sim.bricks` (one pass for a depthwise layer instead of one per channel)."""
    config = chip.tile
    check_pass_memory(layer, config, layer.conv_groups)
    a = np.asarray(acts).reshape(layer.c, layer.h, layer.w)
    grid = BrickGrid(compact_codes(a, config.act_bits), layer, config.lanes, config.columns, conv_groups=layer.conv_groups)
    stats = BrickStats(grid, window, mode, bounds=False)
    g, cbg = layer.conv_groups, plan.channel_blocks
    if config.run_ahead:
        # the run-ahead tile's groups each keep their own cost (its timing needs them apart)
        pg = config.precision_groups
        out = np.empty((g, grid.window_sets, layer.kh, cbg, layer.kw, pg), dtype=np.int8)
        for ky, kx, bits in kernel_group_bits(grid, stats, window, config, mode):
            cost = np.maximum(1, bits).reshape(g, cbg, grid.window_sets, pg)
            out[:, :, ky, :, kx] = np.swapaxes(cost, 1, 2)
        return out.reshape(g, -1, pg).astype(np.int64)
    out = np.empty((g, grid.window_sets, layer.kh, cbg, layer.kw), dtype=np.int8)
    for ky, kx, bits in kernel_group_bits(grid, stats, window, config, mode):   # bits (g*CBg, nws, groups)
        cost = np.maximum(1, bits.max(axis=-1)).reshape(g, cbg, grid.window_sets)
        out[:, :, ky, :, kx] = np.swapaxes(cost, 1, 2)
    return out.reshape(g, -1).astype(np.int64)
