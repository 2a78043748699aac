"""int8 QDQ models: the model's own integer codes of every layer, read from its ONNX graph.

A QDQ model (ONNX Runtime's ``quantize_static`` with ``QuantFormat.QDQ``, PyTorch's quantised
export) keeps float operators and wraps their operands in ``QuantizeLinear`` /
``DequantizeLinear`` pairs: a ``Conv``, ``MatMul`` or ``Gemm`` reads ``x = (q - zp) * scale``
where ``q`` is an integer tensor (``uint8`` or ``int8``; ``int16``/``uint16`` work too) and
``scale``, ``zp`` are the ``DequantizeLinear``'s constants. The hardware multiplies the codes
``q - zp``:

* **activations**: per-tensor ``scale`` and ``zp`` only (a per-channel activation scale cannot
  be mapped onto one layer window). The codes span ``[min(q) - zp, max(q) - zp]`` of the integer
  type: a ``uint8`` tensor with ``zp = 0`` gives unsigned codes ``[7:0]``; an ``int8`` tensor or
  any non-zero zero point gives signed codes, which need a ninth bit unless the range stays in
  ``[-128, 127]`` (``int8`` with ``zp = 0``, ``uint8`` with ``zp = 128``). The codes are
  captured by running the QDQ model as it is (the ``q`` feeding each layer's
  ``DequantizeLinear``) and subtracting ``zp``.
* **weights**: a constant integer tensor through a ``DequantizeLinear`` (per-tensor, or per
  output channel with ``axis``): codes ``w - zp``, the float weights ``(w - zp) * scale``.

:func:`read_layers` reads, for every ``Conv`` / ``MatMul`` / ``Gemm`` node, how its two operands
are quantised (:class:`Operand`); :class:`ModelCodes` is the :class:`.network.Quant` of a layer
whose codes come from the model, so a profile of model codes (:func:`model_profile`) drives the
same evaluation as a searched one (:func:`.profile.model_profile`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ..fixed import Window
from .network import Quant

#: The integer types a ``DequantizeLinear`` input may have here, by ONNX type number.
CODE_TYPES = {2: "uint8", 3: "int8", 4: "uint16", 5: "int16"}
#: What :class:`ModelCodes` says as the source of its codes, and what a profile's says.
SOURCES = ("model", "profile")
#: The profile target of a model-codes profile.
TARGET = "int8"


def symmetric(dtype: str, zero_points) -> bool:
    """Whether codes of ``dtype`` with ``zero_points`` are symmetric quantisation: the real range
    centred on 0, i.e. every zero point 0 (signed types) or half the range (``uint8``: 128)."""
    info = np.iinfo(dtype)
    mid = 0 if info.min < 0 else (int(info.max) + 1) // 2
    return bool((np.asarray(zero_points) == mid).all())


def code_window(dtype: str, zero_points, where: str) -> Window:
    """The window of the codes ``q - zp`` of integer type ``dtype`` for every zero point ``zp`` of
    ``zero_points``: unsigned ``[b-1:0]`` when no code can be negative, else the narrowest
    two's-complement window holding them all.

    Parameters
    ----------
    dtype : str
        ``uint8``, ``int8``, ``uint16`` or ``int16``.
    zero_points : int or array of int
    where : str
        How an error names the node (a zero point outside the type's range is refused).
    """
    info = np.iinfo(dtype)
    zps = np.asarray(zero_points, dtype=np.int64).reshape(-1)
    bad = zps[(zps < info.min) | (zps > info.max)]
    if bad.size:
        raise ConfigError(f"{where}: zero point {int(bad[0])} is outside the {dtype} code range "
                          f"[{info.min}, {info.max}]")
    lo, hi = int(info.min) - int(zps.max()), int(info.max) - int(zps.min())
    if lo >= 0:
        return Window(hi.bit_length() - 1, 0, False)
    bits = max((-lo - 1).bit_length(), hi.bit_length()) + 1
    return Window(bits - 1, 0, True)


@dataclass(frozen=True)
class Operand:
    """One quantised operand of a layer: ``x = (q - zero_point) * scale``.

    Members
    -------
    tensor : str
        The integer tensor ``q`` (the ``DequantizeLinear``'s input).
    node : str
        How messages name the ``DequantizeLinear`` node.
    scale : ndarray
        float64, one value (per tensor) or one per slice along ``axis``.
    zero_point : ndarray
        int64, the same shape as ``scale``.
    dtype : str
        The integer type of ``q`` (:data:`CODE_TYPES`).
    axis : int
        The axis of a per-channel ``scale`` (ignored for one value).
    """

    tensor: str
    node: str
    scale: np.ndarray
    zero_point: np.ndarray
    dtype: str
    axis: int = 1

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    def window(self) -> Window:
        """The codes' window: wide enough for every zero point's code range."""
        return code_window(self.dtype, self.zero_point, f"DequantizeLinear node {self.node}")

    def _along(self, v: np.ndarray, ndim: int) -> np.ndarray:
        if v.size == 1:
            return v.reshape(())
        shape = [1] * ndim
        shape[self.axis % ndim] = v.size
        return v.reshape(shape)

    def codes(self, q: np.ndarray) -> np.ndarray:
        """``q - zero_point`` (int32), a per-channel zero point along :attr:`axis`."""
        q = np.asarray(q)
        return q.astype(np.int32) - self._along(self.zero_point, q.ndim).astype(np.int32)

    def values(self, q: np.ndarray) -> np.ndarray:
        """The dequantised float32 values ``(q - zero_point) * scale``."""
        q = np.asarray(q)
        return (self.codes(q) * self._along(self.scale, q.ndim)).astype(np.float32)

    def as_dict(self) -> dict:
        """``scale`` and ``zero_point`` as numbers (per tensor) or lists (per channel)."""
        s, z = self.scale.tolist(), self.zero_point.tolist()
        return {"dtype": self.dtype, "per_channel": self.per_channel,
                "scale": s if self.per_channel else float(self.scale.reshape(-1)[0]),
                "zero_point": z if self.per_channel else int(self.zero_point.reshape(-1)[0]),
                "symmetric": symmetric(self.dtype, self.zero_point), "bits": self.window().bits,
                "signed": self.window().signed}


@dataclass(frozen=True)
class QdqLayer:
    """How one ``Conv`` / ``MatMul`` / ``Gemm`` node reads its operands: ``acts`` and ``weights``
    each an :class:`Operand`, or ``None`` when that operand is float (not through a
    ``DequantizeLinear``)."""

    node: str
    acts: Operand | None
    weights: Operand | None


def _dq_operand(graph_consts: dict, producers: dict, dq, index: int, what: str) -> Operand:
    """The :class:`Operand` of ``DequantizeLinear`` node ``dq`` (``index``: its place in the
    graph), its scale and zero point constants."""
    from onnx import numpy_helper
    name = repr(dq.name) if dq.name else f"#{index} (unnamed)"

    def const(t):
        c = graph_consts.get(t)
        if c is None:
            raise ConfigError(f"DequantizeLinear node {name} computes its {what} (tensor {t!r}) at run time; "
                              f"only constant scales and zero points are modelled")
        return numpy_helper.to_array(c)

    scale = np.asarray(const(dq.input[1]), dtype=np.float64).reshape(-1)
    if len(dq.input) > 2 and dq.input[2]:
        zp = np.asarray(const(dq.input[2]))
        dtype = zp.dtype.name
        zp = zp.astype(np.int64).reshape(-1)
    else:
        dtype, zp = _code_type(graph_consts, producers, dq.input[0]), np.zeros(scale.shape, np.int64)
    if dtype not in CODE_TYPES.values():
        raise ConfigError(f"DequantizeLinear node {name} dequantises {dtype} codes; only "
                          f"{', '.join(CODE_TYPES.values())} are modelled")
    if zp.size != scale.size:
        raise ConfigError(f"DequantizeLinear node {name}: {zp.size} zero points for {scale.size} scales")
    if not (np.isfinite(scale).all() and (scale > 0).all()):
        raise ConfigError(f"DequantizeLinear node {name}: scale {scale.tolist()[:4]} is not positive and finite")
    axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
    if any(a.name == "block_size" and a.i for a in dq.attribute):
        raise ConfigError(f"DequantizeLinear node {name} dequantises blocks (block_size); only per-tensor and "
                          f"per-channel scales are modelled")
    return Operand(dq.input[0], name, scale, zp, dtype, int(axis))


def _code_type(graph_consts: dict, producers: dict, tensor: str) -> str:
    """The integer type of ``tensor`` when its ``DequantizeLinear`` has no zero point: a
    constant's own, or the output type of the ``QuantizeLinear`` that makes it (ONNX: its zero
    point's type, else its ``output_dtype``, else ``uint8``)."""
    from onnx import helper, numpy_helper
    if tensor in graph_consts:
        return numpy_helper.to_array(graph_consts[tensor]).dtype.name
    q = producers.get(tensor)
    if q is not None and q.op_type == "QuantizeLinear":
        if len(q.input) > 2 and q.input[2] and q.input[2] in graph_consts:
            return numpy_helper.to_array(graph_consts[q.input[2]]).dtype.name
        out = next((a.i for a in q.attribute if a.name == "output_dtype"), 0)
        if out:
            return helper.tensor_dtype_to_np_dtype(out).name
    return "uint8"


def _fold_quantize(consts: dict, node) -> bool:
    """Fold a ``QuantizeLinear`` of constant float weights (a fake-quantised export keeps the
    weights in float and quantises them in the graph) into its constant integer output, as ONNX
    computes it: ``saturate(round_half_even(w / scale) + zp)``. Returns whether it was folded."""
    from onnx import numpy_helper
    if node is None or node.op_type != "QuantizeLinear" or not all(t in consts for t in node.input if t):
        return False
    w = numpy_helper.to_array(consts[node.input[0]]).astype(np.float32)
    scale = numpy_helper.to_array(consts[node.input[1]]).astype(np.float32)
    zp = numpy_helper.to_array(consts[node.input[2]]) if len(node.input) > 2 and node.input[2] else np.uint8(0)
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    if scale.size > 1:
        shape = [1] * w.ndim
        shape[axis % w.ndim] = -1
        scale, zp = scale.reshape(shape), np.asarray(zp).reshape(shape)
    info = np.iinfo(np.asarray(zp).dtype)
    q = np.clip(np.rint(w / scale) + np.asarray(zp).astype(np.float32), info.min, info.max)
    consts[node.output[0]] = numpy_helper.from_array(q.astype(np.asarray(zp).dtype), node.output[0])
    return True


def is_qdq(graph) -> bool:
    """Whether ``graph`` feeds any ``Conv`` / ``MatMul`` / ``Gemm`` through a ``DequantizeLinear``."""
    dq = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    return any(n.op_type in ("Conv", "MatMul", "Gemm") and any(i in dq for i in n.input[:2]) for n in graph.node)


def read_layers(graph, consts: dict, computed_weights: bool = False) -> dict:
    """``node output -> QdqLayer`` for every ``Conv`` / ``MatMul`` / ``Gemm`` node of ``graph``.

    Parameters
    ----------
    graph : onnx.GraphProto
    consts : dict
        Tensor name -> ``TensorProto`` of the initialisers and ``Constant`` nodes.
    computed_weights : bool
        Keep a second operand dequantised from a computed tensor (a transformer's attention
        product ``Q·Kᵀ``, ``P·V``: its "weights" are each sentence's own codes, captured at run
        time); else such an operand counts as float.

    Returns
    -------
    dict
        Node output -> :class:`QdqLayer`.
    """
    producers = {o: n for n in graph.node for o in n.output}
    index = {id(n): i for i, n in enumerate(graph.node)}
    out = {}
    for n in graph.node:
        if n.op_type not in ("Conv", "MatMul", "Gemm"):
            continue
        ops = []
        for k, what in ((0, "activations"), (1, "weights")):
            p = producers.get(n.input[k]) if len(n.input) > k else None
            if p is None or p.op_type != "DequantizeLinear":
                ops.append(None)
                continue
            op = _dq_operand(consts, producers, p, index[id(p)], "scale or zero point")
            if k == 0 and op.per_channel:
                raise ConfigError(f"{n.op_type} node {n.name or n.output[0]!r} reads activations dequantised "
                                  f"per channel by DequantizeLinear node {op.node}; only a per-tensor activation "
                                  f"scale maps onto one layer window")
            if k == 1 and op.tensor not in consts and not _fold_quantize(consts, producers.get(op.tensor)):
                if not computed_weights:
                    ops.append(None)  # weights quantised from a computed tensor: the float path names the cause
                    continue
                if op.per_channel:
                    raise ConfigError(f"{n.op_type} node {n.name or n.output[0]!r} multiplies by a computed operand "
                                      f"dequantised per channel by DequantizeLinear node {op.node}; only a "
                                      f"per-tensor scale maps onto the weights of each sentence")
            ops.append(op)
        out[n.output[0]] = QdqLayer(n.name or n.output[0], *ops)
    return out


def dequantised_weights(graph, layers: dict, consts: dict) -> None:
    """Give every layer of ``layers`` (:func:`read_layers`) whose weights are a constant integer
    tensor its float weights ``(w - zp) * scale`` under the name its node reads (the
    ``DequantizeLinear``'s output) in ``consts``, so shapes and float weights read as a float
    model's."""
    from onnx import numpy_helper
    for n in graph.node:
        ql = layers.get(n.output[0])
        if ql is not None and ql.weights is not None and ql.weights.tensor in consts:
            w = ql.weights.values(numpy_helper.to_array(consts[ql.weights.tensor]))
            consts[n.input[1]] = numpy_helper.from_array(w, n.input[1])


@dataclass(frozen=True)
class ModelCodes(Quant):
    """A layer's activation codes as the model gives them: ``q - zero_point``, already integers
    in :attr:`window` (``scale``: the model's per-tensor activation scale).

    :meth:`codes` checks and returns the captured codes themselves (nothing is re-quantised).
    """

    zero_point: int = 0
    dtype: str = "uint8"
    weights: dict = field(default_factory=dict, compare=False, hash=False)

    def codes(self, x: np.ndarray) -> np.ndarray:
        a = np.asarray(x)
        if not np.issubdtype(a.dtype, np.integer):
            raise ConfigError(f"model codes must be integers (the q - zero_point a QDQ model captures), "
                              f"not {a.dtype}")
        return self.window.check(a, self.window.msb + 1)

    def apply(self, x: np.ndarray) -> np.ndarray:
        return (self.codes(x) * self.scale).astype(np.float32)

    @property
    def raw_window(self) -> Window:
        """The window of the raw codes ``q`` themselves (what a zero point of 0 would need)."""
        return code_window(self.dtype, 0, "raw codes")

    def raw(self, codes: np.ndarray) -> np.ndarray:
        """The raw codes ``q = codes + zero_point``."""
        return np.asarray(codes).astype(np.int32) + self.zero_point


def model_widths(quants) -> dict:
    """The tile widths of a model's own codes (``quants``: :class:`ModelCodes` values): ``act_bits``
    the widest activation window (8; 9 when a zero point shifts the codes' range), ``weight_bits``
    the widest weights' (8)."""
    qs = list(quants)
    return {"act_bits": max(q.window.msb + 1 for q in qs), "weight_bits": max(q.weights["bits"] for q in qs)}


def codes_dict(quant: Quant) -> dict:
    """The JSON ``codes`` of one layer: ``source`` (``model`` or ``profile``), ``bits``,
    ``signed``, ``zero_point``, ``scale`` (a model's: also ``dtype``, ``symmetric`` (:func:`symmetric`)
    and its ``weights``)."""
    w = quant.window
    d = {"source": SOURCES[1], "bits": w.bits, "signed": w.signed, "zero_point": 0, "scale": quant.scale}
    if isinstance(quant, ModelCodes):
        d.update(source=SOURCES[0], zero_point=quant.zero_point, dtype=quant.dtype,
                 symmetric=symmetric(quant.dtype, quant.zero_point), weights=dict(quant.weights))
    return d


__all__ = ["CODE_TYPES", "ModelCodes", "Operand", "QdqLayer", "code_window", "codes_dict", "dequantised_weights",
           "is_qdq", "model_widths", "read_layers", "symmetric"]
