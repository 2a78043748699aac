"""Run-time precision detection: the rule of docs/design.md §5, written once.

For a group of activations, ``v`` is the bit-wise OR of the group (signed layers: of the
sign-stripped form ``x ^ (x >> (A-1))``, whose highest set bit plus one is the sign bit), and
``t`` is the OR of the raw codes (trailing zeros are the same in two's complement).

=================  ===========================================================
mode               bits processed by the group
=================  ===========================================================
``static``         ``p_L``
``leading``        ``clamp(msb_g - lsb_L + 1, 0, p_L)``
``both``           ``msb_g - max(lsb(t), lsb_L) + 1``
=================  ===========================================================

with ``msb_g = msb(v)`` (unsigned) or ``msb(v) + 1`` (signed). An all-zero group needs ``0``
bits. The lowest processed bit is ``msb_g - bits + 1``; the hardware aligns the group's partial
sum by it.
"""
from __future__ import annotations

import numpy as np

MODES = ("static", "leading", "both")


def msb(v) -> np.ndarray:
    """Index of the highest set bit of non-negative integers (``-1`` for zero)."""
    v = np.asarray(v, dtype=np.int64)
    m = np.frexp(v.astype(np.float64))[1].astype(np.int64) - 1
    # above 2**53 the float conversion may round up to the next power of two
    big = v >= (1 << 53)
    if big.any():
        power = np.left_shift(np.uint64(1), np.maximum(m, 0).astype(np.uint64))
        m = np.where(big & (power > v.astype(np.uint64)), m - 1, m)
    return m


def lsb(v) -> np.ndarray:
    """Index of the lowest set bit of non-negative integers (``-1`` for zero)."""
    v = np.asarray(v, dtype=np.int64)
    return msb(v & -v)


def strip(codes, signed: bool) -> np.ndarray:
    """Sign-stripped magnitude pattern used for leading-one detection."""
    a = np.asarray(codes, dtype=np.int64)
    return a ^ (a >> 63) if signed else a


def group_or(codes, signed: bool, axis=-1):
    """``(v, t, nonzero)`` of groups along ``axis``: OR of stripped codes, OR of raw codes
    (masked to non-negative), and whether any code is non-zero."""
    a = np.asarray(codes, dtype=np.int64)
    v = np.bitwise_or.reduce(strip(a, signed), axis=axis)
    t = np.bitwise_or.reduce(a & 0x7FFF_FFFF_FFFF_FFFF, axis=axis)
    return v, t, t != 0


def bits_from_or(v, t, window, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Bits processed and the highest processed bit of groups with ORs ``v`` and ``t``.

    ``v``/``t`` are as returned by :func:`group_or`. Returns ``(bits, top)``; for an all-zero
    group ``bits == 0`` and ``top`` is ``window.lsb - 1``. In ``static`` mode every group
    processes the whole window (``top == window.msb``).
    """
    v = np.asarray(v, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    if mode == "static":
        shape = np.broadcast(v, t).shape
        return (np.full(shape, window.bits, dtype=np.int64), np.full(shape, window.msb, dtype=np.int64))
    if mode not in MODES:
        raise ValueError(f"precision mode must be one of {MODES}, not {mode!r}")
    top = msb(v) + (1 if window.signed else 0)
    zero = t == 0
    top = np.where(zero, window.lsb - 1, np.clip(top, window.lsb - 1, window.msb))
    low = window.lsb
    if mode == "both":
        low = np.maximum(lsb(t), window.lsb)
    bits = np.where(zero, 0, np.clip(top - low + 1, 0, window.bits))
    return bits.astype(np.int64), top


def group_bits(codes, window, mode: str, axis=-1) -> np.ndarray:
    """Bits processed by each group of ``codes`` reduced along ``axis`` (docs/design.md §5)."""
    v, t, _ = group_or(codes, window.signed, axis)
    return bits_from_or(v, t, window, mode)[0]


def value_bits(codes, window, mode: str) -> np.ndarray:
    """Bits one activation would need on its own (a group of one value)."""
    a = np.asarray(codes, dtype=np.int64)
    return bits_from_or(strip(a, window.signed), a & 0x7FFF_FFFF_FFFF_FFFF, window, mode)[0]


def essential_bits(codes, signed: bool) -> np.ndarray:
    """Non-zero bits of each code (Pragmatic-style cost; signed: of the magnitude, plus a sign)."""
    a = np.asarray(codes, dtype=np.int64)
    mag = np.abs(a)
    count = np.zeros(mag.shape, dtype=np.int64)
    m = mag.copy()
    while m.any():
        count += m & 1
        m >>= 1
    if signed:
        count += (a < 0)
    return count
