"""Bit-serial and bit-parallel tiles end to end in the Amaranth simulator against :mod:`sim`."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth._unused import MustUse
from amaranth.hdl import Fragment

from dstripes.hw import TileDesign, kind
from dstripes.hw.run_ahead import RunAheadTile
from dstripes.hw.tile import SerialTile
from dstripes.sim.config import TileConfig
from dstripes.sim.tile_run import run_cycles, step_costs, step_group_bits
from dstripes.sim.fixed import Window
from dstripes.sim.functional import conv_int
from dstripes.sim.layer import Layer
from dstripes.tb.host.runs import layer_run
from dstripes.tb.host.verilog import stream_payloads
from dstripes.tb.payload import codec

from .hwsim import run_tile

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
    the golden model by the same code as the cocotb testbench (:func:`tb.host.runs.layer_run`) and
    packed by its codecs; the expected results are also checked against a direct convolution."""
    r = layer_run(tile, layer, window, acts, weights, mode=mode, filter_set=filter_set, window_sets=window_sets)
    codecs = stream_codecs(tile)
    expected = [list(np.asarray(e).ravel()) for e in r.expected]
    assert expected == direct_results(acts, weights, layer, cfg, scheme, filter_set, len(expected))
    return {
        "config": codecs["config"].pack(r.config),
        "acts": [codecs["act"].pack(a) for a in r.acts],
        "weights": [codecs["weight"].pack(w) for w in r.weights],
        "results": len(r.expected),
        "expected": expected,
        "cycles": r.cycles,
    }


def stream_codecs(tile):
    """The codec of each stream port of ``tile``, as the cocotb testbench builds them."""
    return {name: codec(d) for name, d in stream_payloads(tile.component).items()}


def check(tile, cfg, run, got, cycles, exact_cycles=True):
    result = stream_codecs(tile)["result"]
    results = [result.unpack(w).ravel().tolist() for w in got]
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


@pytest.mark.parametrize("scheme,mode,group,trim,ahead", [
    ("dstripes", "leading", 1, "leading", None),
    ("dstripes", "both", 2, "both", None),
    ("dstripes", "leading", 2, "both", None),
    ("dstripes", "static", 1, "leading", None),
    ("stripes", "static", 1, None, None),
    ("dadn", "static", 1, None, None),
    # run-ahead tiles: (R, weight selection)
    ("dstripes", "leading", 1, "leading", (1, "mux")),
    ("dstripes", "both", 2, "both", (2, "sip")),
], ids=lambda v: "-".join(map(str, v)) if isinstance(v, tuple) else str(v))
@pytest.mark.parametrize("widths", WIDTHS, ids=lambda w: f"A{w[0]}_W{w[1]}")
@pytest.mark.parametrize("signed", [False, True])
def test_random_layers(scheme, mode, group, trim, ahead, widths, signed, rng):
    a, w = widths
    r, select = ahead or (0, "mux")
    cfg = TileConfig(**{**SMALL, "act_bits": a, "weight_bits": w}, group=group, trim=trim or "leading",
                     run_ahead=r, weight_select=select)
    tile = TileDesign.of(scheme, cfg)
    layer, window, acts, weights = random_layer(rng, signed=signed, act_bits=a, weight_bits=w)
    run = make_run(tile, scheme, cfg, acts, weights, layer, window, mode)
    [(got, cycles)] = run_tile(tile, [run])
    check(tile, cfg, run, got, cycles)


@pytest.mark.parametrize("scheme,run_ahead", [("dstripes", 0), ("stripes", 0), ("dadn", 0), ("dstripes", 2)])
def test_stalls_and_backpressure(scheme, run_ahead):
    """Random idle cycles on both producers and back-pressure on the consumer: results exact,
    nothing lost or repeated, and the run can only be slower than the always-ready count."""
    rng = np.random.default_rng(11)
    cfg = TileConfig(**SMALL, run_ahead=run_ahead)
    tile = TileDesign.of(scheme, cfg)
    layer, window, acts, weights = random_layer(rng)
    mode = "leading" if scheme == "dstripes" else "static"
    run = make_run(tile, scheme, cfg, acts, weights, layer, window, mode)
    [(got, cycles)] = run_tile(tile, [run], idle=0.3, backpressure=0.5, seed=4)
    check(tile, cfg, run, got, cycles, exact_cycles=False)


@pytest.mark.parametrize("scheme,run_ahead", [("dstripes", 0), ("dadn", 0), ("dstripes", 1)])
def test_reset_mid_run_then_clean_runs(scheme, run_ahead):
    """A reset in the middle of a run, then that run replayed and a second run back to back:
    both exact, cycles included."""
    rng = np.random.default_rng(12)
    cfg = TileConfig(**SMALL, trim="both", group=2, run_ahead=run_ahead)
    tile = TileDesign.of(scheme, cfg)
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
    tile = TileDesign.of("dstripes", cfg)
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
    tile = TileDesign.of(scheme, cfg)
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
    tile = TileDesign.of("dstripes", cfg)
    layer = Layer(3, 7, 6, 5, 3, 3, 2, 2, 1, 1)
    window = Window(7, 0, signed=True)
    acts = rng.integers(-128, 128, (3, 7, 6))
    weights = rng.integers(-128, 128, (5, 3, 3, 3))
    run = make_run(tile, "dstripes", cfg, acts, weights, layer, window, "leading", filter_set=2)
    [(got, cycles)] = run_tile(tile, [run])
    check(tile, cfg, run, got, cycles)


def test_run_ahead_zero_is_the_lock_step_tile():
    """R = 0 builds the lock-step tile itself; R >= 1 the run-ahead tile, same ports and latency."""
    lock = TileDesign.of("dstripes", TileConfig(**SMALL))
    ahead = TileDesign.of("dstripes", TileConfig(**SMALL, run_ahead=1))
    # known from the tile classes, no tile built
    assert lock.tile_class is SerialTile and ahead.tile_class is RunAheadTile
    assert ahead.manifest.ports == lock.manifest.ports
    assert ahead.latency == lock.latency == 4
    # the weight selection is irrelevant in lock-step: the same tile whatever it says
    assert kind("dstripes").own(TileConfig(**SMALL, weight_select="sip")) == TileConfig(**SMALL)


@pytest.mark.parametrize("run_ahead,select", [(1, "mux"), (3, "sip"), (2, "mux")])
def test_run_ahead_window_sets_shorter_than_the_run_ahead(run_ahead, select):
    """1x1 layers with one channel block (one step per window-set) and a 3x1 kernel (three
    steps): groups close different window-sets at once, so the one-entry result stages hold the
    fast ones back. Results exact, and RTL = the model's count (with the stages) + the latency.

    The first layer is built so that the stages cost cycles: column 0 is slow in window-set 0,
    column 1 in window-set 2; column 1 may not close window-set 1 before column 0 closed
    window-set 0, so its slow step starts late."""
    rng = np.random.default_rng(15 + run_ahead)
    cfg = TileConfig(**SMALL, run_ahead=run_ahead, weight_select=select)
    tile = TileDesign.of("dstripes", cfg)
    window = Window(7, 0)
    crafted = np.ones((3, 3, 4), dtype=np.int64)   # 3 window-sets of the 4 windows of a row
    crafted[:, 0, 0] = crafted[:, 2, 1] = 255
    cases = [(Layer(3, 3, 4, 2, 1, 1), crafted)]
    layer = Layer(4, 6, 5, 3, 3, 1, 1, 1, 1, 0)
    cases.append((layer, rng.choice([0, 1, 255], size=(layer.c, layer.h, layer.w), p=[0.45, 0.4, 0.15])))
    for layer, acts in cases:
        weights = rng.integers(-128, 128, (layer.k, layer.c, layer.kh, layer.kw))
        run = make_run(tile, "dstripes", cfg, acts, weights, layer, window, "leading")
        [(got, cycles)] = run_tile(tile, [run])
        check(tile, cfg, run, got, cycles)
        bits = step_group_bits(acts, layer, window, cfg, "leading")
        assert cycles == run_cycles(bits, run_ahead=run_ahead) + tile.latency
        if layer.kh == 1:  # held back to the lock-step 8 + 1 + 8; as one window-set it would be less
            assert run_cycles(bits, run_ahead=run_ahead) == 17
            assert run_cycles(bits.reshape(-1, bits.shape[-1]), run_ahead=run_ahead) < 17


def test_run_ahead_is_faster_and_overhead_is_a_constant():
    """The run-ahead tile: ``RTL - ideal`` is its latency whatever the run length, and it beats
    the lock-step tile on the same run by exactly what the model says."""
    rng = np.random.default_rng(16)
    layer = Layer(6, 8, 8, 2, 3, 3, 1, 1, 1, 1)
    window = Window(7, 0)
    acts = np.where(rng.random((6, 8, 8)) < 0.5, 0, rng.integers(0, 256, (6, 8, 8)) >> rng.integers(0, 8, (6, 8, 8)))
    weights = rng.integers(-128, 128, (2, 6, 3, 3))
    cfg = TileConfig(**SMALL, run_ahead=2)
    tile, lock = TileDesign.of("dstripes", cfg), TileDesign.of("dstripes", TileConfig(**SMALL))
    bits = step_group_bits(acts, layer, window, cfg, "leading")
    for n in (1, 3, bits.shape[0]):
        run = make_run(tile, "dstripes", cfg, acts, weights, layer, window, "leading", window_sets=n)
        [(got, cycles)] = run_tile(tile, [run])
        check(tile, cfg, run, got, cycles)
        assert cycles - run_cycles(bits[:n], run_ahead=2) == tile.latency
    lrun = make_run(lock, "dstripes", TileConfig(**SMALL), acts, weights, layer, window, "leading")
    [(_, lcycles)] = run_tile(lock, [lrun])
    assert cycles < lcycles and lcycles - cycles == run_cycles(bits, run_ahead=0) - run_cycles(bits, run_ahead=2)


#: One design of each tile class and weight selection, small.
TILE_VARIANTS = [("dadn", {}), ("stripes", {}), ("dstripes", {"trim": "both", "group": 2}),
           ("dstripes", {"run_ahead": 2, "group": 2}), ("dstripes", {"run_ahead": 1, "weight_select": "sip"})]


@pytest.mark.parametrize("name,extra", TILE_VARIANTS)
def test_a_design_is_described_without_building_hardware(monkeypatch, name, extra):
    """Latency, manifest, payload widths and the block list come from the tile's class: no
    Elaboratable is made until a block's component is asked for (to be emitted)."""
    made = []
    new = MustUse.__new__

    def counting(cls, *args, **kwargs):
        made.append(cls.__name__)
        return new(cls, *args, **kwargs)

    monkeypatch.setattr(MustUse, "__new__", staticmethod(counting))
    design = TileDesign.of(name, TileConfig(**SMALL, **extra))
    assert design.latency == design.tile_class.LATENCY
    man = design.manifest
    assert {p: man.ports[f"{p}__payload"]["width"] for p in ("act", "weight", "result")} == \
        design.kind.payload_bits(design.config)
    blocks = design.synth_blocks()
    assert all(b.count == len(b.instances) >= 1 for b in blocks)
    assert made == []


@pytest.mark.parametrize("name,extra", TILE_VARIANTS)
def test_synth_blocks_are_the_elaborated_sub_blocks(name, extra):
    """Each listed block is, at each of its instance paths in the elaborated tile, a component
    of the same class and signature as its own instance; the counted blocks are every direct
    submodule of the tile (so the tile's top level is the glue between them)."""
    design = TileDesign.of(name, TileConfig(**SMALL, **extra))
    found = {}

    def walk(fragment, prefix):
        for sub, sub_name, _ in fragment.subfragments:
            path = f"{prefix}{sub_name}"
            found[path] = sub.origins[0]
            walk(sub, f"{path}.")

    walk(Fragment.get(design.component, None), "")
    blocks = design.synth_blocks()
    for b in blocks:
        own = b.component
        Fragment.get(own, None)  # the listed instance elaborates on its own (as synthesis emits it)
        for path in b.instances:
            assert type(found[path]) is type(own) and found[path].signature == own.signature, (b.name, path)
    direct = {p for p in found if "." not in p}
    assert direct == {i for b in blocks if b.part_of is None for i in b.instances}
    assert {b.name for b in blocks if b.part_of} == ({"detector"} if name == "dstripes" else set())
