"""Cycle models (sim.cycles) against hand-computed layers and the brute-force step model."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import brute
from dstripes.sim.config import TileConfig
from dstripes.sim.cycles import dadn_closed, layer_cycles, stripes_closed
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.sim.tile_run import fc_cycles, run_cycles, step_costs, step_group_bits


def cfg(lanes, columns, group=1, trim="leading", run_ahead=0, rows=1, tiles=1, **kw):
    return TileConfig(lanes=lanes, columns=columns, rows=rows, tiles=tiles, group=group,
                      trim=trim, run_ahead=run_ahead, **kw)


def counts(res):
    c = res.cycles
    return (c["dadn"], c["stripes"], c["dstripes"])


# ============================================================================================
# 1. hand-computed layers
# ============================================================================================

# EX1 -- unsigned [3:0] (p=4), L=2, Nc=2; 1x1 conv on C=2, 1x3 -> 3 windows -> 2 window-sets.
#   ch0 = [1, 0, 5], ch1 = [2, 0, 0]
#   ws0: col0 = (1,2) OR=3 -> 2 bits, col1 = (0,0) -> 0   => step costs 2
#   ws1: col0 = (5,0)      -> 3 bits, col1 = missing     => step costs 3
#   DStr = 5; Stripes = 2 window-sets * 1 step * 4 = 8; DaDN = 3 windows * 1 step = 3
#   G = Nc = 2: the group's OR is the same -> 5. Trailing trim: lowest set bit is 0 -> still 5.
#   Pragmatic: max popcount per pallet: ws0 max(1,1)=1, ws1 popcount(5)=2 -> 3
#   ideal: per-value bits 1->1, 2->2, 5->3, zeros 0 -> 6 / (L*Nc = 4) = 1.5
#          (trailing trim: 2 alone needs only bit 1 -> 5 / 4 = 1.25)
#   hist (G=1): 2 bits once, 3 bits once, 0 bits twice -> [2, 0, 1, 1, 0]
EX1 = (np.array([[[1, 0, 5]], [[2, 0, 0]]]), Layer(2, 1, 3, 1), Window(3, 0))


# EX2 -- where the group size matters with trailing trim. Unsigned [5:1] (p=5), L=2, Nc=2,
#   1x1 conv on C=2, 1x2: ch0 = [4, 8], ch1 = [0, 0] -> one pallet: col0 = (4,0), col1 = (8,0)
#   leading, any G: col0 needs bits 1..2 (2), col1 bits 1..3 (3)                -> 3
#   both, G=1: 4 -> bit 2 only (1); 8 -> bit 3 only (1)                          -> 1
#   both, G=2: OR = 12 -> bits 2..3                                              -> 2
#   Stripes = 1 * 1 * 5 = 5, DaDN = 2 windows * 1 step = 2
EX2 = (np.array([[[4, 8]], [[0, 0]]]), Layer(2, 1, 2, 1), Window(5, 1))


# EX3 -- signed [3:0] (codes -8..7), L=2, Nc=2; ch0 = [-1, 3], ch1 = [0, -4]
#   col0 = (-1, 0): -1 is the sign bit alone -> 1 bit; col1 = (3, -4): both need 3 bits -> 3
#   DStr = 3 (leading and both, G=1 and 2); Stripes = 4; DaDN = 2
#   Pragmatic: -1 -> 1 + sign = 2, 3 -> 2, -4 -> 1 + sign = 2 -> 2
#   ideal (leading): 1 + 3 + 3 + 0 = 7 / 4 = 1.75
EX3 = (np.array([[[-1, 3]], [[0, -4]]]), Layer(2, 1, 2, 1), Window(3, 0, True))


# EX4 -- signed trailing trim: signed [4:1] (codes -16..14 step 2), L=1, Nc=2; acts [-4, 4]
#   leading: -4 = -2 * 2**1 -> bits 1..2 (2); 4 = 2 * 2**1 -> bits 1..3 (3)      -> 3
#   both, G=1: -4 = -1 * 2**2 -> bit 2 (1); 4 = 1 * 2**2 -> bits 2..3 (2)          -> 2
#   both, G=2: lowest bit 2, needs bits 2..3                                       -> 2
#   Stripes = 4, DaDN = 2
EX4 = (np.array([[[-4, 4]]]), Layer(1, 1, 2, 1), Window(4, 1, True))
EXAMPLES = {"EX1": EX1, "EX2": EX2, "EX3": EX3, "EX4": EX4}

# Each example under each precision group size and trim: (DaDN, Stripes, DStr) cycles, the
# Pragmatic-style and ideal counts and the group-precision histogram where worked out above.
HAND = [  # example, lanes, columns, group, trim, counts, pragmatic, ideal, hist
    ("EX1", 2, 2, 1, "leading", (3, 8, 5), 3, 1.5, [2, 0, 1, 1, 0]),
    ("EX1", 2, 2, 2, "leading", (3, 8, 5), 3, 1.5, [0, 0, 1, 1, 0]),
    ("EX1", 2, 2, 1, "both", (3, 8, 5), 3, 1.25, [2, 0, 1, 1, 0]),
    ("EX1", 2, 2, 2, "both", (3, 8, 5), 3, 1.25, [0, 0, 1, 1, 0]),
    ("EX2", 2, 2, 1, "leading", (2, 5, 3), None, None, [0, 0, 1, 1, 0, 0]),
    ("EX2", 2, 2, 2, "leading", (2, 5, 3), None, None, [0, 0, 0, 1, 0, 0]),
    ("EX2", 2, 2, 1, "both", (2, 5, 1), None, None, [0, 2, 0, 0, 0, 0]),
    ("EX2", 2, 2, 2, "both", (2, 5, 2), None, None, [0, 0, 1, 0, 0, 0]),
    ("EX3", 2, 2, 1, "leading", (2, 4, 3), 2, 1.75, None),
    ("EX3", 2, 2, 2, "leading", (2, 4, 3), 2, 1.75, None),
    ("EX3", 2, 2, 1, "both", (2, 4, 3), 2, None, None),
    ("EX3", 2, 2, 2, "both", (2, 4, 3), 2, None, None),
    ("EX4", 1, 2, 1, "leading", (2, 4, 3), None, None, None),
    ("EX4", 1, 2, 2, "leading", (2, 4, 3), None, None, None),
    ("EX4", 1, 2, 1, "both", (2, 4, 2), None, None, None),
    ("EX4", 1, 2, 2, "both", (2, 4, 2), None, None, None),
]


@pytest.mark.parametrize("example, lanes, columns, group, trim, cycles, pragmatic, ideal, hist", HAND)
def test_hand_computed(example, lanes, columns, group, trim, cycles, pragmatic, ideal, hist):
    acts, layer, win = EXAMPLES[example]
    r = layer_cycles(acts, layer, win, cfg(lanes, columns, group, trim))
    assert counts(r) == cycles
    if pragmatic is not None:
        assert r.cycles["pragmatic"] == pragmatic
    if ideal is not None:
        assert r.cycles["ideal"] == ideal
    if hist is not None:
        assert r.hist.tolist() == hist


@pytest.mark.parametrize("group, trim", [(1, "leading"), (2, "leading"), (1, "both"), (2, "both")])
def test_ex1_step_costs(group, trim):
    acts, layer, win = EX1
    assert step_costs(acts, layer, win, cfg(2, 2, group, trim), trim).tolist() == [[2], [3]]
    assert layer_cycles(acts, layer, win, cfg(2, 2, group, trim)).steps == 2


# EX5 -- the 2x2 / pad 1 worked example of test_sim_pallets.py: unsigned [2:0] (p=3), L=1,
#   Nc=4, 3 window-sets x 4 steps. Per-value bits: 0->0, 1->1, 2->2, 3->2, 4->3.
#   pallets (one value per column):              leading step costs
#     ws0 [0000] [0001] [0120] [1203]            1 1 2 2   = 6
#     ws1 [1203] [2034] [3400] [4000]            2 3 3 3   = 11
#     ws2 [4000] [0000] [0000] [0000]            3 1 1 1   = 6     -> DStr 23 (any G)
#   Stripes = 3 * 4 * 3 = 36; DaDN = 9 windows * 4 steps = 36.
#   Pragmatic (popcounts 1->1 2->1 3->2 4->1): ws0 1 1 1 2, ws1 2 2 2 1, ws2 1 1 1 1 -> 16
#   ideal: sum of per-value bits over all slots = 9 + 20 + 3 = 32 -> 32 / 4 = 8.0
#   Trailing trim (a value alone: 1->1 2->1 3->2 4->1):
#     G=1: ws0 1 1 1 2, ws1 2 2 2 1, ws2 1 1 1 1                           -> 16
#     G=2 (cols 01|23): ws0 1 1 1 2, ws1 2 3 3 1, ws2 1 1 1 1              -> 18
#     G=4: ws0 1 1 2 2, ws1 2 3 3 1, ws2 1 1 1 1                           -> 19
#   Run-ahead, R large: each column alone, step costs max(1, bits) per column:
#     col0 1 1 1 1 | 1 2 2 3 | 3 1 1 1 = 18; col1 16; col2 14; col3 16      -> 18
EX5_ACTS = np.array([[[1, 2], [3, 4]]])
EX5_LAYER = Layer(1, 2, 2, 1, kh=2, kw=2, py=1, px=1)
EX5_WIN = Window(2, 0)


@pytest.mark.parametrize("group, trim, dst", [
    (1, "leading", 23), (2, "leading", 23), (4, "leading", 23),
    (1, "both", 16), (2, "both", 18), (4, "both", 19),
])
def test_ex5_conv_with_padding(group, trim, dst):
    c = cfg(1, 4, group, trim)
    r = layer_cycles(EX5_ACTS, EX5_LAYER, EX5_WIN, c)
    assert counts(r) == (36, 36, dst)
    assert r.cycles["pragmatic"] == 16
    if trim == "leading":
        assert r.cycles["ideal"] == 8.0
        assert step_costs(EX5_ACTS, EX5_LAYER, EX5_WIN, c).tolist() == \
            [[1, 1, 2, 2], [2, 3, 3, 3], [3, 1, 1, 1]]
    assert step_costs(EX5_ACTS, EX5_LAYER, EX5_WIN, c, "static").tolist() == [[3] * 4] * 3
    assert step_costs(EX5_ACTS, EX5_LAYER, EX5_WIN, c, trim).sum() == dst


def test_ex5_run_ahead():
    res = {R: layer_cycles(EX5_ACTS, EX5_LAYER, EX5_WIN, cfg(1, 4, run_ahead=R)).cycles["dstripes"]
           for R in (0, 1, 2, 12, 100)}
    assert res[0] == 23 and res[12] == 18 and res[100] == 18
    assert res[0] >= res[1] >= res[2] >= res[12]
    # G = Nc: one group, nothing to run ahead of
    assert layer_cycles(EX5_ACTS, EX5_LAYER, EX5_WIN, cfg(1, 4, 4, run_ahead=3)).cycles["dstripes"] == 23


def test_ex5_filter_sets_and_images():
    # K = 5 filters on Nr*T = 2*1 -> 3 filter-sets: every count x3; two identical inputs: x2
    layer = Layer(1, 2, 2, 5, kh=2, kw=2, py=1, px=1)
    r = layer_cycles(np.stack([EX5_ACTS, EX5_ACTS]), layer, EX5_WIN, cfg(1, 4, rows=2))
    assert counts(r) == (36 * 6, 36 * 6, 23 * 6)
    assert r.cycles["pragmatic"] == 16 * 6 and r.cycles["ideal"] == 8.0 * 6
    assert r.images == 2 and r.windows == 18 and r.steps == 12 * 6
    assert r.hist.sum() == 4 * r.steps


# EX6 -- fully connected: unsigned [3:0], L=2, Nc=2, C=8 -> 4 bricks, issued round-robin.
#   acts [7,0 | 1,0 | 0,0 | 3,1]: bits 3, 1, 0 (costs 1), 2
#   DStr: b0 col0 t0..3, b1 col1 t1..2, b2 col0 t3..4, b3 col1 t4..6             -> 6
#   Stripes (4 each): b0 t0..4, b1 t1..5, b2 col0 t4..8, b3 col1 t5..9             -> 9
#   DaDN: 4 bricks, one per cycle -> 4. Pragmatic: popcounts 3, 1, 0->1, 2 -> 6.
#   ideal: per-value bits 3 + 1 + 2 + 1 = 7 / 4 = 1.75
EX6 = (np.array([7, 0, 1, 0, 0, 0, 3, 1]), Layer(8, 1, 1, 1, fc=True), Window(3, 0))


@pytest.mark.parametrize("trim", ["leading", "both"])
def test_ex6_fc(trim):
    acts, layer, win = EX6
    r = layer_cycles(acts, layer, win, cfg(2, 2, trim=trim))
    assert counts(r) == (4, 9, 6)
    assert r.cycles["pragmatic"] == 6 and r.cycles["ideal"] == 1.75
    assert r.hist.tolist() == [1, 1, 1, 1, 0] and r.steps == 4
    assert stripes_closed(layer, win, cfg(2, 2)) == 9 and dadn_closed(layer, cfg(2, 2)) == 4
    # 300 filters on the published 16x16 filter-set: 2 filter-sets; (N, C) input of 2 images
    big = Layer(8, 1, 1, 300, fc=True)
    r2 = layer_cycles(np.stack([acts, acts]), big, win, cfg(2, 2, trim=trim, rows=16, tiles=16))
    assert counts(r2) == (16, 36, 24)


def test_dadn_and_stripes_closed_by_hand():
    # conv 3x5x5 -> k=20, 3x3 pad 1: 25 windows, C=3 -> 1 channel block (L=16), 9 steps
    layer = Layer(3, 5, 5, 20, kh=3, kw=3, py=1, px=1)
    c = TileConfig(rows=4, tiles=2)  # 8 filters per set -> 3 filter-sets
    assert dadn_closed(layer, c) == 25 * 9 * 3
    assert stripes_closed(layer, Window(9, 2), c) == 2 * 9 * 3 * 8  # 2 window-sets of 16, p=8
    assert dadn_closed(layer, c, images=3) == 3 * 25 * 9 * 3


def test_run_cycles_adds_the_latency_once():
    assert run_cycles(np.array([[1, 2], [3, 4]]), latency=7) == 2 + 4 + 7
    assert run_cycles(np.array([[0, 0], [3, 0]]), latency=0) == 1 + 3  # an all-zero step costs one
    assert run_cycles(np.zeros((0, 3), dtype=np.int8), latency=5) == 5
    assert run_cycles(np.array([[1, 2], [3, 4]]), run_ahead=1, latency=7) == \
        run_cycles(np.array([[1, 2], [3, 4]]), run_ahead=1) + 7
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError):
            run_cycles(np.ones((2, 2)), run_ahead=bad)
        with pytest.raises(ConfigError):
            run_cycles(np.ones((2, 2)), latency=bad)


# ============================================================================================
# 2. properties against the brute-force step model
# ============================================================================================

@settings(max_examples=80)
@given(brute.scenarios(fc=False, run_ahead=0), st.sampled_from(["static", "leading", "both"]))
def test_step_costs_vs_brute(case, mode):
    acts, layer, win, c = case
    for g in range(layer.conv_groups):
        got = step_costs(acts, layer, win, c, mode, conv_group=g)
        bits = step_group_bits(acts, layer, win, c, mode, conv_group=g)
        assert bits.shape == got.shape + (c.precision_groups,)
        ps = brute.pallets(acts, layer, c.lanes, c.columns, g)
        want = [[brute.step_cost(ps[ws, s], win, mode, c.group) for s in range(ps.shape[1])]
                for ws in range(ps.shape[0])]
        assert got.tolist() == want


def _assert_matches_brute(acts, layer, win, c):
    got = layer_cycles(acts, layer, win, c)
    want = brute.layer_cycles(acts, layer, win, c)
    for key in ("dadn", "stripes", "dstripes", "pragmatic"):
        assert got.cycles[key] == want[key], key
    assert math.isclose(got.cycles["ideal"], want["ideal"], rel_tol=1e-12)
    assert got.hist.tolist() == want["hist"]
    assert got.steps == want["steps"]
    return got, want


@settings(max_examples=100)
@given(brute.scenarios(images=True))
def test_layer_cycles_vs_brute(case):
    """Everything at once: conv / grouped / depthwise / FC, signed and unsigned, G | Nc,
    both trims, run-ahead 0..3, filter-sets, one or two inputs."""
    _assert_matches_brute(*case)


@settings(max_examples=40)
@given(brute.scenarios(fc=True, images=True))
def test_fc_layer_cycles_vs_brute(case):
    _assert_matches_brute(*case)


@settings(max_examples=40)
@given(brute.scenarios(fc=False, run_ahead=0))
def test_run_ahead_layer_vs_brute(case):
    acts, layer, win, c = case
    for r in (1, 2, 5):
        _assert_matches_brute(acts, layer, win, TileConfig(**{**c.as_dict(), "run_ahead": r}))


@st.composite
def cost_matrices(draw):
    n = draw(st.integers(0, 25))
    g = draw(st.integers(1, 5))
    return [[draw(st.integers(0, 7)) for _ in range(g)] for _ in range(n)], g


@settings(max_examples=200)
@given(cost_matrices(), st.integers(0, 6))
def test_run_ahead_cycles_vs_event_simulation(case, r):
    rows, g = case
    costs = np.array(rows, dtype=np.int64).reshape(len(rows), g)
    clamped = [[max(1, x) for x in row] for row in rows]
    got = run_cycles(costs, run_ahead=r)
    assert got == brute.run_ahead_sim(clamped, r)
    if r == 0:
        assert got == sum(max(row) for row in clamped)  # lock-step
    # more run-ahead never costs cycles; unlimited run-ahead is each group on its own
    assert run_cycles(costs, run_ahead=r + 1) <= got
    if rows:
        assert got >= max(sum(row[j] for row in clamped) for j in range(g))
        assert run_cycles(costs, run_ahead=len(rows)) == max(sum(row[j] for row in clamped) for j in range(g))


@settings(max_examples=200)
@given(st.lists(st.integers(0, 9), max_size=30), st.integers(1, 6))
def test_fc_cycles_vs_cycle_simulation(costs, columns):
    assert fc_cycles(np.array(costs, dtype=np.int64), columns) == brute.fc_sim(costs, columns)


@settings(max_examples=100)
@given(brute.scenarios(run_ahead=0, images=True))
def test_closed_forms_equal_step_model(case):
    acts, layer, win, c = case
    n = acts.shape[0]
    fsets = layer.filter_sets(c.filters_per_set)
    want = brute.layer_cycles(acts, layer, win, c)
    assert dadn_closed(layer, c, n) == want["dadn"] == brute.dadn_formula(layer, c, n)
    assert stripes_closed(layer, win, c, n) == want["stripes"]
    if not layer.fc:
        # Stripes = the static-mode step costs summed over groups, inputs and filter-sets
        static = sum(int(step_costs(img, layer, win, c, "static", g).sum())
                     for img in acts for g in range(layer.conv_groups))
        assert stripes_closed(layer, win, c, n) == static * fsets
        # and the docs/design.md §5 formula
        assert stripes_closed(layer, win, c, n) == (
            n * layer.conv_groups * math.ceil(layer.windows / c.columns) * layer.kh * layer.kw
            * math.ceil(layer.cg / c.lanes) * fsets * win.bits)


@settings(max_examples=80)
@given(brute.scenarios(run_ahead=0, trim="leading"))
def test_invariants(case):
    acts, layer, win, c = case
    lead = layer_cycles(acts, layer, win, c)
    d = c.as_dict()
    # lock-step: DStr never slower than Stripes, both trims never slower than leading only
    assert lead.cycles["dstripes"] <= lead.cycles["stripes"]
    both = layer_cycles(acts, layer, win, TileConfig(**{**d, "trim": "both"}))
    assert both.cycles["dstripes"] <= lead.cycles["dstripes"]
    # leading trim, lock-step: the group size does not change the count
    for g in brute.divisors(c.columns):
        other = layer_cycles(acts, layer, win, TileConfig(**{**d, "group": g}))
        assert other.cycles["dstripes"] == lead.cycles["dstripes"]
    # run-ahead never slower than lock-step
    ra = layer_cycles(acts, layer, win, TileConfig(**{**d, "run_ahead": 2}))
    assert ra.cycles["dstripes"] <= lead.cycles["dstripes"]
    # histogram: one entry per (group, step) pair (FC: per brick)
    per = 1 if layer.fc else c.precision_groups
    for r in (lead, both, ra):
        assert r.hist.sum() == per * r.steps
        assert len(r.hist) == win.bits + 1
    # the per-value ideal is a lower bound of nothing larger than Stripes' work
    assert lead.cycles["ideal"] <= lead.cycles["stripes"]


@settings(max_examples=40)
@given(brute.scenarios(images=True))
def test_images_sum(case):
    acts, layer, win, c = case
    total = layer_cycles(acts, layer, win, c)
    parts = [layer_cycles(img, layer, win, c) for img in acts]
    for key in ("dadn", "stripes", "dstripes", "pragmatic"):
        assert total.cycles[key] == sum(p.cycles[key] for p in parts)
    assert math.isclose(total.cycles["ideal"], sum(p.cycles["ideal"] for p in parts))
    assert total.hist.tolist() == np.sum([p.hist for p in parts], axis=0).tolist()
    assert total.windows == layer.windows * len(acts) and total.macs == layer.macs * len(acts)


# ============================================================================================
# 3. as_dict and errors
# ============================================================================================

def test_as_dict():
    acts, layer, win = EX1
    r = layer_cycles(acts, layer, win, cfg(2, 2))
    d = r.as_dict()
    assert d["dadn"] == {"cycles": 3} and d["stripes"] == {"cycles": 8} and d["dstripes"] == {"cycles": 5}
    assert d["bounds"] == {"ideal": 1.5, "pragmatic": 3}
    assert d["windows"] == 3 and d["steps"] == 2 and d["precision"] == 4 and d["window"] == [3, 0]
    s = d["speedup"]
    assert s["stripes_over_dadn"] == 3 / 8 and s["dstripes_over_dadn"] == 3 / 5
    assert s["dstripes_over_stripes"] == 8 / 5 and s["ideal_over_dadn"] == 2.0
    assert s["pragmatic_over_dadn"] == 1.0
    assert d["group_precision_hist"] == [2, 0, 1, 1, 0]


def test_layer_cycles_errors():
    acts, layer, win = EX1
    with pytest.raises(ConfigError, match="17"):
        layer_cycles(np.array([[[1, 0, 17]], [[2, 0, 0]]]), layer, win, cfg(2, 2))
    with pytest.raises(ConfigError, match="shape"):
        layer_cycles(np.zeros((2, 1, 4), dtype=np.int64), layer, win, cfg(2, 2))
    with pytest.raises(ConfigError, match="2.5"):
        layer_cycles(np.array([[[1, 0, 2.5]], [[2, 0, 0]]]), layer, win, cfg(2, 2))
    with pytest.raises(ConfigError, match="does not fit"):
        layer_cycles(acts, layer, Window(9, 0), cfg(2, 2, act_bits=8))
    # reduction 3*3*ceil(16/16)*16 = 144 > 100
    big = Layer(16, 4, 4, 1, kh=3, kw=3)
    with pytest.raises(ConfigError, match="144.*100"):
        layer_cycles(np.zeros((16, 4, 4), dtype=np.int64), big, win, TileConfig(max_reduction=100))
    layer_cycles(np.zeros((16, 4, 4), dtype=np.int64), big, win, TileConfig(max_reduction=144))


@pytest.mark.parametrize("kw, named", [
    ({"group": 3}, "3"), ({"columns": 6, "group": 4}, "4"), ({"trim": "none"}, "none"),
    ({"run_ahead": -1}, "-1"), ({"lanes": 0}, "0"), ({"act_bits": 1}, "1"), ({"act_bits": 33}, "33"),
    ({"weight_bits": 40}, "40"), ({"rows": True}, "True"), ({"tiles": 2.0}, "2.0"),
])
def test_tile_config_errors(kw, named):
    with pytest.raises(ConfigError) as e:
        TileConfig(**kw)
    assert named in str(e.value)


@given(st.integers(2, 32), st.integers(2, 32), st.integers(1, 1 << 20), st.booleans())
def test_accumulator_bits_hold_the_extremes(a, w, n, signed):
    from dstripes.sim.config import accumulator_bits
    bits = accumulator_bits(a, w, n)
    amin, amax = (-(1 << (a - 1)), (1 << (a - 1)) - 1) if signed else (0, (1 << a) - 1)
    wmin, wmax = -(1 << (w - 1)), (1 << (w - 1)) - 1
    prods = [x * y for x in (amin, amax) for y in (wmin, wmax)]
    assert -(1 << (bits - 1)) <= n * min(prods) and n * max(prods) <= (1 << (bits - 1)) - 1


def test_tile_config_derived():
    c = TileConfig(columns=8, group=2, rows=4, tiles=3, act_bits=8, weight_bits=8, max_reduction=1000)
    assert c.precision_groups == 4 and c.filters_per_set == 12
    assert c.acc_bits == 8 + 8 + 10  # ceil(log2(1000)) = 10
    assert TileConfig().acc_bits == 16 + 16 + 16


@settings(max_examples=30)
@given(brute.scenarios(images=True), st.sampled_from([np.int8, np.uint8, np.int16, np.uint16, np.int32,
                                                      np.float32, np.float64]))
def test_input_dtype_does_not_matter(case, dtype):
    """Codes given in any integer dtype that holds them (or integral floats) count the same."""
    acts, layer, win, c = case
    info = np.finfo(dtype) if np.issubdtype(dtype, np.floating) else np.iinfo(dtype)
    if acts.size and (acts.min() < info.min or acts.max() > info.max
                      or (np.issubdtype(dtype, np.floating) and np.abs(acts).max() >= 2 ** 24)):
        return
    small = acts.astype(dtype)
    ref, got = layer_cycles(acts, layer, win, c), layer_cycles(small, layer, win, c)
    assert got.cycles == ref.cycles and got.hist.tolist() == ref.hist.tolist()
    if not layer.fc:
        for g in range(layer.conv_groups):
            assert step_costs(small[0], layer, win, c, c.trim, g).tolist() == \
                step_costs(acts[0], layer, win, c, c.trim, g).tolist()
    from dstripes.sim.pallets import pallets
    assert pallets(small[0], layer, c.lanes, c.columns).tolist() == \
        pallets(acts[0], layer, c.lanes, c.columns).tolist()


@st.composite
def window_set_costs(draw):
    nws, steps, g = draw(st.integers(0, 6)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    return np.array([[[draw(st.integers(0, 7)) for _ in range(g)] for _ in range(steps)]
                     for _ in range(nws)], dtype=np.int64).reshape(nws, steps, g)


@settings(max_examples=200)
@given(window_set_costs(), st.integers(0, 6))
def test_run_ahead_with_window_sets_vs_event_simulation(bits, r):
    """Window-sets of a few steps (so groups end up in different window-sets and the one-entry
    result stages hold a group back) against the cycle-by-cycle simulation."""
    nws, steps, g = bits.shape
    clamped = np.maximum(1, bits).reshape(-1, g).tolist()
    got = run_cycles(bits, run_ahead=r)
    assert got == (brute.run_ahead_sim(clamped, r, steps) if clamped else 0)
    # never slower than lock-step, never faster than the same steps as one window-set
    assert got <= run_cycles(bits, run_ahead=0)
    assert got >= run_cycles(bits.reshape(-1, g), run_ahead=r)
    if steps > r:  # a window-set longer than the run-ahead: the stages never hold a group back
        assert got == run_cycles(bits.reshape(-1, g), run_ahead=r)


def test_result_stage_holds_a_group_back_by_hand():
    # two groups (A, B), one step per window-set, R = 2: costs (3,1), (1,1), (1,3).
    # B closes ws0 at 1 and finishes ws1 at 2, but its stage still holds ws0 until A closed ws0
    # (cycle 3) and ws0 left (cycle 4): B closes ws1 at 4 and ends ws2 at 7 (one window-set
    # without stages: 5; lock-step: 7).
    bits = np.array([[[3, 1]], [[1, 1]], [[1, 3]]])
    assert run_cycles(bits, run_ahead=2) == 7
    assert run_cycles(bits.reshape(-1, 2), run_ahead=2) == 5
    assert run_cycles(bits, run_ahead=0) == 7
    assert brute.run_ahead_sim([[3, 1], [1, 1], [1, 3]], 2, 1) == 7
