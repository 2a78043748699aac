"""What the cycle models read from each brick position, computed once per position.

A brick is read, reduced and detected once per position of the padded input
(:class:`~dstripes.sim.pallets.BrickGrid`); the bricks every column of every window-set sees at
one kernel position are then a strided view of these per-position maps. Both the model of one
run (:mod:`.tile_run`) and the layer counts (:mod:`.cycles`) go through here, so the detection
rule (:mod:`.precision`) is applied the same way for both.
"""
from __future__ import annotations

import numpy as np

from .config import TileConfig
from .fixed import Window
from .pallets import BrickGrid
from .precision import bits_from_or, essential_bits, group_or, value_bits


class BrickStats:
    """The per-position statistics of one brick grid.

    Parameters
    ----------
    grid : BrickGrid
        The padded input (codes from :func:`compact_codes`).
    window : Window
    mode : str
        Precision mode (``static``, ``leading`` or ``both``).
    bounds : bool
        Also compute what the two bounds need (``value_bits``, ``essential``).

    Members (each ``(CB, Hp, Wp)``)
    -------------------------------
    v, t : ndarray
        The brick's ORs (:func:`~dstripes.sim.precision.group_or`).
    bits : ndarray
        The brick's own detected bits (int8).
    value_bits : ndarray
        Sum over the lanes of each value's own bits (only with ``bounds``).
    essential : ndarray
        Most non-zero bits of any lane (only with ``bounds``).

    Codes of at most 16 bits go through 64 K-entry look-up tables.
    """

    def __init__(self, grid: BrickGrid, window: Window, mode: str, bounds: bool = True):
        b = grid.bricks
        if b.dtype == np.uint16:
            raw = b  # see compact_codes
            if window.signed:
                s16 = raw.view(np.int16)
                self.v = np.bitwise_or.reduce(s16 ^ (s16 >> 15), axis=1).astype(np.int64)
            else:
                self.v = np.bitwise_or.reduce(raw, axis=1).astype(np.int64)
            self.t = self.v if not window.signed else np.bitwise_or.reduce(raw, axis=1).astype(np.int64)
            if bounds:
                vb_lut, ess_lut = _luts(window, mode)
                self.value_bits = vb_lut[raw].sum(axis=1, dtype=np.int32)
                self.essential = ess_lut[raw].max(axis=1)
        else:
            self.v, self.t, _ = group_or(b, window.signed, axis=1)
            if bounds:
                self.value_bits = value_bits(b, window, mode).sum(axis=1)
                self.essential = essential_bits(b, window.signed).max(axis=1)
        self.bits = bits_from_or(self.v, self.t, window, mode)[0].astype(np.int8)


def compact_codes(codes: np.ndarray, act_bits: int) -> np.ndarray:
    """Validated codes of at most 16 bits as their 16-bit two's-complement pattern (a quarter of
    the memory traffic of int64, and an index into the look-up tables); wider codes stay int64."""
    return codes.astype(np.uint16) if act_bits <= 16 else codes


_LUT_CACHE: dict = {}


def _luts(window: Window, mode: str):
    """Per-code look-up tables (indexed by the 16-bit pattern): own bits, non-zero bits."""
    key = (window, mode)
    if key not in _LUT_CACHE:
        codes = np.arange(1 << 16, dtype=np.int64)
        if window.signed:
            codes = np.where(codes >= 1 << 15, codes - (1 << 16), codes)
        _LUT_CACHE[key] = (value_bits(codes, window, mode).astype(np.uint8),
                           essential_bits(codes, window.signed).astype(np.uint8))
    return _LUT_CACHE[key]


def kernel_group_bits(grid: BrickGrid, stats: BrickStats, window: Window, config: TileConfig, mode: str):
    """Yield ``(ky, kx, bits)`` with ``bits`` ``(CB, window_sets, groups)``: each precision
    group's detected bits for every step at kernel position ``(ky, kx)``."""
    g = config.group
    for ky, kx in grid.kernel_positions():
        if mode == "both" and g > 1:
            vv = np.bitwise_or.reduce(grid.at(stats.v, ky, kx).reshape(grid.cb, -1, config.precision_groups, g), axis=-1)
            tt = np.bitwise_or.reduce(grid.at(stats.t, ky, kx).reshape(grid.cb, -1, config.precision_groups, g), axis=-1)
            yield ky, kx, bits_from_or(vv, tt, window, mode)[0].astype(np.int8)
        else:
            # Leading-only bits are monotone in the group's OR, so a group's bits are the
            # maximum of its columns' bits; with G == 1 the column is the group.
            cols = grid.at(stats.bits, ky, kx)
            yield ky, kx, cols if g == 1 else cols.reshape(grid.cb, -1, config.precision_groups, g).max(axis=-1)
