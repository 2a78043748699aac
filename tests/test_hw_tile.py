"""Bit-serial and bit-parallel tiles end to end in the Amaranth simulator against :mod:`sim`."""
from __future__ import annotations

import numpy as np
import pytest

from dstripes.hw import build_tile
from dstripes.sim.config import TileConfig
from dstripes.sim.cycles import step_costs
from dstripes.sim.fixed import Window
from dstripes.sim.functional import conv_int
from dstripes.sim.layer import Layer
from dstripes.tb.tile_sim import layer_run

from .hwsim import pack, run_tile, unpack

SMALL = dict(lanes=4, columns=4, rows=2, act_bits=8, weight_bits=8, max_reduction=1 << 10)
#: Activation / weight widths of the tile matrix: A != W both ways, so a swapped width fails.
WIDTHS = [(8, 8), (6, 12), (12, 5)]


def direct_results(acts, weights, layer, cfg, scheme, filter_set, units):
    """The expected result transfers from a direct convolution (:func:`sim.functional.conv_int`),
    independent of the pallet order of :mod:`sim.pallets`: transfer ``u`` holds windows
    ``u*Nc ..`` (bit-parallel: window ``u``), element ``[column][row]`` the filter
    ``filter_set*Nr + row``; missing windows and filters are zero."""
    out = conv_int(acts, weights, layer).reshape(layer.k, -1)  # (K, windows), row-major windows
    cols = 1 if scheme == "dadn" else cfg.columns
    res = np.zeros((units, cols, cfg.rows), dtype=np.int64)
    for u in range(units):
        for c in range(cols):
            w = u * cols + c
            for r in range(cfg.rows):
                f = filter_set * cfg.rows + r
                if w < layer.windows and f < layer.k:
                    res[u, c, r] = out[f, w]
    return [list(x.ravel()) for x in (res[:, 0, :] if scheme == "dadn" else res)]


def make_run(tile, scheme, cfg, acts, weights, layer, window, mode, window_sets=None, filter_set=0):
    """Stream words, expected results and the RTL-exact cycle count of one run, derived from
    the golden model by the same code as the cocotb testbench (:func:`tb.tile_sim.layer_run`);
    the expected results are also checked against a direct convolution."""
    r = layer_run(scheme, cfg, tile.latency, layer, window, acts, weights, mode=mode,
                  filter_set=filter_set, window_sets=window_sets)
    layout = tile.config.payload.shape()
    expected = [list(np.asarray(e).ravel()) for e in r.expected]
    assert expected == direct_results(acts, weights, layer, cfg, scheme, filter_set, len(expected))
    return {
        "config": layout.const(r.config).as_value().value,
        "acts": [pack(a, cfg.act_bits) for a in r.acts],
        "weights": [pack(w, cfg.weight_bits) for w in r.weights],
        "results": len(r.expected),
        "expected": expected,
        "cycles": r.cycles,
    }


def check(tile, cfg, run, got, cycles, exact_cycles=True):
    n = len(run["expected"][0])
    results = [unpack(w, cfg.acc_bits, n) for w in got]
    assert results == run["expected"]
    if exact_cycles:
        assert cycles == run["cycles"]
    else:
        assert cycles >= run["cycles"]


def random_layer(rng, signed=False, lanes=4, act_bits=8, weight_bits=8):
    c = int(rng.integers(1, 10))
    h, w = int(rng.integers(2, 7)), int(rng.integers(2, 7))
    kh, kw = int(rng.integers(1, min(h, 3) + 1)), int(rng.integers(1, min(w, 3) + 1))
    layer = Layer(c, h, w, k=int(rng.integers(1, 4)), kh=kh, kw=kw,
                  sy=int(rng.integers(1, 3)), sx=int(rng.integers(1, 3)),
                  py=int(rng.integers(0, 2)), px=int(rng.integers(0, 2)))
    msb = int(rng.integers(2, act_bits))
    lsb = int(rng.integers(0, 2))
    window = Window(msb, lsb, signed)
    # ReLU-like: many zeros, a long tail, some full-precision values
    raw = rng.integers(window.lo, window.hi + 1, size=(c, h, w))
    mask = rng.random((c, h, w))
    raw = np.where(mask < 0.4, 0, np.where(mask < 0.7, raw >> int(rng.integers(0, msb)), raw))
    acts = (raw >> lsb) << lsb
    acts = np.clip(acts, window.lo, window.hi)
    half = 1 << (weight_bits - 1)
    weights = rng.integers(-half, half, size=(layer.k, c, kh, kw))
    return layer, window, acts, weights


@pytest.mark.parametrize("scheme,mode,group,trim", [
    ("dstripes", "leading", 1, "leading"),
    ("dstripes", "both", 2, "both"),
    ("dstripes", "leading", 2, "both"),
    ("dstripes", "static", 1, "leading"),
    ("stripes", "static", 1, None),
    ("dadn", "static", 1, None),
])
@pytest.mark.parametrize("widths", WIDTHS, ids=lambda w: f"A{w[0]}_W{w[1]}")
@pytest.mark.parametrize("signed", [False, True])
def test_random_layers(scheme, mode, group, trim, widths, signed, rng):
    a, w = widths
    cfg = TileConfig(**{**SMALL, "act_bits": a, "weight_bits": w}, group=group, trim=trim or "leading")
    tile = build_tile(scheme, cfg)
    layer, window, acts, weights = random_layer(rng, signed=signed, act_bits=a, weight_bits=w)
    run = make_run(tile, scheme, cfg, acts, weights, layer, window, mode)
    [(got, cycles)] = run_tile(tile, [run])
    check(tile, cfg, run, got, cycles)


@pytest.mark.parametrize("scheme", ["dstripes", "stripes", "dadn"])
def test_stalls_and_backpressure(scheme):
    """Random idle cycles on both producers and back-pressure on the consumer: results exact,
    nothing lost or repeated, and the run can only be slower than the always-ready count."""
    rng = np.random.default_rng(11)
    cfg = TileConfig(**SMALL)
    tile = build_tile(scheme, cfg)
    layer, window, acts, weights = random_layer(rng)
    mode = "leading" if scheme == "dstripes" else "static"
    run = make_run(tile, scheme, cfg, acts, weights, layer, window, mode)
    [(got, cycles)] = run_tile(tile, [run], idle=0.3, backpressure=0.5, seed=4)
    check(tile, cfg, run, got, cycles, exact_cycles=False)


@pytest.mark.parametrize("scheme", ["dstripes", "dadn"])
def test_reset_mid_run_then_clean_runs(scheme):
    """A reset in the middle of a run, then that run replayed and a second run back to back:
    both exact, cycles included."""
    rng = np.random.default_rng(12)
    cfg = TileConfig(**SMALL, trim="both", group=2)
    tile = build_tile(scheme, cfg)
    runs = []
    for signed in (False, True):
        layer, window, acts, weights = random_layer(rng, signed=signed)
        runs.append(make_run(tile, scheme, cfg, acts, weights, layer, window,
                             "both" if scheme == "dstripes" else "static"))
    out = run_tile(tile, runs, reset_at=23)
    for run, (got, cycles) in zip(runs, out):
        check(tile, cfg, run, got, cycles)


def test_overhead_is_a_constant():
    """``RTL - ideal`` is the tile's latency whatever the run length (no per-step or
    per-window-set bubbles), and at most 16 cycles."""
    rng = np.random.default_rng(13)
    cfg = TileConfig(**SMALL)
    tile = build_tile("dstripes", cfg)
    assert tile.latency <= 16
    layer = Layer(6, 8, 8, 2, 3, 3, 1, 1, 1, 1)
    window = Window(7, 0)
    acts = np.where(rng.random((6, 8, 8)) < 0.5, 0, rng.integers(0, 256, (6, 8, 8)))
    weights = rng.integers(-128, 128, (2, 6, 3, 3))
    costs = step_costs(acts, layer, window, cfg, "leading")
    for n in (1, 3, costs.shape[0]):
        run = make_run(tile, "dstripes", cfg, acts, weights, layer, window, "leading", window_sets=n)
        [(got, cycles)] = run_tile(tile, [run])
        check(tile, cfg, run, got, cycles)
        assert cycles - int(costs[:n].sum()) == tile.latency


@pytest.mark.parametrize("scheme", ["dstripes", "dadn"])
def test_dilated_layer(scheme):
    """A dilated (atrous) convolution, rates 2x3, with padding and a column stride: the tile is
    the same, only the pallets the model builds read the dilated taps. Results checked against
    the direct convolution (make_run), cycles exact."""
    rng = np.random.default_rng(15)
    cfg = TileConfig(**SMALL)
    tile = build_tile(scheme, cfg)
    layer = Layer(5, 7, 9, 3, 3, 3, 1, 2, 2, 3, dy=2, dx=3)
    assert (layer.oh, layer.ow) == (7, 5)  # (7 + 4 - 5) + 1, (9 + 6 - 7) // 2 + 1
    window = Window(7, 1)
    acts = np.where(rng.random((5, 7, 9)) < 0.4, 0, rng.integers(0, 128, (5, 7, 9)) * 2)
    weights = rng.integers(-128, 128, (3, 5, 3, 3))
    mode = "leading" if scheme == "dstripes" else "static"
    run = make_run(tile, scheme, cfg, acts, weights, layer, window, mode, window_sets=6)
    [(got, cycles)] = run_tile(tile, [run])
    check(tile, cfg, run, got, cycles)


def test_filter_set_and_signed_first_layer():
    """A later filter-set (missing filters are zero) of a signed first layer with 3 channels."""
    rng = np.random.default_rng(14)
    cfg = TileConfig(**SMALL)
    tile = build_tile("dstripes", cfg)
    layer = Layer(3, 7, 6, 5, 3, 3, 2, 2, 1, 1)
    window = Window(7, 0, signed=True)
    acts = rng.integers(-128, 128, (3, 7, 6))
    weights = rng.integers(-128, 128, (5, 3, 3, 3))
    run = make_run(tile, "dstripes", cfg, acts, weights, layer, window, "leading", filter_set=2)
    [(got, cycles)] = run_tile(tile, [run])
    check(tile, cfg, run, got, cycles)
