"""int8 QDQ transformers (issue 22): a BERT-style QDQ model's Linear layers and attention products
are read on the model's own codes ``q - zero_point`` (checked here against an independent reading
of the graph), for a model quantised by ONNX Runtime and one with hand-written QDQ nodes and
non-zero zero points; ``dstripes quantize`` makes one of a text model; per-token int8 fidelity;
what cannot be mapped is refused in one line naming the node."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from dstripes.scripts.cli import main as cli
from dstripes.sim.config import TileConfig
from dstripes.sim.cycles import layer_cycles
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.nets.evaluate import evaluate_network
from dstripes.sim.nets.int8_study import int8_profile
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.profile import model_profile
from dstripes.sim.nets.texts import Sentence, TextTokenizer
from dstripes.sim.nets.transformer import TextNetwork, bert_graph, minilm_files

from .test_nets_text import TWO, small_bert

pytestmark = pytest.mark.nets

T = 8  # tokens per sentence
HEADS = 4
LINES = ["The cat sat on the mat while the dog slept.", "Rain fell on the quiet town all night.",
         "She read the letter twice before answering.", "Trains leave the station every hour."]


@pytest.fixture(scope="module")
def tok() -> str:
    return minilm_files()[2]


@pytest.fixture(scope="module")
def float_bert(tmp_path_factory) -> str:
    """A small BERT-style ONNX export with random weights: 2 layers, hidden 32, 4 heads of 8."""
    path = str(tmp_path_factory.mktemp("qbert") / "bert.onnx")
    onnx.save(bert_graph(*small_bert(seed=3)), path)
    return path


def _feeds(tok: str, texts) -> dict:
    ids = TextTokenizer(tok).encode(list(texts), T)
    return {"input_ids": ids[:, 0], "attention_mask": ids[:, 1], "token_type_ids": ids[:, 2]}


def _ort_quantised(src: str, out: str, tok: str) -> str:
    """Quantised elsewhere: ONNX Runtime's quantize_static with its defaults (every operator it
    knows; int8 activations in this version) on two sentences."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class Sentences(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter([_feeds(tok, TWO)])

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(src, out, Sentences(), quant_format=QuantFormat.QDQ, per_channel=True)
    return out


#: The hand-written model's activation codes per product, by its place (cycled): (type, zero point)
HAND_ACTS = [(np.uint8, 100), (np.int8, -5), (np.uint8, 128), (np.int8, 0), (np.uint8, 0)]


def _hand_quantised(src: str, out: str, tok: str) -> str:
    """Hand-written QDQ: QuantizeLinear -> DequantizeLinear on both operands of every MatMul,
    zero points non-zero (:data:`HAND_ACTS`; the softmax output uint8 with zero point 0), weights
    int8 per output channel with zero points -3..3, the attention products' second operands
    uint8 with zero point 90."""
    m = onnx.load(src)
    g = m.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    mm = [n for n in g.node if n.op_type == "MatMul"]
    probe = onnx.ModelProto()
    probe.CopyFrom(m)
    for n in mm:
        for t in n.input:
            if t not in consts:
                probe.graph.output.append(helper.make_empty_tensor_value_info(t))
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in probe.graph.output]
    vals = dict(zip(names, sess.run(names, _feeds(tok, TWO))))
    rng = np.random.default_rng(7)
    nodes, inits = [], []

    def qdq(t, dtype, zp, name):
        x = vals[t]
        lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
        if (dtype, zp) in ((np.uint8, 128), (np.int8, 0)):  # symmetric
            scale = max(-lo, hi) / 127
        elif (dtype, zp) == (np.uint8, 0):  # never negative (softmax)
            scale = hi / 255
        else:  # asymmetric: the zero point given, the range spread over the type
            scale = (hi - lo) / 255
        inits.extend([numpy_helper.from_array(np.array(scale, np.float32), name + ".s"),
                      numpy_helper.from_array(np.array(zp, dtype), name + ".z")])
        nodes.append(helper.make_node("QuantizeLinear", [t, name + ".s", name + ".z"], [name + ".q"], name=name + "/Q"))
        nodes.append(helper.make_node("DequantizeLinear", [name + ".q", name + ".s", name + ".z"], [name + ".dq"],
                                      name=name + "/DQ"))
        return name + ".dq"

    out_nodes = []
    for i, n in enumerate(g.node):
        if n.op_type == "MatMul":
            a, b = n.input
            dtype, zp = (np.uint8, 0) if n.name.endswith("context") else HAND_ACTS[i % len(HAND_ACTS)]
            nodes.clear()
            new_a = qdq(a, dtype, zp, n.name + ".a")
            if b in consts:
                w = consts[b]  # (C, K): per output channel along axis 1
                s = np.abs(w).max(axis=0) / 120
                z = rng.integers(-3, 4, w.shape[1]).astype(np.int8)
                q = np.clip(np.rint(w / s) + z, -128, 127).astype(np.int8)
                inits.extend([numpy_helper.from_array(q, b + ".wq"),
                              numpy_helper.from_array(s.astype(np.float32), b + ".ws"),
                              numpy_helper.from_array(z, b + ".wz")])
                nodes.append(helper.make_node("DequantizeLinear", [b + ".wq", b + ".ws", b + ".wz"], [b + ".wdq"],
                                              name=n.name + ".w/DQ", axis=1))
                new_b = b + ".wdq"
            else:
                new_b = qdq(b, np.uint8, 90, n.name + ".b")
            out_nodes.extend(nodes)
            n.input[:] = [new_a, new_b]
        out_nodes.append(n)
    del g.node[:]
    g.node.extend(out_nodes)
    g.initializer.extend(inits)
    onnx.save(m, out)
    return out


@pytest.fixture(scope="module")
def models(float_bert, tok, tmp_path_factory):
    d = tmp_path_factory.mktemp("qbert-int8")
    return {"ort": _ort_quantised(float_bert, str(d / "ort.onnx"), tok),
            "hand": _hand_quantised(float_bert, str(d / "hand.onnx"), tok)}


def _window(dtype, zp) -> Window:
    info = np.iinfo(dtype)
    lo, hi = int(info.min) - zp, int(info.max) - zp
    return (Window(7, 0, False) if lo >= 0 and hi <= 255 else
            Window(7, 0, True) if lo >= -128 and hi <= 127 else Window(8, 0, True))


def independent_codes(path: str, feeds: dict) -> dict:
    """Per MatMul node, read straight from the graph and one onnxruntime run outputting every
    ``q`` (no dstripes code): the activation codes ``q - zp`` as the tile's input ``(N, heads·C,
    1, T)``, their window, and the weight codes: a Linear's ``(K, C)`` from the constant, an
    attention product's per sentence ``(N, heads·K, C)`` from its second operand's ``q - zp``."""
    m = onnx.load(path)
    g = m.graph
    prod = {o: n for n in g.node for o in n.output}
    init = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    want = {}
    for n in g.node:
        if n.op_type == "MatMul":
            a, b = prod[n.input[0]], prod[n.input[1]]
            assert a.op_type == b.op_type == "DequantizeLinear"
            want[n.name] = (a, b)
            for dq in (a, b):
                if dq.input[0] not in init:
                    g.output.append(helper.make_empty_tensor_value_info(dq.input[0]))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in g.output]
    res = dict(zip(names, sess.run(names, feeds)))
    out = {}
    n = len(feeds["input_ids"])
    for layer, (a, b) in want.items():
        q = res[a.input[0]]
        zp = int(init[a.input[2]])
        codes = q.astype(np.int64) - zp
        c = codes.shape[-1]
        acts = codes.reshape(n, -1, T, c).transpose(0, 1, 3, 2).reshape(n, -1, 1, T)
        if b.input[0] in init:
            wq = init[b.input[0]].astype(np.int64)
            wz = init[b.input[2]].astype(np.int64)
            w = (wq - wz.reshape(1, -1) if wz.size > 1 else wq - wz).T
        else:
            bq = res[b.input[0]].astype(np.int64) - int(init[b.input[2]])
            k = bq.shape[-1]
            w = bq.reshape(n, -1, bq.shape[-2], k).transpose(0, 1, 3, 2).reshape(n, -1, bq.shape[-2])
        out[layer] = (acts, _window(q.dtype, zp), zp, w)
    return out


@pytest.mark.parametrize("which", ["ort", "hand"])
def test_codes_and_cycles_are_the_models_own(models, tok, which):
    net = load_network(models[which], size=T, tokenizer=tok)
    assert isinstance(net, TextNetwork) and net.int8 and net.float_layers == ()
    assert len(net.layers()) == 16 and {net.kind(l.name) for l in net.layers()} == {"linear", "attention"}
    batch = net.prepare(LINES[:3])
    mine = independent_codes(models[which], net.feeds(batch))
    acts = net.forward(batch, capture=True).acts
    codes = net.model_codes()
    assert list(codes) == list(mine)
    for name, (q, window, zp, w) in mine.items():
        assert np.issubdtype(acts[name].dtype, np.integer)
        np.testing.assert_array_equal(acts[name], q)
        assert codes[name].window == window and codes[name].zero_point == zp, name
        if net.kind(name) == "linear":
            np.testing.assert_array_equal(net.weight_codes(name)[0][:, :, 0, 0], w)
        else:
            np.testing.assert_array_equal(net.input_weight_codes(name, batch)[0][..., 0, 0], w)
    if which == "hand":  # every rule of the codes' window is there
        wins = {(c.window, c.zero_point) for c in codes.values()}
        assert (Window(8, 0, True), 100) in wins and (Window(8, 0, True), -5) in wins
        assert (Window(7, 0, True), 128) in wins and (Window(7, 0, True), 0) in wins
        assert codes["l0.context"].window == Window(7, 0, False)  # softmax output, uint8, zero point 0
        assert codes["l0.scores"].weights["zero_point"] == 90 and codes["l0.scores"].weights["bits"] == 9
        assert codes["l0.ffn_in"].weights["per_channel"] and any(codes["l0.ffn_in"].weights["zero_point"])
    # the counts are the golden model's on those codes
    prof = model_profile(net)
    cfg = TileConfig(act_bits=prof.act_bits, weight_bits=9)
    ev = evaluate_network(net, prof, [Sentence(f"s{i}", t) for i, t in enumerate(LINES[:3])], cfg, progress=False)
    for lc in ev.layers():
        q, window, _, _ = mine[lc.name]
        want = layer_cycles(q, lc.layer, window, cfg)
        assert dict(lc.cycles) == dict(want.cycles), lc.name


def test_evaluate_json_and_dump(models, tok, tmp_path, capsys):
    f = tmp_path / "s.txt"
    f.write_text("\n".join(LINES))
    assert cli(["evaluate", "--model", models["hand"], "--tokenizer", tok, "--size", str(T), "--text-file", str(f),
                "--images", "2", "--no-progress", "--jobs", "1", "--json", "--out", str(tmp_path / "ev"),
                "--dump", str(tmp_path / "dump")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["config"]["act_bits"] == 9 and d["config"]["weight_bits"] == 9
    layers = {l["name"]: l for l in d["layers"]}
    c = layers["l0.scores"]["codes"]
    assert c["source"] == "model" and c["weights"]["zero_point"] == 90 and not c["weights"]["per_channel"]
    assert layers["l0.context"]["codes"]["signed"] is False and layers["l0.context"]["codes"]["bits"] == 8
    dump = json.loads((tmp_path / "dump" / "layers.json").read_text())
    net = load_network(models["hand"], size=T, tokenizer=tok)
    batch = net.prepare([LINES[1]])  # the dumped sentence: the first held-out line
    mine = independent_codes(models["hand"], net.feeds(batch))
    for e in dump["layers"]:
        q, _, zp, w = mine[e["layer"]]
        np.testing.assert_array_equal(np.load(e["acts"]), q)
        got = np.load(e["weights"])[..., 0, 0]
        np.testing.assert_array_equal(got, w if w.ndim == 2 else w[0])
        assert e["zero_point"] == zp


def test_quantize_a_text_model(float_bert, tok, tmp_path, capsys):
    """``dstripes quantize`` of a text model: ONNX Runtime's quantiser on the profiling sentences,
    both operands of the attention products quantised too; the int8 model loads with its tokenizer
    (recorded) and is judged on the held-out sentences."""
    f = tmp_path / "s.txt"
    f.write_text("\n".join(LINES * 2))
    out = str(tmp_path / "q.onnx")
    assert cli(["quantize", "--model", float_bert, "--tokenizer", tok, "--size", str(T), "--text-file", str(f),
                "--per-channel", "--json", "--out", out]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["layers"] == 16 and d["float_layers"] == [] and d["calibration_images"] == 4
    assert d["fidelity"]["images"] == 4 and 0.5 < d["fidelity"]["cosine_mean"] <= 1.0
    net = load_network(out, size=T)  # no --tokenizer: the recorded one
    assert net.int8 and net.kind("l1.context") == "attention"
    g = onnx.load(out).graph
    assert {n.op_type for n in g.node if n.op_type not in ("QuantizeLinear", "DequantizeLinear")} >= {"MatMul"}
    prod = {o: n for n in g.node for o in n.output}
    assert all(prod[i].op_type == "DequantizeLinear" for n in g.node if n.op_type == "MatMul" for i in n.input)
    # --exclude leaves a layer in float: not counted, said
    part = str(tmp_path / "x.onnx")
    assert cli(["quantize", "--model", float_bert, "--tokenizer", tok, "--size", str(T), "--text-file", str(f),
                "--heldout", "0", "--exclude", "l1.ffn_out", "--json", "--out", part]) == 0
    x = json.loads(capsys.readouterr().out)
    assert x["layers"] == 15 and x["float_layers"] == ["l1.ffn_out"] and x["fidelity"] is None
    assert cli(["quantize", "--model", float_bert, "--tokenizer", tok, "--size", str(T), "--text-file", str(f),
                "--exclude", "l9.ffn_out", "--out", part]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--exclude l9.ffn_out: not a layer of bert" in err[0], err
    # only the products are quantised: LayerNorm, softmax and GELU read float tensors
    assert not any(prod.get(i) is not None and prod[i].op_type == "DequantizeLinear"
                   for n in g.node if n.op_type in ("LayerNormalization", "Softmax", "Erf") for i in n.input)

def test_per_token_fidelity_is_measured(tok, float_bert):
    """The per-token study runs the graph with each token's own step (per head for attention):
    its fidelity is measured, and one token's large values no longer cost the others their codes."""
    net = load_network(float_bert, size=T, tokenizer=tok)
    cal = [Sentence(f"c{i}", t) for i, t in enumerate(LINES[:2])]
    held = [Sentence(f"h{i}", t) for i, t in enumerate(LINES[2:])]
    per = {s: int8_profile(net, cal, held, s, progress=False).fidelity for s in ("tensor", "token")}
    assert per["token"]["heldout_images"] == 2 and 0.9 < per["token"]["heldout"] <= 1.0
    assert per["token"]["heldout"] > per["tensor"]["heldout"]
    # a per-token run is not a per-tensor run with the same scale (the run cache tells them apart)
    prof = int8_profile(net, cal, [], "token", progress=False)
    batch = net.prepare(LINES[2:])
    q = {"l0.ffn_in": prof.layer("l0.ffn_in").quant}
    tensor = {"l0.ffn_in": int8_profile(net, cal, [], "tensor", progress=False).layer("l0.ffn_in").quant}
    assert not np.array_equal(net.forward(batch, q).output, net.forward(batch, tensor).output)


def test_per_token_run_is_the_numpy_rule(tok, float_bert):
    """The graph's per-token fake quantisation of a layer's input is TokenQuant's codes times each
    token's own step (per head for an attention product): the same network run with that layer's
    input replaced by the numpy result gives the same embeddings."""
    net = load_network(float_bert, size=T, tokenizer=tok)
    prof = int8_profile(net, [Sentence("c", LINES[0])], [], "token", progress=False)
    batch = net.prepare(LINES[1:3])
    for name in ("l0.ffn_in", "l1.context"):
        q = prof.layer(name).quant
        node = net.layer_node(name)
        x = net.tensors(batch, [node.input[0]])[node.input[0]]
        fq = q.apply(net.forward(batch, capture=True).acts[name])  # (N, heads·C, 1, T)
        n, c = x.shape[0], x.shape[-1]
        back = fq.reshape(n, -1, c, T).transpose(0, 1, 3, 2).reshape(x.shape)
        m = onnx.ModelProto()
        m.CopyFrom(net.model)
        g = m.graph
        g.input.append(helper.make_tensor_value_info("xq", onnx.TensorProto.FLOAT, list(x.shape)))
        next(nd for nd in g.node if nd.name == name).input[0] = "xq"
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        want = sess.run([net.output_name], {**net.feeds(batch), "xq": back.astype(np.float32)})[0]
        got = net.forward(batch, {name: q}).output
        np.testing.assert_allclose(got, want, atol=2e-5)
        assert np.abs(got - net.forward(batch).output).max() > 1e-5  # it did quantise


def _edit(src: str, out: str, change) -> str:
    m = onnx.load(src)
    change(m.graph)
    onnx.save(m, out)
    return out


def test_bad_int8_text_models_are_one_line(models, tok, tmp_path, capsys):
    def refused(argv, text):
        assert cli(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("dstripes: error: ") and text in err[0], err

    run = ["--tokenizer", tok, "--size", str(T), "--images", "1", "--no-progress", "--jobs", "1",
           "--out", str(tmp_path / "ev")]

    def float_weights(g):  # l0.ffn_in's weights in float: one operand quantised, the other not
        n = next(n for n in g.node if n.name == "l0.ffn_in")
        n.input[1] = "encoder.layer.0.intermediate.dense.weight_t"
    half = _edit(models["hand"], str(tmp_path / "half.onnx"), float_weights)
    refused(["evaluate", "--model", half, *run], "MatMul node 'l0.ffn_in' reads its activations through "
                                                 "DequantizeLinear node 'l0.ffn_in.a/DQ' but its weights in float")

    def stray_product(g):  # a quantised tensor feeding a product the tool does not map
        g.node.append(helper.make_node("Einsum", ["l0.query.a.dq", "l0.query.a.dq"], ["stray"], name="stray",
                                       equation="ntc,ntc->nt"))
    stray = _edit(models["hand"], str(tmp_path / "stray.onnx"), stray_product)
    refused(["evaluate", "--model", stray, *run],
            "DequantizeLinear node 'l0.query.a/DQ' feeds Einsum node 'stray', a product the tool cannot map")

    def wide_zero_point(g):  # int32 codes and zero point: not a code type the tile takes
        for t in g.initializer:
            if t.name == "l0.value.a.z":
                t.CopyFrom(numpy_helper.from_array(np.array(70000, np.int32), t.name))
    wide = _edit(models["hand"], str(tmp_path / "wide.onnx"), wide_zero_point)
    refused(["evaluate", "--model", wide, *run], "DequantizeLinear node 'l0.value.a/DQ' dequantises int32 codes")

    def per_channel_keys(g):  # the computed operand scaled per channel
        for t in list(g.initializer):
            if t.name in ("l0.scores.b.s", "l0.scores.b.z"):
                v = numpy_helper.to_array(t)
                t.CopyFrom(numpy_helper.from_array(np.full(T, v, v.dtype), t.name))
        for n in g.node:
            if n.name in ("l0.scores.b/Q", "l0.scores.b/DQ"):
                n.attribute.append(helper.make_attribute("axis", -1))
    pc = _edit(models["hand"], str(tmp_path / "pc.onnx"), per_channel_keys)
    refused(["evaluate", "--model", pc, *run], "MatMul node 'l0.scores' multiplies by a computed operand "
                                               "dequantised per channel by DequantizeLinear node 'l0.scores.b/DQ'")
    # a head (P·V reduces over the tokens) that does not fit the tile, on the model's own codes
    refused(["evaluate", "--model", models["hand"], *run[:2], "--size", "40", "--max-reduction", "32", *run[4:]],
            "layer l0.context (conv 160x1x40 -> 32x1x40 k1x1 s1x1 p0x0 g4): layer reduction length 48")
    # codes wider than the tile asked for
    refused(["evaluate", "--model", models["hand"], *run, "--act-bits", "8"],
            "needs 9-bit activations, more than act_bits 8")
    with pytest.raises(ConfigError, match="attention product"):
        load_network(models["hand"], size=T, tokenizer=tok).weight_codes("l0.scores")
