"""The accelerator's output path in the golden model and in Amaranth's simulator: the residual
add (descriptor fields and their checks, requantisation against a brute-force loop, the writer's
own NM read ports: cycles unchanged, in place or apart) and the ``POOL`` command (outputs, cycles
and NM traffic against brute-force walks; the pool unit and the whole chip against the model)."""
from __future__ import annotations

import numpy as np
import onnx  # the nets extra is part of the test environment: a missing onnx fails, never skips
import onnxruntime
import pytest
from amaranth.sim import Simulator

from brute_chip import conv_requant, max_pool_loops, pool_starts, pool_walk
from chipsim import run_chip, words_int
from dstripes.hw.chip.pool import PoolUnit
from dstripes.hw.chip.reducer import Requantiser
from dstripes.sim.chip import ChipConfig, DramConfig, LayerDescriptor, LayerPlan, model_layer, requantize
from dstripes.sim.chip.descriptor import RES_SHIFT_BITS, descriptor_width
from dstripes.sim.chip.images import bricks_tensor, tensor_bricks, weight_beats
from dstripes.sim.chip.pool import PoolDescriptor, model_pool, pooled_size
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.sim.samples import load_sample

SMALL = TileConfig(lanes=4, columns=4, rows=4, tiles=2)
DRAM = DramConfig(latency=7, bytes_per_cycle=3.5, stall=0.3, jitter=3, seed=5)


def chip(nm_read=2, nm_kib=32):
    return ChipConfig(scheme="dstripes", tile=SMALL, nm_read=nm_read, nm_kib=nm_kib, sb_kib=16)


def codes(rng, window, shape):
    return rng.integers(window.lo >> window.lsb, (window.hi >> window.lsb) + 1, shape) << window.lsb


# -- residual: model ---------------------------------------------------------------------------

@pytest.mark.parametrize("signed", [False, True])
def test_residual_outputs_equal_the_brute_force_loops(seed, signed):
    rng = np.random.default_rng(seed)
    layer = Layer.parse("k=12,kh=3,stride=2,pad=1,groups=2", (8, 7, 9))
    acts = rng.integers(0, 256, size=(8, 7, 9)) * 4
    weights = rng.integers(-128, 128, size=(12, 4, 3, 3))
    bias = rng.integers(-5000, 5000, size=12)
    rw = Window(10, 2, signed)
    r = codes(rng, rw, (12, layer.oh, layer.ow))
    d = LayerDescriptor(layer, Window(9, 2), Window(11, 1, signed), shift=6, bias=True, residual=rw, res_shift=5)
    run = model_layer(acts, weights, d, chip(), DRAM, bias=bias, residual=r)
    assert (run.outputs == conv_requant(acts, weights, layer, 6, Window(11, 1, signed), bias, r, 5)).all()
    plain = model_layer(acts, weights, LayerDescriptor(layer, Window(9, 2), Window(11, 1, signed), shift=6, bias=True),
                        chip(), DRAM, bias=bias)
    assert (run.outputs != plain.outputs).any()
    assert run.cycles == plain.cycles and run.breakdown == plain.breakdown      # own ports: no cycle
    t = run.traffic
    assert t.residual_reads == t.writes == plain.traffic.writes and plain.traffic.residual_reads == 0


def test_nm_traffic_counts_every_access():
    """Fetch reads: a walk over every pass, window-set, step and column; writes: every window
    of every pass's output bricks."""
    layer = Layer.parse("k=12,kh=3,stride=2,pad=1", (8, 7, 9))
    c = chip(nm_read=1)
    plan = LayerPlan(layer, c)
    d = LayerDescriptor(layer, Window(9, 2), Window(11, 1), shift=6)
    run = model_layer(np.zeros((8, 7, 9), int), np.zeros((12, 8, 3, 3), int), d, c)
    reads = 0
    for p in plan.passes:
        for n0 in range(0, layer.windows, c.columns):
            for ky in range(3):
                for cb in range(plan.channel_blocks):
                    for kx in range(3):
                        for n in range(n0, min(n0 + c.columns, layer.windows)):
                            oy, ox = divmod(n, layer.ow)
                            y, x = oy * 2 + ky - 1, ox * 2 + kx - 1
                            inside = 0 <= y < layer.h and 0 <= x < layer.w
                            # no reuse: the stride 2 does not divide the dilation 1
                            reads += inside
    assert run.traffic.reads == reads
    assert run.traffic.writes == layer.windows * sum(p.out_bricks for p in plan.passes) == 20 * (2 + 1)


@pytest.mark.parametrize("kw, message", [
    (dict(residual=Window(16, 0)), "residual window .* is wider than the 16-bit"),
    (dict(residual=Window(7, 0), res_shift=33), r"res_shift 33 is out of range \(0..31"),
    (dict(residual=Window(7, 0), res_shift=-1), "res_shift -1 is out of range"),
    (dict(res_shift=3), "res_shift and res_base need a residual"),
    (dict(residual=Window(7, 0), res_base=-2), "res_base must be"),
    (dict(residual=Window(7, 0), out_base=100, res_base=110), "overlaps the output .* without being exactly"),
    (dict(residual=Window(7, 0), res_base=(32 * 8192 // 64) - 10), "residual .* does not fit NM"),
])
def test_bad_residual_descriptors_are_refused(kw, message):
    layer = Layer.parse("k=4,kh=3,pad=1", (4, 8, 8))
    d = LayerDescriptor(layer, Window(7, 0), Window(7, 0), **kw)
    r = np.zeros((4, 8, 8), int) if d.residual is not None else None
    with pytest.raises(ConfigError, match=message):
        model_layer(np.zeros((4, 8, 8), int), np.zeros((4, 4, 3, 3), int), d, chip(), residual=r)


def test_residual_in_place_is_allowed_and_bad_arrays_are_refused():
    layer = Layer.parse("k=4,kh=3,pad=1", (4, 8, 8))
    d = LayerDescriptor(layer, Window(7, 0), Window(7, 0), residual=Window(7, 1), out_base=100, res_base=100)
    a, w = np.zeros((4, 8, 8), int), np.zeros((4, 4, 3, 3), int)
    assert model_layer(a, w, d, chip(), residual=np.full((4, 8, 8), 6)).outputs.max() == 6
    with pytest.raises(ConfigError, match=r"residual has shape \(4, 8, 7\), the layer's output is \(4, 8, 8\)"):
        model_layer(a, w, d, chip(), residual=np.zeros((4, 8, 7), int))
    with pytest.raises(ConfigError, match="residual"):
        model_layer(a, w, d, chip(), residual=np.full((4, 8, 8), 3))          # odd: not on the window's lsb
    with pytest.raises(ConfigError, match="exactly when"):
        model_layer(a, w, d, chip())
    # 48-bit accumulators, 16-bit codes: the shift is bounded by 32 and by its 5-bit field
    assert RES_SHIFT_BITS == 5 and descriptor_width(chip()) > 0
    LayerDescriptor(layer, Window(7, 0), Window(7, 0), residual=Window(7, 0), res_shift=31)


# -- pool: model ---------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, shape, nm_read, signed", [
    ("2x2/2", (6, 8, 8), 1, False), ("3x3/2/1", (5, 9, 7), 2, True), ("3x3/2/1", (4, 8, 8), 4, False),
    ("2x2/1", (3, 5, 4), 3, True), ("3x3/1/1", (9, 4, 4), 16, True),
    ("3x3/2/ceil", (4, 8, 8), 2, False), ("3x3/2/1/ceil", (5, 8, 6), 4, True), ("2x2/2/ceil", (3, 7, 5), 3, True),
    ("5x3/3/1/ceil", (4, 4, 2), 1, False)])
def test_pool_outputs_cycles_and_traffic_equal_the_brute_force_walk(seed, spec, shape, nm_read, signed):
    rng = np.random.default_rng(seed)
    w = Window(11, 2, signed)
    x = codes(rng, w, shape)
    d = PoolDescriptor.parse(spec, shape, w)
    assert d.ceil == spec.endswith("/ceil")
    run = model_pool(x, d, chip(nm_read))
    assert (run.outputs == max_pool_loops(x, d.kernel, d.stride, d.pad, d.ceil)).all()
    assert (run.cycles, run.traffic.reads, run.traffic.writes) == pool_walk(shape, d.kernel, d.stride, d.pad, 4,
                                                                            nm_read, d.ceil)
    assert run.traffic.residual_reads == 0


def onnx_max_pool(x, kernel, stride, pad, ceil):
    """ONNX Runtime's ``MaxPool`` (the graph the chain reads) of ``(C, H, W)`` codes."""
    node = onnx.helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=list(kernel), strides=list(stride),
                                 pads=[pad[0], pad[1], pad[0], pad[1]], ceil_mode=int(ceil))
    graph = onnx.helper.make_graph(
        [node], "pool", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.DOUBLE, [1, *x.shape])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.DOUBLE, None)])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 19)])
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x[None].astype(np.float64)})[0][0]


def test_pool_random_shapes_floor_and_ceil_equal_onnx_and_the_brute_force_walk(seed):
    """A random sweep of shapes in both modes: the model's outputs equal ONNX Runtime's MaxPool
    (the semantics the chain reads) and the loops; its cycles and NM traffic the brute-force
    walk; the size rule the enumeration of windows; shapes with no window are refused."""
    rng = np.random.default_rng(seed)
    cfg, done, ceil_differs = chip(2), 0, 0
    while done < 40:
        kh, kw = (int(v) for v in rng.integers(1, 6, 2))
        s = int(rng.integers(1, 5))
        py, px = int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1))
        shape = (int(rng.integers(1, 7)), int(rng.integers(1, 12)), int(rng.integers(1, 12)))
        ceil = bool(rng.integers(0, 2))
        w = Window(9, 1, bool(rng.integers(0, 2)))
        d = PoolDescriptor(shape, (kh, kw), (s, s), (py, px), w, ceil=ceil)
        for n, k, p, o in ((shape[1], kh, py, d.oh), (shape[2], kw, px, d.ow)):
            assert o == pooled_size(n, k, s, p, p, ceil)
            if o >= 1:
                assert o == len(pool_starts(n, k, s, p, ceil))
        x = codes(rng, w, shape)
        if d.oh < 1 or d.ow < 1 or (not ceil and (kh > shape[1] + 2 * py or kw > shape[2] + 2 * px)):
            with pytest.raises(ConfigError, match="bigger than the"):
                model_pool(x, d, cfg)
            continue
        run = model_pool(x, d, cfg)
        assert (run.outputs == onnx_max_pool(x, d.kernel, d.stride, d.pad, ceil)).all(), d
        assert (run.outputs == max_pool_loops(x, d.kernel, d.stride, d.pad, ceil)).all(), d
        assert (run.cycles, run.traffic.reads, run.traffic.writes) == pool_walk(shape, d.kernel, d.stride, d.pad,
                                                                                4, 2, ceil)
        ceil_differs += ceil and (d.oh, d.ow) != PoolDescriptor(shape, (kh, kw), (s, s), (py, px), w).out_shape[1:]
        done += 1
    assert ceil_differs >= 3                         # the sweep did meet windows hanging over the edge


def test_ceil_mode_drops_a_window_starting_in_the_padding():
    """ONNX / PyTorch: 5 rows, 2x2 windows, stride 3, padding 1 — ceil((5 + 2 - 2) / 3) + 1 = 3
    windows, but the third would start at row 5, in the bottom padding: 2 windows."""
    d = PoolDescriptor.parse("2x2/3/1/ceil", (1, 5, 5), Window(7, 0))
    assert d.out_shape == (1, 2, 2)
    x = np.arange(25).reshape(1, 5, 5)
    assert (model_pool(x, d, chip()).outputs == onnx_max_pool(x, (2, 2), (3, 3), (1, 1), True)).all()
    assert PoolDescriptor.parse("2x2/3/ceil", (1, 5, 5), Window(7, 0)).out_shape == (1, 2, 2)
    assert PoolDescriptor.parse("3x3/2/ceil", (1, 6, 6), Window(7, 0)).out_shape == (1, 3, 3)   # floor: 2
    assert PoolDescriptor.parse("3x3/2", (1, 6, 6), Window(7, 0)).out_shape == (1, 2, 2)


@pytest.mark.parametrize("text, shape, message", [
    ("2x2", (4, 8, 8), "is not KxK/S"),
    ("axb/2", (4, 8, 8), "is not KxK/S"),
    ("9x9/2", (4, 8, 8), "pool window 9x9 .* bigger than the 8x8 input"),
    ("3x3/2/2", (4, 8, 8), "more than half"),
    ("2x2/0", (4, 8, 8), "pool field sy = 0 is out of range"),
    ("16x16/1", (4, 20, 20), "pool field kh = 16 is out of range"),
    ("2x2/2", (4, 2000, 2000), "does not fit NM"),
    ("2x2/2/floor", (4, 8, 8), "is not KxK/S"),
    ("ceil", (4, 8, 8), "is not KxK/S"),
    ("5x5/2/ceil", (4, 1, 8), "bigger than the 1x8 input by a whole stride"),
    ("3x3/2/2/ceil", (4, 8, 8), "more than half"),
])
def test_bad_pools_are_refused(text, shape, message):
    with pytest.raises(ConfigError, match=message):
        model_pool(np.zeros(shape, int), PoolDescriptor.parse(text, shape, Window(7, 0)), chip())


def test_pool_tensors_must_be_apart_and_codes_inside_the_window():
    d = PoolDescriptor.parse("2x2/2", (4, 8, 8), Window(7, 0), in_base=10, out_base=20)
    with pytest.raises(ConfigError, match="overlap"):
        model_pool(np.zeros((4, 8, 8), int), d, chip())
    d = PoolDescriptor.parse("2x2/2", (4, 8, 8), Window(7, 0))
    with pytest.raises(ConfigError, match="256"):
        model_pool(np.full((4, 8, 8), 256), d, chip())
    with pytest.raises(ConfigError, match="shape"):
        model_pool(np.zeros((4, 8, 7), int), d, chip())


# -- the whole chip in Amaranth's simulator ------------------------------------------------------

def _conv(cfg, d, acts, weights, residual, bias=None):
    layer = d.layer
    plan = LayerPlan(layer, cfg)
    ins, res = tensor_bricks(acts, cfg), tensor_bricks(residual, cfg)
    image = {i: words_int(r) for i, r in enumerate(ins)}
    image.update({2000 + i: words_int(r) for i, r in enumerate(res)})
    image.update({4096 + i: words_int(r) for i, r in enumerate(weight_beats(weights, plan, bias))})
    n_out = d.out_bricks(cfg)
    cmds = [("load", {"dram": 0, "nm": d.in_base, "count": len(ins)}),
            ("load", {"dram": 2000, "nm": d.resolved_res_base(cfg), "count": len(res)}),
            ("layer", {"layer": d.values(cfg)}),
            ("store", {"dram": 1 << 20, "nm": d.resolved_out_base(cfg), "count": n_out})]
    cycles, img = run_chip(cfg, cmds, DRAM, image)
    got = np.array([[img.get((1 << 20) + i, 0)] for i in range(n_out)], dtype=np.uint64)
    return cycles[2], bricks_tensor(got, (layer.k, layer.oh, layer.ow), cfg, signed=d.out_window.signed)


@pytest.mark.parametrize("spec, nm_read, in_place", [("k=8,kh=3,pad=1", 1, False), ("k=12,kh=1", 4, True),
                                                     ("k=8,kh=3,stride=2,pad=1", 2, True)])
def test_whole_chip_residual_equals_the_model(spec, nm_read, in_place):
    """A corner of the bundled VGG-16 conv3_1 input; a signed residual, in place of the output or
    apart from it: every code and the LAYER command's cycles."""
    acts, weights, _, window = load_sample("vgg16_conv3_1")
    a = acts[0, :8, :6, :7]
    layer = Layer.parse(spec, a.shape)
    w = weights[:layer.k, :8, :layer.kh, :layer.kw]
    cfg = chip(nm_read)
    rw = Window(9, 1, True)
    r = codes(np.random.default_rng(1), rw, (layer.k, layer.oh, layer.ow))
    base = LayerDescriptor(layer, window, Window(11, 2, True), shift=12, w_base=4096)
    out = base.resolved_out_base(cfg)
    d = LayerDescriptor(layer, window, Window(11, 2, True), shift=12, w_base=4096, residual=rw, res_shift=9,
                        res_base=out if in_place else out + base.out_bricks(cfg) + 3)
    model = model_layer(a, w, d, cfg, DRAM, residual=r)
    cycles, outputs = _conv(cfg, d, a, w, r)
    assert (outputs == model.outputs).all()
    assert cycles == model.cycles


def test_whole_chip_residual_on_depthwise_lane_offsets_with_bias(seed):
    """Depthwise: every pass is one filter at lane offset ``k0 % L``; its residual lane follows."""
    acts, weights, _, window = load_sample("mobilenet_v2_dw")
    a, w = acts[0, :8, :5, :6], weights[:8]
    layer = Layer.parse("k=8,kh=3,pad=1,groups=8", a.shape)
    rng = np.random.default_rng(seed)
    bias = rng.integers(-(1 << 20), 1 << 20, 8)
    rw = Window(12, 4)
    r = codes(rng, rw, (8, layer.oh, layer.ow))
    cfg = chip(2)
    d = LayerDescriptor(layer, window, Window(11, 3, True), shift=9, bias=True, w_base=4096, residual=rw, res_shift=6)
    model = model_layer(a, w, d, cfg, DRAM, bias=bias, residual=r)
    cycles, outputs = _conv(cfg, d, a, w, r, bias)
    assert (outputs == model.outputs).all()
    assert cycles == model.cycles


@pytest.mark.parametrize("spec, shape, nm_read, signed", [("2x2/2", (8, 6, 6), 1, False),
                                                          ("3x3/2/1", (6, 7, 7), 2, True),
                                                          ("3x2/1/1", (4, 3, 5), 3, True),
                                                          ("3x3/2/1/ceil", (5, 8, 6), 2, False),
                                                          ("2x2/2/ceil", (4, 7, 5), 3, True),
                                                          ("3x3/2/ceil", (4, 2, 6), 1, False),
                                                          ("2x2/3/1/ceil", (4, 5, 8), 2, True)])
def test_whole_chip_pool_equals_the_model(spec, shape, nm_read, signed):
    win = Window(11, 2, signed)
    x = codes(np.random.default_rng(3), win, shape)
    cfg = chip(nm_read)
    d = PoolDescriptor.parse(spec, shape, win, in_base=3)
    model = model_pool(x, d, cfg)
    ins = tensor_bricks(x, cfg)
    n_out = model.traffic.writes
    cmds = [("load", {"dram": 0, "nm": 3, "count": len(ins)}), ("pool", {"layer": d.values(cfg)}),
            ("store", {"dram": 1 << 20, "nm": d.resolved_out_base(cfg), "count": n_out})]
    cycles, img = run_chip(cfg, cmds, DRAM, {i: words_int(r) for i, r in enumerate(ins)})
    got = np.array([[img.get((1 << 20) + i, 0)] for i in range(n_out)], dtype=np.uint64)
    assert (bricks_tensor(got, d.out_shape, cfg, signed=signed) == model.outputs).all()
    assert cycles[1] == model.cycles


# -- blocks in Amaranth's simulator ----------------------------------------------------------------

@pytest.mark.parametrize("rw, res_shift", [(Window(15, 0), 32), (Window(9, 2, True), 12), (Window(7, 0, True), 0)])
def test_requantiser_with_the_residual_equals_the_model(seed, rw, res_shift):
    """Extreme accumulators, biases and residuals (the widest shifted residual the field allows)."""
    rng = np.random.default_rng(seed)
    out, shift = Window(11, 3, True), 20
    dut = Requantiser(acc_bits=48, act_bits=16)
    n = 300
    acc = np.concatenate([rng.integers(-(1 << 47), 1 << 47, n // 2), rng.integers(-(1 << 30), 1 << 30, n // 2)])
    acc[:4] = [(1 << 47) - 1, -(1 << 47), (1 << 47) - 1, -(1 << 47)]
    bias = rng.integers(-(1 << 47), 1 << 47, n)
    r = codes(rng, rw, n)
    r[:4] = [rw.hi, rw.lo, rw.hi, rw.lo]
    y = acc + bias
    want = requantize(y[None], shift, out, residual=r[None], res_shift=res_shift)[0]
    got = []
    sim = Simulator(dut)

    async def bench(ctx):
        ctx.set(dut.shift, shift + out.lsb)
        ctx.set(dut.lsb, out.lsb)
        ctx.set(dut.lo, out.lo >> out.lsb)
        ctx.set(dut.hi, out.hi >> out.lsb)
        for a, b, x in zip(acc.tolist(), bias.tolist(), r.tolist()):
            ctx.set(dut.acc, a)
            ctx.set(dut.bias, b)
            ctx.set(dut.extra, x << res_shift)
            v = ctx.get(dut.code)
            got.append(v - (1 << 16) if v >> 15 else v)

    sim.add_testbench(bench)
    sim.run()
    assert got == want.tolist()


@pytest.mark.parametrize("spec, shape, nm_read, signed", [("2x2/2", (5, 6, 6), 2, False),
                                                          ("3x3/2/1", (4, 7, 6), 4, True),
                                                          ("3x3/2/1/ceil", (4, 8, 7), 4, True)])
def test_pool_unit_reads_and_writes_exactly_what_the_model_counts(spec, shape, nm_read, signed):
    """The pool unit alone, its NM a Python dict: every read port's enable and the write port
    counted cycle by cycle; the written bricks, the reads, the writes and the cycles from start
    to idle are the model's."""
    cfg = chip(nm_read)
    win = Window(11, 2, signed)
    rng = np.random.default_rng(5)
    x = codes(rng, win, shape)
    d = PoolDescriptor.parse(spec, shape, win, in_base=2)
    model = model_pool(x, d, cfg)
    mem = {2 + i: words_int(r) for i, r in enumerate(tensor_bricks(x, cfg))}
    dut = PoolUnit(cfg)
    c, h, w = shape
    geo = {"c": c, "h": h, "w": w, "kh": d.kernel[0], "kw": d.kernel[1], "sy": d.stride[0], "sx": d.stride[1],
           "py": d.pad[0], "px": d.pad[1], "signed": int(signed), "in_base": 2, "out_base": d.resolved_out_base(cfg),
           "oh": d.oh, "ow": d.ow, "cbg": d.blocks(cfg)}
    seen = {"reads": 0, "writes": 0, "cycles": 0}
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for name, value in geo.items():
            ctx.set(getattr(dut.geometry, name), value)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        pending = []
        while True:
            for j, v in enumerate(pending):       # last cycle's reads arrive
                if v is not None:
                    ctx.set(dut.rdata[j], v)
            # NM's read data enter registers: no output moves with them within the cycle (no
            # read data -> write/address path, docs/design.md §10.8)
            outs = lambda: ([ctx.get(dut.wen), ctx.get(dut.waddr), ctx.get(dut.wdata), ctx.get(dut.idle)]  # noqa: E731
                            + [ctx.get(dut.raddr[j]) for j in range(nm_read)] + [ctx.get(dut.ren[j]) for j in range(nm_read)])
            before, saved = outs(), [ctx.get(dut.rdata[j]) for j in range(nm_read)]
            for j in range(nm_read):
                ctx.set(dut.rdata[j], int(rng.integers(0, 1 << 62)))
            assert outs() == before
            for j in range(nm_read):
                ctx.set(dut.rdata[j], saved[j])
            if ctx.get(dut.wen):                  # the last brick's write falls in the idle cycle
                assert ctx.get(dut.wen) == (1 << cfg.tile.lanes) - 1
                seen["writes"] += 1
                mem[ctx.get(dut.waddr)] = ctx.get(dut.wdata)
            if ctx.get(dut.idle):
                assert not any(ctx.get(dut.ren[j]) for j in range(nm_read))
                break
            seen["cycles"] += 1
            pending = []
            for j in range(nm_read):
                if ctx.get(dut.ren[j]):
                    seen["reads"] += 1
                    pending.append(mem.get(ctx.get(dut.raddr[j]), 0))
                else:
                    pending.append(None)
            await ctx.tick()

    sim.add_testbench(bench)
    sim.run()
    base = d.resolved_out_base(cfg)
    got = np.array([[mem.get(base + i, 0)] for i in range(model.traffic.writes)], dtype=np.uint64)
    assert (bricks_tensor(got, d.out_shape, cfg, signed=signed) == model.outputs).all()
    assert (seen["reads"], seen["writes"]) == (model.traffic.reads, model.traffic.writes)
    # the command is busy in its set-up cycle, the unit's cycles (reads, the data's register) and
    # its end cycle (the last brick's write)
    assert model.cycles == 1 + seen["cycles"] + 1
