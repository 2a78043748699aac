"""Counts stay exact far beyond ``2**53`` (issue 19, item 5).

A float division (``math.ceil(K / 256)``) rounds ``K = 2**60 + 1`` down to ``2**60``: the count
of filter-sets, and every count made from it, lost its low digits. Here every count of huge
layers is compared with the closed form of ``docs/design.md`` §5 worked out with Python integers
only, through the Python API (every dimension huge: ``C``, ``H``, ``W``, ``K``, the kernel, the
stride, the padding, the dilation) and ``dstripes cycles --json`` (the filters huge: the only
dimension that needs no array as large), and a size beyond the documented limit is refused in one
line.
"""
from __future__ import annotations

import json
import math
import re
from fractions import Fraction

import numpy as np
import pytest

from dstripes.scripts.cli import main
from dstripes.sim.config import TileConfig, accumulator_bits
from dstripes.sim.cycles import (Cycles, LayerCycles, NetworkCycles, dadn_closed, layer_cycles, mean_bits, ratio,
                                 stripes_closed)
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.sim.limits import MAX_LAYER_DIM
from dstripes.sim.table import layer_table

HUGE_K = [2 ** 60 + 1, 10 ** 25, 2 ** 64 + 3, 3 ** 55]
CFG = TileConfig()  # 16 lanes, 16 columns, 16 x 16 filters per set
PER_SET = CFG.rows * CFG.tiles


def ceil(a: int, b: int) -> int:
    """The hand computation's own integer ceiling."""
    return (a + b - 1) // b


def test_a_float_division_would_have_been_wrong():
    """The test's sizes are ones where the float quotient rounds (so the checks below bite)."""
    for k in HUGE_K:
        assert math.ceil(k / PER_SET) != ceil(k, PER_SET)


@pytest.fixture
def acts():
    rng = np.random.default_rng(19)
    a = rng.integers(0, 256, (2, 20, 9, 9))  # 2 inputs, 20 channels (2 channel blocks), 9x9
    return np.where(rng.random(a.shape) < 0.3, 0, a)


@pytest.mark.parametrize("k", HUGE_K)
@pytest.mark.parametrize("run_ahead", [0, 2])
def test_layer_cycles_of_a_huge_filter_count_are_exact(acts, k, run_ahead):
    """Every count of a layer with ``k`` filters equals the closed form (DaDN, Stripes) or the
    count of one filter-set times the filter-sets (Dynamic Stripes, the bounds, the histogram),
    as exact integers (the ideal as an exact fraction)."""
    cfg = TileConfig(run_ahead=run_ahead, group=4 if run_ahead else 1)
    window = Window(7, 0)
    big = Layer(20, 9, 9, k, 3, 3)
    one = Layer(20, 9, 9, PER_SET, 3, 3)  # exactly one filter-set
    got, ref = layer_cycles(acts, big, window, cfg), layer_cycles(acts, one, window, cfg)
    sets = ceil(k, PER_SET)
    windows, steps = 7 * 7, 3 * 3 * 2  # per input; 2 channel blocks of 16 lanes
    c = got.cycles
    assert c["dadn"] == 2 * windows * steps * sets
    assert c["stripes"] == 2 * ceil(windows, 16) * steps * sets * 8
    for key in ("dstripes", "pragmatic"):
        assert type(c[key]) is int and c[key] == ref.cycles[key] * sets
    assert c["ideal"] == Fraction(ref.cycles["ideal"]) * sets
    assert [int(h) for h in got.hist] == [int(h) * sets for h in ref.hist]
    assert got.steps == 2 * ceil(windows, 16) * steps * sets
    assert got.macs == 2 * windows * k * 3 * 3 * 20 and got.windows == 2 * windows
    assert c["dadn"] == dadn_closed(big, cfg, 2) and c["stripes"] == stripes_closed(big, window, cfg, 2)
    d = got.as_dict()
    assert d["dadn"]["cycles"] == c["dadn"] and d["dstripes"]["cycles"] == c["dstripes"]
    assert d["bounds"]["ideal"] == float(c["ideal"]) and d["macs"] == got.macs
    # speedups: the correctly rounded quotient of the exact counts
    assert d["speedup"]["dstripes_over_dadn"] == float(Fraction(c["dadn"], c["dstripes"]))


def test_every_dimension_huge_through_the_python_api():
    """Huge ``C``, ``H``, ``W``, ``K``, kernel, stride, padding and dilation: the layer's shapes,
    the closed forms and a network's totals equal the hand computation with Python integers."""
    c, h, w, k = 2 ** 70 + 3, 2 ** 60 + 1, 2 ** 80 + 7, 2 ** 60 + 1
    kh, kw, sy, sx, py, px, dy, dx, g = 2 ** 20 + 1, 3, 3, 2 ** 33 + 1, 2 ** 19, 5, 2, 7, 2 ** 10
    assert math.ceil(c / 16) != ceil(c, 16)  # each count below would lose digits through a float
    layer = Layer(c * g, h, w, k * g, kh, kw, sy, sx, py, px, conv_groups=g, dy=dy, dx=dx)
    eh, ew = dy * (kh - 1) + 1, dx * (kw - 1) + 1
    oh, ow = (h + 2 * py - eh) // sy + 1, (w + 2 * px - ew) // sx + 1
    cb = ceil(c, 16)
    assert math.ceil(oh * ow / 16) != ceil(oh * ow, 16)
    assert (layer.oh, layer.ow, layer.windows) == (oh, ow, oh * ow)
    assert layer.channel_blocks(16) == cb and layer.steps(16) == kh * kw * cb
    assert layer.window_sets(16) == ceil(oh * ow, 16) and layer.filter_sets(PER_SET) == ceil(k, PER_SET)
    assert layer.macs == oh * ow * k * g * kh * kw * c
    images = 3
    dadn = images * g * oh * ow * kh * kw * cb * ceil(k, PER_SET)
    stripes = images * g * ceil(oh * ow, 16) * kh * kw * cb * ceil(k, PER_SET) * 11
    assert dadn_closed(layer, CFG, images) == dadn
    assert stripes_closed(layer, Window(10, 0), CFG, images) == stripes
    # fully connected: round-robin over the columns, every brick p_L cycles
    fc = Layer(c, 1, 1, k, fc=True)
    assert dadn_closed(fc, CFG) == ceil(c, 16) * ceil(k, PER_SET)
    # totals of layers and their ratios
    counts = Cycles(dadn=dadn, stripes=stripes, dstripes=stripes - 1, ideal=Fraction(stripes, 7), pragmatic=dadn + 1)
    one = LayerCycles(layer, Window(10, 0), CFG, images, counts, np.array([0]), 0)
    net = NetworkCycles("net", [one, one, one])
    total = net.total()
    assert total["dadn"] == 3 * dadn and total["dstripes"] == 3 * (stripes - 1)
    assert total["ideal"] == Fraction(3 * stripes, 7)
    d = net.as_dict()
    assert d["total"]["dadn"] == 3 * dadn and d["total"]["pragmatic"] == 3 * (dadn + 1)
    assert d["speedup"]["stripes_over_dadn"] == float(Fraction(dadn, stripes))
    assert math.isfinite(d["speedup_mac_weighted"]["stripes_over_dadn"])


def test_ratios_means_and_widths_are_made_from_exact_integers():
    big = 2 ** 60
    assert ratio(3 * big + 1, big) == float(Fraction(3 * big + 1, big))
    assert ratio(10 ** 400 + 1, 10 ** 399) == 10.0  # no overflow: one correctly rounded division
    assert ratio(1, 0) == float("inf")
    # a histogram of counts beyond 2**53 (an object array of Python integers)
    hist = np.array([2 ** 60 + 1, 0, 2 ** 60 - 1], dtype=object)
    assert mean_bits(hist) == 1.0
    # the accumulator width: ceil(log2(n)) extra bits, exact for any n
    for n in (1, 2, 3, 4, 5, 2 ** 31 + 1, 2 ** 32 - 1, 2 ** 32):
        assert accumulator_bits(16, 16, n) == 32 + (n - 1).bit_length()
    assert accumulator_bits(16, 16, 2 ** 16) == 48


def test_the_table_prints_exact_digits(acts):
    """The terminal table: every count digit for digit, the ideal exactly to two decimals."""
    k = 10 ** 25
    res = layer_cycles(acts[0], Layer(20, 9, 9, k, 3, 3), Window(7, 0))
    text = layer_table([res])
    assert f"{res.cycles['dadn']:,}" in text and f"{res.cycles['pragmatic']:,}" in text
    ideal = res.cycles["ideal"]
    hundredths = round(ideal * 100)
    assert f"{hundredths // 100:,}.{hundredths % 100:02d}" in text


# ------------------------------------------------------------------------- the command line

def _cycles(capsys, npy, acts, layer, *extra):
    rc = main(["cycles", "--acts", npy(acts), "--layer", layer, "--window", "7", *extra])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("k", HUGE_K)
def test_cycles_json_prints_exact_integers(capsys, npy, acts, k):
    """``dstripes cycles --json`` with ``k`` filters: every count a JSON integer equal to the
    closed form and to the Python API's."""
    rc, out, err = _cycles(capsys, npy, acts, f"k={k},kh=3", "--json")
    assert rc == 0, err
    d = json.loads(out)
    sets = ceil(k, PER_SET)
    assert d["dadn"]["cycles"] == 2 * 49 * 18 * sets
    assert d["stripes"]["cycles"] == 2 * 4 * 18 * sets * 8
    assert d["steps"] == 2 * 4 * 18 * sets and d["macs"] == 2 * 49 * k * 9 * 20
    api = layer_cycles(acts, Layer(20, 9, 9, k, 3, 3), Window(7, 0))
    assert d["dstripes"]["cycles"] == api.cycles["dstripes"] and d["bounds"]["pragmatic"] == api.cycles["pragmatic"]
    assert d["group_precision_hist"] == [int(h) for h in api.hist]
    # integers in the text itself, never a float's exponent or decimal point
    for key in ("dadn", "stripes", "dstripes"):
        assert re.search(rf'"{key}": {{\s*"cycles": {d[key]["cycles"]}\s*}}', out)
    assert str(d["dadn"]["cycles"]) in out and "e+" not in out.split('"bounds"')[0]


def test_cycles_json_of_a_huge_fully_connected_layer(capsys, npy, acts):
    k = 2 ** 60 + 1
    rc, out, err = _cycles(capsys, npy, acts[:1], f"k={k},fc", "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["dadn"]["cycles"] == ceil(20 * 9 * 9, 16) * ceil(k, PER_SET)
    assert d["macs"] == 20 * 9 * 9 * k


@pytest.mark.parametrize("layer, name", [
    (f"k={MAX_LAYER_DIM + 1},kh=3", "layer k (filters)"),
    (f"k=4,kh=3,stride={2 ** 101}", "layer stride along the height"),
    (f"k=4,kh=3,pad={10 ** 31}", "layer pad along the height"),
    (f"k=4,kh=3,dilation=1x{2 ** 100 + 1}", "layer dilation along the width"),
    (f"k={10 ** 40},fc", "layer k (filters)"),
])
def test_a_size_beyond_the_limit_is_refused_in_one_line(capsys, npy, acts, layer, name):
    rc, out, err = _cycles(capsys, npy, acts, layer, "--json")
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"dstripes: error: {name} ") and "is beyond the largest supported" in err
    assert f"{MAX_LAYER_DIM} (2**100)" in err


def test_the_limit_through_the_python_api():
    Layer(1, 1, 1, MAX_LAYER_DIM)  # at the limit: accepted
    for field in ("c", "h", "w", "k", "kh", "kw", "sy", "sx", "dy", "dx", "py", "px", "conv_groups"):
        kwargs = dict(c=1, h=1, w=1, k=1)
        kwargs[field] = MAX_LAYER_DIM + 1
        with pytest.raises(ConfigError, match=r"is beyond the largest supported \d+ \(2\*\*100\)"):
            Layer(**kwargs)


# ------------------------------------------------------------------------- results beyond int64

def test_results_beyond_int64_are_exact():
    """32-bit codes and weights over a 144-product reduction: sums beyond int64 come back as
    exact Python integers (they used to wrap around), equal to a plain-integer computation;
    results that fit stay int64."""
    from dstripes.sim.functional import conv_int, window_set_results

    rng = np.random.default_rng(5)
    layer = Layer(16, 4, 4, 2, 3, 3, 1, 1, 1, 1)
    acts = rng.integers(2 ** 30, 2 ** 31, (16, 4, 4))
    weights = rng.integers(-2 ** 31, -2 ** 30, (2, 16, 3, 3))
    got = conv_int(acts, weights, layer)
    padded = np.pad(acts, ((0, 0), (1, 1), (1, 1)))
    for k in range(2):
        for y in range(4):
            for x in range(4):
                want = sum(int(padded[c, y + i, x + j]) * int(weights[k, c, i, j])
                           for c in range(16) for i in range(3) for j in range(3))
                assert got[k, y, x] == want and type(got[k, y, x]) is int
    assert min(int(v) for v in got.ravel()) < -(1 << 63)  # really beyond int64
    tile = window_set_results(acts, weights, layer, 4, 4, 2)  # (4 window-sets, 4 columns, 2 rows)
    assert [int(v) for v in tile.reshape(-1, 2).T.ravel()] == [int(v) for v in got.reshape(2, -1).ravel()]
    assert conv_int(acts >> 16, weights >> 16, layer).dtype == np.int64


def test_simulate_refuses_results_beyond_int64_in_one_line(capsys, npy):
    """The testbenches carry expected results as int64: such a run is refused before anything
    is built, naming the bound (it used to fail with false mismatches)."""
    rng = np.random.default_rng(5)
    rc = main(["simulate", "--sim", "icarus", "--scheme", "dadn", "--act-bits", "32", "--weight-bits", "32",
               "--lanes", "4", "--rows", "2", "--window", "30", "--layer", "k=2,kh=3,pad=1",
               "--acts", npy(rng.integers(2 ** 30, 2 ** 31, (16, 4, 4)), "a.npy"),
               "--weights", npy(rng.integers(-2 ** 31, -2 ** 30, (2, 16, 3, 3)), "w.npy")])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("dstripes: error: results of this layer may reach ") and "64-bit integers" in err
