"""The generated tiles in cocotb on Icarus and Verilator, against the golden model.

Each simulation plays several runs back to back through ``tb/bench/tile_bench.py``: every result
transfer is compared bit-exactly with :func:`sim.functional.window_set_results`, and the tile's
cycle counter with the RTL-exact count (:func:`sim.tile_run.step_costs` plus the tile's latency)
when the streams are always ready.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dstripes.sim.config import TileConfig
from dstripes.sim.tile_run import step_costs
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.hw.design import TileDesign
from dstripes.tb.host.cycle_path import simulate_tile, tile_verilog
from dstripes.tb.host.runs import layer_run
from dstripes.tb.host.soak import relu_like
from dstripes.tb.verdict import REPORT_KEY, BenchReport

SIMULATORS = ["icarus", "verilator"]
SCHEMES = ["dstripes", "stripes", "dadn"]
# Small enough for Icarus; group 2 and trailing-zero trimming so every mode can run on it.
SMALL = TileConfig(lanes=4, columns=4, rows=2, act_bits=8, weight_bits=8, group=2, trim="both",
                   max_reduction=1 << 10)
#: Tiles under test: each kind on SMALL, and the run-ahead Dynamic Stripes tile (two groups
#: up to two steps apart, weights selected in the SIPs) under its own name.
RUN_AHEAD = "dstripes-run-ahead"
CONFIGS = {**{s: SMALL for s in SCHEMES}, RUN_AHEAD: replace(SMALL, run_ahead=2, weight_select="sip")}


def kind_of(name: str) -> str:
    return "dstripes" if name == RUN_AHEAD else name


def tile_of(name: str) -> TileDesign:
    return TileDesign.of(kind_of(name), CONFIGS[name])


def report(result) -> BenchReport:
    """What the testbench saved of a simulation."""
    return BenchReport.from_dict(result.results[REPORT_KEY])


def layers(rng):
    """(layer, window, acts, weights): an unsigned hidden layer and a signed first layer."""
    hidden = Layer(6, 5, 6, 3, 3, 3, 1, 1, 1, 1)  # 30 windows: 8 window-sets, the last partial
    w_hidden = Window(7, 1)
    first = Layer(3, 7, 6, 5, 3, 3, 2, 2, 1, 1)   # stride 2, padding, 3 channels
    w_first = Window(6, 0, signed=True)
    return [
        (hidden, w_hidden, relu_like(rng, (6, 5, 6), w_hidden), rng.integers(-128, 128, (3, 6, 3, 3))),
        (first, w_first, relu_like(rng, (3, 7, 6), w_first), rng.integers(-128, 128, (5, 3, 3, 3))),
    ]


def scheme_runs(name, rng):
    """A whole layer, a later filter-set of a signed first layer, a short slice, a slice of a
    dilated layer (rates 2x3: the tile is the same, the model's pallets read the taps); on the
    run-ahead tile also a 1x1 layer of one channel block (one step per window-set, so the
    groups' result stages hold fast groups back)."""
    (hl, hw, ha, hwt), (fl, fw, fa, fwt) = layers(rng)
    tile = tile_of(name)
    scheme, cfg = tile.name, tile.config
    modes = ("leading", "both", "static") if scheme == "dstripes" else ("static",) * 3
    whole = 8 if scheme != "dadn" else 30
    dilated = Layer(4, 7, 8, 2, 3, 3, 1, 1, 2, 3, dy=2, dx=3)
    runs = [
        layer_run(tile, hl, hw, ha, hwt, mode=modes[0], window_sets=whole),
        layer_run(tile, fl, fw, fa, fwt, mode=modes[1], filter_set=1, window_sets=2),
        layer_run(tile, hl, hw, ha, hwt, mode=modes[2], filter_set=1, window_sets=1),
        layer_run(tile, dilated, hw, relu_like(rng, (4, 7, 8), hw),
                  rng.integers(-128, 128, (2, 4, 3, 3)), mode=modes[0], window_sets=3),
    ]
    if cfg.run_ahead:
        pointwise = Layer(4, 5, 6, 2, 1, 1)
        acts = rng.choice([0, 1, 2, 127], size=(4, 5, 6), p=[0.3, 0.3, 0.25, 0.15]) << 1
        runs.append(layer_run(tile, pointwise, hw, acts, rng.integers(-128, 128, (2, 4, 1, 1))))
    return runs


@pytest.fixture(scope="module")
def designs():
    cache = {}

    def get(name):
        if name not in cache:
            tile = tile_of(name)
            cache[name] = tile, tile_verilog(tile)
        return cache[name]
    return get


@pytest.mark.parametrize("scheme", SCHEMES + [RUN_AHEAD])
@pytest.mark.parametrize("simulator", SIMULATORS)
def test_tile_results_and_cycles_exact(designs, scheme, simulator, tmp_path):
    tile, design = designs(scheme)
    runs = scheme_runs(scheme, np.random.default_rng(3))
    result = simulate_tile(tile, design, runs, simulator=simulator, quick=True, run_dir=tmp_path).check()
    out = report(result).runs
    assert [o.results for o in out] == [len(r.expected) for r in runs]
    assert [o.mismatches for o in out] == [0] * len(runs)
    assert [o.cycles for o in out] == [r.cycles for r in runs]
    assert [o.tb_cycles for o in out] == [r.cycles for r in runs]


def test_dynamic_precision_saves_cycles_in_rtl(designs, tmp_path):
    """The same run is faster on the Dynamic Stripes tile than on Stripes, by exactly the
    cycles the model's detection saves (measured, not just predicted)."""
    measured = {}
    for scheme in ("dstripes", "stripes"):
        tile, design = designs(scheme)
        (hl, hw, ha, hwt), _ = layers(np.random.default_rng(3))
        mode = "leading" if scheme == "dstripes" else "static"
        r = layer_run(tile, hl, hw, ha, hwt, mode=mode, window_sets=4)
        res = simulate_tile(tile, design, [r], simulator="icarus", run_dir=tmp_path / scheme).check()
        measured[scheme] = report(res).runs[0].cycles - tile.latency
    (hl, hw, ha, _), _ = layers(np.random.default_rng(3))
    assert measured["dstripes"] == step_costs(ha, hl, hw, SMALL, "leading")[:4].sum()
    assert measured["stripes"] == 4 * hl.steps(SMALL.lanes) * hw.bits
    assert measured["dstripes"] < measured["stripes"]


@pytest.mark.parametrize("simulator,name", [(s, "dstripes") for s in SIMULATORS] + [("icarus", RUN_AHEAD)])
def test_tile_stalls_backpressure_and_mid_run_reset(designs, simulator, name, tmp_path):
    """Random idle cycles on config/act/weight, back-pressure on results, and a reset in the
    middle of the first run: every result still exact, in order, once; the tile's counter
    agrees with the testbench's and is never below the always-ready count."""
    tile, design = designs(name)
    runs = scheme_runs(name, np.random.default_rng(5))
    result = simulate_tile(tile, design, runs, simulator=simulator, idle=0.3, stall=0.5, seed=9,
                           reset_at=runs[0].cycles // 2, quick=True, run_dir=tmp_path).check()
    played = report(result)
    assert played.interrupted.at == runs[0].cycles // 2 and played.interrupted.mismatches == 0
    for o, r in zip(played.runs, runs):
        assert o.results == len(r.expected) and o.mismatches == 0
        assert o.cycles == o.tb_cycles >= r.cycles
    assert any(o.cycles > r.cycles for o, r in zip(played.runs, runs)), "the stalls never slowed the tile"


def test_layer_run_streams_follow_the_model():
    """The stimulus of a run is the model's pallet order, weights repeated per window-set."""
    tile = TileDesign.of("dstripes", SMALL)
    (hl, hw, ha, hwt), _ = layers(np.random.default_rng(3))
    r = layer_run(tile, hl, hw, ha, hwt, window_sets=3)
    steps = hl.steps(SMALL.lanes)
    assert r.config == {"msb": 7, "lsb": 1, "signed": 0, "mode": 2, "steps": steps, "window_sets": 3}
    assert r.acts.shape == (3 * steps, SMALL.columns, SMALL.lanes)
    assert r.weights.shape == (3 * steps, SMALL.rows, SMALL.lanes)
    assert np.array_equal(r.weights[:steps], r.weights[steps:2 * steps])
    assert r.expected.shape == (3, SMALL.columns, SMALL.rows)
    assert r.cycles == step_costs(ha, hl, hw, SMALL, "both")[:3].sum() + tile.latency


def test_signed_codes_travel_as_twos_complement():
    tile = TileDesign.of("dadn", SMALL)
    _, (fl, fw, fa, fwt) = layers(np.random.default_rng(3))
    r = layer_run(tile, fl, fw, fa, fwt, window_sets=4)
    assert r.acts.min() >= 0 and r.acts.max() < 256
    assert (r.acts >= 128).any()  # negative codes present, as their 8-bit patterns
    assert r.config["window_sets"] == 4 and r.expected.shape == (4, SMALL.rows)


@pytest.mark.parametrize("kwargs,message", [
    (dict(scheme="stripes", mode="leading"), "the stripes tile has no run-time precision"),
    (dict(mode="fastest"), "mode must be one of static, leading, both"),
    (dict(window_sets=9), "window_sets must be between 1 and 8"),
    (dict(window_sets=0), "window_sets must be between 1 and 8"),
    (dict(weights_scale=2), "does not fit 8-bit two's complement"),
    (dict(filter_set=5), r"filter set 5 is outside the 2 filter-set\(s\)"),
    (dict(filter_set=-1), r"filter set -1 is outside"),
    (dict(conv_group=1), r"convolution group 1 is outside the layer's 1 group"),
])
def test_layer_run_rejects_bad_runs(kwargs, message):
    (hl, hw, ha, hwt), _ = layers(np.random.default_rng(3))
    scheme = kwargs.pop("scheme", "dstripes")
    hwt = hwt * kwargs.pop("weights_scale", 1)
    with pytest.raises((ConfigError, ValueError), match=message):
        layer_run(TileDesign.of(scheme, SMALL), hl, hw, ha, hwt, **kwargs)


def test_simulate_tile_rejects_bad_options(designs):
    tile, design = designs("dstripes")
    (hl, hw, ha, hwt), _ = layers(np.random.default_rng(3))
    r = layer_run(tile, hl, hw, ha, hwt, window_sets=1)
    with pytest.raises(ConfigError, match="at least one run"):
        simulate_tile(tile, design, [])
    with pytest.raises(ConfigError, match=r"stall probability must be in \[0, 1\), not 1.0"):
        simulate_tile(tile, design, [r], stall=1.0)
    with pytest.raises(ConfigError, match="reset_at must be a positive number of cycles"):
        simulate_tile(tile, design, [r], reset_at=0)


@pytest.mark.slow
def test_published_tile_on_real_size_slices(tmp_path):
    """The published 16x16x16, 16-bit Dynamic Stripes tile on Verilator, three runs back to
    back: one and three window-sets of a later filter-set of a VGG-19 conv3_1-shaped layer
    (ReLU-like codes in a 12-bit window), then two window-sets of the bundled real VGG-16
    conv3_1 sample (real photo, real weights). Results and cycles exact, and ``RTL - ideal`` is
    the tile's latency (at most 16) whatever the slice length. About 3 minutes cold (the
    build), seconds warm."""
    from dstripes.sim.samples import load_sample

    config = TileConfig()
    tile = TileDesign.of("dstripes", config)
    design = tile_verilog(tile)
    assert tile.latency <= 16
    rng = np.random.default_rng(19)
    layer = Layer(128, 56, 56, 256, 3, 3, 1, 1, 1, 1, name="vgg19 conv3_1")
    window = Window(13, 2)
    acts = relu_like(rng, (128, 56, 56), window)
    weights = rng.integers(-(1 << 15), 1 << 15, (256, 128, 3, 3))
    real_acts, real_w, real_layer, real_window = load_sample("vgg16_conv3_1")
    runs = [layer_run(tile, layer, window, acts, weights, filter_set=3, window_sets=n) for n in (1, 3)]
    runs.append(layer_run(tile, real_layer, real_window, real_acts[0], real_w, window_sets=2))
    ideal = [int(step_costs(acts, layer, window, config)[:n].sum()) for n in (1, 3)]
    ideal.append(int(step_costs(real_acts[0], real_layer, real_window, config)[:2].sum()))
    result = simulate_tile(tile, design, runs, simulator="verilator", quick=True, run_dir=tmp_path).check()
    for run, out, ide in zip(runs, report(result).runs, ideal):
        assert out.results == run.expected.shape[0] and out.mismatches == 0
        assert out.cycles == run.cycles
        assert out.cycles - ide == tile.latency


@pytest.mark.slow
def test_published_run_ahead_tile_on_real_data(tmp_path):
    """The published-size run-ahead tile (16x16x16, 16-bit, G = 1, R = 2: the configuration that
    is 1.61x faster than Stripes on VGG-16) on Verilator, on two window-sets of the bundled real
    VGG-16 conv3_1 sample (real photo, real weights) and one of a 1x1 slice of it (one channel
    block: one step per window-set, so the result stages hold groups back): results and cycles
    exact, ``RTL - ideal`` the tile's latency, and faster than lock-step by what the model
    says."""
    from dstripes.sim.tile_run import run_cycles, step_group_bits
    from dstripes.sim.samples import load_sample

    config = TileConfig(run_ahead=2)
    tile = TileDesign.of("dstripes", config)
    design = tile_verilog(tile)
    acts, w, layer, window = load_sample("vgg16_conv3_1")
    pointwise = Layer(16, layer.h, layer.w, 16, 1, 1, name="conv3_1 1x1 slice")
    cases = [(layer, acts[0], w, 2), (pointwise, acts[0][:16], w[:16, :16, 1:2, 1:2], 3)]
    runs = [layer_run(tile, l, window, a, wt, window_sets=n) for l, a, wt, n in cases]
    result = simulate_tile(tile, design, runs, simulator="verilator", quick=True, run_dir=tmp_path).check()
    for run, out, (l, a, _, n) in zip(runs, report(result).runs, cases):
        bits = step_group_bits(a, l, window, config)[:n]
        assert out.results == n and out.mismatches == 0
        assert out.cycles == run.cycles == run_cycles(bits, run_ahead=2) + tile.latency
        assert run_cycles(bits, run_ahead=2) <= run_cycles(bits, run_ahead=0)
    # on the whole real layer (model only: the RTL matches it cycle for cycle above) it runs ahead
    bits = step_group_bits(acts[0], layer, window, config)
    assert run_cycles(bits, run_ahead=2) < run_cycles(bits, run_ahead=0)
