"""An int8 QDQ model of a float network: ONNX Runtime's static quantiser calibrated on photos
or sentences.

:func:`quantize_network` is a thin wrapper over ``onnxruntime.quantization.quantize_static``
(QDQ format, MinMax calibration): the calibration data reader feeds the profiling photos
prepared exactly as the network prepares them (:meth:`.network.Network.prepare`: its size,
normalisation and layout), ``batch`` photos at a time (the model's fixed batch if it has one).
A text network (:class:`.transformer.TextNetwork`) is fed its profiling sentences, tokenised to
its tokens per sentence (all three token inputs); there only the products are quantised
(``op_types_to_quantize`` ``MatMul``, ``Gemm``: LayerNorm, softmax and GELU stay float) and
``MatMulConstBOnly`` is off, so the attention products ``Q·Kᵀ`` and ``P·V``, whose two operands
are both activations, get ``QuantizeLinear``/``DequantizeLinear`` on both operands too.
The result is then judged against the float network on held-out photos or sentences
(:func:`judge_int8`): top-1 agreement, cosine and PSNR of the outputs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
import logging
import os
import time

import numpy as np

from ..errors import ConfigError, ToolError
from .fidelity import scores
from .onnx_capture import META_CRITERION, META_PREPROCESS, META_TOKENIZER, OnnxNetwork, require_onnx
from .runs import as_photos
from .transformer import TextNetwork

#: Activation code types the quantiser may write (weights are always int8).
ACTIVATION_TYPES = ("uint8", "int8")
#: Photos per calibration batch of a model whose batch dimension is free.
BATCH = 4
#: What a text network's quantiser quantises (module docstring).
TEXT_OPS = ("MatMul", "Gemm")


@dataclass(frozen=True)
class Int8Fidelity:
    """The int8 model's outputs against the float network's on held-out photos.

    Members
    -------
    images : int
        Held-out photos run.
    top1 : float
        Fraction of photos whose top-1 class is the float network's.
    cosine_min, cosine_mean : float
        Cosine of the output vectors, worst photo and mean.
    psnr_min : float
        PSNR of the outputs (dB, peak 1, as the profiles measure it), worst photo.
    """

    images: int
    top1: float
    cosine_min: float
    cosine_mean: float
    psnr_min: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Quantized:
    """What :func:`quantize_network` wrote.

    Members
    -------
    path : str
        The int8 QDQ model.
    network : str
        The float network's name.
    activations : str
        Activation code type (``uint8`` or ``int8``); weights are ``int8``.
    per_channel, symmetric : bool
        Weights scaled per output channel; activations quantised symmetrically (zero point 0).
    calibration_images : int
    layers : int
        Layers of the int8 model read through DequantizeLinear (:mod:`.qdq`).
    float_layers : tuple of str
        Layers the quantiser left in float.
    fidelity : Int8Fidelity or None
        Against the float network on held-out photos (None: none run).
    seconds : float
    """

    path: str
    network: str
    activations: str
    per_channel: bool
    symmetric: bool
    calibration_images: int
    layers: int
    float_layers: tuple
    fidelity: Int8Fidelity | None
    seconds: float

    def as_dict(self) -> dict:
        d = asdict(self)
        d["float_layers"] = list(self.float_layers)
        d["fidelity"] = None if self.fidelity is None else self.fidelity.as_dict()
        return d


def float_onnx(net) -> "onnx.ModelProto":
    """The float ONNX model of ``net`` (an :class:`.onnx_capture.OnnxNetwork`), refusing one
    that is already an int8 QDQ model."""
    if not isinstance(net, OnnxNetwork):
        raise ConfigError(f"{net.name} does not run on onnxruntime (use --engine onnx)")
    if net.int8:
        raise ConfigError(f"{net.path} is already an int8 QDQ model; give the float model to quantise")
    return net.model


def quantize_network(net, photos, out: str, *, activations: str = "uint8", per_channel: bool = False,
                     symmetric: bool = False, heldout=(), exclude=(), progress: bool = True) -> Quantized:
    """Write the int8 QDQ model of ``net`` calibrated on ``photos`` to ``out``.

    Parameters
    ----------
    net : OnnxNetwork
        The float network (a built-in runs as its ONNX export).
    photos : list of Photo or (name, RGB uint8 array), or of Sentence
        Calibration photos (at least one), or a text network's sentences.
    out : str
        The ``.onnx`` file to write.
    activations : str
        ``uint8`` (ONNX Runtime's CPU default: zero point 0 after a ReLU) or ``int8``.
    per_channel : bool
        Weights scaled per output channel (else one scale per tensor).
    symmetric : bool
        Activations quantised symmetrically: zero point 0 (``int8``) or 128 (``uint8``).
    heldout : list of photos
        Photos the result is judged on (:func:`judge_int8`); none: not judged.
    exclude : list of str
        Layers (by name) to leave in float: their nodes are the quantiser's ``nodes_to_exclude``.

    Returns
    -------
    Quantized
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    if activations not in ACTIVATION_TYPES:
        raise ConfigError(f"activations must be one of {', '.join(ACTIVATION_TYPES)}, not {activations!r}")
    onnx, _ = require_onnx()
    model = onnx.ModelProto()  # a copy: the quantiser may move the initialisers of the model it is
    model.CopyFrom(float_onnx(net))  # given to external data in place, and net still runs it
    cal = as_photos(photos)
    if not cal:
        raise ConfigError("quantisation needs at least one calibration photo")
    t0 = time.time()
    batch = net.fixed_batch or BATCH
    text = isinstance(net, TextNetwork)

    class Photos(CalibrationDataReader):
        """The calibration photos, prepared as the network prepares them."""

        def __init__(self):
            self.parts = iter(range(0, len(cal), batch))

        def get_next(self):
            i = next(self.parts, None)
            if i is None:
                return None
            x = net.prepare([p.read(net.size) for p in cal[i:i + batch]])
            if net.fixed_batch and len(x) < batch:
                x = np.concatenate([x, np.repeat(x[-1:], batch - len(x), axis=0)])
            return net.feeds(x)

    qtype = QuantType.QUInt8 if activations == "uint8" else QuantType.QInt8
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser's advice to pre-process the model, on the root logger
    extra = {"ActivationSymmetric": bool(symmetric), "WeightSymmetric": True}
    ops = {"nodes_to_exclude": excluded_nodes(net, exclude)} if exclude else {}
    if text:  # the products only, the attention products' two computed operands too
        extra["MatMulConstBOnly"] = False
        ops["op_types_to_quantize"] = list(TEXT_OPS)
    try:
        quantize_static(model, out, Photos(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=qtype, weight_type=QuantType.QInt8, extra_options=extra, **ops)
    except (OSError, MemoryError, ConfigError):
        raise
    except Exception as e:
        line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ToolError(f"onnxruntime's quantize_static failed on {net.name}: {line}") from None
    finally:
        root.setLevel(level)
    record(out, net)
    q = net.variant(out, f"{net.name}-int8")
    fid = judge_int8(net, q, heldout) if heldout else None
    return Quantized(out, net.name, activations, per_channel, bool(symmetric), len(cal), len(q.layers()),
                     tuple(q.float_layers), fid, round(time.time() - t0, 1))


def excluded_nodes(net, layers) -> list:
    """The graph node names of the layers ``layers`` of ``net`` (refused: a name that is not one of
    its layers, a layer whose node has no name for the quantiser to exclude)."""
    names = net.layer_names()
    out = []
    for name in layers:
        if name not in names:
            raise ConfigError(f"--exclude {name}: not a layer of {net.name} ({', '.join(names[:4])}, ...)")
        node = net.layer_node(name)
        if not node.name:
            raise ConfigError(f"--exclude {name}: its {node.op_type} node has no name the quantiser can exclude")
        out.append(node.name)
    return out


def record(path: str, net) -> None:
    """Record ``net``'s input normalisation and fidelity criterion (a text network's: also its
    tokenizer file) in the metadata of the ONNX file ``path`` (its int8 model), the defaults when
    that model is loaded."""
    onnx, _ = require_onnx()
    m = onnx.load(path)
    tok = {META_TOKENIZER: os.path.abspath(net.tokenizer.path)} if isinstance(net, TextNetwork) else {}
    onnx.helper.set_model_props(m, {**{p.key: p.value for p in m.metadata_props},
                                    META_PREPROCESS: net.preprocess, META_CRITERION: net.criterion, **tok})
    onnx.save(m, path)


def judge_int8(net, int8_net, photos, batch: int = BATCH) -> Int8Fidelity:
    """The outputs of ``int8_net`` against the float ``net``'s on ``photos``."""
    ps = as_photos(photos)
    if not ps:
        raise ConfigError("judging an int8 model needs at least one held-out photo")
    refs, outs = [], []
    for i in range(0, len(ps), batch):
        x = net.prepare([p.read(net.size) for p in ps[i:i + batch]])
        refs.append(net.forward(x).output)
        outs.append(int8_net.forward(x).output)
    ref, out = np.concatenate(refs), np.concatenate(outs)
    top = scores("top1", ref, out) if ref.reshape(len(ref), -1).shape[1] > 1 else np.ones(len(ref))
    cos = scores("cosine", ref, out)
    psnr = scores("psnr", ref, out)
    return Int8Fidelity(len(ps), float(top.mean()), float(cos.min()), float(cos.mean()), float(psnr.min()))


def write_path_ok(out: str) -> str:
    """``out`` as the int8 model's path: an ``.onnx`` file name."""
    if not str(out).lower().endswith(".onnx"):
        raise ConfigError(f"--out {out} must name an .onnx file")
    return os.fspath(out)


__all__ = ["ACTIVATION_TYPES", "Int8Fidelity", "Quantized", "excluded_nodes", "judge_int8", "quantize_network",
           "write_path_ok"]
