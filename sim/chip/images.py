"""What the host puts in memory (``docs/design.md`` §10.2): a tensor as NM bricks, a layer's
weights and biases as off-chip beats in pass order, and the bricks back as a tensor.

A brick or beat is an array of 64-bit words (``(n, ceil(bits/64))`` uint64, little-endian: lane
0 in the low bits of word 0), the form the testbench writes into memory files.
"""
from __future__ import annotations

import numpy as np

from .config import ChipConfig
from .plan import LayerPlan


def _pack(values: np.ndarray, elem_bits: int, word_bits: int) -> np.ndarray:
    """Rows of ``values`` (``(n, k)`` integers, two's complement) as ``word_bits``-bit words of
    ``k`` packed ``elem_bits``-bit elements, in 64-bit chunks ``(n, ceil(word_bits/64))``."""
    v = np.asarray(values, dtype=np.int64)
    n, k = v.shape
    chunks = -(-word_bits // 64)
    out = np.zeros((n, chunks), dtype=np.uint64)
    u = v.view(np.uint64) & np.uint64((1 << elem_bits) - 1) if elem_bits < 64 else v.view(np.uint64)
    if 64 % elem_bits == 0:
        per = 64 // elem_bits
        for i in range(k):
            out[:, i // per] |= u[:, i] << np.uint64((i % per) * elem_bits)
        return out
    # widths that straddle 64-bit chunks (biases): exact Python integers
    for r in range(n):
        word = 0
        for i in range(k):
            word |= int(u[r, i]) << (i * elem_bits)
        for j in range(chunks):
            out[r, j] = (word >> (64 * j)) & 0xFFFFFFFFFFFFFFFF
    return out


def unpack(words: np.ndarray, elem_bits: int, count: int, signed: bool = False) -> np.ndarray:
    """Inverse of the packing: ``(n, count)`` int64 elements of ``(n, chunks)`` uint64 words."""
    w = np.asarray(words, dtype=np.uint64)
    n = w.shape[0]
    out = np.zeros((n, count), dtype=np.int64)
    mask = (1 << elem_bits) - 1
    for r in range(n):
        word = 0
        for j in range(w.shape[1]):
            word |= int(w[r, j]) << (64 * j)
        for i in range(count):
            v = (word >> (i * elem_bits)) & mask
            out[r, i] = v - (1 << elem_bits) if signed and v >> (elem_bits - 1) else v
    return out


def tensor_bricks(tensor: np.ndarray, chip: ChipConfig) -> np.ndarray:
    """A ``(C, H, W)`` tensor of codes as NM bricks ``(CB*H*W, chunks)`` in the layout
    ``address = (cb*H + y)*W + x`` (lanes past ``C`` zero; signed codes as ``A``-bit patterns)."""
    t = chip.tile
    a = np.asarray(tensor, dtype=np.int64)
    c, h, w = a.shape
    cb = -(-c // t.lanes)
    padded = np.zeros((cb * t.lanes, h, w), dtype=np.int64)
    padded[:c] = a
    lanes = padded.reshape(cb, t.lanes, h, w).transpose(0, 2, 3, 1).reshape(-1, t.lanes)
    return _pack(lanes, t.act_bits, chip.brick_bits)


def bricks_tensor(bricks: np.ndarray, shape: tuple, chip: ChipConfig, signed: bool = False) -> np.ndarray:
    """Inverse of :func:`tensor_bricks`: ``(C, H, W)`` int64 codes."""
    t = chip.tile
    c, h, w = shape
    cb = -(-c // t.lanes)
    lanes = unpack_lanes(bricks, chip, signed)[:cb * h * w]
    return lanes.reshape(cb, h, w, t.lanes).transpose(0, 3, 1, 2).reshape(cb * t.lanes, h, w)[:c]


def unpack_lanes(bricks: np.ndarray, chip: ChipConfig, signed: bool = False) -> np.ndarray:
    """``(n, L)`` codes of ``n`` bricks (vectorised when ``A`` divides 64)."""
    t = chip.tile
    b = np.asarray(bricks, dtype=np.uint64)
    a = t.act_bits
    if 64 % a:
        return unpack(b, a, t.lanes, signed)
    per = 64 // a
    out = np.zeros((b.shape[0], t.lanes), dtype=np.int64)
    for l in range(t.lanes):
        v = ((b[:, l // per] >> np.uint64((l % per) * a)) & np.uint64((1 << a) - 1)).astype(np.int64)
        out[:, l] = np.where(v >> (a - 1) == 1, v - (1 << a), v) if signed else v
    return out


def weight_beats(weights: np.ndarray, plan: LayerPlan, bias: np.ndarray | None = None) -> np.ndarray:
    """A layer's weights (and biases) as off-chip beats, pass after pass (§10.2):
    ``(passes * pass_beats, chunks)``."""
    chip, t, l = plan.chip, plan.chip.tile, plan.layer
    w = np.asarray(weights, dtype=np.int64).reshape(l.k, l.cg, l.kh, l.kw)
    cb, lanes, rows, tiles = plan.channel_blocks, t.lanes, t.rows, chip.tiles
    nf = rows * tiles
    per_beat = chip.brick_bits // t.weight_bits
    out = []
    for p in plan.passes:
        # (nf, cb*L, kh, kw) of the pass's filters, zero beyond its filters and channels
        sel = np.zeros((nf, cb * lanes, l.kh, l.kw), dtype=np.int64)
        sel[:p.filters, :l.cg] = w[p.k0:p.k0 + p.filters]
        # step order ky, cb, kx; each tile's brick [row][lane]
        s = sel.reshape(tiles, rows, cb, lanes, l.kh, l.kw).transpose(4, 2, 5, 0, 1, 3)  # (kh, cb, kw, T, Nr, L)
        flat = s.reshape(-1, rows * lanes)                                                  # (steps*T, Nr*L)
        beats = flat.reshape(-1, per_beat)                                                  # (steps*T*bpb, ...)
        out.append(_pack(beats, t.weight_bits, chip.brick_bits))
        if bias is not None:
            per = chip.bias_per_beat
            b = np.zeros(-(-nf // per) * per, dtype=np.int64)
            b[:p.filters] = np.asarray(bias, dtype=np.int64)[p.k0:p.k0 + p.filters]
            out.append(_pack(b.reshape(-1, per), t.acc_bits, chip.brick_bits))
    return np.concatenate(out)
