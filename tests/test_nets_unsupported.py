"""ONNX models the tool cannot model yet (int8 QOperator graphs, token inputs other than BERT's,
sequence products in an image model)
are refused before any work with one line naming the real cause and the node (docs/usage.md §4)."""
from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from dstripes.scripts.cli import main as cli
from dstripes.sim.errors import ConfigError
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.onnx_capture import OnnxNetwork
from dstripes.sim.nets.transformer import minilm_files

from .test_nets_onnx import _no_run_cache, tiny_model  # noqa: F401


def _save(path, nodes, inputs, inits, opset: int = 13) -> str:
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT,
                                                                             None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return str(path)


def _const(name, shape, seed=0):
    return numpy_helper.from_array(np.random.default_rng(seed).normal(0, 0.3, shape).astype(np.float32), name)


def _image(shape=(1, 3, 16, 16)):
    return helper.make_tensor_value_info("image", TensorProto.FLOAT, list(shape))


def _quantised(tmp_path, fmt) -> str:
    """The tiny float CNN quantised to int8 by onnxruntime's static quantisation."""
    from onnxruntime.quantization import CalibrationDataReader, QuantType, quantize_static

    class Photos(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.batches = iter([{"image": rng.normal(0, 1, (1, 3, 16, 16)).astype(np.float32)} for _ in range(3)])

        def get_next(self):
            return next(self.batches, None)

    src = tiny_model(str(tmp_path / "float.onnx"), batch=1)
    out = str(tmp_path / f"int8-{fmt.name}.onnx")
    quantize_static(src, out, Photos(), quant_format=fmt, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8)
    return out


def test_int8_qoperator_is_refused_and_qdq_is_modelled(tmp_path, capsys):
    """A QOperator graph (QLinearConv, ...) is refused naming its node; the QDQ graph of the same
    network is modelled on its own codes (tests/test_nets_int8.py)."""
    from onnxruntime.quantization import QuantFormat
    qdq = _quantised(tmp_path, QuantFormat.QDQ)
    net = OnnxNetwork(qdq)
    assert net.int8 and "first" in net.layer_names()
    qop = _quantised(tmp_path, QuantFormat.QOperator)
    with pytest.raises(ConfigError, match=re.escape("QLinearConv node 'first_quant' belongs to an integer-quantised "
                                                    "model in QOperator format, not supported; give the QDQ format")):
        OnnxNetwork(qop)
    # the same through the command: one line, before any photo is run
    assert cli(["profile", "--model", qop, "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "QOperator format, not supported; give the QDQ format" in err[0], err


def test_token_input_is_named(tmp_path):
    path = _save(tmp_path / "tokens.onnx", [helper.make_node("Gather", ["table", "ids"], ["e"], name="embed"),
                                            helper.make_node("MatMul", ["e", "w"], ["y"], name="proj")],
                 [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 12])],
                 [_const("table", (50, 8)), _const("w", (8, 4))])
    with pytest.raises(ConfigError, match=re.escape("input ids is int64 (token ids, as a language model takes), "
                                                    "not a float32 image batch; a text model runs as one")):
        OnnxNetwork(path)
    # as a text model, its token input must be one of BERT's (tests/test_nets_text.py runs them)
    with pytest.raises(ConfigError, match=re.escape("input 'ids': a text model takes input_ids, attention_mask, "
                                                    "token_type_ids")):
        load_network(path, tokenizer=minilm_files()[2])


def test_sequence_matmul_is_named(tmp_path, capsys):
    """A patchify Conv, then a token sequence through a constant 2-d MatMul (a transformer's MLP)."""
    shape = numpy_helper.from_array(np.array([1, 8, -1], np.int64), "shape")
    path = _save(tmp_path / "vit.onnx",
                 [helper.make_node("Conv", ["image", "wc"], ["p"], name="patchify", kernel_shape=[4, 4], strides=[4, 4]),
                  helper.make_node("Reshape", ["p", "shape"], ["s"]),
                  helper.make_node("Transpose", ["s"], ["t"], perm=[0, 2, 1]),
                  helper.make_node("MatMul", ["t", "wm"], ["y"], name="mlp")],
                 [_image()], [_const("wc", (8, 3, 4, 4)), _const("wm", (8, 4), 1), shape])
    net = OnnxNetwork(path, criterion="cosine")
    with pytest.raises(ConfigError, match=re.escape("MatMul node 'mlp' multiplies a 1x16x8 input, a sequence of 16 "
                                                    "vectors per photo (tokens, as in a transformer)")):
        net.layers()
    # the command finds it when it loads the network, before any work
    assert cli(["profile", "--model", path, "--criterion", "cosine", "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "MatMul node 'mlp' multiplies a 1x16x8 input" in err[0], err


def test_other_products_name_their_cause(tmp_path):
    # a batched MatMul by 3-d constant weights is the model's only product
    path = _save(tmp_path / "batched.onnx", [helper.make_node("MatMul", ["image", "w3"], ["y"], name="bmm")],
                 [_image((1, 3, 16, 16))], [_const("w3", (3, 16, 4))])
    with pytest.raises(ConfigError, match=re.escape("its first product, node 'bmm', multiplies by 3-d constant "
                                                    "weights (a batched product)")):
        OnnxNetwork(path)
    # Conv weights computed from the input, or from constants only (a graph to fold first)
    path = _save(tmp_path / "dynamic.onnx",
                 [helper.make_node("Slice", ["image", "s0", "s1", "ax"], ["w"], name="cut"),
                  helper.make_node("Conv", ["image", "w"], ["y"], name="dyn", kernel_shape=[1, 1])],
                 [_image((1, 3, 3, 3))],
                 [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in (("s0", [0]), ("s1", [1]), ("ax", [0]))])
    with pytest.raises(ConfigError, match=re.escape("Conv node 'dyn' takes weights 'w' made by Slice node 'cut', "
                                                    "which computes them from the network's input")):
        OnnxNetwork(path)
    path = _save(tmp_path / "scaled.onnx",
                 [helper.make_node("Mul", ["w0", "g"], ["w"], name="weight_norm"),
                  helper.make_node("Conv", ["image", "w"], ["y"], name="conv", kernel_shape=[3, 3])],
                 [_image()], [_const("w0", (4, 3, 3, 3)), _const("g", (4, 1, 1, 1), 1)])
    with pytest.raises(ConfigError, match=re.escape("Conv node 'conv' takes weights 'w' made by Mul node "
                                                    "'weight_norm', which computes them from constants (fold")):
        OnnxNetwork(path)
    # a 3-d (volumetric) convolution
    path = _save(tmp_path / "conv3d.onnx", [helper.make_node("Conv", ["image", "w"], ["y"], name="vol",
                                                             kernel_shape=[1, 3, 3])],
                 [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 4, 16, 16])],
                 [_const("w", (2, 3, 1, 3, 3))])
    with pytest.raises(ConfigError, match="rank 5"):
        OnnxNetwork(path)
