"""Requantisation of the accumulators into the next layer's codes (``docs/design.md`` §10.5)."""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..fixed import Window
from .descriptor import check_clamp


def requantize(acc: np.ndarray, shift: int, window: Window, bias: np.ndarray | None = None,
               residual: np.ndarray | None = None, res_shift: int = 0, clamp: int | None = None) -> np.ndarray:
    """``code = 2**lsb * round_half_even((acc + bias + (r << res_shift)) / 2**(shift + lsb))``,
    saturated to ``window``, then at most ``clamp``.

    Parameters
    ----------
    acc : array (K, ...)
        Exact accumulator values (int64).
    shift : int
        Extra right shift (the scale of code 1 is ``2**shift`` accumulator units).
    window : Window
        The output window; unsigned windows saturate negatives to 0 (the ReLU).
    bias : array (K,), optional
        Per-filter bias in accumulator units, added first.
    residual : array like ``acc``, optional
        The residual tensor's codes ``r`` (integers, as stored: multiples of its window's
        ``2**lsb``), added shifted left by ``res_shift`` before the rounding (§10.5).
    res_shift : int
    clamp : int, optional
        An upper bound inside the window (a code of it: ReLU6's code of 6): ``min(code, clamp)``.
        The writer lowers the saturation's top to it, so it costs nothing per value.

    Returns
    -------
    ndarray
        int64 codes, the shape of ``acc``.

    Integer arithmetic throughout: the same as :func:`dstripes.sim.fixed.quantize` with
    ``scale = 2**shift`` wherever that one is exact.
    """
    if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or shift < 0:
        raise ConfigError(f"shift must be a non-negative integer, not {shift!r}")
    y = np.asarray(acc, dtype=np.int64)
    if bias is not None:
        b = np.asarray(bias, dtype=np.int64)
        y = y + b.reshape((-1,) + (1,) * (y.ndim - 1))
    if isinstance(res_shift, bool) or not isinstance(res_shift, (int, np.integer)) or res_shift < 0:
        raise ConfigError(f"res_shift must be a non-negative integer, not {res_shift!r}")
    if residual is not None:
        r = np.asarray(residual, dtype=np.int64)
        if r.shape != y.shape:
            raise ConfigError(f"the residual has shape {r.shape}, the output {y.shape}")
        y = y + (r << int(res_shift))
    elif res_shift:
        raise ConfigError("res_shift needs a residual")
    s = int(shift) + window.lsb
    if s:
        q = y >> s                                  # floor
        rem = y - (q << s)
        half = 1 << (s - 1)
        q = q + ((rem > half) | ((rem == half) & (q & 1 == 1)))
    else:
        q = y
    lo, hi = window.lo >> window.lsb, window.hi >> window.lsb
    if clamp is not None:
        check_clamp(clamp, window)
        hi = min(hi, clamp >> window.lsb)
    return np.clip(q, lo, hi) << window.lsb
