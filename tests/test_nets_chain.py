"""The integer chain (:mod:`dstripes.sim.nets.chain`): every operation of a small hand-built ONNX
graph against a brute-force integer computation, the refusals, and the fidelity of VGG-16 and
ResNet-50 at a small input size against the profiles' criterion."""
from __future__ import annotations

from fractions import Fraction
import json
import math

import numpy as np
import pytest

import onnx  # the nets extra is part of the test environment: a missing onnx fails, never skips
from onnx import TensorProto, helper, numpy_helper

from dstripes.scripts.cli import main as cli
from dstripes.sim.chip import ChipConfig
from dstripes.sim.chip.pool import model_pool
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window, weight_codes
from dstripes.sim.nets.chain import Pool, chain_fidelity, integer_chain
from dstripes.sim.nets.fidelity import passes, threshold
from dstripes.sim.nets.images import take
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.network import Quant
from dstripes.sim.nets.onnx_capture import OnnxNetwork
from dstripes.sim.nets.profile import LayerProfile, Profile, builtin_profile_path

SIZE = 12


def graph(pool=(2, 2, 0, 1), relu6=False, concat=False, seed=3, clip=6.0, nhwc=False, raw_reader=False,
          host_reader=False):
    """conv A 3->6 3x3 (bias) -> ReLU -> MaxPool ``pool`` (kernel, stride, pad, ceil) -> conv B
    6->6 3x3 -> ReLU -> conv C 6->6 1x1 (bias) -> Add(C, pooled A) -> ReLU -> global average ->
    Gemm 6->5. ``relu6``: A's ReLU is Clip(0, 6); ``concat``: B reads Concat(pooled A, pooled A);
    ``nhwc``: the input is NHWC and A reads its Transpose (perm 0, 3, 1, 2), as a TensorFlow
    export; ``raw_reader`` (with ``nhwc``): a conv D also reads the raw NHWC input (a second
    graph output); ``host_reader`` (with ``nhwc``): the host also reads the transposed input (its
    global average, a second graph output)."""
    rng = np.random.default_rng(seed)
    cb = 12 if concat else 6
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in [
        ("wa", rng.normal(0, 0.3, (6, 3, 3, 3))), ("ba", rng.normal(0, 0.2, 6)),
        ("wb", rng.normal(0, 0.2, (6, cb, 3, 3))),
        ("wc", rng.normal(0, 0.3, (6, 6, 1, 1))), ("bc", rng.normal(0, 0.2, 6)),
        ("wf", rng.normal(0, 0.5, (5, 6))), ("bf", rng.normal(0, 0.1, 5)),
        ("lo", np.array(0.0)), ("hi", np.array(clip))]]
    k, s, p, ceil = pool
    act = (helper.make_node("Clip", ["a", "lo", "hi"], ["ra"]) if relu6 else helper.make_node("Relu", ["a"], ["ra"]))
    first = "image"
    nodes = []
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["image"], ["image_nchw"], perm=[0, 3, 1, 2]))
        first = "image_nchw"
    if host_reader:
        nodes.append(helper.make_node("GlobalAveragePool", [first], ["gi"]))
    if raw_reader:
        inits.append(numpy_helper.from_array(rng.normal(0, 0.3, (2, SIZE, 1, 1)).astype(np.float32), "wd"))
        nodes.append(helper.make_node("Conv", ["image", "wd"], ["d"], name="D", kernel_shape=[1, 1]))
    nodes += [helper.make_node("Conv", [first, "wa", "ba"], ["a"], name="A", kernel_shape=[3, 3], pads=[1] * 4),
              act,
             helper.make_node("MaxPool", ["ra"], ["pa"], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4,
                              ceil_mode=ceil)]
    src = "pa"
    if concat:
        nodes.append(helper.make_node("Concat", ["pa", "pa"], ["cat"], axis=1))
        src = "cat"
    nodes += [helper.make_node("Conv", [src, "wb"], ["b"], name="B", kernel_shape=[3, 3], pads=[1] * 4),
              helper.make_node("Relu", ["b"], ["rb"]),
              helper.make_node("Conv", ["rb", "wc", "bc"], ["c"], name="C", kernel_shape=[1, 1]),
              helper.make_node("Add", ["c", "pa"], ["s"]),
              helper.make_node("Relu", ["s"], ["rs"]),
              helper.make_node("GlobalAveragePool", ["rs"], ["g"]),
              helper.make_node("Flatten", ["g"], ["f"]),
              helper.make_node("Gemm", ["f", "wf", "bf"], ["out"], name="fc", transB=1)]
    dims = ["n", SIZE, SIZE, 3] if nhwc else ["n", 3, SIZE, SIZE]
    outs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)]
    if raw_reader:
        outs.append(helper.make_tensor_value_info("d", TensorProto.FLOAT, None))
    if host_reader:
        outs.append(helper.make_tensor_value_info("gi", TensorProto.FLOAT, None))
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("image", TensorProto.FLOAT, dims)], outs,
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return OnnxNetwork(m, name="chain", criterion="cosine", size=SIZE)


def profile(net, scales=None, lsbs=None):
    """A 16-bit profile of the tiny graph: power-of-two scales, the input signed."""
    scales = scales or {"A": 2.0 ** -12, "B": 2.0 ** -10, "C": 2.0 ** -11, "fc": 2.0 ** -12, "D": 2.0 ** -12}
    lsbs = lsbs or {"A": 3, "B": 2, "C": 4, "fc": 0, "D": 3}
    layers = [LayerProfile(n, Quant(scales[n], Window(15, lsbs[n], n in ("A", "D")))) for n in net.layer_names()]
    return Profile("chain", "100", "cosine", 0.999, 16, layers)


# ---------------------------------------------------------------- brute force, Python integers
def bf_conv(x, w, pad):
    c, h, wd = x.shape
    k, _, kh, kw = w.shape
    xp = [[[0] * (wd + 2 * pad) for _ in range(h + 2 * pad)] for _ in range(c)]
    for ci in range(c):
        for y in range(h):
            for xx in range(wd):
                xp[ci][y + pad][xx + pad] = int(x[ci, y, xx])
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    out = np.zeros((k, oh, ow), dtype=object)
    for f in range(k):
        for y in range(oh):
            for xx in range(ow):
                out[f, y, xx] = sum(xp[ci][y + dy][xx + dx] * int(w[f, ci, dy, dx])
                                    for ci in range(c) for dy in range(kh) for dx in range(kw))
    return out


def bf_requant(y, shift, window):
    """round_half_even(y / 2**(shift + lsb)) * 2**lsb, saturated (Python's round of a Fraction is
    half-even)."""
    q = round(Fraction(int(y), 2 ** (shift + window.lsb))) * 2 ** window.lsb
    return min(max(q, window.lo), window.hi)


def bf_pool(x, k, s, p, ceil):
    c, h, w = x.shape

    def size(n):
        o = (math.ceil if ceil else math.floor)((n + 2 * p - k) / s) + 1
        return o - 1 if ceil and (o - 1) * s >= n + p else o
    oh, ow = size(h), size(w)
    out = np.zeros((c, oh, ow), dtype=np.int64)
    for ci in range(c):
        for y in range(oh):
            for xx in range(ow):
                vals = [int(x[ci, yy, xq]) for yy in range(y * s - p, y * s - p + k)
                        for xq in range(xx * s - p, xx * s - p + k) if 0 <= yy < h and 0 <= xq < w]
                out[ci, y, xx] = max(vals)
    return out


def brute_chain(net, prof, x, pool):
    """The tiny graph's integer chain from the profile's windows and the float weights alone."""
    q = {l.name: l.quant for l in prof.layers}
    codes = {}
    qa = q["A"]
    step = qa.scale * 2 ** qa.window.lsb
    codes["input"] = np.clip(np.rint(x / step) * 2 ** qa.window.lsb, qa.window.lo, qa.window.hi).astype(np.int64)

    def layer(name, src, in_q, out_q, pad, residual=None):
        wc, ws = weight_codes(net.weights(name), 16)
        acc_scale = in_q.scale * ws
        shift = round(math.log2(out_q.scale / acc_scale))
        b = net._const({"A": "ba", "B": None, "C": "bc"}[name]) if name != "B" else None
        bias = [round(Fraction(float(v)) / Fraction(acc_scale)) for v in b] if b is not None else [0] * len(wc)
        acc = bf_conv(codes[src], wc, pad)
        if residual is not None:
            r, r_q = residual
            rs = round(math.log2(r_q.scale / acc_scale))
            acc = acc + np.vectorize(lambda v: int(v) << rs, otypes=[object])(r)
        out = np.zeros(acc.shape, dtype=np.int64)
        for f in range(acc.shape[0]):
            for y in range(acc.shape[1]):
                for xx in range(acc.shape[2]):
                    out[f, y, xx] = bf_requant(acc[f, y, xx] + bias[f], shift, out_q.window)
        return out, shift, bias
    # A's output is read by B and, as a residual, by C: its window is B's (the only conv reader)
    a, sa, ba = layer("A", "input", qa, q["B"], 1)
    codes["A"] = bf_pool(a, *pool)
    b, sb, bb = layer("B", "A", q["B"], q["C"], 1)
    codes["B"] = b
    return a, codes, (sa, ba), (sb, bb)


@pytest.mark.parametrize("pool", [(2, 2, 0, 1), (3, 2, 1, 0), (3, 3, 0, 1), (3, 2, 0, 1), (2, 5, 1, 1)])
def test_every_operation_of_the_chain_equals_brute_force(pool):
    net = graph(pool)
    prof = profile(net)
    chain = integer_chain(net, prof, calibration=take("profile", 1))
    assert [l.name for l in chain.layers] == ["A", "B", "C"]
    a, b, c = chain.layers
    assert (a.pool, b.pool, c.pool) == (Pool((pool[0],) * 2, (pool[1],) * 2, (pool[2],) * 4, bool(pool[3])), None,
                                        None)
    assert c.residual is not None and c.residual.source == "A" and a.out_window == Window(15, 2, False)
    assert not a.out_window.signed and not c.out_window.signed  # ReLU = unsigned windows
    x = net.prepare([take("heldout", 1)[0].read(SIZE)])[0].astype(np.float64)
    run = chain.run(x.astype(np.float32))
    a_bf, codes, (sa, ba), (sb, bb) = brute_chain(net, prof, x.astype(np.float32), pool)
    assert (a.shift, list(a.bias)) == (sa, ba) and (b.shift, list(b.bias)) == (sb, bb)
    assert np.array_equal(run.unpooled["A"], a_bf)
    assert np.array_equal(run.outputs["A"], codes["A"])
    assert np.array_equal(run.outputs["B"], codes["B"])
    # the accelerator's POOL command the chain gives for A's MaxPool stores exactly those codes
    d = a.pool_descriptor(in_base=5)
    assert (d.kernel, d.stride, d.pad, d.ceil, d.window, d.in_base) == (
        (pool[0],) * 2, (pool[1],) * 2, (pool[2],) * 2, bool(pool[3]), a.out_window, 5)
    on_chip = ChipConfig(scheme="dstripes", tile=TileConfig(lanes=4, columns=4, rows=4, tiles=2), nm_read=2,
                         nm_kib=32, sb_kib=16)
    assert np.array_equal(model_pool(run.unpooled["A"], d, on_chip).outputs, codes["A"])
    assert b.pool_descriptor() is None
    # C: conv + bias + the pooled A codes shifted to accumulator units, requantised into the
    # host-read window the calibration set (full 16-bit container)
    wc, ws = weight_codes(net.weights("C"), 16)
    acc_scale = b.out_scale * ws
    assert c.in_scale == b.out_scale and c.shift == round(math.log2(c.out_scale / acc_scale))
    rs = round(math.log2(a.out_scale / acc_scale))
    assert c.residual.shift == rs >= 0
    bias = [round(Fraction(float(v)) / Fraction(acc_scale)) for v in net._const("bc")]
    acc = bf_conv(codes["B"], wc, 0)
    want = np.zeros(acc.shape, dtype=np.int64)
    for f in range(acc.shape[0]):
        for y in range(acc.shape[1]):
            for xx in range(acc.shape[2]):
                want[f, y, xx] = bf_requant(acc[f, y, xx] + bias[f] + (int(codes["A"][f, y, xx]) << rs), c.shift,
                                            c.out_window)
    assert np.array_equal(run.final, want) and run.final is run.outputs["C"]
    assert run.final.dtype == np.int64 and run.final.shape == (6,) + codes["A"].shape[1:]
    # the host part (average pool + classifier) on the dequantised final map, against the float net
    out = chain.host(x.astype(np.float32), run)
    ref = net.forward(net.prepare([take("heldout", 1)[0].read(SIZE)])).output
    assert out.shape == ref.shape
    cos = float((out * ref).sum() / np.linalg.norm(out) / np.linalg.norm(ref))
    assert cos > 0.999


def test_an_nhwc_graph_input_transpose_is_the_hosts_layout_step():
    """The same network with an NHWC input and a Transpose in front of conv A: the Transpose is
    the host's input step (not a host-computed tensor), every stored map and the host's output
    equal the NCHW graph's on the same photo; convs reading the input in two layouts are refused."""
    nchw, nhwc = graph((3, 2, 1, 0)), graph((3, 2, 1, 0), nhwc=True)
    a, b = integer_chain(nchw, profile(nchw), calibration=take("profile", 1)), \
        integer_chain(nhwc, profile(nhwc), calibration=take("profile", 1))
    assert (a.input_perm, b.input_perm) == (None, (2, 0, 1)) and b.layers[0].source == "input"
    assert all(n.op_type != "Transpose" for n in b.host_model.graph.node)
    photo = take("heldout", 1)[0].read(SIZE)
    x, y = nchw.prepare([photo])[0], nhwc.prepare([photo])[0]
    assert x.shape == (3, SIZE, SIZE) and y.shape == (SIZE, SIZE, 3)
    ra, rb = a.run(x), b.run(y)
    for name in ("A", "B", "C"):
        assert np.array_equal(ra.outputs[name], rb.outputs[name])
    assert np.array_equal(a.host(x, ra), b.host(y, rb))
    ref = nhwc.forward(nhwc.prepare([photo])).output
    out = b.host(y, rb)
    assert float((out * ref).sum() / np.linalg.norm(out) / np.linalg.norm(ref)) > 0.999
    # the host reading the transposed input too keeps its own Transpose, fed the photo
    c = integer_chain(graph((3, 2, 1, 0), nhwc=True, host_reader=True), profile(nhwc), calibration=take("profile", 1))
    assert c.input_perm == (2, 0, 1) and [n.op_type for n in c.host_model.graph.node][0] == "Transpose"
    rc = c.run(y)
    assert np.array_equal(rc.final, rb.final) and np.array_equal(c.host(y, rc), b.host(y, rb))
    net = graph((3, 2, 1, 0), nhwc=True, raw_reader=True)
    with pytest.raises(ConfigError, match=r"convs read the input in 2 layouts \(D as prepared; A transposed "
                                          r"\[2, 0, 1\]\); the accelerator stores it in one"):
        integer_chain(net, profile(net))


def test_a_pool_never_picks_padding():
    codes = np.array([[[-5, -7, -9], [-1, -3, -2], [-8, -6, -4]]], dtype=np.int64)
    got = Pool((3, 3), (2, 2), (1, 1, 1, 1)).apply(codes)
    assert got.tolist() == [[[-1, -2], [-1, -2]]]  # zero padding would have won every window
    assert Pool((2, 2), (2, 2), ceil=True).apply(codes).tolist() == [[[-1, -2], [-6, -4]]]


@pytest.mark.parametrize("pool, shape, pad, ceil, out", [
    (Pool((3, 3), (2, 2), (1, 1, 1, 1), ceil=True), (8, 112, 112), (1, 1), True, (57, 57)),
    (Pool((3, 3), (2, 2), (0, 0, 1, 1)), (8, 112, 112), (0, 0), True, (56, 56)),      # SAME_UPPER, as ceil mode
    (Pool((3, 3), (2, 2), (1, 1, 0, 0)), (4, 8, 8), (1, 1), False, (4, 4)),
    (Pool((2, 2), (2, 2), (0, 0, 1, 1)), (4, 8, 8), (0, 0), False, (4, 4)),
    (Pool((2, 2), (3, 3), (1, 1, 1, 1), ceil=True), (4, 5, 5), (1, 1), True, (2, 2)),  # third window dropped
])
def test_a_graph_pool_maps_to_the_accelerators_pool(pool, shape, pad, ceil, out):
    d = pool.descriptor(shape, Window(11, 2))
    assert (d.pad, d.ceil, d.out_shape[1:]) == (pad, ceil, out) == (pad, ceil, pool.out_size(*shape[1:]))
    x = np.random.default_rng(1).integers(0, 1 << 10, shape) << 2
    on_chip = ChipConfig(scheme="dstripes", tile=TileConfig(lanes=4, columns=4, rows=4, tiles=2), nm_read=4,
                         nm_kib=512, sb_kib=16)
    assert np.array_equal(model_pool(x, d, on_chip).outputs, pool.apply(x))


def test_pools_the_accelerator_cannot_run_are_refused_naming_the_layer():
    with pytest.raises(ConfigError, match=r"pads \[0, 0, 2, 2\] .* on a 8x8 map give 8x8 windows; the accelerator "
                                          r"pads top and left only"):
        Pool((3, 3), (1, 1), (0, 0, 2, 2)).descriptor((4, 8, 8))
    for pool, message in (((9, 8, 0, 0), "pool field sy = 8 is out of range (1..7)"),
                          ((3, 2, 2, 1), "pool padding (2, 2) is more than half the 3x3 window")):
        net = graph(pool)
        with pytest.raises(ConfigError, match=r"layer A: its MaxPool cannot run on the accelerator: "
                                              + message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
            integer_chain(net, profile(net))


@pytest.mark.parametrize("clip", [1.0, 0.5])
def test_a_clip_inside_the_window_is_the_accelerators_clamp(clip):
    """ReLU6-like ``Clip(0, M)`` with ``M`` inside A's output window: the clamp code
    ``M / scale`` (A's window is B's: scale 2**-10, lsb 2), every code ``min(requantised, clamp)``."""
    net = graph(relu6=True, clip=clip)
    prof = profile(net)
    pool = (2, 2, 0, 1)
    chain = integer_chain(net, prof, calibration=take("profile", 1))
    a = chain.layers[0]
    assert a.clamp == clip * 2 ** 10 and a.as_dict()["clamp"] == a.clamp and chain.layers[1].clamp is None
    x = net.prepare([take("heldout", 1)[0].read(SIZE)])[0].astype(np.float32)
    run = chain.run(x)
    a_bf, _, _, _ = brute_chain(net, prof, x, pool)
    assert (a_bf > a.clamp).any()                            # the clamp bites
    assert np.array_equal(run.unpooled["A"], np.minimum(a_bf, a.clamp))
    assert np.array_equal(run.outputs["A"], bf_pool(np.minimum(a_bf, a.clamp), *pool))


def test_refusals_name_the_layer():
    net = graph(relu6=True)
    assert integer_chain(net, profile(net)).layers[0].clamp == 6 * 2 ** 10      # ReLU6: the clamp code of 6
    top = Window(15, 2).hi * 2.0 ** -10  # A's output window (B's input) saturates there: a plain ReLU
    plain = integer_chain(graph(relu6=True, clip=top), profile(net)).layers[0]
    assert not plain.out_window.signed and plain.clamp is None
    with pytest.raises(ConfigError, match=r"layer A: Clip bound \d+\.\d+ is not a code of its output window"):
        integer_chain(graph(relu6=True, clip=top * 0.99), profile(net))
    with pytest.raises(ConfigError, match=r"layer A: Clip bound 6\.001 is not a code"):   # not on the lsb grid
        integer_chain(graph(relu6=True, clip=6.001), profile(net))
    net = graph(concat=True)
    with pytest.raises(ConfigError, match=r"layer B: its input is computed on the host by Concat"):
        integer_chain(net, profile(net))
    net = graph()
    odd = {"A": 2.0 ** -12, "B": 0.3, "C": 2.0 ** -11, "fc": 2.0 ** -12}
    with pytest.raises(ConfigError, match=r"layer A: .*not a power of two"):
        integer_chain(net, profile(net, scales=odd))
    # the residual (A's output at B's scale) finer than C's accumulator: res_shift < 0
    fine = {"A": 2.0 ** -40, "B": 2.0 ** -30, "C": 2.0 ** -4, "fc": 2.0 ** -12}
    with pytest.raises(ConfigError, match=r"layer C: residual A .*res_shift -?\d+ < 0"):
        integer_chain(net, profile(net, scales=fine))


def test_the_cli_refuses_a_network_the_chain_cannot_map(tmp_path, capsys):
    net = graph()
    bad = graph(relu6=True, clip=6.001)                    # a Clip bound that is no code of the window
    onnx.save(bad.model, str(tmp_path / "bad.onnx"))
    profile(net).save(str(tmp_path / "bad.json"))
    assert cli(["evaluate", "--chain", "--model", str(tmp_path / "bad.onnx"), "--profile", str(tmp_path / "bad.json"),
                "--images", "1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "layer A: Clip bound 6.001 is not a code" in err and err.count("dstripes: error:") == 1
    assert cli(["evaluate", "--chain", "--chip", "--model", "vgg16-hed", "--out", str(tmp_path / "o")]) == 2
    assert "--chip does not apply with --chain" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["vgg16-hed", "resnet50-imgsim"])
def test_fidelity_is_judged_by_the_profile_criterion(model, tmp_path, capsys):
    net = load_network(model, size=32)
    prof = Profile.load(builtin_profile_path(model, "100"))
    chain = integer_chain(net, prof)
    assert len(chain.layers) == len([l for l in net.layers() if not l.fc])
    if model == "resnet50-imgsim":
        adds = [l for l in chain.layers if l.residual is not None]
        assert len(adds) == 16 and chain.layers[0].pool == Pool((3, 3), (2, 2), (1, 1, 1, 1))
    else:
        assert [l.name for l in chain.layers if l.pool] == ["conv1_2", "conv2_2", "conv3_3", "conv4_3"]
    photos = take("heldout", 1)
    f = chain_fidelity(net, prof, chain, photos)
    assert f.criterion == net.criterion and f.threshold == threshold(net.criterion, "100")
    assert f.passed == passes(net.criterion, "100", f.value, 1)
    # the integer chain is about as faithful as the profile's own float run of it
    if net.criterion == "psnr":
        assert abs(f.value - f.profile_value) < 3
    else:
        assert 1 - f.value < 3 * (1 - f.profile_value) + 1e-4
    if model == "vgg16-hed":
        assert cli(["evaluate", "--chain", "--model", model, "--size", "32", "--images", "1", "--json",
                    "--out", str(tmp_path / "o")]) == 0
        d = json.loads(capsys.readouterr().out)
        assert d["chain"] == pytest.approx(f.value) and d["passed"] == f.passed and len(d["chain_layers"]) == 13


def test_resnet50_nsfw_an_nhwc_tensorflow_graph_runs_as_integer_layers():
    """open_nsfw (fixed 224x224 NHWC input): its input Transpose is the host's layout step, its
    TensorFlow stem pool (3x3/2, pads (0, 0, 1, 1)) the accelerator's ceil-mode POOL without
    padding, and the integer chain meets the profile's target on a held-out photo."""
    net = load_network("resnet50-nsfw")
    prof = Profile.load(builtin_profile_path("resnet50-nsfw", "100"))
    chain = integer_chain(net, prof)
    assert chain.input_perm == (2, 0, 1) and len(chain.layers) == len([l for l in net.layers() if not l.fc])
    stem = chain.layers[0]
    assert stem.pool == Pool((3, 3), (2, 2), (0, 0, 1, 1))
    d = stem.pool_descriptor()
    assert (d.pad, d.ceil, d.out_shape) == ((0, 0), True, (64, 56, 56))
    f = chain_fidelity(net, prof, chain, take("heldout", 1))
    assert f.criterion == "psnr" and f.passed and f.value >= threshold("psnr", "100") == 50


def test_the_cli_refuses_a_pool_the_accelerator_cannot_run(tmp_path, capsys):
    """A user's ONNX file whose MaxPool strides 8 (the POOL descriptor's stride field holds 1..7):
    one line naming the layer and the limit, exit 2, before any photo runs."""
    net = graph((9, 8, 0, 0))
    onnx.save(net.model, str(tmp_path / "chain.onnx"))
    profile(net).save(str(tmp_path / "p.json"))
    assert cli(["evaluate", "--chain", "--model", str(tmp_path / "chain.onnx"), "--profile", str(tmp_path / "p.json"),
                "--images", "1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "dstripes: error: layer A: its MaxPool cannot run on the accelerator: pool field sy = 8 is out of range (1..7)")
    assert not (tmp_path / "o").exists()
