# amaranth: UnusedElaboratable=no
"""Fully-connected runs on the tiles in the Amaranth simulator against :mod:`sim`.

A fully-connected layer with one input vector is one window: its bricks are issued round-robin
to the columns of a bit-serial tile (``docs/design.md`` §5, :func:`sim.tile_run.fc_cycles`), and
the per-column partial sums of each filter are added up when the last brick adds. Every run's
results are compared with a direct computation, its cycles with the RTL-exact count the
testbenches use and with the model's own layer count (:func:`sim.cycles.layer_cycles`, which
detects each brick from its statistics, not from the 1x1-conv pallets the tile receives).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from amaranth.hdl import Shape
from amaranth.sim import Simulator

from dstripes.hw import TileDesign
from dstripes.hw.dispatcher import Dispatcher
from dstripes.hw.kinds import MAX_PAYLOAD_BITS
from dstripes.hw.sip import SIP
from dstripes.sim.config import TileConfig
from dstripes.sim.cycles import layer_cycles
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.synth.explore import model_config
from dstripes.tb.host.runs import fc_tile, layer_run, runs_fc

from .hwsim import run_tile
from .test_hw_tile import SMALL, check, make_run, stream_codecs

#: (scheme, group, trim, mode): lock-step Dynamic Stripes in each mode and group size, Stripes, DaDN.
KINDS = [
    ("dstripes", 1, "leading", "leading"),
    ("dstripes", 2, "both", "both"),
    ("dstripes", 4, "both", "leading"),
    ("dstripes", 1, "leading", "static"),
    ("stripes", 1, "leading", "static"),
    ("dadn", 1, "leading", "static"),
]


def config_of(scheme, group, trim, act_bits=8, weight_bits=8):
    """A small tile of ``scheme`` that runs FC layers: the bit-serial ones with ``fc_dispatch``."""
    kw = dict(SMALL, act_bits=act_bits, weight_bits=weight_bits, fc_dispatch=scheme != "dadn")
    if scheme == "dstripes":
        kw.update(group=group, trim=trim)
    return TileConfig(**kw)


def fc_layer(rng, signed, act_bits=8, weight_bits=8, lanes=4):
    """A random FC layer (C inputs, K filters), its window and ReLU-like or signed codes."""
    c, k = int(rng.integers(1, 45)), int(rng.integers(1, 6))
    layer = Layer(c, 1, 1, k, fc=True, name="fc")
    msb = int(rng.integers(2, act_bits))
    window = Window(msb, int(rng.integers(0, 2)), signed)
    raw = rng.integers(window.lo, window.hi + 1, size=c)
    mask = rng.random(c)
    raw = np.where(mask < 0.35, 0, np.where(mask < 0.7, raw >> int(rng.integers(0, msb)), raw))
    acts = np.clip((raw >> window.lsb) << window.lsb, window.lo, window.hi)
    half = 1 << (weight_bits - 1)
    return layer, window, acts, rng.integers(-half, half, size=(k, c))


def model_cycles(acts, layer, window, cfg, scheme, mode):
    """The model's count of one filter-set of ``layer`` on one tile (:func:`layer_cycles`)."""
    one = replace(cfg, tiles=1, trim=mode if mode != "static" else cfg.trim)
    counted = layer_cycles(acts, layer, window, one).cycles
    name = "stripes" if (scheme, mode) == ("dstripes", "static") else scheme
    return counted[name] // layer.filter_sets(cfg.rows)


@pytest.mark.parametrize("scheme,group,trim,mode", KINDS, ids=lambda v: str(v))
@pytest.mark.parametrize("widths", [(8, 8), (6, 10)], ids=lambda w: f"A{w[0]}_W{w[1]}")
@pytest.mark.parametrize("signed", [False, True])
def test_fc_runs_exact_against_the_model(scheme, group, trim, mode, widths, signed):
    """Random FC layers, every filter-set back to back with a conv run between them (the
    round-robin pointer and the mode switch between runs): results bit-exact, cycles exact."""
    rng = np.random.default_rng(hash((scheme, group, mode, widths, signed)) % 2**32)
    cfg = config_of(scheme, group, trim, *widths)
    tile = TileDesign.of(scheme, cfg)
    layer, window, acts, weights = fc_layer(rng, signed, *widths)
    conv = Layer(3, 4, 4, 2, 3, 3, 1, 1, 1, 1)
    conv_acts = (rng.integers(0, window.hi + 1, size=(3, 4, 4)) >> window.lsb) << window.lsb
    conv_w = rng.integers(-8, 8, size=(2, 3, 3, 3))
    runs = []
    for f in range(layer.filter_sets(cfg.rows)):
        runs.append(make_run(tile, scheme, cfg, acts, weights, layer, window, mode, filter_set=f))
        runs.append(make_run(tile, scheme, cfg, conv_acts, conv_w, conv, window, mode, window_sets=2))
    for run, (got, cycles) in zip(runs, run_tile(tile, runs)):
        check(tile, cfg, run, got, cycles)
    want = model_cycles(acts, layer, window, cfg, scheme, mode)
    assert runs[0]["cycles"] == want + tile.latency


def test_fc_round_robin_is_the_model_count_not_one_brick_after_another():
    """Bricks of 5 bits on 4 columns: 4 in flight at a time, so 9 bricks take 15 cycles
    (:func:`fc_cycles`), not 45; the tile's counter says so."""
    cfg = config_of("stripes", 1, "leading")
    tile = TileDesign.of("stripes", cfg)
    layer = Layer(36, 1, 1, 2, fc=True)
    window = Window(4, 0)
    acts = np.arange(36) % 32
    weights = np.ones((2, 36), dtype=np.int64)
    run = make_run(tile, "stripes", cfg, acts, weights, layer, window, "static")
    (got, cycles), = run_tile(tile, [run])
    check(tile, cfg, run, got, cycles)
    assert cycles == 15 + tile.latency  # bricks start at 0,1,2,3 | 5,6,7,8 | 10, the last ends at 15


def test_fc_stalls_and_backpressure():
    """Idle producers and a slow consumer: results still exact, cycles never below the count."""
    rng = np.random.default_rng(7)
    cfg = config_of("dstripes", 2, "both")
    tile = TileDesign.of("dstripes", cfg)
    runs = []
    for _ in range(3):
        layer, window, acts, weights = fc_layer(rng, False)
        runs.append(make_run(tile, "dstripes", cfg, acts, weights, layer, window, "both"))
    out = run_tile(tile, runs, idle=0.4, backpressure=0.5, seed=3)
    for run, (got, cycles) in zip(runs, out):
        check(tile, cfg, run, got, cycles, exact_cycles=False)
    assert any(c > r["cycles"] for r, (_, c) in zip(runs, out))


@pytest.mark.parametrize("group", [1, 4])
def test_fc_ignores_the_other_columns_of_the_pallet(group):
    """An FC brick travels in column 0; whatever the other columns carry changes neither the
    results nor the detection (column 0 is a precision group alone, even when G > 1)."""
    rng = np.random.default_rng(11)
    cfg = config_of("dstripes", group, "both")
    tile = TileDesign.of("dstripes", cfg)
    layer, window, acts, weights = fc_layer(rng, False)
    run = make_run(tile, "dstripes", cfg, acts, weights, layer, window, "both")
    r = layer_run(tile, layer, window, acts, weights, mode="both")
    noisy = r.acts.copy()
    noisy[:, 1:, :] = rng.integers(0, 256, size=noisy[:, 1:, :].shape)
    act_codec = stream_codecs(tile)["act"]
    run["acts"] = [act_codec.pack(a) for a in noisy]
    (got, cycles), = run_tile(tile, [run])
    check(tile, cfg, run, got, cycles)


def test_a_sequential_dispatch_is_caught(monkeypatch):
    """An injected fault: the dispatcher waits for every column to be empty before it issues the
    next brick (one brick after another). The results stay exact; the cycle check catches it."""
    monkeypatch.setattr(Dispatcher, "_column_free", lambda self, full, fin, ptr: ~full.any())
    cfg = config_of("dstripes", 1, "leading")
    tile = TileDesign.of("dstripes", cfg)
    layer, window, acts, weights = fc_layer(np.random.default_rng(2), False)
    run = make_run(tile, "dstripes", cfg, acts, weights, layer, window, "leading")
    (got, cycles), = run_tile(tile, [run])
    check(tile, cfg, run, got, cycles, exact_cycles=False)  # the results are still right
    with pytest.raises(AssertionError):
        check(tile, cfg, run, got, cycles)


def test_a_missing_column_in_the_sum_is_caught(monkeypatch):
    """An injected fault: the column sum leaves out the last column. The results check fails."""
    import dstripes.hw.tile as tile_module

    real = tile_module.reduce_tree
    monkeypatch.setattr(tile_module, "reduce_tree", lambda items, combine, **kw: real(items[:-1], combine, **kw))
    cfg = config_of("stripes", 1, "leading")
    tile = TileDesign.of("stripes", cfg)
    layer = Layer(16, 1, 1, 2, fc=True)
    window = Window(7, 0)
    run = make_run(tile, "stripes", cfg, np.full(16, 3), np.ones((2, 16), dtype=np.int64), layer, window, "static")
    (got, cycles), = run_tile(tile, [run])
    with pytest.raises(AssertionError):
        check(tile, cfg, run, got, cycles)


@pytest.mark.parametrize("scheme,run_ahead", [("dstripes", 0), ("stripes", 0), ("dstripes", 1)])
def test_a_tile_without_the_fc_dispatch_refuses_fc_layers(scheme, run_ahead):
    """The conv-only tile (the default) and the run-ahead tile (which cannot have the option:
    :meth:`TileKind.own` drops it) refuse an FC run; the bit-parallel tile needs no option."""
    cfg = replace(config_of(scheme, 1, "leading"), run_ahead=run_ahead, fc_dispatch=run_ahead > 0)
    tile = TileDesign.of(scheme, cfg)
    assert not tile.config.fc_dispatch
    layer, window, acts, weights = fc_layer(np.random.default_rng(0), False)
    with pytest.raises(ConfigError, match=f"the {scheme} tile without fc_dispatch has no round-robin dispatch"):
        layer_run(tile, layer, window, acts, weights)
    assert runs_fc(TileDesign.of("dadn", cfg)) and fc_tile(tile) == TileDesign.of(
        scheme, replace(cfg, run_ahead=0, fc_dispatch=True))


@pytest.mark.parametrize("scheme", ["dstripes", "stripes"])
def test_without_the_option_the_tile_is_the_conv_only_tile(scheme):
    """``fc_dispatch`` off (the default): no SIP holds weights, the dispatcher hands the step's
    weight brick in its plane, the controller has no ``fc``, the ``config`` payload no ``fc``
    field, no column sum in the Verilog; on: all of them. Conv runs give the same cycles."""
    from dstripes.hw.emit import to_verilog

    off = TileDesign.of(scheme, TileConfig(**SMALL))
    on = off.replace(fc_dispatch=True)
    blocks = {d: {b.name: b.component for b in d.synth_blocks()} for d in (off, on)}
    for d, has in ((off, False), (on, True)):
        sip, disp, ctrl = (blocks[d][n] for n in ("sip_array", "dispatcher", "controller"))
        assert sip.hold is has and hasattr(sip, "stored") is has and disp.has_fc is has
        assert hasattr(disp.plane.payload, "weights") is not has and hasattr(ctrl, "fc_final") is has
        assert ("fc" in [f.name for f in d.manifest.config_fields]) is has
        text = to_verilog(d.component, d.top)
        assert ("fc_sum0" in text) is has and ("held" in text) is has
    rng = np.random.default_rng(5)
    conv, window = Layer(3, 4, 4, 2, 3, 3, 1, 1, 1, 1), Window(7, 0)
    acts, w = rng.integers(0, 128, size=(3, 4, 4)), rng.integers(-8, 8, size=(2, 3, 3, 3))
    a, b = (layer_run(d, conv, window, acts, w, window_sets=2) for d in (off, on))
    assert a.cycles == b.cycles and "fc" not in a.config and b.config["fc"] == 0
    # the build caches key the tile by its kind's parameters (tb/host/verilog.py, fast_path.py),
    # the explore memo by the whole configuration; the model's counts do not depend on it
    assert off.manifest.parameters["fc_dispatch"] is False and on.manifest.parameters["fc_dispatch"] is True
    assert model_config(on.config) == model_config(off.config) != on.config


@pytest.mark.parametrize("scheme,run_ahead", [("dstripes", 0), ("stripes", 0), ("dadn", 0), ("dstripes", 2)])
def test_published_tile_blocks_fit_one_amaranth_value_per_port(scheme, run_ahead):
    """The per-block flow stands each block in as an ``Instance`` with one port per leaf of its
    signature (``synth/timing.py`` ``tile_glue``), and each block is emitted alone: at the
    published size (16 x 16 x 16, 16-bit) no port may be wider than one Amaranth value
    (:data:`MAX_PAYLOAD_BITS`). The FC dispatch's weights stay in the SIPs: the dispatcher's
    widest outputs are the plane and one brick. Built from the signatures only (seconds)."""
    cfg = TileConfig(fc_dispatch=True) if run_ahead == 0 and scheme != "dadn" else TileConfig(run_ahead=run_ahead)
    design = TileDesign.of(scheme, cfg)
    widest = {}
    for block in design.synth_blocks():
        comp = block.component
        for path, member, value in comp.signature.flatten(comp):
            widest[(block.name, path)] = Shape.cast(value.shape()).width
    assert widest and max(widest.values()) <= MAX_PAYLOAD_BITS, max(widest.items(), key=lambda kv: kv[1])
    if scheme != "dadn" and run_ahead == 0:
        disp = next(b.component for b in design.synth_blocks() if b.name == "dispatcher")
        assert disp.has_fc and Shape.cast(disp.brick.shape()).width == 16 * 16 * 16
        assert not hasattr(disp.plane.payload, "weights") and len(disp.brick_load) == 16


def test_sip_holds_its_weights_until_the_next_load():
    """A SIP built with ``hold`` computes with the weights of its last ``load``: weights offered
    without a load change nothing; a load takes effect in the next cycle."""
    sip = SIP(lanes=2, act_bits=4, weight_bits=4, acc_bits=16, hold=True)
    got = []

    async def bench(ctx):
        ctx.set(sip.weights, [3, -2])
        ctx.set(sip.load, 1)
        await ctx.tick()
        ctx.set(sip.load, 0)
        ctx.set(sip.weights, [7, 7])  # offered, not loaded
        for t, bits in enumerate((0b11, 0b01)):  # two planes, MSB first: lane 0 bits 1,1 (3), lane 1 bits 1,0 (2)
            ctx.set(sip.en, 1)
            ctx.set(sip.first, t == 0)
            ctx.set(sip.active, 1)
            ctx.set(sip.bits, bits)
            await ctx.tick()
        ctx.set(sip.first, 0)
        ctx.set(sip.active, 0)
        ctx.set(sip.add, 1)
        ctx.set(sip.low, 0)
        ctx.set(sip.clear, 1)
        got.append(ctx.get(sip.result))

    sim = Simulator(sip)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # lane 0 sees bits 1,1 (code 3), lane 1 bits 1,0 (code 2): 3*3 + 2*(-2) = 5; with [7, 7]: 35
    assert got == [5]


def test_a_sip_with_several_sources_cannot_hold_weights():
    with pytest.raises(ConfigError, match="sources 1"):
        SIP(lanes=2, act_bits=4, weight_bits=4, acc_bits=16, sources=2, hold=True)


def test_the_fc_tile_buffer_is_split_per_column_each_part_loaded_through_its_own_gate():
    """With ``fc_dispatch`` the tile's result buffer has one part per column, and the tile's glue
    drives each part's ``load`` through a gate of its own (``load & can_load[p]``), so the
    controller's load drives ``Nc`` gates, not every result register (docs/design.md §5); the
    columns other than 0 of an FC result are zeroed by their parts (``zero``), likewise;
    without it, the conv-only tile's single buffer loaded straight from the controller. The
    runs stay exact (every FC test above runs on this tile)."""
    from dstripes.hw.emit import to_verilog

    for on, parts in ((False, 1), (True, 4)):
        tile = TileDesign.of("dstripes", TileConfig(**SMALL, fc_dispatch=on))
        buf = next(b.component for b in tile.synth_blocks() if b.name == "buffers")
        assert buf.parts == parts and buf.zeroes is on
        text = to_verilog(tile.component, tile.top)
        gates = [l for l in text.splitlines() if "buffer_load" in l and "&" in l and "can_load" in l]
        assert len(gates) == (4 if on else 0), gates
    one = TileDesign.of("dstripes", TileConfig(**{**SMALL, "columns": 1}, fc_dispatch=True))
    assert to_verilog(one.component, one.top)  # one column: one part, loaded directly


def test_a_result_buffer_zeroes_parts_only_when_it_has_several():
    from amaranth.hdl import unsigned
    from amaranth.lib import data

    from dstripes.hw.result_buffer import ResultBuffer

    with pytest.raises(ValueError, match="several parts"):
        ResultBuffer(data.ArrayLayout(unsigned(8), 4), zero=True)
    assert ResultBuffer(data.ArrayLayout(unsigned(8), 4), parts=4, zero=True).zeroes
