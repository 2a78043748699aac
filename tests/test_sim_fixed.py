"""Quantisation and the layer window (sim.fixed): rounding, saturation, checks, errors."""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import brute
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window, quantize, window_of


# ---------------------------------------------------------------- Window

def test_window_range_by_hand():
    assert (Window(7).lo, Window(7).hi, Window(7).bits) == (0, 255, 8)
    assert (Window(5, 1).lo, Window(5, 1).hi, Window(5, 1).bits) == (0, 62, 5)
    assert (Window(7, 0, True).lo, Window(7, 0, True).hi) == (-128, 127)
    assert (Window(4, 2, True).lo, Window(4, 2, True).hi, Window(4, 2, True).bits) == (-16, 12, 3)


@pytest.mark.parametrize("text, expected", [
    ("7:0", Window(7, 0)), ("7", Window(7, 0)), ("9:3", Window(9, 3)), (" 5:2 ", Window(5, 2)),
])
def test_window_parse(text, expected):
    assert Window.parse(text) == expected
    assert Window.parse(text, signed=True).signed


@pytest.mark.parametrize("text, named", [
    ("abc", "abc"), ("3:5", "5"), ("1:2:3", "1:2:3"), ("-1", "-1"), ("", "''"), ("7:x", "7:x"),
])
def test_window_parse_errors_name_the_value(text, named):
    with pytest.raises(ConfigError) as e:
        Window.parse(text)
    assert named in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("text, signed, reason", [
    ("3:5", False, "above"), ("0:0", True, "two bits"), ("-1", False, "non-negative"),
])
def test_window_parse_keeps_the_specific_reason(text, signed, reason):
    """'3:5' is MSB:LSB with integers; the error must say what is wrong with it (today the
    ConfigError of the constructor, a ValueError subclass, is swallowed by ``except ValueError``
    and replaced by the generic message)."""
    with pytest.raises(ConfigError, match=reason):
        Window.parse(text, signed)


@pytest.mark.parametrize("args", [(3, 5), (-1, 0), (3, -1), (True, 0), (2.0, 0), (4, 4, True), (0, 0, True)])
def test_window_constructor_errors(args):
    with pytest.raises(ConfigError):
        Window(*args)


@settings(max_examples=40)
@given(brute.windows(act_bits=6), st.integers(6, 7))
def test_check_accepts_exactly_the_window(window, act_bits):
    """Every integer in a wide range: accepted iff it is representable in the window's bits."""
    span = 1 << (act_bits + 1)
    xs = range(-span, span + 1)
    good = [x for x in xs if brute.representable(x, window.lsb, window.bits, window.signed)]
    out = window.check(np.array(good), act_bits)
    assert out.dtype == np.int64 and out.tolist() == good
    for x in xs:
        if x not in good:
            with pytest.raises(ConfigError, match=f"code {x} is outside"):
                window.check(np.array([good[0], x]), act_bits)


def test_check_dtypes():
    w = Window(7, 1)
    assert w.check(np.array([2.0, 4.0]), 8).tolist() == [2, 4]
    # the narrow dtype is kept (no int64 copy of a large input); floats become the window's type
    small = np.array([2, 4], dtype=np.uint8)
    assert w.check(small, 8) is small
    assert w.check(np.array([2.0, 4.0]), 8).dtype == np.uint8
    assert Window(7, 0, True).check(np.array([-2.0, 4.0]), 8).dtype == np.int8
    assert Window(8, 0).check(np.array([True, False]), 16).dtype == np.uint8
    with pytest.raises(ConfigError, match="2.5"):
        w.check(np.array([2.0, 2.5]), 8)
    with pytest.raises(ConfigError, match="dtype"):
        w.check(np.array(["2"]), 8)
    with pytest.raises(ConfigError, match=r"\[9:1\].*8-bit"):
        Window(9, 1).check(np.array([2]), 8)
    with pytest.raises(ConfigError, match=r"-2 is outside the unsigned"):
        w.check(np.array([4, -2]), 8)
    with pytest.raises(ConfigError, match=r"\b3 is outside"):
        w.check(np.array([4, 3]), 8)           # odd code below the window's lsb
    with pytest.raises(ConfigError, match=r"-130 is outside the signed"):
        Window(7, 0, True).check(np.array([-130]), 8)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, 1e30])
def test_check_names_non_finite_or_huge_float(bad):
    """A float that is 'integral' but not a representable code (inf, 1e30) must be reported as
    itself, not as the int64 garbage its cast produces."""
    with pytest.raises(ConfigError) as e:
        Window(7, 0).check(np.array([1.0, bad]), 16)
    assert str(bad) in str(e.value) or repr(bad) in str(e.value), str(e.value)


def test_check_nan():
    with pytest.raises(ConfigError, match="nan"):
        Window(7, 0).check(np.array([1.0, np.nan]), 16)


# ---------------------------------------------------------------- quantize

def test_quantize_round_half_even_by_hand():
    w = Window(7, 0, True)
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49, 2.51])
    assert quantize(x, 1.0, w).tolist() == [0, 2, 2, 0, -2, -2, 0, 3]
    # scale 0.25: x / 0.25 = 2, 2.5 -> 2, 3.5 -> 4
    assert quantize(np.array([0.5, 0.625, 0.875]), 0.25, w).tolist() == [2, 2, 4]
    # lsb 1: step 2 -> x=1 is 0.5 steps -> 0; x=3 is 1.5 -> 2 steps = code 4; x=5 -> 2.5 -> 4
    assert quantize(np.array([1.0, 3.0, 5.0, 7.0]), 1.0, Window(7, 1)).tolist() == [0, 4, 4, 8]


def test_quantize_saturates_by_hand():
    assert quantize(np.array([100.0, -5.0, 15.4, 15.6]), 1.0, Window(3)).tolist() == [15, 0, 15, 15]
    assert quantize(np.array([100.0, -5.0]), 1.0, Window(3, 1)).tolist() == [14, 0]
    assert quantize(np.array([-100.0, 100.0, -8.4]), 1.0, Window(3, 0, True)).tolist() == [-8, 7, -8]
    assert quantize(np.array([np.inf, -np.inf]), 1.0, Window(3, 0, True)).tolist() == [7, -8]


@settings(max_examples=100)
@given(brute.windows(act_bits=12),
       st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=20),
       st.sampled_from([1.0, 0.5, 0.125, 3.0, 0.1]))
def test_quantize_vs_brute(window, xs, scale):
    got = quantize(np.array(xs), scale, window)
    assert got.dtype == np.int64
    window.check(got, 12)  # always inside the window
    step = scale * (1 << window.lsb)
    # Python's round() on a float is round-half-to-even
    want = [min(max(round(x / step) * (1 << window.lsb), window.lo), window.hi) for x in xs]
    assert got.tolist() == want


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan")])
def test_quantize_bad_scale(scale):
    with pytest.raises(ConfigError, match="scale"):
        quantize(np.array([1.0]), scale, Window(7))


def test_quantize_nan_never_leaves_the_window():
    """A NaN input must either be rejected or land inside the window (the promise: codes in the
    window) -- not become INT64_MIN."""
    w = Window(7, 0)
    try:
        out = quantize(np.array([1.0, np.nan]), 1.0, w)
    except ConfigError:
        return
    assert ((out >= w.lo) & (out <= w.hi)).all(), f"quantize(nan) returned {out.tolist()}"


# ---------------------------------------------------------------- window_of

def _tightest_bits(codes, signed, act_bits=12):
    best = None
    for m in range(act_bits):
        for l in range(m + 1):
            if signed and m == l:
                continue
            if all(brute.representable(int(x), l, m - l + 1, signed) for x in codes):
                best = m - l + 1 if best is None else min(best, m - l + 1)
    return best


@settings(max_examples=80)
@given(brute.windows(act_bits=10), st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_window_of_is_tightest(window, seed, n):
    codes = brute.random_codes(np.random.default_rng(seed), (n,), window, 0.2)
    w = window_of(codes, window.signed)
    assert w.signed == window.signed
    w.check(codes, 12)
    if codes.any():
        assert w.bits == _tightest_bits(codes, window.signed)


def test_window_of_by_hand():
    assert window_of(np.array([0, 0])) == Window(0, 0)
    assert window_of(np.array([0, 0]), signed=True) == Window(1, 0, True)
    assert window_of(np.array([4, 8, 12])) == Window(3, 2)
    assert window_of(np.array([-1]), signed=True) == Window(1, 0, True)
    assert window_of(np.array([-128, 127]), signed=True) == Window(7, 0, True)
    assert window_of(np.array([-8, 6]), signed=True) == Window(3, 1, True)
    with pytest.raises(ConfigError, match="-3"):
        window_of(np.array([1, -3]))


def test_check_in_chunks(monkeypatch):
    """Large inputs are checked and converted chunk by chunk: the result and the first bad value
    named must not depend on where the chunks fall (small chunks here)."""
    from dstripes.sim import fixed
    monkeypatch.setattr(fixed, "CHUNK", 3)
    w = Window(7, 1)
    codes = np.arange(0, 40, 2).reshape(2, 2, 5)
    assert w.check(codes.astype(np.float32), 8).tolist() == codes.tolist()
    assert w.check(np.asfortranarray(codes.astype(np.float64)), 8).tolist() == codes.tolist()
    bad = codes.copy()
    bad[1, 1, 3] = 7  # odd: below the window's lsb, in the fourth chunk
    with pytest.raises(ConfigError, match="code 7 is outside"):
        w.check(bad.astype(np.int16), 8)
    with pytest.raises(ConfigError, match="2.5"):
        w.check(np.where(bad == 7, 2.5, bad), 8)
