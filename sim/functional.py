"""Exact integer results of a layer (``sum(a * w)``), and the same results in the tile's output
order.

Results are int64 when no sum can leave it (:func:`result_bound`: always with codes and weights
of up to 16 bits); otherwise (32-bit codes and weights over a long reduction, up to the 96-bit
accumulators) an array of exact Python integers, never a wrapped int64.
"""
from __future__ import annotations

import numpy as np

from .layer import Layer
from .pallets import pallets, weight_bricks

#: The largest int64.
INT64_MAX = (1 << 63) - 1


def result_bound(acts, weights, terms: int) -> int:
    """The largest magnitude a sum of ``terms`` products of a code of ``acts`` and a weight of
    ``weights`` can reach (``max|a| * max|w| * terms``, exact).

    Parameters
    ----------
    acts, weights : array_like
        Integer codes and weights.
    terms : int
        Products summed into one result.

    Returns
    -------
    int
    """
    def most(x) -> int:
        x = np.asarray(x)
        return max(abs(int(x.max())), abs(int(x.min()))) if x.size else 0
    return most(acts) * most(weights) * terms


def _exact_dtype(acts, weights, terms: int):
    """int64 when :func:`result_bound` fits it, else ``object`` (exact Python integers)."""
    return np.int64 if result_bound(acts, weights, terms) <= INT64_MAX else object


#: Every integer of magnitude up to this is exact in float64, and so is every sum of them that
#: stays within it: such products are summed by BLAS, exactly and much faster than in int64.
FLOAT64_EXACT = 1 << 53


def conv_int(acts: np.ndarray, weights: np.ndarray, layer: Layer) -> np.ndarray:
    """Exact results ``(K, oh, ow)`` of a conv/FC layer on integer codes ``(C, H, W)``.

    ``weights`` is ``(K, C/groups, kh, kw)`` (FC: ``(K, C)``). Exact throughout: sums that stay
    within :data:`FLOAT64_EXACT` are formed in float64 (every partial sum an exact integer, BLAS
    speed) and returned as int64; larger ones in int64, or exact Python integers when a result
    could leave it (module docstring).
    """
    a = np.asarray(acts, dtype=np.int64).reshape(layer.c, layer.h, layer.w)
    w = np.asarray(weights, dtype=np.int64).reshape(layer.k, layer.cg, layer.kh, layer.kw)
    fast = result_bound(a, w, layer.reduction) <= FLOAT64_EXACT  # float64 BLAS, still exact
    dtype = np.float64 if fast else _exact_dtype(a, w, layer.reduction)
    # padded first, then converted: every element of an object array a Python integer
    ap = np.pad(a, ((0, 0), (layer.py, layer.py), (layer.px, layer.px))).astype(dtype)
    w = w.astype(dtype)
    out = np.zeros((layer.k, layer.oh, layer.ow), dtype=np.int64).astype(dtype)
    ys = np.arange(layer.oh) * layer.sy
    xs = np.arange(layer.ow) * layer.sx
    for g in range(layer.conv_groups):
        ag = ap[g * layer.cg:(g + 1) * layer.cg]
        wg = w[g * layer.kg:(g + 1) * layer.kg]
        for ky in range(layer.kh):
            for kx in range(layer.kw):
                patch = ag[:, (ys + ky * layer.dy)[:, None], (xs + kx * layer.dx)[None, :]]  # (Cg, oh, ow)
                out[g * layer.kg:(g + 1) * layer.kg] += np.tensordot(wg[:, :, ky, kx], patch, axes=(1, 0))
    return out.astype(np.int64) if fast else out


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
    that already hold the pallet stream); int64, or exact Python integers when a result could
    leave it."""
    p, b = np.asarray(pallet_stream, dtype=np.int64), np.asarray(bricks, dtype=np.int64)
    dtype = _exact_dtype(p, b, p.shape[1] * p.shape[3])
    return np.einsum("nscl,srl->ncr", p.astype(dtype), b.astype(dtype))
