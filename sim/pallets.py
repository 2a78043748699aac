"""The pallet stream of a layer, in the one documented order.

Order (docs/design.md §3): for each convolution group, for each window-set (``Nc`` consecutive output
windows, row-major, crossing row boundaries), for each kernel row ``ky``, kernel column ``kx``
and channel block ``cb`` (innermost), one *pallet*: ``Nc`` bricks of ``L`` channels, one brick
per column. Padding positions, missing channels of the last channel block and missing windows
of the last window-set are zero activations. The step index inside a window-set is
``(ky * kw + kx) * CB + cb``. Column ``n`` of window-set ``ws`` at kernel position ``(ky, kx)``
reads the input position ``(oy*sy + ky*dy - py, ox*sx + kx*dx - px)`` of window
``ws * Nc + n = oy * ow + ox`` (``dy``, ``dx``: the layer's dilation).

Everything is vectorised over *brick positions* ``(cb, y, x)`` of the padded input: a brick is
read, reduced or detected once per position; the bricks of kernel position ``(ky, kx)`` for all
windows are then a strided slice of that per-position map (no per-use gather).
"""
from __future__ import annotations

import numpy as np

from .layer import Layer


class BrickGrid:
    """Brick positions of one convolution group's zero-padded input.

    Parameters
    ----------
    acts : array (groups * C/groups, H, W)
        Integer codes of ``groups`` consecutive convolution groups' input channels (any
        integer dtype; kept).
    layer : Layer
    lanes, columns : int
    conv_groups : int
        How many convolution groups ``acts`` holds. Each group's channels get their own channel
        blocks, so the grid of ``g`` groups is the ``g`` groups' grids stacked
        (``CB = g * CB_group``): cycle sums over it equal the sums over the groups one after the
        other.

    Members
    -------
    bricks : array (CB, L, Hp, Wp)
        Codes of every brick position.
    """

    def __init__(self, acts: np.ndarray, layer: Layer, lanes: int, columns: int, conv_groups: int = 1):
        self.layer, self.lanes, self.columns = layer, lanes, columns
        c, h, w = acts.shape
        cg = c // conv_groups
        per_group = layer.channel_blocks(lanes)
        self.cb = conv_groups * per_group
        self.hp, self.wp = h + 2 * layer.py, w + 2 * layer.px
        bricks = np.zeros((conv_groups, per_group * lanes, self.hp, self.wp), dtype=acts.dtype)
        bricks[:, :cg, layer.py:layer.py + h, layer.px:layer.px + w] = acts.reshape(conv_groups, cg, h, w)
        self.bricks = bricks.reshape(self.cb, lanes, self.hp, self.wp)
        self.window_sets = layer.window_sets(columns)

    def at(self, per_brick: np.ndarray, ky: int, kx: int) -> np.ndarray:
        """The per-brick-position values ``(CB, Hp, Wp, ...)`` seen by every column of every
        window-set at kernel position ``(ky, kx)``: ``(CB, window_sets, Nc, ...)``. Columns past
        the last window read a zero brick (value ``0``). Dilation offsets the windows' first
        tap, ``(ky*dy, kx*dx)``; the windows' stride stays ``(sy, sx)``."""
        l = self.layer
        y0, x0 = ky * l.dy, kx * l.dx
        view = per_brick[:, y0:y0 + l.sy * (l.oh - 1) + 1:l.sy, x0:x0 + l.sx * (l.ow - 1) + 1:l.sx]
        tail = per_brick.shape[3:]
        n = self.window_sets * self.columns
        if n == l.windows:
            out = np.ascontiguousarray(view).reshape((self.cb, n) + tail)
        else:
            out = np.zeros((self.cb, n) + tail, dtype=per_brick.dtype)
            out[:, :l.windows] = view.reshape((self.cb, l.windows) + tail)
        return out.reshape((self.cb, self.window_sets, self.columns) + tail)

    def kernel_positions(self):
        for ky in range(self.layer.kh):
            for kx in range(self.layer.kw):
                yield ky, kx


def group_inputs(acts: np.ndarray, layer: Layer) -> list[np.ndarray]:
    """Split ``(C, H, W)`` codes into the per-group inputs ``(C/groups, H, W)``."""
    return [acts[g * layer.cg:(g + 1) * layer.cg] for g in range(layer.conv_groups)]


def pallets(acts: np.ndarray, layer: Layer, lanes: int, columns: int, conv_group: int = 0) -> np.ndarray:
    """The pallet stream of one convolution group: ``(window_sets, steps, Nc, L)`` codes.

    ``acts`` is ``(C, H, W)`` (for FC layers the flat input reshaped to ``(C, 1, 1)``).
    """
    acts = np.asarray(acts, dtype=np.int64).reshape(layer.c, layer.h, layer.w)
    grid = BrickGrid(group_inputs(acts, layer)[conv_group], layer, lanes, columns)
    per = np.moveaxis(grid.bricks, 1, 3)  # (CB, Hp, Wp, L)
    out = np.empty((grid.window_sets, layer.kh, layer.kw, grid.cb, columns, lanes), dtype=np.int64)
    for ky, kx in grid.kernel_positions():
        out[:, ky, kx] = np.moveaxis(grid.at(per, ky, kx), 0, 1)
    return out.reshape(grid.window_sets, -1, columns, lanes)


def weight_bricks(weights: np.ndarray, layer: Layer, lanes: int, rows: int, filter_set: int,
                  conv_group: int = 0) -> np.ndarray:
    """Weight bricks of one tile's ``rows`` filters for every step: ``(steps, Nr, L)``.

    ``weights`` is PyTorch-shaped ``(K, C/groups, kh, kw)``; the tile holds filters
    ``conv_group * K/groups + filter_set * rows + r``. Missing filters and channels are zero.
    """
    w = np.asarray(weights, dtype=np.int64).reshape(layer.k, layer.cg, layer.kh, layer.kw)
    cb = layer.channel_blocks(lanes)
    out = np.zeros((layer.kh, layer.kw, cb * lanes, rows), dtype=np.int64)
    lo = filter_set * rows
    hi = min(lo + rows, layer.kg)
    if not 0 <= lo < layer.kg:
        raise ValueError(f"filter set {filter_set} is beyond the {layer.kg} filters of the layer")
    sel = w[conv_group * layer.kg + lo:conv_group * layer.kg + hi]  # (n, Cg, kh, kw)
    out[:, :, :layer.cg, :hi - lo] = np.transpose(sel, (2, 3, 1, 0))
    out = out.reshape(layer.kh, layer.kw, cb, lanes, rows)
    return np.transpose(out, (0, 1, 2, 4, 3)).reshape(-1, rows, lanes)
