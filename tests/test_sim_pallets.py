"""Layer shapes, the pallet order and exact results (sim.layer, sim.pallets, sim.functional)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import brute
from dstripes.sim.errors import ConfigError
from dstripes.sim.functional import conv_int, window_set_results
from dstripes.sim.layer import Layer
from dstripes.sim.pallets import pallets, weight_bricks

# The worked example used here and in test_sim_cycles.py: one channel 2x2, kernel 2x2, pad 1
# -> 3x3 = 9 windows; L=1, Nc=4 -> 3 window-sets (the last holds window 8 and 3 empty columns).
# Padded input P:      windows row-major w0=(0,0) w1=(0,1) w2=(0,2) w3=(1,0) | w4..w7 | w8
#   0 0 0 0            step (ky,kx) of window (oy,ox) reads P[oy+ky][ox+kx]
#   0 1 2 0
#   0 3 4 0
#   0 0 0 0
EX_ACTS = np.array([[[1, 2], [3, 4]]])
EX_LAYER = Layer(1, 2, 2, 1, kh=2, kw=2, py=1, px=1)
EX_PALLETS = np.array([
    # ws0: steps (0,0) (0,1) (1,0) (1,1); one value per column
    [[0, 0, 0, 0], [0, 0, 0, 1], [0, 1, 2, 0], [1, 2, 0, 3]],
    # ws1: w4=(1,1) w5=(1,2) w6=(2,0) w7=(2,1)
    [[1, 2, 0, 3], [2, 0, 3, 4], [3, 4, 0, 0], [4, 0, 0, 0]],
    # ws2: w8=(2,2) and three missing windows
    [[4, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
])[..., None]  # (nws, steps, Nc, L=1)


def test_worked_example_pallets_by_hand():
    assert (EX_LAYER.oh, EX_LAYER.ow, EX_LAYER.windows) == (3, 3, 9)
    got = pallets(EX_ACTS, EX_LAYER, lanes=1, columns=4)
    assert got.tolist() == EX_PALLETS.tolist()
    assert brute.pallets(EX_ACTS, EX_LAYER, 1, 4).tolist() == EX_PALLETS.tolist()


def test_worked_example_results_by_hand():
    # all-ones 2x2 kernel: each window sums its (up to) four pixels
    w = np.ones((1, 1, 2, 2), dtype=np.int64)
    want = [[1, 3, 2], [4, 10, 6], [3, 7, 4]]
    assert conv_int(EX_ACTS, w, EX_LAYER).tolist() == [want]
    ws = window_set_results(EX_ACTS, w, EX_LAYER, lanes=1, columns=4, rows=1)
    assert ws[:, :, 0].tolist() == [[1, 3, 2, 4], [10, 6, 3, 7], [4, 0, 0, 0]]


def test_results_by_hand_unsigned_and_signed():
    # 1x1 conv, C=2, 1x3 input: ch0 = [1, 0, 5], ch1 = [2, 0, 0]; one filter (3, -1)
    #   window 0: 1*3 + 2*(-1) = 1; window 1: 0; window 2: 5*3 = 15
    acts = np.array([[[1, 0, 5]], [[2, 0, 0]]])
    layer = Layer(2, 1, 3, 1)
    w = np.array([3, -1]).reshape(1, 2, 1, 1)
    assert conv_int(acts, w, layer).tolist() == [[[1, 0, 15]]]
    # L=2, Nc=2: window-set 0 = windows (0, 1), window-set 1 = (2, missing)
    assert window_set_results(acts, w, layer, 2, 2, 1)[:, :, 0].tolist() == [[1, 0], [15, 0]]
    # signed: ch0 = [-1, 3], ch1 = [0, -4]; filters (2, -3) and (-1, 1)
    #   window 0 (-1, 0): -2, 1;  window 1 (3, -4): 6 + 12 = 18, -3 - 4 = -7
    acts = np.array([[[-1, 3]], [[0, -4]]])
    layer = Layer(2, 1, 2, 2)
    w = np.array([[2, -3], [-1, 1]]).reshape(2, 2, 1, 1)
    assert conv_int(acts, w, layer).tolist() == [[[-2, 18]], [[1, -7]]]
    # rows=1: filter-set 1 holds filter 1
    assert window_set_results(acts, w, layer, 2, 2, 1, filter_set=1)[0, :, 0].tolist() == [1, -7]
    # FC: weights (K, C)
    fc = Layer(3, 1, 1, 2, fc=True)
    assert conv_int(np.array([1, -2, 3]), np.array([[1, 1, 1], [2, 0, -1]]), fc).tolist() == [[[2]], [[-1]]]


def test_channel_blocks_and_step_order_by_hand():
    """C=3, L=2: channel block 0 = channels (0,1), block 1 = (2, zero lane); kernel 1x2, so
    steps are (kx=0,cb=0), (kx=0,cb=1), (kx=1,cb=0), (kx=1,cb=1) -- cb innermost."""
    acts = np.arange(1, 1 + 3 * 1 * 3).reshape(3, 1, 3)  # channel c, x -> 3c + x + 1
    layer = Layer(3, 1, 3, 1, kh=1, kw=2)                # 2 windows
    got = pallets(acts, layer, lanes=2, columns=2)
    assert got.tolist() == [[
        [[1, 4], [2, 5]],    # kx=0, cb=0: window 0 reads x=0, window 1 reads x=1
        [[7, 0], [8, 0]],    # kx=0, cb=1
        [[2, 5], [3, 6]],    # kx=1, cb=0
        [[8, 0], [9, 0]],    # kx=1, cb=1
    ]]


def test_grouped_conv_by_hand():
    """groups=2: group 1 reads channels 2..3 only; depthwise (groups=C) uses one lane."""
    acts = np.arange(4).reshape(4, 1, 1) + 1
    layer = Layer(4, 1, 1, 2, conv_groups=2)
    assert pallets(acts, layer, 4, 1, conv_group=0).tolist() == [[[[1, 2, 0, 0]]]]
    assert pallets(acts, layer, 4, 1, conv_group=1).tolist() == [[[[3, 4, 0, 0]]]]
    dw = Layer(4, 1, 1, 4, conv_groups=4)
    assert [pallets(acts, dw, 4, 1, conv_group=g).tolist() for g in range(4)] == \
        [[[[[v, 0, 0, 0]]]] for v in (1, 2, 3, 4)]


def test_dilated_conv_by_hand():
    """Dilation 2 on a 1x5 row: a 1x2 kernel taps x and x+2, so 5 - (2*(2-1)+1) + 1 = 3
    windows; window ox reads (ox, ox+2). Padding 1 adds a zero on each side: 5 windows."""
    acts = np.array([[[1, 2, 3, 4, 5]]])
    layer = Layer(1, 1, 5, 1, kh=1, kw=2, dy=1, dx=2)
    assert (layer.ew, layer.ow, layer.windows) == (3, 3, 3)
    # steps kx=0, kx=1; columns = windows 0..2 and one missing window
    assert pallets(acts, layer, lanes=1, columns=4)[..., 0].tolist() == [[[1, 2, 3, 0], [3, 4, 5, 0]]]
    w = np.array([10, 1]).reshape(1, 1, 1, 2)
    assert conv_int(acts, w, layer).tolist() == [[[13, 24, 35]]]
    padded = Layer(1, 1, 5, 1, kh=1, kw=2, px=1, dx=2)
    assert conv_int(acts, w, padded).tolist() == [[[2, 13, 24, 35, 40]]]
    assert brute.pallets(acts, padded, 1, 4).tolist() == pallets(acts, padded, 1, 4).tolist()
    # 2-D, dilation 2x3 with stride 2: window (oy, ox) taps rows 2oy, 2oy+2 and columns 2ox, 2ox+3
    acts = np.arange(7 * 8).reshape(1, 7, 8)
    layer = Layer(1, 7, 8, 1, kh=2, kw=2, sy=2, sx=2, dy=2, dx=3)
    assert (layer.oh, layer.ow) == (3, 3)
    want = [[acts[0, 2 * oy, 2 * ox] + acts[0, 2 * oy, 2 * ox + 3] + acts[0, 2 * oy + 2, 2 * ox]
             + acts[0, 2 * oy + 2, 2 * ox + 3] for ox in range(3)] for oy in range(3)]
    assert conv_int(acts, np.ones((1, 1, 2, 2), np.int64), layer).tolist() == [want]


# ---------------------------------------------------------------- properties

@settings(max_examples=120)
@given(brute.scenarios(fc=False))
def test_pallets_vs_brute(case):
    acts, layer, window, cfg = case
    for g in range(layer.conv_groups):
        got = pallets(acts, layer, cfg.lanes, cfg.columns, g)
        want = brute.pallets(acts, layer, cfg.lanes, cfg.columns, g)
        assert got.shape == want.shape == (layer.window_sets(cfg.columns), layer.steps(cfg.lanes),
                                           cfg.columns, cfg.lanes)
        np.testing.assert_array_equal(got, want)


@settings(max_examples=40)
@given(brute.scenarios(fc=True))
def test_fc_pallet_is_the_brick_sequence(case):
    acts, layer, window, cfg = case
    got = pallets(acts, layer, cfg.lanes, cfg.columns)
    assert got.shape[0] == 1
    assert got[0, :, 0, :].tolist() == brute.fc_bricks(acts, cfg.lanes)
    assert not got[0, :, 1:, :].any()


def _weights(rng, layer):
    return rng.integers(-128, 128, size=(layer.k, layer.cg, layer.kh, layer.kw))


@settings(max_examples=80)
@given(brute.scenarios(), st.integers(0, 2**32 - 1))
def test_conv_int_vs_float_reference(case, seed):
    acts, layer, window, cfg = case
    w = _weights(np.random.default_rng(seed), layer)
    got = conv_int(acts, w, layer)
    assert got.dtype == np.int64 and got.shape == (layer.k, layer.oh, layer.ow)
    np.testing.assert_array_equal(got, brute.conv_float(acts, w, layer))


@settings(max_examples=80)
@given(brute.scenarios(), st.integers(0, 2**32 - 1))
def test_window_set_results_vs_conv_int(case, seed):
    """The tile's view (pallets x weight bricks) equals the plain convolution for every group,
    filter-set, window-set, column and row; missing windows and filters give 0."""
    acts, layer, window, cfg = case
    w = _weights(np.random.default_rng(seed), layer)
    ref = conv_int(acts, w, layer).reshape(layer.k, -1)  # windows row-major
    rows, nc = cfg.rows, cfg.columns
    for g in range(layer.conv_groups):
        for fs in range(-(-layer.kg // rows)):
            res = window_set_results(acts, w, layer, cfg.lanes, nc, rows, fs, g)
            assert res.shape == (layer.window_sets(nc), nc, rows)
            for ws in range(res.shape[0]):
                for col in range(nc):
                    for r in range(rows):
                        win, f = ws * nc + col, fs * rows + r
                        want = ref[g * layer.kg + f, win] if win < layer.windows and f < layer.kg else 0
                        assert res[ws, col, r] == want, (g, fs, ws, col, r)


def test_weight_bricks_beyond_last_filter_set():
    layer = Layer(2, 1, 1, 3)
    with pytest.raises(ValueError):
        weight_bricks(np.ones((3, 2, 1, 1)), layer, 2, 2, filter_set=2)


# ---------------------------------------------------------------- Layer

def test_layer_shapes_by_hand():
    l = Layer(3, 7, 9, 8, kh=3, kw=2, sy=2, sx=3, py=1, px=0)
    # oh = (7 + 2 - 3)//2 + 1 = 4, ow = (9 - 2)//3 + 1 = 3
    assert (l.oh, l.ow, l.windows, l.reduction, l.macs) == (4, 3, 12, 18, 12 * 8 * 18)
    assert (l.channel_blocks(2), l.steps(2), l.window_sets(5), l.filter_sets(3)) == (2, 12, 3, 3)
    g = Layer(6, 4, 4, 9, kh=3, kw=3, conv_groups=3)
    assert (g.cg, g.kg, g.reduction, g.channel_blocks(16), g.steps(16)) == (2, 3, 18, 1, 9)


@pytest.mark.parametrize("spec, shape, expected", [
    ("k=8", (3, 5, 5), Layer(3, 5, 5, 8)),
    ("k=8,kh=3", (3, 5, 5), Layer(3, 5, 5, 8, 3, 3)),
    ("k=8,kh=3,kw=1,stride=2x1,pad=1x0", (3, 5, 5), Layer(3, 5, 5, 8, 3, 1, 2, 1, 1, 0)),
    ("k=8,kw=3", (3, 5, 5), Layer(3, 5, 5, 8, 3, 3)),
    ("k=6,kh=3,pad=1,groups=3", (3, 5, 5), Layer(3, 5, 5, 6, 3, 3, 1, 1, 1, 1, 3)),
    ("k=10,fc", (3, 2, 2), Layer(12, 1, 1, 10, fc=True)),
    ("K=4, KH=1", (2, 2, 2), Layer(2, 2, 2, 4)),
    ("k=4,kh=3,pad=2,dilation=2", (2, 5, 5), Layer(2, 5, 5, 4, 3, 3, 1, 1, 2, 2, dy=2, dx=2)),
    ("k=4,kh=3,dilation=2x1", (2, 5, 5), Layer(2, 5, 5, 4, 3, 3, dy=2, dx=1)),
    ("k=4,kh=3,dilation=1", (2, 5, 5), Layer(2, 5, 5, 4, 3, 3)),
    ("k=10,fc=0,kh=1", (3, 2, 2), Layer(3, 2, 2, 10)),
    ("k=10,fc=TRUE", (3, 2, 2), Layer(12, 1, 1, 10, fc=True)),
])
def test_layer_parse(spec, shape, expected):
    assert Layer.parse(spec, shape) == expected


@pytest.mark.parametrize("spec, shape, named", [
    ("k=abc", (1, 4, 4), "abc"),
    ("kx=3,k=1", (1, 4, 4), "kx"),
    ("k=1,kh=2x", (1, 4, 4), "2x"),
    ("k=1,kw=abc", (1, 4, 4), "abc"),     # kw alone: kh defaults to it
    ("k=1,stride=a", (1, 4, 4), "a"),
    ("k=1,pad=1x2x3", (1, 4, 4), "1x2x3"),
    ("kh=3", (1, 4, 4), "kh=3"),
    ("k", (1, 4, 4), "k"),
    ("k=1,kh=5", (1, 3, 3), "5"),
    ("k=1,kw=4,pad=1", (1, 1, 1), "4"),
    ("k=4,groups=2", (3, 4, 4), "3"),
    ("k=3,groups=2", (4, 4, 4), "3"),
    ("k=0", (1, 4, 4), "0"),
    ("k=2,stride=0", (1, 4, 4), "0"),
    ("k=2,pad=-1", (1, 4, 4), "-1"),
    ("k=1,kh=3,dilation=3", (1, 6, 6), "extent 7"),   # 3 taps 3 apart cover 7 > 6 rows
    ("k=1,kh=3,dilation=0", (1, 6, 6), "0"),
    ("k=1,dilation=2x", (1, 6, 6), "2x"),
    # contradictory or unclear fully-connected specs
    ("k=4,fc,kh=3", (2, 3, 3), "'kh'"),
    ("k=4,fc,stride=2", (2, 3, 3), "'stride'"),
    ("k=4,fc,pad=1", (2, 3, 3), "'pad'"),
    ("k=4,fc,groups=2", (2, 3, 3), "'groups'"),
    ("k=4,fc,dilation=2", (2, 3, 3), "'dilation'"),
    ("k=4,fc=maybe", (2, 3, 3), "'maybe'"),
    ("k=4,fc=2", (2, 3, 3), "'2'"),
])
def test_layer_parse_errors(spec, shape, named):
    with pytest.raises(ConfigError) as e:
        Layer.parse(spec, shape)
    msg = str(e.value)
    assert named in msg and "\n" not in msg


def test_layer_impossible_shapes():
    with pytest.raises(ConfigError, match="kernel height 4 .* 3"):
        Layer(1, 3, 8, 1, kh=4)
    with pytest.raises(ConfigError, match="kernel width 9 .* 7"):
        Layer(1, 3, 3, 1, kw=9, px=2)
    Layer(1, 3, 3, 1, kw=7, px=2)  # exactly fits the padded width
    with pytest.raises(ConfigError, match="5 .* groups 2"):
        Layer(5, 3, 3, 2, conv_groups=2)
    with pytest.raises(ConfigError, match="fully-connected"):
        Layer(2, 2, 2, 4, fc=True)
