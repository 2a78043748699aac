"""int8 QDQ models (issue 22 item 1): the codes captured are the model's own ``q - zero_point``,
read here independently from the QDQ graph; the counts are the golden model's on those codes;
``dstripes quantize`` writes such models; what cannot be mapped is refused in one line."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from dstripes.scripts.cli import main as cli
from dstripes.sim.config import TileConfig
from dstripes.sim.cycles import layer_cycles
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.nets.evaluate import evaluate_network
from dstripes.sim.nets.onnx_capture import OnnxNetwork
from dstripes.sim.nets.profile import model_profile
from dstripes.sim.nets.qdq import codes_dict
from dstripes.sim.nets.quantize import quantize_network

from .test_nets_onnx import _no_run_cache, photos, tiny_model  # noqa: F401

SIZE = 16
#: (activation type, symmetric activations, per-channel weights) of the quantised variants
VARIANTS = {"uint8": ("uint8", False, False), "int8-sym-pc": ("int8", True, True), "int8-asym": ("int8", False, False)}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The tiny float CNN and its int8 variants: ``uint8`` made by the ``quantize`` command on
    the shipped photos, the others by :func:`quantize_network` on a few photos."""
    d = tmp_path_factory.mktemp("int8")
    src = tiny_model(str(d / "float.onnx"))
    out = {"float": src}
    path = str(d / "uint8.onnx")
    assert cli(["quantize", "--model", src, "--size", str(SIZE), "--preprocess", "caffe", "--images", "3",
                "--heldout", "2", "--out", path]) == 0
    assert OnnxNetwork(path, size=SIZE).preprocess == "caffe"  # recorded: the int8 model runs on the same inputs
    out["uint8"] = path
    net = OnnxNetwork(src, size=SIZE)
    for name, (act, sym, pc) in VARIANTS.items():
        if name != "uint8":
            out[name] = quantize_network(net, photos(3, 24), str(d / f"{name}.onnx"), activations=act,
                                         symmetric=sym, per_channel=pc, heldout=photos(2, 24, seed=5)).path
    return out


def _independent_codes(path: str, batch: np.ndarray) -> dict:
    """Per Conv/Gemm node: its activations' codes ``q - zp`` and weight codes ``w - zp`` and the
    activation window, read straight from the QDQ graph and one onnxruntime run that outputs
    each ``q`` (no dstripes code)."""
    m = onnx.load(path)
    g = m.graph
    prod = {o: n for n in g.node for o in n.output}
    init = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    want = {}
    for i, n in enumerate(g.node):
        if n.op_type in ("Conv", "Gemm", "MatMul"):
            a, w = prod[n.input[0]], prod[n.input[1]]
            assert a.op_type == w.op_type == "DequantizeLinear"
            want[n.name or f"{n.op_type}_{i}"] = (a, w)  # the tool's name of an unnamed node
    for a, _ in want.values():
        if a.input[0] not in {o.name for o in g.output}:
            g.output.append(helper.make_empty_tensor_value_info(a.input[0]))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in g.output]
    res = dict(zip(names, sess.run(names, {"image": batch})))
    out = {}
    for layer, (a, w) in want.items():
        q = res[a.input[0]]
        zp = int(init[a.input[2]]) if len(a.input) > 2 else 0
        info = np.iinfo(q.dtype)
        lo, hi = int(info.min) - zp, int(info.max) - zp
        window = (Window(7, 0, False) if lo >= 0 and hi <= 255 else
                  Window(7, 0, True) if lo >= -128 and hi <= 127 else Window(8, 0, True))
        wq = init[w.input[0]].astype(np.int64)
        wzp = init[w.input[2]].astype(np.int64) if len(w.input) > 2 else np.zeros(1, np.int64)
        axis = next((x.i for x in w.attribute if x.name == "axis"), 1)
        shape = [1] * wq.ndim
        shape[axis] = -1
        out[layer] = (q.astype(np.int64) - zp, window, zp, q.dtype.name, wq - wzp.reshape(shape if wzp.size > 1 else ()))
    return out


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_codes_are_the_models_own(models, variant):
    net = OnnxNetwork(models[variant], size=SIZE)
    assert net.int8 and net.float_layers == ()
    batch = net.prepare([im for _, im in photos(2, 24, seed=9)])
    acts = net.forward(batch, capture=True).acts
    mine = _independent_codes(models[variant], batch)
    codes = net.model_codes()
    assert list(codes) == list(mine)
    zps = []
    for name, (q, window, zp, dtype, wcodes) in mine.items():
        got = acts[name]
        assert np.issubdtype(got.dtype, np.integer)
        if name == "first":  # asymmetric pads (0,0,1,1): one extra zero row and column, bottom and right
            assert not got[:, :, -1, :].any() and not got[:, :, :, -1].any()
            got = got[:, :, :-1, :-1]
        np.testing.assert_array_equal(got.reshape(q.shape), q)
        assert codes[name].window == window and codes[name].zero_point == zp and codes[name].dtype == dtype
        w, _ = net.weight_codes(name)
        np.testing.assert_array_equal(w, wcodes.T if name == "fc" and wcodes.shape != w.shape else wcodes)
        zps.append(zp)
    act, sym, pc = VARIANTS[variant]
    assert all(codes[n].weights["per_channel"] == pc for n in codes)
    if act == "uint8":  # ReLU outputs: zero point 0, unsigned codes; the normalised image: shifted
        assert zps[0] != 0 and zps[1:] == [0] * (len(zps) - 1)
        assert codes["first"].window == Window(8, 0, True) and codes["pointwise"].window == Window(7, 0, False)
    elif sym:
        assert zps == [0] * len(zps) and all(c.window == Window(7, 0, True) for c in codes.values())
    else:  # int8 after a ReLU: zero point -128, so q - zp is unsigned 0..255
        assert zps[1:] == [-128] * (len(zps) - 1) and codes["pointwise"].window == Window(7, 0, False)


@pytest.mark.parametrize("variant", ["uint8", "int8-sym-pc"])
def test_counts_are_the_model_on_those_codes(models, variant):
    net = OnnxNetwork(models[variant], size=SIZE)
    prof = model_profile(net)
    ims = photos(2, 24, seed=3)
    cfg = TileConfig(act_bits=prof.act_bits, weight_bits=8)
    ev = evaluate_network(net, prof, ims, cfg, progress=False)
    batch = net.prepare([im for _, im in ims])
    mine = _independent_codes(models[variant], batch)
    for lc in ev.layers():
        q, window, zp, _, _ = mine[lc.name]
        if lc.name == "first":
            q = np.pad(q, ((0, 0), (0, 0), (0, 1), (0, 1)))
        want = layer_cycles(q.reshape(len(ims), lc.layer.c, lc.layer.h, lc.layer.w), lc.layer, window, cfg)
        assert dict(lc.cycles) == dict(want.cycles), lc.name
        d = next(x for x in ev.as_dict()["layers"] if x["name"] == lc.name)["codes"]
        assert d["source"] == "model" and d["zero_point"] == zp and d["bits"] == window.bits
        if zp:  # what the zero point costs: the raw codes q counted too
            raw = layer_cycles(q + zp, lc.layer, Window(7, 0, variant != "uint8"), cfg)
            assert d["zero_point_cost"]["cycles_raw_q"] == raw.cycles["dstripes"]
        else:
            assert "zero_point_cost" not in d


def test_evaluate_command_reports_the_codes(models, tmp_path, capsys):
    assert cli(["evaluate", "--model", models["uint8"], "--size", str(SIZE), "--images", "1", "--no-progress",
                "--jobs", "1", "--out", str(tmp_path / "ev"), "--dump", str(tmp_path / "dump"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["config"]["act_bits"] == 9 and d["config"]["weight_bits"] == 8  # the shifted first layer: 9 bits
    first = d["layers"][0]["codes"]
    assert first["source"] == "model" and first["signed"] and first["zero_point"] != 0
    assert first["weights"]["dtype"] == "int8" and first["weights"]["symmetric"] and not first["symmetric"]
    assert [l["codes"]["symmetric"] for l in d["layers"][1:]] == [False] * 3  # uint8, zero point 0: range [0, max]
    raw = d["raw_codes"]  # the shifted first layer counted on its raw codes q too
    assert raw["layers"] == [d["layers"][0]["name"]]
    cost = first["zero_point_cost"]
    assert raw["total"]["dstripes"] == d["total"]["dstripes"] - cost["cycles"] + cost["cycles_raw_q"]
    assert raw["total"]["stripes"] == d["total"]["stripes"] - d["layers"][0]["stripes"]["cycles"] * 1 // 9
    assert raw["dstripes_over_stripes_8"] == pytest.approx(raw["total"]["stripes"] / d["total"]["dstripes"])
    dump = json.loads((tmp_path / "dump" / "layers.json").read_text())
    assert dump["layers"][0]["zero_point"] == first["zero_point"] and dump["layers"][0]["weight_bits"] == 8
    assert "--act-bits 9 --weight-bits 8" in dump["layers"][0]["cycles"]
    # a float model's layers say their codes come from the profile
    assert cli(["evaluate", "--model", models["float"], "--size", str(SIZE), "--images", "1", "--profile-images",
                "2", "--no-progress", "--jobs", "1", "--out", str(tmp_path / "evf"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {l["codes"]["source"] for l in d["layers"]} == {"profile"}


def test_bad_input_is_one_line(models, tmp_path, capsys):
    def refused(argv, text):
        assert cli(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and text in err[0], err

    out = str(tmp_path / "q.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    refused(["quantize", "--model", str(junk), "--size", "16", "--out", out], "is not a readable ONNX model")
    (tmp_path / "empty").mkdir()
    refused(["quantize", "--model", models["float"], "--size", "16", "--image-dir", str(tmp_path / "empty"),
             "--out", out], "empty")
    refused(["quantize", "--model", models["uint8"], "--size", "16", "--images", "2", "--heldout", "1",
             "--out", out], "already an int8 QDQ model")
    g = helper.make_graph([helper.make_node("Relu", ["image"], ["y"])], "g",
                          [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, str(tmp_path / "relu.onnx"))
    refused(["quantize", "--model", str(tmp_path / "relu.onnx"), "--out", out], "no Conv, Gemm or MatMul layer")
    refused(["quantize", "--model", models["float"], "--size", "16", "--out", str(tmp_path / "q.txt")],
            "must name an .onnx file")
    refused(["profile", "--model", models["uint8"], "--size", "16", "--images", "2", "--heldout", "0",
             "--out", str(tmp_path / "p.json")], "is an int8 QDQ model")
    refused(["evaluate", "--model", models["uint8"], "--size", "16", "--profile", str(tmp_path / "p.json"),
             "--out", str(tmp_path / "e")], "--profile does not apply")
    # the integer chain takes a float model and its power-of-two profile
    refused(["evaluate", "--chain", "--model", models["uint8"], "--size", "16", "--images", "1",
             "--out", str(tmp_path / "c")],
            "evaluate --chain takes a float model")
    refused(["verify", "--chip", "--chain", "--model", models["uint8"], "--size", "16", "--images", "1"],
            "verify --chain takes a float model")
    # evaluate --chip and explore run int8 models on 8-bit tiles: tests/test_chip_int8.py


def _qdq_conv(path, act_scale, act_zp, zp_type=TensorProto.UINT8) -> str:
    """Quantize -> Dequantize -> Conv with int8 weights through their own DequantizeLinear."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.integers(-100, 100, (4, 3, 3, 3)).astype(np.int8), "wq"),
             numpy_helper.from_array(np.float32(0.01), "ws"), numpy_helper.from_array(np.int8(0), "wzp"),
             act_scale, act_zp]
    nodes = [helper.make_node("QuantizeLinear", ["image", act_scale.name, act_zp.name], ["q"], name="quant"),
             helper.make_node("DequantizeLinear", ["q", act_scale.name, act_zp.name], ["x"], name="deq", axis=1),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wzp"], ["w"], name="wdeq"),
             helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


def test_unmappable_quantisation_is_refused(tmp_path):
    per_channel = _qdq_conv(str(tmp_path / "pc.onnx"), numpy_helper.from_array(np.full(3, 0.02, np.float32), "as"),
                            numpy_helper.from_array(np.zeros(3, np.uint8), "az"))
    with pytest.raises(ConfigError, match="Conv node 'conv' reads activations dequantised per channel by "
                                          "DequantizeLinear node 'deq'"):
        OnnxNetwork(per_channel)
    ok = _qdq_conv(str(tmp_path / "ok.onnx"), numpy_helper.from_array(np.float32(0.02), "as"),
                   numpy_helper.from_array(np.uint8(128), "az"))
    net = OnnxNetwork(ok)
    assert net.model_codes()["conv"].window == Window(7, 0, True)  # uint8 with zero point 128: int8 codes
    assert codes_dict(net.model_codes()["conv"])["symmetric"]  # and a symmetric range


def test_verify_runs_the_models_own_weight_codes(models):
    """``verify`` on an int8 model hands the tile the model's weight codes ``w - zp`` (its RTL run,
    on the tile of the model's widths, is docs/usage.md §13's; about two minutes, not run here)."""
    from dstripes.tb.host.verify import layer_weights

    net = OnnxNetwork(models["int8-sym-pc"], size=SIZE)
    prof = model_profile(net)
    for name in net.layer_names():
        np.testing.assert_array_equal(layer_weights(net, prof, name, 8), net.weight_codes(name)[0])
    with pytest.raises(ConfigError, match="8-bit weight codes do not fit 4-bit weights"):
        layer_weights(net, prof, "first", 4)


def test_weights_quantised_in_the_graph_are_folded(tmp_path):
    """A fake-quantised export keeps float weights and quantises them with a QuantizeLinear (here
    per output channel): the codes are what onnxruntime computes for that node."""
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32)
    inits = [numpy_helper.from_array(w, "wf"), numpy_helper.from_array(np.array([0.01, 0.002, 0.004, 0.003],
                                                                                np.float32), "ws"),
             numpy_helper.from_array(np.zeros(4, np.int8), "wzp"), numpy_helper.from_array(np.float32(0.02), "as"),
             numpy_helper.from_array(np.uint8(0), "az")]
    nodes = [helper.make_node("Relu", ["image"], ["r"]),
             helper.make_node("QuantizeLinear", ["r", "as", "az"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "as", "az"], ["x"]),
             helper.make_node("QuantizeLinear", ["wf", "ws", "wzp"], ["wq"], axis=0),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wzp"], ["w"], axis=0),
             helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
                           helper.make_tensor_value_info("wq", TensorProto.INT8, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    path = str(tmp_path / "fake.onnx")
    onnx.save(m, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    wq = sess.run(["wq"], {"image": np.zeros((1, 3, 16, 16), np.float32)})[0]
    net = OnnxNetwork(path)
    codes, op = net.weight_codes("conv")
    np.testing.assert_array_equal(codes, wq.astype(np.int32))
    assert op.per_channel and net.model_codes()["conv"].window == Window(7, 0, False)
