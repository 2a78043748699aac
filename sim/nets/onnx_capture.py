"""ONNX front-end: any ONNX CNN (a user's own network) through onnxruntime.

Layers are the graph's ``Conv`` nodes and its fully-connected nodes (``Gemm``, or ``MatMul``
by a constant matrix) whose weights are constants, in graph (topological) order; a layer is
named after its node (``<op>_<index>`` when the node is unnamed).

* **Capture**: a copy of the graph also outputs every layer's input tensor.
* **Quantised runs**: a copy of the graph inserts, in front of each quantised layer, the subgraph
  ``Mul(Min(Max(Round(Div(x, step)), lo), hi), step)`` whose ``step``, ``lo`` and ``hi`` are
  extra scalar graph inputs, so one session serves every window tried for those layers.
  ``Round`` is round-half-even like :func:`sim.fixed.quantize`; it needs opset 11, so older
  models are converted to opset 13 first.
* **Asymmetric padding** (``pads`` with begin != end, ``auto_pad=SAME_*``): the layer keeps
  the smaller, symmetric part and the captured input gets the rest as explicit zero rows and
  columns, which the tile reads exactly like padding: windows and steps are unchanged.

Inputs may be NCHW or NHWC (found from the input's 3-channel axis). A model that fixes its
input size runs at that size (asking for another one is an error); a model that fixes its batch
dimension (``torch.onnx.export`` without ``dynamic_axes`` fixes it at 1) is run that many photos
at a time. Dilated convolutions (``dilations``) are modelled.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import ConfigError, ToolError
from ..layer import Layer
from .network import Network, Output
from .qdq import ModelCodes, Operand, dequantised_weights, is_qdq, read_layers

MIN_OPSET = 11
#: Metadata keys of a model's input normalisation and fidelity criterion (``dstripes quantize``
#: records the float network's, so its int8 model runs on the same inputs by default).
META_PREPROCESS, META_CRITERION = "dstripes.preprocess", "dstripes.criterion"
#: Metadata key of a text model's tokenizer file (``dstripes quantize`` records the float text
#: model's, the default ``--tokenizer`` of its int8 model).
META_TOKENIZER = "dstripes.tokenizer"
QUANT_SESSIONS = 3  # quantised-graph sessions kept (one per set of quantised layers)
CONVERT_TO = 13
#: Operators of an integer-quantised graph in QOperator format, or quantised at run time: such a
#: model is refused (a QDQ model, :mod:`.qdq`, is modelled with its own codes).
INT_OPS = ("DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul",
           "ConvInteger", "MatMulInteger", "QGemm", "QLinearAdd", "QLinearMul", "QLinearGlobalAveragePool",
           "QLinearAveragePool", "QLinearConcat", "QLinearSigmoid", "QLinearLeakyRelu", "QLinearSoftmax")
#: What the front-end models (said by every refusal of a model it cannot handle yet).
MODELLED = "only float image CNNs are modelled yet: Conv and fully-connected layers on one image each"


def require_onnx():
    """The ``onnx`` and ``onnxruntime`` modules, or a :class:`ConfigError` saying how to install
    them (the ``nets`` extra)."""
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise ConfigError("onnx and onnxruntime are not installed (pip install -e '.[nets]')") from None
    return onnx, onnxruntime


def load_model(path: str):
    """Load and sanity-check an ONNX file; every failure is a one-line :class:`ConfigError`."""
    onnx, _ = require_onnx()
    if not os.path.isfile(path):
        raise ConfigError(f"ONNX model not found: {path}")
    if os.path.getsize(path) == 0:
        raise ConfigError(f"{path} is not a readable ONNX model (the file is empty: 0 bytes)")
    try:
        model = onnx.load(path, load_external_data=False)
        _check_external_data(path, model)
        onnx.external_data_helper.load_external_data_for_model(model, os.path.dirname(os.path.abspath(path)))
    except ConfigError:
        raise
    except Exception as e:  # protobuf DecodeError, truncated files, external-data errors
        raise ConfigError(f"{path} is not a readable ONNX model ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'corrupt'})") from None
    if not model.graph.node:
        raise ConfigError(f"{path} is not a readable ONNX model (empty graph)")
    return model


def _check_external_data(path: str, model) -> None:
    """The files that hold the weights of a model saved with external data (the default of
    ``torch.onnx.export``: ``my_net.onnx.data`` beside ``my_net.onnx``) must be there, whole."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data
    folder = os.path.dirname(os.path.abspath(path))
    need: dict[str, int] = {}
    for t in model.graph.initializer:
        if uses_external_data(t):
            info = ExternalDataInfo(t)
            end = (info.offset or 0) + (info.length or 0)
            need[info.location] = max(need.get(info.location, 0), end)
    for location, end in need.items():
        where = os.path.join(folder, location)
        if not os.path.isfile(where):
            raise ConfigError(f"{path} keeps its weights in {location}, which is not beside it (keep the "
                              f"two files together)")
        size = os.path.getsize(where)
        if size < end:
            raise ConfigError(f"{path}: its weights file {location} holds {size:,} bytes, fewer than the "
                              f"{end:,} the model points into (truncated)")


def is_int8_file(path: str) -> bool:
    """Whether ``path`` is an ONNX file of an int8 QDQ model (:func:`.qdq.is_qdq`), read without
    its weights; anything else (a built-in's name, an unreadable file) is not."""
    onnx, _ = require_onnx()
    if not (os.path.isfile(path) and path.lower().endswith(".onnx")):
        return False
    try:
        return is_qdq(onnx.load(path, load_external_data=False).graph)
    except Exception:  # not a readable model: load_model says why, when it is loaded
        return False


def guess_criterion(output: np.ndarray) -> str:
    """``top1`` for an ImageNet-sized class vector ``(N, 1000|1001)``, otherwise ``cosine``."""
    return "top1" if output.ndim == 2 and output.shape[1] in (1000, 1001) else "cosine"


def graph_constants(graph) -> dict:
    """``name -> TensorProto`` of a graph's constants: its initialisers and ``Constant`` nodes."""
    consts = {t.name: t for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            consts[n.output[0]] = n.attribute[0].t
    return consts


def _attrs(node) -> dict:
    onnx, _ = require_onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _called(node, index: int) -> str:
    """How messages name a graph node: its name, else its place in the graph."""
    return repr(node.name) if node.name else f"#{index} (unnamed)"


def _refuse_integer_graph(path: str, graph) -> None:
    """Refuse a graph quantised in QOperator format (``QLinearConv``, ...) or at run time
    (``DynamicQuantizeLinear``), naming its first such node; QDQ graphs are modelled (:mod:`.qdq`)."""
    for i, n in enumerate(graph.node):
        if n.op_type in INT_OPS:
            how = ("quantises activations at run time (dynamic quantisation)" if n.op_type == INT_OPS[0] else
                   "belongs to an integer-quantised model in QOperator format")
            raise ConfigError(f"{path}: {n.op_type} node {_called(n, i)} {how}, not supported; give the QDQ "
                              f"format (dstripes quantize writes it) or the float model")


class OnnxNetwork(Network):
    """An ONNX model as a network front-end.

    Parameters
    ----------
    model : str or onnx.ModelProto
        ``.onnx`` file, or a loaded model.
    name : str, optional
        Report name (default: the file name without extension).
    criterion : str, optional
        Fidelity criterion (default :func:`guess_criterion` of the model's first output).
    size : int, optional
        Input height and width (default 224). A model that fixes them runs at its own size, and
        another ``size`` is an error.
    preprocess : str, optional
        Input normalisation (:data:`.images.PREPROCESS`; default: the one the model records in
        its metadata, :data:`META_PREPROCESS`, as ``dstripes quantize`` writes it, else
        ``imagenet``). A recorded fidelity criterion (:data:`META_CRITERION`) is likewise the
        default ``criterion``.
    rename : callable, optional
        ``rename(default_name) -> name or None``: report name of each candidate layer; ``None``
        leaves the node unmodelled (it runs in float and is not reported).
    """

    def __init__(self, model, name: str | None = None, criterion: str | None = None,
                 size: int | None = None, preprocess: str | None = None, rename=None):
        onnx, ort = require_onnx()
        if isinstance(model, onnx.ModelProto):
            path = name or "<in-memory ONNX model>"
        else:
            path, model = str(model), load_model(str(model))
        opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
        if opset < MIN_OPSET:
            from onnx import version_converter
            try:
                model = version_converter.convert_version(model, CONVERT_TO)
            except Exception as e:
                raise ConfigError(f"{path}: cannot convert opset {opset} to {CONVERT_TO} for the "
                                  f"quantisation ops ({str(e).splitlines()[0]})") from None
        self.path, self.model = path, model
        meta = {p.key: p.value for p in model.metadata_props}
        preprocess = preprocess or meta.get(META_PREPROCESS) or "imagenet"
        criterion = criterion or meta.get(META_CRITERION)
        g = model.graph
        self._consts = graph_constants(g)
        inputs = [i for i in g.input if i.name not in self._consts]
        for i in inputs:
            kind = i.type.tensor_type.elem_type
            if kind != onnx.TensorProto.FLOAT:
                dtype = onnx.TensorProto.DataType.Name(kind).lower() if kind else "not a tensor"
                if dtype.startswith(("int", "uint")):
                    raise ConfigError(f"{path}: input {i.name} is {dtype} (token ids, as a language model takes), "
                                      f"not a float32 image batch; a text model runs as one (input_ids, "
                                      f"attention_mask, token_type_ids, with its --tokenizer: sim/nets/transformer.py)")
                raise ConfigError(f"{path}: input {i.name} is {dtype}, not a float32 image batch; {MODELLED}")
        _refuse_integer_graph(path, g)
        self._qdq = {}  # node output -> QdqLayer, for a QDQ graph
        if is_qdq(g):
            try:
                self._qdq = read_layers(g, self._consts)
            except ConfigError as e:
                raise ConfigError(f"{path}: {e}") from None
            dequantised_weights(g, self._qdq, self._consts)  # the float weights, for the shapes
        if len(inputs) != 1:
            raise ConfigError(f"{path}: expected one image input, found {len(inputs)} "
                              f"({', '.join(i.name for i in inputs)})")
        inp = inputs[0]
        dims = [d.dim_value if d.HasField("dim_value") else None for d in inp.type.tensor_type.shape.dim]
        if len(dims) != 4:
            raise ConfigError(f"{path}: input {inp.name} has rank {len(dims)}, expected an image batch of rank 4")
        if dims[1] == 3:
            self.layout, hw = "NCHW", dims[2:]
        elif dims[3] == 3:
            self.layout, hw = "NHWC", dims[1:3]
        else:
            raise ConfigError(f"{path}: input {inp.name} {dims} has no 3-channel axis (NCHW or NHWC)")
        if hw[0] and hw[1]:
            if hw[0] != hw[1]:
                raise ConfigError(f"{path}: input {hw[0]}x{hw[1]} is not square")
            if size is not None and size != hw[0]:
                raise ConfigError(f"{path} fixes its input at {hw[0]}x{hw[0]}: size {size} does not "
                                  f"apply (leave it out to use {hw[0]})")
            size = hw[0]
        size = 224 if size is None else size
        #: photos per session run: the model's fixed batch dimension, or None (any)
        self.fixed_batch = dims[0] if dims[0] else None
        self.input_name = inp.name
        self.output_name = g.output[0].name
        self._nodes = self._find_layers(rename)
        #: layers of a QDQ model left in float (not both operands through a DequantizeLinear): not modelled
        self.float_layers = ()
        if self._qdq:
            quantised = [(name, n) for name, n in self._nodes if self._codes_of(n) is not None]
            self.float_layers = tuple(name for name, n in self._nodes if self._codes_of(n) is None)
            if not quantised:
                raise ConfigError(f"{path}: an int8 QDQ model none of whose Conv, Gemm or MatMul layers reads both "
                                  f"its activations and its weights through DequantizeLinear; {MODELLED}")
            self._nodes = quantised
        super().__init__(name or os.path.splitext(os.path.basename(path))[0], criterion or "cosine",
                         size, preprocess)
        self.source = f"ONNX model {os.path.basename(path)}"
        self._capture = None
        self._quant = {}
        self._geometry = {}
        if criterion is None:
            self.criterion = guess_criterion(self._plain(self.prepare([np.zeros((size, size, 3), np.uint8)])))

    # -- graph inspection -------------------------------------------------------------------
    @property
    def int8(self) -> bool:
        """Whether the layers' codes are the model's own (an int8 QDQ model, :mod:`.qdq`)."""
        return bool(self._qdq)

    def _codes_of(self, node):
        """The :class:`.qdq.QdqLayer` of a layer node whose two operands are quantised, or None."""
        ql = self._qdq.get(node.output[0])
        return ql if ql is not None and ql.acts is not None and ql.weights is not None else None

    def _fetch(self, node) -> str:
        """The tensor captured for a layer: its input, or for a QDQ layer the integer codes ``q``
        feeding its activations' DequantizeLinear."""
        ql = self._codes_of(node) if self._qdq else None
        return node.input[0] if ql is None else ql.acts.tensor

    def _const(self, name: str):
        onnx, _ = require_onnx()
        t = self._consts.get(name)
        return None if t is None else onnx.numpy_helper.to_array(t)

    def _find_layers(self, rename=None) -> list:
        """``(name, node)`` of every modelled layer, in graph order."""
        out, used, passed = [], set(), []  # passed: (node, why) of the products that are not layers
        for i, n in enumerate(self.model.graph.node):
            if n.op_type == "Conv":
                pass
            elif n.op_type == "Gemm":
                a = _attrs(n)
                if a.get("transA", 0) or n.input[1] not in self._consts:
                    passed.append((_called(n, i), "transposes its input" if a.get("transA", 0) else
                                   "multiplies by computed (non-constant) weights"))
                    continue
            elif n.op_type == "MatMul":
                w = self._consts.get(n.input[1])
                if w is None or len(w.dims) != 2:
                    passed.append((_called(n, i), "multiplies two computed tensors" if w is None else
                                   f"multiplies by {len(w.dims)}-d constant weights (a batched product)"))
                    continue
            else:
                continue
            name = n.name or f"{n.op_type}_{i}"
            if rename is not None:
                name = rename(name)
                if name is None:
                    continue
            if n.op_type == "Conv" and n.input[1] not in self._consts:
                raise ConfigError(f"{self.path}: Conv node {_called(n, i)} {self._weights_from(n.input[1])}")
            while name in used:
                name += "_"
            used.add(name)
            out.append((name, n))
        if not out:
            why = ""
            if passed:
                node, reason = passed[0]
                why = f"; its first product, node {node}, {reason}"
            raise ConfigError(f"{self.path}: no Conv, Gemm or MatMul layer with constant weights{why}; {MODELLED}")
        return out

    def _weights_from(self, tensor: str) -> str:
        """Why a Conv's weights ``tensor`` are not a constant, as the end of a sentence: the node
        that makes them, and whether it only rearranges constants (a graph to fold first) or
        works on the input."""
        g = self.model.graph
        producers = {o: (i, n) for i, n in enumerate(g.node) for o in n.output}
        if tensor not in producers:
            return f"takes its weights {tensor!r} as a graph input, not a constant; {MODELLED}"
        i, n = producers[tensor]
        seen, todo, from_input = set(), [tensor], False
        while todo:
            t = todo.pop()
            if t in seen or t in self._consts:
                continue
            seen.add(t)
            if t in producers:
                todo.extend(x for x in producers[t][1].input if x)
            else:
                from_input = True
        how = ("computes them from the network's input" if from_input else
               "computes them from constants (fold the constants first, e.g. with onnxruntime's offline "
               "graph optimisation, or export the weights as initialisers)")
        return f"takes weights {tensor!r} made by {n.op_type} node {_called(n, i)}, which {how}"

    def _layer(self, name: str, node, in_shape: tuple) -> tuple[Layer, tuple]:
        """The layer and the extra (top, bottom, left, right) zero padding of its captured input."""
        w = self._const(node.input[1])
        if node.op_type in ("Gemm", "MatMul"):
            if len(in_shape) != 2:
                shape = "x".join(str(int(v)) for v in in_shape)
                what = (f"a sequence of {int(in_shape[-2])} vectors per photo (tokens, as in a transformer)"
                        if len(in_shape) == 3 else f"a {len(in_shape)}-d tensor")
                raise ConfigError(f"{self.path}: {node.op_type} node {name!r} multiplies a {shape} input, "
                                  f"{what}, not one vector per photo; {MODELLED}")
            trans = node.op_type == "Gemm" and _attrs(node).get("transB", 0)
            k = w.shape[0] if trans else w.shape[1]
            return Layer(int(in_shape[1]), 1, 1, int(k), fc=True, name=name), (0, 0, 0, 0)
        if len(in_shape) != 4:
            raise ConfigError(f"{self.path}: Conv node {name!r} is a {len(in_shape) - 2}-d convolution (input "
                              f"{'x'.join(str(int(v)) for v in in_shape)}); only 2-d convolutions are modelled")
        a = _attrs(node)
        dy, dx = (int(v) for v in a.get("dilations", [1, 1]))
        _, c, h, wd = (int(v) for v in in_shape)
        k, _, kh, kw = w.shape
        sy, sx = a.get("strides", [1, 1])
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            pads = []
            for size, kk, s in ((h, dy * (kh - 1) + 1, sy), (wd, dx * (kw - 1) + 1, sx)):
                total = max((-(-size // s) - 1) * s + kk - size, 0)
                small = total // 2
                pads.append((small, total - small) if auto == "SAME_UPPER" else (total - small, small))
            (t, b), (l, r) = pads
        elif auto == "VALID":
            t = b = l = r = 0
        else:
            t, l, b, r = a.get("pads", [0, 0, 0, 0])
        py, px = min(t, b), min(l, r)
        layer = Layer(c, h + (t - py) + (b - py), wd + (l - px) + (r - px), int(k), int(kh), int(kw),
                      int(sy), int(sx), int(py), int(px), conv_groups=int(a.get("group", 1)), name=name,
                      dy=dy, dx=dx)
        return layer, (t - py, b - py, l - px, r - px)

    # -- sessions -----------------------------------------------------------------------------
    def _session(self, model):
        _, ort = require_onnx()
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        threads = os.environ.get("DSTRIPES_ORT_THREADS")  # set to 1 in Dask workers (sim/nets/runs.py)
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        try:
            return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise ConfigError(f"{self.path}: onnxruntime cannot run the model ({str(e).splitlines()[0]})") from None

    def _capture_session(self):
        if self._capture is None:
            onnx, _ = require_onnx()
            m = onnx.ModelProto()
            m.CopyFrom(self.model)
            have = {o.name for o in m.graph.output}
            for _, node in self._nodes:
                t = self._fetch(node)
                if t != self.input_name and t not in have:
                    m.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
                    have.add(t)
            self._capture = self._session(m)
        return self._capture

    #: Whether a layer's input may be quantised per token (:meth:`_quant_session`): its last axis
    #: holds one token's values (a text network's), not an image's.
    TOKENS = False

    def _quant_session(self, names: frozenset, tokens: frozenset = frozenset()):
        """Session quantising the inputs of the layers ``names``; ``step``, ``lo`` and ``hi``
        of each are scalar graph inputs, so one session serves every window of those layers.
        A layer of ``tokens`` takes a step per token (per head) instead, computed in the graph from
        its own values: ``max|x|`` over the last axis over ``hi`` (:class:`.int8_study.TokenQuant`);
        its ``step`` is ``None``.

        Only the named layers get quantisation nodes: a graph with (disabled) nodes in front of
        every layer runs 2-3x slower. Sessions are cached for the last few layer sets, which
        suits the profile search (one layer at a time, then all together).
        """
        key = (names, tokens)
        if key in self._quant:
            self._quant[key] = self._quant.pop(key)  # most recently used last
            return self._quant[key]
        if tokens and not self.TOKENS:
            raise ConfigError(f"{self.name}: per-token quantisation needs a text network (its inputs' last axis "
                              f"holds a token's values)")
        onnx, _ = require_onnx()
        h, P = onnx.helper, onnx.TensorProto
        m = onnx.ModelProto()
        m.CopyFrom(self.model)
        opset = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=0)
        by_output = {n.output[0]: name for name, n in self._nodes if name in names}
        inputs = {}
        nodes = []
        for n in m.graph.node:
            name = by_output.get(n.output[0]) if n.op_type in ("Conv", "Gemm", "MatMul") else None
            if name is not None:
                p = f"dstripes_q{len(inputs)}_"
                step, lo, hi = (p + s for s in ("step", "lo", "hi"))
                x = n.input[0]
                if name in tokens:  # step = max(max|x| over the token's values / hi, tiny)
                    step = None
                    m.graph.initializer.append(onnx.numpy_helper.from_array(np.array(1e-30, np.float32), p + "tiny"))
                    axes = {"axes": [-1]}
                    if opset >= 18:
                        m.graph.initializer.append(onnx.numpy_helper.from_array(np.array([-1], np.int64), p + "axes"))
                        axes = {}
                    nodes += [h.make_node("Abs", [x], [p + "abs"]),
                              h.make_node("ReduceMax", [p + "abs"] + ([] if axes else [p + "axes"]), [p + "top"],
                                          keepdims=1, **axes),
                              h.make_node("Div", [p + "top", hi], [p + "tstep"]),
                              h.make_node("Max", [p + "tstep", p + "tiny"], [p + "step"])]
                for s in (step, lo, hi):
                    if s is not None:
                        m.graph.input.append(h.make_tensor_value_info(s, P.FLOAT, []))
                step = step or p + "step"
                nodes += [h.make_node("Div", [x, step], [p + "d"]),
                          h.make_node("Round", [p + "d"], [p + "r"]),
                          h.make_node("Max", [p + "r", lo], [p + "max"]),
                          h.make_node("Min", [p + "max", hi], [p + "min"]),
                          h.make_node("Mul", [p + "min", step], [p + "q"])]
                n.input[0] = p + "q"
                inputs[name] = (None if name in tokens else step, lo, hi)
            nodes.append(n)
        del m.graph.node[:]
        m.graph.node.extend(nodes)
        while len(self._quant) >= QUANT_SESSIONS:
            self._quant.pop(next(iter(self._quant)))
        self._quant[key] = (self._session(m), inputs)
        return self._quant[key]

    def _quant_feeds(self, quant: dict) -> tuple:
        """The session quantising the layers of ``quant`` (:meth:`_quant_session`) and the feeds
        of their steps and limits."""
        sess, inputs = self._quant_session(frozenset(quant), frozenset(n for n, q in quant.items() if q.per_token))
        feed = {}
        for name, (step, lo, hi) in inputs.items():
            q = quant[name]
            low, high = q.limits
            feed[lo], feed[hi] = np.array(low, np.float32), np.array(high, np.float32)
            if step is not None:
                feed[step] = np.array(q.step, np.float32)
        return sess, feed

    # -- Network API --------------------------------------------------------------------------
    def _layout(self, x):
        return np.ascontiguousarray(x if self.layout == "NHWC" else x.transpose(0, 3, 1, 2))

    def _runs(self, session, names: list, feed: dict) -> list:
        """``session.run(names, feed)``, the image batch split into the model's fixed batch size
        (the last part padded with copies of its last photo, whose outputs are dropped)."""
        batch = feed[self.input_name]
        b = self.fixed_batch
        if b is None or len(batch) == b:
            return self._run_once(session, names, feed)
        parts = []
        for i in range(0, len(batch), b):
            part = batch[i:i + b]
            n = len(part)
            if n < b:
                part = np.concatenate([part, np.repeat(part[-1:], b - n, axis=0)])
            out = self._run_once(session, names, {**feed, self.input_name: part})
            parts.append([o[:n] for o in out])
        return [np.concatenate([p[j] for p in parts]) for j in range(len(names))]

    def _run_once(self, session, names: list, feed: dict) -> list:
        try:
            return session.run(names, feed)
        except Exception as e:  # onnxruntime's own exception types (Fail, InvalidArgument, ...)
            line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ToolError(f"onnxruntime failed to run {self.path}: {line}") from None

    def _plain(self, batch) -> np.ndarray:
        out = self._runs(self._capture_session(), [self.output_name], {self.input_name: batch})[0]
        return np.asarray(out, dtype=np.float64)

    def _discover(self, probe):
        names = [self.output_name] + [self._fetch(n) for _, n in self._nodes if self._fetch(n) != self.input_name]
        res = dict(zip(names, self._runs(self._capture_session(), names, {self.input_name: probe})))
        res[self.input_name] = probe
        layers = []
        for name, node in self._nodes:
            x = res[self._fetch(node)]
            if self._qdq and x.dtype.name != self._codes_of(node).acts.dtype:
                raise ConfigError(f"{self.path}: layer {name!r} reads {x.dtype.name} codes through DequantizeLinear "
                                  f"node {self._codes_of(node).acts.node}, not the "
                                  f"{self._codes_of(node).acts.dtype} its graph declares")
            layer, pad = self._layer(name, node, x.shape)
            self._geometry[name] = pad
            layers.append(layer)
        return layers

    def _run(self, batch, quant, capture):
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        self.layers()  # geometry of every layer
        if not quant:
            names = [self.output_name]
            if capture:
                names += list(dict.fromkeys(self._fetch(n) for _, n in self._nodes if self._fetch(n) != self.input_name))
            res = dict(zip(names, self._runs(self._capture_session(), names, {self.input_name: batch})))
            res[self.input_name] = batch
            acts = {}
            if capture:
                for name, node in self._nodes:
                    x = res[self._fetch(node)]
                    if self._qdq:
                        x = self._codes_of(node).acts.codes(x).astype(np.int16)
                    acts[name] = self._adapt(name, x)
            return Output(np.asarray(res[self.output_name], dtype=np.float64), acts)
        if capture:
            raise ConfigError("capture of quantised runs is not supported; capture the float run")
        if self._qdq:
            raise ConfigError(f"{self.path} is an int8 QDQ model: its layers read the model's own codes, which "
                              f"dstripes evaluate counts as they are; it is not quantised again per profile")
        sess, feed = self._quant_feeds(quant)
        feed[self.input_name] = batch
        out = self._runs(sess, [self.output_name], feed)[0]
        return Output(np.asarray(out, dtype=np.float64), {})

    def _adapt(self, name: str, x: np.ndarray) -> np.ndarray:
        """Captured tensor -> the layer's input layout (FC: (N, C, 1, 1); extra zero padding).
        Integer codes (a QDQ model's ``q - zero_point``) keep their type; float becomes float32."""
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.float32)
        if x.ndim == 2:
            return x.reshape(x.shape[0], -1, 1, 1)
        t, b, l, r = self._geometry[name]
        if t or b or l or r:
            x = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))
        return x

    def feeds(self, batch: np.ndarray) -> dict:
        """The graph inputs of a prepared ``batch`` (:meth:`prepare`), by name."""
        return {self.input_name: batch}

    def variant(self, path: str, name: str):
        """The network of another ONNX file of this model (its int8 variant) with the same inputs."""
        return OnnxNetwork(path, name=name, size=self.size)

    def layer_node(self, name: str):
        """The graph node (``onnx.NodeProto``) of layer ``name``."""
        return self._node(name)

    def _node(self, name: str):
        for n, node in self._nodes:
            if n == name:
                return node
        raise ConfigError(f"network {self.name} has no layer {name!r}")

    @staticmethod
    def _transposed(node) -> bool:
        """Whether a layer's constant weights are ``(C, K)`` (MatMul, Gemm without transB)."""
        return node.op_type == "MatMul" or (node.op_type == "Gemm" and not _attrs(node).get("transB", 0))

    def weights(self, name: str) -> np.ndarray:
        """Float weights of a layer, ``(K, C/groups, kh, kw)`` (FC: ``(K, C)``); a QDQ layer's
        are its dequantised integer weights."""
        node = self._node(name)
        w = self._const(node.input[1]).astype(np.float32)
        return np.ascontiguousarray(w.T if self._transposed(node) else w)

    def weight_codes(self, name: str) -> tuple[np.ndarray, Operand]:
        """An int8 QDQ layer's weight codes ``w - zero_point`` (int32, the layout of
        :meth:`weights`) and their :class:`.qdq.Operand` (scale, zero point, axis)."""
        node = self._node(name)
        ql = self._codes_of(node) if self._qdq else None
        if ql is None:
            raise ConfigError(f"layer {name!r} of {self.name} has no integer weights (not an int8 QDQ layer)")
        w = ql.weights.codes(self._const(ql.weights.tensor))
        return np.ascontiguousarray(w.T if self._transposed(node) else w), ql.weights

    def model_codes(self) -> dict:
        """``layer name -> ModelCodes`` of an int8 QDQ model: the window, scale and zero point of
        each layer's activation codes, and its weights' (:meth:`.qdq.Operand.as_dict`)."""
        if not self._qdq:
            raise ConfigError(f"{self.path} is a float model: its layers have no codes of their own")
        self.layers()
        out = {}
        for name, node in self._nodes:
            ql = self._codes_of(node)
            a = ql.acts
            out[name] = ModelCodes(float(a.scale[0]), a.window(), int(a.zero_point[0]), a.dtype,
                                   weights=ql.weights.as_dict())
        return out
