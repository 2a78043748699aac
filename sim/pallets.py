"""The pallet stream of a layer, in the one documented order.

Order (DESIGN §3): for each convolution group, for each window-set (``Nc`` consecutive output
windows, row-major, crossing row boundaries), for each kernel row ``ky``, kernel column ``kx``
and channel block ``cb`` (innermost), one *pallet*: ``Nc`` bricks of ``L`` channels, one brick
per column. Padding positions, missing channels of the last channel block and missing windows
of the last window-set are zero activations. The step index inside a window-set is
``(ky * kw + kx) * CB + cb``.

Everything is vectorised over *brick positions* ``(cb, y, x)`` of the padded input: a brick is
read, reduced or detected once per position and then *gathered* into the pallet order, so a
brick used by ``kh * kw`` windows is never reduced ``kh * kw`` times.
"""
from __future__ import annotations

import numpy as np

from .layer import Layer


class BrickGrid:
    """Brick positions of one convolution group's padded input.

    Parameters
    ----------
    acts : array (C/groups, H, W)
        Integer codes of one group's input channels.
    layer : Layer
    lanes, columns : int

    Members
    -------
    bricks : array (CB, L, P + 1)
        Codes of every brick position (``P = Hp * Wp``); position ``P`` is an all-zero brick
        that padded windows point at.
    """

    def __init__(self, acts: np.ndarray, layer: Layer, lanes: int, columns: int):
        self.layer, self.lanes, self.columns = layer, lanes, columns
        cg, h, w = acts.shape
        self.cb = layer.channel_blocks(lanes)
        self.hp, self.wp = h + 2 * layer.py, w + 2 * layer.px
        p = self.hp * self.wp
        padded = np.zeros((self.cb * lanes, self.hp, self.wp), dtype=np.int64)
        padded[:cg, layer.py:layer.py + h, layer.px:layer.px + w] = acts
        self.bricks = np.zeros((self.cb, lanes, p + 1), dtype=np.int64)
        self.bricks[:, :, :p] = padded.reshape(self.cb, lanes, p)
        self.sentinel = p
        nws = layer.window_sets(columns)
        oy, ox = np.divmod(np.arange(layer.windows), layer.ow)
        base = np.full(nws * columns, -1, dtype=np.int64)
        base[:layer.windows] = oy * layer.sy * self.wp + ox * layer.sx
        self._base = base

    @property
    def window_sets(self) -> int:
        return len(self._base) // self.columns

    def offsets(self):
        """``(ky, kx, index)`` for every kernel position: ``index`` (``nws * Nc``) points every
        column of every window-set at its brick position (padding windows at the sentinel)."""
        valid = self._base >= 0
        for ky in range(self.layer.kh):
            for kx in range(self.layer.kw):
                yield ky, kx, np.where(valid, self._base + ky * self.wp + kx, self.sentinel)

    def gather(self, per_brick: np.ndarray) -> np.ndarray:
        """Gather a per-brick-position array ``(CB, P + 1, ...)`` into pallet order.

        Returns ``(nws, kh, kw, CB, Nc, ...)``.
        """
        layer, nc = self.layer, self.columns
        nws = self.window_sets
        tail = per_brick.shape[2:]
        out = np.empty((nws, layer.kh, layer.kw, self.cb, nc) + tail, dtype=per_brick.dtype)
        for ky, kx, idx in self.offsets():
            g = per_brick[:, idx]  # (CB, nws*Nc, ...)
            out[:, ky, kx] = np.moveaxis(g.reshape((self.cb, nws, nc) + tail), 0, 1)
        return out


def group_inputs(acts: np.ndarray, layer: Layer) -> list[np.ndarray]:
    """Split ``(C, H, W)`` codes into the per-group inputs ``(C/groups, H, W)``."""
    return [acts[g * layer.cg:(g + 1) * layer.cg] for g in range(layer.groups)]


def pallets(acts: np.ndarray, layer: Layer, lanes: int, columns: int, group: int = 0) -> np.ndarray:
    """The pallet stream of one convolution group: ``(window_sets, steps, Nc, L)`` codes.

    ``acts`` is ``(C, H, W)`` (for FC layers the flat input reshaped to ``(C, 1, 1)``).
    """
    acts = np.asarray(acts, dtype=np.int64).reshape(layer.c, layer.h, layer.w)
    grid = BrickGrid(group_inputs(acts, layer)[group], layer, lanes, columns)
    per = np.moveaxis(grid.bricks, 1, 2)  # (CB, P+1, L)
    g = grid.gather(per)  # (nws, kh, kw, CB, Nc, L)
    return g.reshape(grid.window_sets, -1, columns, lanes)


def weight_bricks(weights: np.ndarray, layer: Layer, lanes: int, rows: int, filter_set: int,
                  group: int = 0) -> np.ndarray:
    """Weight bricks of one tile's ``rows`` filters for every step: ``(steps, Nr, L)``.

    ``weights`` is PyTorch-shaped ``(K, C/groups, kh, kw)``; the tile holds filters
    ``group * K/groups + filter_set * rows + r``. Missing filters and channels are zero.
    """
    w = np.asarray(weights, dtype=np.int64)
    cb = layer.channel_blocks(lanes)
    out = np.zeros((layer.kh, layer.kw, cb * lanes, rows), dtype=np.int64)
    lo = filter_set * rows
    hi = min(lo + rows, layer.kg)
    if lo >= layer.kg:
        raise ValueError(f"filter set {filter_set} is beyond the {layer.kg} filters of the layer")
    sel = w[group * layer.kg + lo:group * layer.kg + hi]  # (n, Cg, kh, kw)
    out[:, :, :layer.cg, :hi - lo] = np.transpose(sel, (2, 3, 1, 0))
    out = out.reshape(layer.kh, layer.kw, cb, lanes, rows)
    return np.transpose(out, (0, 1, 2, 4, 3)).reshape(-1, rows, lanes)
