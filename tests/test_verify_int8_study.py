"""``dstripes verify --int8 tensor|token`` (issue 22): the int8 study's codes (one scale per tensor,
or per token and head) through the generated tile, bit-exact and cycle-exact. The codes the tile
is fed are checked against the study's rule computed here from the graph's own tensors (numpy on
onnxruntime's outputs, no dstripes quantisation code), so feeding it another study's codes is
caught; bad input is one line, exit 2, before any build."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from dstripes.hw.design import TileDesign
from dstripes.scripts.cli import main as cli
from dstripes.sim.config import TileConfig
from dstripes.sim.fixed import Window
from dstripes.sim.nets import int8_study
from dstripes.sim.nets.int8_study import int8_profile
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.network import Quant
from dstripes.sim.nets.texts import Sentence, sentences
from dstripes.sim.nets.transformer import bert_graph, minilm_files
from dstripes.tb.host.runs import layer_runs
from dstripes.tb.host.verify import layer_jobs, select_layers

from .test_nets_int8 import _qdq_conv
from .test_nets_onnx import _no_run_cache, tiny_model  # noqa: F401
from .test_nets_text import small_bert

pytestmark = pytest.mark.nets

T = 4  # tokens per sentence
HEADS = 4
CAL = ["The cat sat on the mat while the dog slept.", "Rain fell on the quiet town all night."]
HELD = ["She read the letter twice before answering."]
SMALL = ["--lanes", "4", "--columns", "4", "--rows", "4", "--jobs", "1", "--no-progress"]


@pytest.fixture(scope="module")
def tok() -> str:
    return minilm_files()[2]


@pytest.fixture(scope="module")
def bert(tmp_path_factory) -> str:
    """A small BERT-style float ONNX model with random weights: 2 layers, hidden 32, 4 heads of 8."""
    path = str(tmp_path_factory.mktemp("sbert") / "bert.onnx")
    onnx.save(bert_graph(*small_bert(seed=5)), path)
    return path


def _graph_input(net, name: str, batch) -> np.ndarray:
    """The float input of layer ``name`` as the graph computes it: its node's first operand,
    made a graph output and read from one onnxruntime run (``(N, T, C)``, or ``(N, heads, T, d)``
    for an attention product)."""
    node = next(n for n in net.model.graph.node if n.name == name)
    m = onnx.ModelProto()
    m.CopyFrom(net.model)
    m.graph.output.append(helper.make_tensor_value_info(node.input[0], TensorProto.FLOAT, None))
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run([node.input[0]], net.feeds(batch))[0].astype(np.float64)


def _token_codes(x: np.ndarray, signed: bool) -> np.ndarray:
    """The per-token rule written out: each token's (and head's) largest magnitude to the top of
    the 8-bit window, round half to even, saturated; as ``(N, channels, 1, T)``, heads stacked."""
    top, lo = (127, -128) if signed else (255, 0)
    m = np.abs(x).max(axis=-1, keepdims=True)
    q = np.clip(np.rint(x / np.where(m > 0, m / top, 1.0)), lo, top)
    if q.ndim == 4:  # (N, heads, T, d) -> (N, heads·d, 1, T)
        return q.transpose(0, 1, 3, 2).reshape(q.shape[0], -1, 1, q.shape[2])
    return q.transpose(0, 2, 1)[:, :, None, :]


def _model_cycles(net, name: str, codes: np.ndarray, signed: bool) -> int:
    """The golden model's cycles of the first filter-set of every sentence and head of layer
    ``name`` fed ``codes`` on the 4x4x4 tile (what verify's "model RTL-exact" sums; the weights'
    values do not change a count)."""
    layer = select_layers(net, name)[0]
    w = np.zeros((layer.k, layer.c // layer.conv_groups, layer.kh, layer.kw), np.int32)
    return sum(r.cycles for image in codes.astype(np.int32) for g in range(layer.conv_groups)
               for r in layer_runs(_tile(), layer, Window(7, 0, signed=signed), image, w, conv_group=g))


def _tile(lanes=4) -> TileDesign:
    return TileDesign.of("dstripes", TileConfig(lanes=lanes, columns=4, rows=4, act_bits=8, weight_bits=8))


def _fed(net, prof, names, texts) -> dict:
    """The activation codes verify hands the tile per layer (its jobs, concatenated over sentences)."""
    chosen = select_layers(net, ",".join(names))
    tile = _tile()
    jobs = layer_jobs(net, prof, [(f"s{i}", t) for i, t in enumerate(texts)], chosen, {l.name: tile for l in chosen},
                      simulator="verilator", filter_sets="first", progress=False)
    out = {}
    for j in jobs:
        out.setdefault(j.name.split("[")[0], []).append(j.codes)
    return {n: np.concatenate(c) for n, c in out.items()}


def _study_codes_fed(net, names, texts) -> bool:
    """Whether the codes verify feeds the tile for ``names`` equal the per-token rule on the graph's tensors."""
    prof = int8_profile(net, [Sentence(f"c{i}", t) for i, t in enumerate(CAL)], [], "token", progress=False)
    fed = _fed(net, prof, names, texts)
    batch = net.prepare(texts)
    return all(np.array_equal(fed[n], _token_codes(_graph_input(net, n, batch), prof.layer(n).quant.window.signed))
               for n in names)


def test_verify_int8_token_runs_the_studys_codes(bert, tok, tmp_path, capsys):
    """A Linear layer and an attention product, per token, through a 4x4x4 tile: passed, RTL =
    model, the JSON says which codes ran, and the codes fed are the per-token rule's."""
    assert cli(["verify", "--model", bert, "--tokenizer", tok, "--size", str(T), "--int8", "token",
                "--layers", "l0.ffn_in,l1.scores", "--images", "1", "--profile-images", "2", *SMALL, "--json",
                "--out", str(tmp_path / "v")]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["passed"] and res["int8_study"] == "token"
    assert res["config"]["act_bits"] == res["config"]["weight_bits"] == 8
    assert {l["name"] for l in res["layers"]} == {"l1.scores", "l0.ffn_in"}
    assert all(l["cycles_rtl"] == l["cycles_model"] > 0 and l["mismatches"] == 0 and l["results_checked"] > 0
               for l in res["layers"])
    net = load_network(bert, size=T, tokenizer=tok)
    assert _study_codes_fed(net, ["l0.ffn_in", "l1.scores", "l1.context"], HELD + CAL[:1])
    # the command's own run: its model counts are those of the per-token rule on its sentences
    assert _command_matches_rule(res, net)
    # the same layers per tensor: other codes (fewer cycles on Dynamic Stripes), the JSON says so
    assert cli(["verify", "--model", bert, "--tokenizer", tok, "--size", str(T), "--int8", "tensor",
                "--layers", "l0.ffn_in", "--images", "1", "--profile-images", "2", *SMALL, "--json",
                "--out", str(tmp_path / "t")]) == 0
    ten = json.loads(capsys.readouterr().out)
    assert ten["passed"] and ten["int8_study"] == "tensor"
    tok_ffn = next(l for l in res["layers"] if l["name"] == "l0.ffn_in")
    assert ten["layers"][0]["cycles_rtl"] == ten["layers"][0]["cycles_model"] != tok_ffn["cycles_rtl"]


def _command_matches_rule(res: dict, net) -> bool:
    """Whether every layer's model count in ``verify --int8 token``'s JSON ``res`` is the
    per-token rule's on the command's sentences (two profiling ones calibrate, one held-out runs)."""
    cal, held = net.prepare([s.text for s in sentences("profile")[:2]]), net.prepare([sentences("heldout")[0].text])
    ok = True
    for layer in res["layers"]:
        signed = bool(_graph_input(net, layer["name"], cal).min() < 0)
        codes = _token_codes(_graph_input(net, layer["name"], held), signed)
        ok &= layer["cycles_model"] == _model_cycles(net, layer["name"], codes, signed)
    return ok


def test_per_tensor_codes_fed_for_token_are_caught(bert, tok, tmp_path, capsys, monkeypatch):
    """A fault: the study's per-token quantiser swapped for one scale per tensor (the tile fed
    per-tensor codes when token was asked). The RTL still agrees with the model on those codes,
    but the codes fed and the command's counts no longer match the per-token rule."""
    net = load_network(bert, size=T, tokenizer=tok)

    def per_tensor(scale, window, groups=1):
        return Quant(scale, window)
    monkeypatch.setattr(int8_study, "TokenQuant", per_tensor)
    assert not _study_codes_fed(net, ["l0.ffn_in"], HELD)
    assert not _study_codes_fed(net, ["l1.scores"], HELD)
    assert cli(["verify", "--model", bert, "--tokenizer", tok, "--size", str(T), "--int8", "token",
                "--layers", "l0.ffn_in", "--images", "1", "--profile-images", "2", *SMALL, "--json",
                "--out", str(tmp_path / "v")]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["passed"] and not _command_matches_rule(res, net)


def test_verify_int8_tensor_on_a_cnn(tmp_path, capsys):
    """An image network per tensor (and per token: one scale per pixel over the channels, as the
    study allows for CNNs) through a 4x4x4 tile: passed, RTL = model, the JSON names the codes."""
    model = tiny_model(str(tmp_path / "tiny.onnx"))
    for scales in ("tensor", "token"):
        assert cli(["verify", "--model", model, "--size", "16", "--int8", scales, "--layers", "first,pointwise",
                    "--images", "1", "--profile-images", "2", *SMALL, "--json", "--out", str(tmp_path / scales)]) == 0
        res = json.loads(capsys.readouterr().out)
        assert res["passed"] and res["int8_study"] == scales and len(res["layers"]) == 2
        assert all(l["cycles_rtl"] == l["cycles_model"] > 0 for l in res["layers"])


def test_bad_int8_input_is_one_line(bert, tok, tmp_path, capsys):
    def refused(argv, text):
        try:
            code = cli(argv)
        except SystemExit as e:  # a value argparse refuses (not one of the choices)
            code = e.code
        assert code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("dstripes: error: ") and text in err[0], err

    run = ["verify", "--model", bert, "--tokenizer", tok, "--size", str(T), "--layers", "l0.ffn_in",
           "--images", "1", *SMALL, "--out", str(tmp_path / "v")]
    refused([*run, "--int8", "bogus"], "bogus")
    prof = tmp_path / "p.json"
    prof.write_text("{}")
    refused([*run, "--int8", "token", "--profile", str(prof)], "--profile does not apply")
    refused([*run, "--int8", "token", "--act-bits", "16"], "--act-bits 16 does not apply")
    refused([*run, "--int8", "tensor", "--weight-bits", "4"], "--weight-bits 4 does not apply")
    refused([*run, "--int8", "tensor", "--chip"], "--chip does not apply")
    qdq = _qdq_conv(str(tmp_path / "q.onnx"), numpy_helper.from_array(np.float32(0.02), "as"),
                    numpy_helper.from_array(np.uint8(128), "az"))
    refused(["verify", "--model", qdq, "--int8", "tensor", "--images", "1", *SMALL, "--out", str(tmp_path / "q")],
            "has its own")
    assert not list((tmp_path).glob("v/*.json"))  # refused before any work
