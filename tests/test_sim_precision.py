"""Run-time precision detection (sim.precision) against the brute-force rule of docs/design.md §5."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import brute
from dstripes.sim.fixed import Window
from dstripes.sim.precision import (bits_from_or, essential_bits, group_bits, group_or, lsb, msb,
                           value_bits)

MODES = ("static", "leading", "both")


# ---------------------------------------------------------------- the brute force itself

@pytest.mark.parametrize("values, window, mode, expected", [
    # unsigned [3:0]: 5 = 0b101 needs bits 0..2
    ([5], Window(3, 0), "leading", (3, 2)),
    ([5, 2], Window(3, 0), "both", (3, 2)),
    # 4 = 0b100 alone: trailing trim leaves bit 2 only
    ([4], Window(3, 0), "both", (1, 2)),
    ([4, 8], Window(5, 1), "leading", (3, 3)),   # bits 1..3
    ([4, 8], Window(5, 1), "both", (2, 3)),      # bits 2..3
    ([0, 0], Window(5, 1), "both", (0, 0)),      # all zero: 0 bits, top = lsb - 1
    ([0, 0], Window(5, 1), "static", (5, 5)),
    # signed [3:0]: -1 is the sign bit alone; 3 and -4 need 3 bits
    ([-1], Window(3, 0, True), "leading", (1, 0)),
    ([3, -4], Window(3, 0, True), "leading", (3, 2)),
    ([1], Window(3, 0, True), "leading", (2, 1)),
    # signed [4:1]: -4 = -1 * 2**2 (one bit at position 2), 4 = 0b0100 (sign + 1 bit)
    ([-4], Window(4, 1, True), "leading", (2, 2)),
    ([-4], Window(4, 1, True), "both", (1, 2)),
    ([4], Window(4, 1, True), "both", (2, 3)),
    ([-4, 4], Window(4, 1, True), "both", (2, 3)),
    ([-16], Window(4, 1, True), "leading", (4, 4)),
])
def test_brute_group_need_by_hand(values, window, mode, expected):
    assert brute.group_need(values, window, mode) == expected


def test_brute_run_ahead_and_fc_by_hand():
    # two groups, costs (A, B) per step: (3,1), (1,3)
    # lock-step: 3 + 3 = 6; R=1: A runs 3+1 = 4, B may start step 1 at t=1, ends at 4 -> 4
    assert brute.run_ahead_sim([[3, 1], [1, 3]], 0) == 6
    assert brute.run_ahead_sim([[3, 1], [1, 3]], 1) == 4
    # FC, 2 columns, costs 3,1,1,2: b0 col0 t0..3, b1 col1 t1..2, b2 col0 t3..4, b3 col1 t4..6
    assert brute.fc_sim([3, 1, 0, 2], 2) == 6


# ---------------------------------------------------------------- msb / lsb

@given(st.lists(st.integers(0, 2**53 - 1), min_size=1, max_size=20))
def test_msb_lsb_vs_brute(vals):
    a = np.array(vals, dtype=np.int64)
    assert msb(a).tolist() == [brute.bit_length_msb(v) for v in vals]
    assert lsb(a).tolist() == [brute.trailing_lsb(v) for v in vals]


@pytest.mark.parametrize("v", [2**54 - 1, 2**60 - 1, 2**62 + 2**61 + 7, 2**63 - 1])
def test_msb_exact_for_all_non_negative_int64(v):
    """The docstring promises the highest set bit of any non-negative integer; a float64
    ``frexp`` rounds values above 2**53 up to the next power of two."""
    assert int(msb(np.array([v], dtype=np.int64))[0]) == v.bit_length() - 1
    assert int(lsb(np.array([v], dtype=np.int64))[0]) == brute.trailing_lsb(v)


def test_msb_lsb_zero_and_scalars():
    assert int(msb(0)) == -1 and int(lsb(0)) == -1
    assert int(msb(1)) == 0 and int(lsb(1)) == 0
    assert int(msb(2**31)) == 31 and int(lsb(2**31 + 2**4)) == 4


# ---------------------------------------------------------------- group detection

@st.composite
def grouped_codes(draw):
    window = draw(brute.windows(act_bits=16))
    lanes = draw(st.integers(1, 4))
    columns = draw(st.sampled_from([1, 2, 4, 6, 8]))
    g = draw(st.sampled_from(brute.divisors(columns)))
    n = draw(st.integers(1, 6))  # pallets
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    codes = brute.random_codes(rng, (n, columns, lanes), window, draw(st.sampled_from([0, .3, .9])))
    return window, codes, g


@settings(max_examples=150)
@given(grouped_codes(), st.sampled_from(MODES))
def test_group_bits_vs_brute(case, mode):
    window, codes, g = case
    n, nc, lanes = codes.shape
    groups = codes.reshape(n, nc // g, g * lanes)
    got = group_bits(groups, window, mode)
    want = [[brute.group_bits(groups[i, j].tolist(), window, mode) for j in range(nc // g)]
            for i in range(n)]
    assert got.tolist() == want
    # the same reduction along another axis
    assert group_bits(np.moveaxis(groups, -1, 0), window, mode, axis=0).tolist() == want


@settings(max_examples=150)
@given(grouped_codes(), st.sampled_from(MODES))
def test_bits_from_or_bits_and_top_vs_brute(case, mode):
    window, codes, g = case
    n, nc, lanes = codes.shape
    groups = codes.reshape(n * (nc // g), g * lanes)
    v, t, nonzero = group_or(groups, window.signed)
    bits, top = bits_from_or(v, t, window, mode)
    for i, vals in enumerate(groups.tolist()):
        b, tp = brute.group_need(vals, window, mode)
        assert (int(bits[i]), int(top[i])) == (b, tp), vals
        assert bool(nonzero[i]) == any(vals)
        if mode != "static":
            # the lowest processed bit (the alignment of the partial sum) is top - bits + 1
            lo = int(top[i]) - int(bits[i]) + 1
            assert all(brute.representable(x, lo if b else window.lsb, b, window.signed) for x in vals)


@settings(max_examples=100)
@given(brute.windows(act_bits=16), st.integers(0, 2**32 - 1), st.sampled_from(MODES))
def test_value_bits_vs_brute(window, seed, mode):
    codes = brute.random_codes(np.random.default_rng(seed), (5, 7), window)
    got = value_bits(codes, window, mode)
    assert got.shape == codes.shape
    assert got.tolist() == [[brute.group_bits([x], window, mode) for x in row] for row in codes.tolist()]


@given(brute.windows(act_bits=16), st.integers(0, 2**32 - 1))
def test_essential_bits_vs_brute(window, seed):
    codes = brute.random_codes(np.random.default_rng(seed), (9,), window)
    assert essential_bits(codes, window.signed).tolist() == [brute.essential(x, window.signed)
                                                             for x in codes.tolist()]


def test_exhaustive_small_windows():
    """Every single code of every window of a 5-bit activation, in every mode."""
    for signed in (False, True):
        for m in range(1 if signed else 0, 5):
            for l in range(0, m + (0 if signed else 1)):
                w = Window(m, l, signed)
                codes = np.arange(w.lo, w.hi + 1, 1 << l)
                for mode in MODES:
                    want = [brute.group_bits([int(x)], w, mode) for x in codes]
                    assert value_bits(codes, w, mode).tolist() == want, (w, mode)


def test_unknown_mode_rejected():
    with pytest.raises(ValueError, match="nonsense"):
        bits_from_or(np.array([1]), np.array([1]), Window(3), "nonsense")


@pytest.mark.parametrize("window", [Window(31), Window(31, 0, True), Window(31, 7), Window(31, 30, True)])
def test_extremes_of_32_bit_windows(window):
    step = 1 << window.lsb
    codes = [window.lo, window.lo + step, -step if window.signed else step, 0, step,
             window.hi - step, window.hi]
    for mode in MODES:
        want = [brute.group_bits([x], window, mode) for x in codes]
        assert value_bits(np.array(codes), window, mode).tolist() == want, mode
        assert int(group_bits(np.array(codes), window, mode)) == brute.group_bits(codes, window, mode)
