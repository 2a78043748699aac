"""The accelerator's blocks in Amaranth's simulator against the golden model (``sim/chip``):
the requantiser value by value, and the whole chip (tiles and memories built in) on small real
layers — every output code and the ``LAYER`` command's cycle count exact, under random off-chip
latency and back-pressure."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from chipsim import run_chip, words_int
from dstripes.hw.chip.reducer import Requantiser
from dstripes.sim.chip import ChipConfig, DramConfig, LayerDescriptor, LayerPlan, model_layer, requantize
from dstripes.sim.chip.images import bricks_tensor, tensor_bricks, weight_beats
from dstripes.sim.config import TileConfig
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.sim.samples import load_sample

SMALL = TileConfig(lanes=4, columns=4, rows=4, tiles=2)


@pytest.mark.parametrize("window, shift", [(Window(7, 0), 0), (Window(9, 2, True), 5), (Window(15, 4), 20),
                                           (Window(3, 1, True), 45)])
def test_requantiser_equals_the_model(seed, window, shift):
    rng = np.random.default_rng(seed)
    dut = Requantiser(acc_bits=48, act_bits=16)
    unit = 1 << max(0, shift + window.lsb - 1)
    halves = [unit * k for k in range(-6, 6) if abs(unit * k) < 1 << 46] if shift + window.lsb else []
    acc = np.concatenate([rng.integers(-(1 << 46), 1 << 46, 200), rng.integers(-5000, 5000, 200),
                          np.array(halves, dtype=np.int64)]).astype(np.int64)
    bias = rng.integers(-(1 << 20), 1 << 20, len(acc))
    bias[:100] = 0
    want = requantize((acc + bias)[None], shift, window)[0]
    got = []
    sim = Simulator(dut)

    async def bench(ctx):
        lo, hi = window.lo >> window.lsb, window.hi >> window.lsb
        ctx.set(dut.shift, shift + window.lsb)
        ctx.set(dut.lsb, window.lsb)
        ctx.set(dut.lo, lo)
        ctx.set(dut.hi, hi)
        for a, b in zip(acc.tolist(), bias.tolist()):
            ctx.set(dut.acc, a)
            ctx.set(dut.bias, b)
            v = ctx.get(dut.code)
            got.append(v - (1 << 16) if window.signed and v >> 15 else v)

    sim.add_testbench(bench)
    sim.run()
    assert got == want.tolist()


def _run(scheme, spec, acts, weights, window, out_window, shift, *, nm_read, dram, bias=None, in_shape=None,
         reuse=True, tile=SMALL):
    cfg = ChipConfig(scheme=scheme, tile=tile, nm_read=nm_read, nm_kib=32, sb_kib=16, reuse=reuse)
    layer = Layer.parse(spec, in_shape or acts.shape)
    mode = "leading" if scheme == "dstripes" else "static"
    d = LayerDescriptor(layer, window, out_window, shift=shift, bias=bias is not None, mode=mode, w_base=4096)
    model = model_layer(acts, weights, d, cfg, dram, bias=bias)
    plan = LayerPlan(layer, cfg)
    image = {i: words_int(r) for i, r in enumerate(tensor_bricks(acts, cfg))}
    image.update({4096 + i: words_int(r) for i, r in enumerate(weight_beats(weights, plan, bias))})
    n_in = len(tensor_bricks(acts, cfg))
    out_base = d.resolved_out_base(cfg)
    n_out = -(-layer.k // cfg.tile.lanes) * layer.oh * layer.ow
    cmds = [("load", {"dram": 0, "nm": 0, "count": n_in}), ("layer", {"layer": d.values(cfg)}),
            ("store", {"dram": 1 << 20, "nm": out_base, "count": n_out})]
    cycles, img = run_chip(cfg, cmds, dram, image)
    got = np.array([[img.get((1 << 20) + i, 0)] for i in range(n_out)], dtype=np.uint64)
    outputs = bricks_tensor(got, (layer.k, layer.oh, layer.ow), cfg, signed=out_window.signed)
    return cycles[1], outputs, model


@pytest.mark.parametrize("scheme, spec, nm_read, reuse", [
    ("dstripes", "k=8,kh=3,pad=1", 1, True),
    ("dstripes", "k=8,kh=3,pad=1", 1, False),
    ("stripes", "k=8,kh=3,stride=2,pad=1", 2, True),
    ("dadn", "k=8,kh=3,pad=1", 1, True),
    ("dstripes", "k=12,kh=1", 4, True),
])
def test_whole_chip_equals_the_model_on_a_real_layer_slice(scheme, spec, nm_read, reuse):
    """A corner of the bundled real VGG-16 conv3_1 input (8 channels, 6x7) and its weights."""
    acts, weights, _, window = load_sample("vgg16_conv3_1")
    a = acts[0, :8, :6, :7]
    layer = Layer.parse(spec, a.shape)
    w = weights[:layer.k, :8, :layer.kh, :layer.kw]
    dram = DramConfig(latency=7, bytes_per_cycle=3.5, stall=0.3, jitter=3, seed=5)
    cycles, outputs, model = _run(scheme, spec, a, w, window, Window(15, 6), 12, nm_read=nm_read, dram=dram,
                                  reuse=reuse)
    assert (outputs == model.outputs).all()
    assert cycles == model.cycles


@pytest.mark.parametrize("group, run_ahead, spec, channels, nm_read", [
    (1, 1, "k=8,kh=3,pad=1", 8, 1),
    (2, 2, "k=8,kh=3,stride=2,pad=1", 8, 2),
    (1, 2, "k=12,kh=1", 8, 4),            # 2 steps per window-set <= R: the result staging bites
    (1, 3, "k=8,kh=1", 4, 1),             # 1 step per window-set
])
def test_whole_chip_with_the_run_ahead_tile_equals_the_model(group, run_ahead, spec, channels, nm_read):
    """The run-ahead Dynamic Stripes tile in the accelerator (groups up to ``R`` steps apart, its
    slots filled from the broadcast as they free), NM and off-chip stalls: outputs and cycles."""
    acts, weights, _, window = load_sample("vgg16_conv3_1")
    a = acts[0, :channels, :6, :7]
    layer = Layer.parse(spec, a.shape)
    w = weights[:layer.k, :channels, :layer.kh, :layer.kw]
    dram = DramConfig(latency=7, bytes_per_cycle=3.5, stall=0.3, jitter=3, seed=5)
    tile = TileConfig(lanes=4, columns=4, rows=4, tiles=2, group=group, run_ahead=run_ahead)
    cycles, outputs, model = _run("dstripes", spec, a, w, window, Window(15, 6), 12, nm_read=nm_read, dram=dram,
                                  tile=tile)
    assert (outputs == model.outputs).all()
    assert cycles == model.cycles


def test_whole_chip_depthwise_signed_with_bias(seed):
    """MobileNet-v2's bundled depthwise layer (8 channels of it), a signed output window, biases."""
    acts, weights, _, window = load_sample("mobilenet_v2_dw")
    a = acts[0, :8, :5, :6]
    w = weights[:8]
    rng = np.random.default_rng(seed)
    bias = rng.integers(-(1 << 20), 1 << 20, 8)
    dram = DramConfig(latency=12, bytes_per_cycle=8, stall=0.2, jitter=7, seed=seed & 0xFFFF)
    cycles, outputs, model = _run("dstripes", "k=8,kh=3,pad=1,groups=8", a, w, window, Window(11, 3, True), 9,
                                  nm_read=2, dram=dram, bias=bias)
    assert (outputs == model.outputs).all()
    assert cycles == model.cycles


def _geometry(layer, chip):
    """The set-up's derived values (``hw/chip/chip.py`` ``_derive``), computed here from §10.4."""
    t, nc = chip.tile, chip.columns
    cg, kg = layer.c // layer.conv_groups, layer.k // layer.conv_groups
    cbg = -(-cg // t.lanes)
    return {"c": layer.c, "h": layer.h, "w": layer.w, "k": layer.k, "kh": layer.kh, "kw": layer.kw, "sy": layer.sy,
            "sx": layer.sx, "py": layer.py, "px": layer.px, "dy": layer.dy, "dx": layer.dx,
            "groups": layer.conv_groups, "cg": cg, "kg": kg, "cbg": cbg, "oh": layer.oh, "ow": layer.ow,
            "windows": layer.windows, "window_sets": layer.window_sets(nc), "steps": layer.kh * layer.kw * cbg,
            "col_rows": nc // layer.ow, "col_step": nc % layer.ow,
            "reuse": layer.dx // layer.sx if layer.dx % layer.sx == 0 else 0, "in_base": 5}


@pytest.mark.parametrize("spec, shape", [("k=4,kh=3,pad=1", (8, 5, 6)), ("k=4,kh=3,stride=2,pad=1", (4, 7, 5)),
                                         ("k=4,kh=3,dilation=2,pad=2", (4, 6, 6)), ("k=4,kh=1", (12, 3, 3))])
def test_walker_describes_every_step_as_the_model(spec, shape):
    """Every step of a pass in the accelerator's order: which columns read NM (their number is
    the model's ``r_s``), at which address, which copy the previous step's brick, which are zero."""
    from dstripes.hw.chip.walker import Walker

    chip = ChipConfig(tile=SMALL, nm_kib=32, sb_kib=16)
    layer = Layer.parse(spec, shape)
    plan = LayerPlan(layer, chip)
    g = _geometry(layer, chip)
    dut = Walker(chip)
    got = []

    async def bench(ctx):
        for name, value in g.items():
            ctx.set(getattr(dut.geometry, name), value)
        ctx.set(dut.init, 1)
        await ctx.tick()
        ctx.set(dut.init, 0)
        ctx.set(dut.enable, 1)
        ctx.set(dut.take, 1)
        for _ in range(plan.window_sets * plan.steps):
            step = ctx.get(dut.step)
            got.append((step.read, step.reuse, step.zero, [step.addr[c] for c in range(chip.columns)], step.last))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    want_reads = plan.reads                                   # (nws, kh, kw)
    s = 0
    for ws in range(plan.window_sets):
        for ky in range(layer.kh):
            for cb in range(plan.channel_blocks):
                for kx in range(layer.kw):
                    read, reuse, zero, addr, last = got[s]
                    assert bin(read).count("1") == want_reads[ws, ky, kx], (ws, ky, cb, kx)
                    for c in range(chip.columns):
                        n = ws * chip.columns + c
                        oy, ox = divmod(n, layer.ow)
                        y, x = oy * layer.sy + ky * layer.dy - layer.py, ox * layer.sx + kx * layer.dx - layer.px
                        inside = n < layer.windows and 0 <= y < layer.h and 0 <= x < layer.w
                        assert bool(zero >> c & 1) == (not inside)
                        if read >> c & 1:
                            assert addr[c] == 5 + (cb * layer.h + y) * layer.w + x
                        assert not (read >> c & 1 and reuse >> c & 1)
                    assert last == (s == len(got) - 1)
                    s += 1
