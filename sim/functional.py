"""Exact integer results of a layer (``sum(a * w)`` in int64), and the same results in the
tile's output order."""
from __future__ import annotations

import numpy as np

from .layer import Layer
from .pallets import pallets, weight_bricks


def conv_int(acts: np.ndarray, weights: np.ndarray, layer: Layer) -> np.ndarray:
    """Exact results ``(K, oh, ow)`` of a conv/FC layer on integer codes ``(C, H, W)``.

    ``weights`` is ``(K, C/groups, kh, kw)`` (FC: ``(K, C)``). Integer arithmetic throughout
    (int64; the caller's accumulator check guarantees no overflow).
    """
    a = np.asarray(acts, dtype=np.int64).reshape(layer.c, layer.h, layer.w)
    w = np.asarray(weights, dtype=np.int64).reshape(layer.k, layer.cg, layer.kh, layer.kw)
    ap = np.pad(a, ((0, 0), (layer.py, layer.py), (layer.px, layer.px)))
    out = np.zeros((layer.k, layer.oh, layer.ow), dtype=np.int64)
    ys = np.arange(layer.oh) * layer.sy
    xs = np.arange(layer.ow) * layer.sx
    for g in range(layer.conv_groups):
        ag = ap[g * layer.cg:(g + 1) * layer.cg]
        wg = w[g * layer.kg:(g + 1) * layer.kg]
        for ky in range(layer.kh):
            for kx in range(layer.kw):
                patch = ag[:, (ys + ky * layer.dy)[:, None], (xs + kx * layer.dx)[None, :]]  # (Cg, oh, ow)
                out[g * layer.kg:(g + 1) * layer.kg] += np.tensordot(wg[:, :, ky, kx], patch, axes=(1, 0))
    return out


def window_set_results(acts: np.ndarray, weights: np.ndarray, layer: Layer, lanes: int,
                       columns: int, rows: int, filter_set: int = 0, conv_group: int = 0) -> np.ndarray:
    """Results of one tile, in its output order: ``(window_sets, Nc, Nr)``.

    Computed from the pallet stream and weight bricks (the tile's view), so a test comparing it
    with :func:`conv_int` checks the pallet order itself.
    """
    p = pallets(acts, layer, lanes, columns, conv_group)  # (nws, S, Nc, L)
    wb = weight_bricks(weights, layer, lanes, rows, filter_set, conv_group)  # (S, Nr, L)
    return results_from_pallets(p, wb)


def results_from_pallets(pallet_stream: np.ndarray, bricks: np.ndarray) -> np.ndarray:
    """The results of window-sets ``(n, Nc, Nr)`` from their pallets ``(n, S, Nc, L)`` and the
    weight bricks ``(S, Nr, L)`` (the computation of :func:`window_set_results`, for callers
    that already hold the pallet stream)."""
    return np.einsum("nscl,srl->ncr", np.asarray(pallet_stream, dtype=np.int64), np.asarray(bricks, dtype=np.int64))
