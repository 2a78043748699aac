"""The generic ONNX front-end on a small hand-built ONNX CNN (no pretrained network needed),
and ONNX vs PyTorch on a real network."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import onnx  # the nets extra is part of the test environment: a missing onnx fails, never skips
from onnx import TensorProto, helper, numpy_helper

from dstripes.scripts.cli import main as cli  # noqa: E402
from dstripes.sim.config import TileConfig  # noqa: E402
from dstripes.sim.cycles import layer_cycles  # noqa: E402
from dstripes.sim.errors import ConfigError  # noqa: E402
from dstripes.sim.fixed import Window  # noqa: E402
from dstripes.sim.nets.evaluate import evaluate_network  # noqa: E402
from dstripes.sim.nets.network import Quant  # noqa: E402
from dstripes.sim.nets.onnx_capture import OnnxNetwork  # noqa: E402
from dstripes.sim.nets.profile import Profile, profile_network  # noqa: E402


def tiny_model(path: str, nhwc: bool = False, opset: int = 13, batch="n") -> str:
    """Conv 3->8 3x3 s2 with asymmetric pads (0,0,1,1) -> Relu -> depthwise 3x3 -> Relu ->
    Conv 8->4 1x1 -> Relu -> global average -> Gemm 4->10. ``batch``: the input's batch
    dimension (a name: any batch; an int: fixed, as ``torch.onnx.export`` without
    ``dynamic_axes`` writes it)."""
    rng = np.random.default_rng(7)
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in [
        ("w1", rng.normal(0, 0.3, (8, 3, 3, 3))), ("b1", rng.normal(0, 0.1, 8)),
        ("w2", rng.normal(0, 0.3, (8, 1, 3, 3))),
        ("w3", rng.normal(0, 0.3, (4, 8, 1, 1))),
        ("wf", rng.normal(0, 0.5, (10, 4))), ("bf", rng.normal(0, 0.1, 10))]]
    nodes = []
    x = "image"
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]))
        x = "nchw"
    nodes += [
        helper.make_node("Conv", [x, "w1", "b1"], ["c1"], name="first", kernel_shape=[3, 3],
                         strides=[2, 2], pads=[0, 0, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Conv", ["r2", "w3"], ["c3"], name="pointwise", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["c3"], ["r3"]),
        helper.make_node("GlobalAveragePool", ["r3"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["logits"], name="fc", transB=1),
    ]
    shape = [batch, 16, 16, 3] if nhwc else [batch, 3, 16, 16]
    g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


def photos(n=3, size=24, seed=1):
    rng = np.random.default_rng(seed)
    # smooth random images (low-frequency noise upsampled) rather than white noise
    out = []
    for i in range(n):
        small = rng.integers(0, 256, (4, 4, 3)).astype(np.float64)
        im = np.kron(small, np.ones((size // 4, size // 4, 1)))
        out.append((f"p{i}", np.clip(im + rng.normal(0, 8, im.shape), 0, 255).astype(np.uint8)))
    return out


@pytest.fixture(autouse=True)
def _no_run_cache(monkeypatch):
    """Tests never read or fill the user's run cache (a test that wants one names its file)."""
    monkeypatch.setenv("DSTRIPES_NO_CACHE", "1")


@pytest.fixture
def tiny(tmp_path):
    return OnnxNetwork(tiny_model(str(tmp_path / "tiny.onnx")), size=16, criterion="cosine")


def test_layers_and_asymmetric_padding(tiny):
    ls = tiny.layers()
    assert [l.name for l in ls] == ["first", "Conv_2", "pointwise", "fc"]
    first = ls[0]
    # pads (top 0, bottom 1): symmetric part 0, one explicit zero row/column added at the end
    assert (first.c, first.h, first.w, first.k, first.sy, first.py) == (3, 17, 17, 8, 2, 0)
    assert (first.oh, first.ow) == (8, 8)  # same output as ONNX's (16 + 1 - 3) // 2 + 1
    assert ls[1].conv_groups == 8 and ls[1].c == ls[1].k == 8 and (ls[1].h, ls[1].py) == (8, 1)
    assert ls[3].fc and (ls[3].c, ls[3].k) == (4, 10)
    assert tiny.criterion == "cosine"


def test_capture_shapes_and_padding(tiny):
    run = tiny.forward(tiny.prepare([im for _, im in photos(2)]), capture=True)
    for l in tiny.layers():
        assert run.acts[l.name].shape == (2, l.c, l.h, l.w)
    first = run.acts["first"]
    assert (first[:, :, -1, :] == 0).all() and (first[:, :, :, -1] == 0).all()
    assert first.min() < 0  # image minus mean: signed
    assert run.acts["pointwise"].min() >= 0  # after ReLU
    assert run.output.shape == (2, 10)


def test_quantised_run_matches_numpy(tiny, tmp_path):
    """Quantising the 'pointwise' input inside the graph equals quantize() of the captured input
    fed through the rest of the network computed by hand."""
    batch = tiny.prepare([im for _, im in photos(2)])
    run = tiny.forward(batch, capture=True)
    x = run.acts["pointwise"]
    q = Quant(2.0 ** -10, Window(15, 9))
    out = tiny.forward(batch, {"pointwise": q}).output
    w3 = tiny.weights("pointwise")[:, :, 0, 0]
    wf = tiny.weights("fc")
    bf = numpy_helper.to_array(next(t for t in tiny.model.graph.initializer if t.name == "bf"))
    y = np.maximum(0, np.einsum("kc,nchw->nkhw", w3, q.apply(x).astype(np.float64))).mean(axis=(2, 3))
    assert np.allclose(out, y @ wf.T + bf, rtol=1e-5, atol=1e-5)
    assert not np.allclose(out, run.output, rtol=1e-6, atol=1e-7)  # the quantisation did something


@pytest.mark.parametrize("batch", [1, 2])
def test_fixed_batch_runs_a_few_photos_at_a_time(tiny, tmp_path, batch):
    """A model whose batch dimension is fixed (1: torch.onnx.export's default) runs 3 photos
    in parts of its batch (the last part padded), with the same results as a dynamic model:
    capture, plain and quantised runs."""
    fixed = OnnxNetwork(tiny_model(str(tmp_path / "fixed.onnx"), batch=batch), size=16, criterion="cosine")
    assert fixed.fixed_batch == batch and tiny.fixed_batch is None
    x = tiny.prepare([im for _, im in photos(3)])
    a, b = tiny.forward(x, capture=True), fixed.forward(x, capture=True)
    assert np.allclose(a.output, b.output, rtol=1e-5, atol=1e-6) and b.output.shape == (3, 10)
    assert all(np.allclose(a.acts[n], b.acts[n], rtol=1e-5, atol=1e-6) for n in tiny.layer_names())
    q = {"pointwise": Quant(2.0 ** -10, Window(15, 9))}
    assert np.allclose(tiny.forward(x, q).output, fixed.forward(x, q).output, rtol=1e-5, atol=1e-6)


def test_fixed_size_is_the_size(tmp_path):
    """A model with a fixed input size runs at it; asking for another one is an error naming
    both, not a silent substitution."""
    path = tiny_model(str(tmp_path / "t.onnx"))
    assert OnnxNetwork(path, criterion="cosine").size == 16
    with pytest.raises(ConfigError, match="fixes its input at 16x16: size 32"):
        OnnxNetwork(path, size=32, criterion="cosine")


def test_dilated_layers_in_both_front_ends():
    """Dilated convolutions through PyTorch hooks and through the ONNX export: the same layers,
    and the model's exact convolution equals PyTorch's on integer inputs."""
    import torch
    from dstripes.sim.functional import conv_int
    from dstripes.sim.nets.torch_capture import TorchNetwork, layer_of

    # 'same' padding pads the dilated extent minus one: (3-1)*2 / 2 = 2 on each side
    same = layer_of(torch.nn.Conv2d(3, 4, 3, dilation=2, padding="same"), (1, 3, 16, 16), "s")
    assert (same.py, same.px, same.oh, same.ow) == (2, 2, 16, 16)
    # (onnxruntime cannot run the SAME_UPPER Conv that this exports to: the ONNX part below
    # uses the explicit padding)

    class Atrous(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(3, 4, 3, dilation=2, padding=2)
            self.b = torch.nn.Conv2d(4, 2, (3, 2), stride=2, padding=(2, 1), dilation=(2, 3))

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))

    torch.manual_seed(0)
    model = Atrous()
    net = TorchNetwork(model, "dilated", "cosine", 16, "unit")
    ls = net.layers()
    assert [(l.dy, l.dx, l.py, l.px) for l in ls] == [(2, 2, 2, 2), (2, 3, 2, 1)]
    assert [(l.oh, l.ow) for l in ls] == [(16, 16), (8, 8)]
    assert [l.describe() for l in net.to_onnx().layers()] == [l.describe() for l in ls]
    rng = np.random.default_rng(2)
    for layer, conv in zip(ls, (model.a, model.b)):
        x = rng.integers(0, 50, (layer.c, layer.h, layer.w))
        w = rng.integers(-20, 20, tuple(conv.weight.shape))
        want = torch.nn.functional.conv2d(torch.from_numpy(x[None].astype(np.float64)),
                                          torch.from_numpy(w.astype(np.float64)), stride=conv.stride,
                                          padding=conv.padding, dilation=conv.dilation)[0]
        assert conv_int(x, w, layer).tolist() == want.numpy().astype(np.int64).tolist()


def test_nhwc_and_old_opset(tmp_path):
    net = OnnxNetwork(tiny_model(str(tmp_path / "t.onnx"), nhwc=True, opset=9), size=16, criterion="top1")
    assert net.layout == "NHWC"
    assert [l.name for l in net.layers()][0] == "first"
    batch = net.prepare([im for _, im in photos(1)])
    assert batch.shape == (1, 16, 16, 3)
    q = {n: Quant(2.0 ** -8, Window(15, 6, signed=(n == "first"))) for n in net.layer_names()}
    assert net.forward(batch, q).output.shape == (1, 10)


def test_profile_targets_and_monotonicity(tiny):
    imgs = photos(4)
    profs = profile_network(tiny, imgs[:3], targets=("100", "99"), heldout=imgs[3:], progress=False)
    strict, loose = profs["100"], profs["99"]
    for a, b in zip(strict.layers, loose.layers):
        assert b.bits <= a.bits  # a looser target never needs a wider window
        assert a.msb == 15 and a.bits >= a.solo_bits
    assert strict.layers[0].signed and not strict.layers[2].signed
    assert strict.fidelity["profile_pass"] and strict.fidelity["profile"] >= 0.999
    assert "heldout" in strict.fidelity
    # a wider window never lowers fidelity: sweep the precision of every layer on its own
    from dstripes.sim.nets.fidelity import fidelity
    from dstripes.sim.nets.profile import quant_at, layer_stats
    batch = tiny.prepare([im for _, im in imgs])
    stats = layer_stats(tiny.forward(batch, capture=True).acts, 16)
    ref = tiny.forward(batch).output
    for name in tiny.layer_names():
        f = [fidelity("cosine", ref, tiny.forward(batch, {name: quant_at(stats[name], p, 16)}).output)
             for p in range(2, 13)]
        # Once quantisation error is below float rounding (cosine within ~1e-6 of 1) the score
        # jitters, so "never lowers" holds up to that noise, far inside any threshold margin...
        assert all(b >= a - 1e-5 for a, b in zip(f, f[1:])), (name, f)
        # ...and exactly in the form the binary search relies on: for every threshold the
        # passing precisions are upward closed
        for t in (0.99, 0.999):
            ok = [v >= t for v in f]
            assert ok == sorted(ok), (name, t, f)


def test_profile_json_roundtrip(tiny, tmp_path):
    prof = profile_network(tiny, photos(2), progress=False)["100"]
    path = str(tmp_path / "p.json")
    prof.save(path)
    again = Profile.load(path)
    assert [(l.name, l.msb, l.lsb, l.signed, l.scale) for l in again.layers] == \
           [(l.name, l.msb, l.lsb, l.signed, l.scale) for l in prof.layers]
    again.check_network(tiny)
    d = json.load(open(path))
    d["layers"][0]["lsb"] = 20
    json.dump(d, open(path, "w"))
    with pytest.raises(ConfigError, match="lsb 20 is above msb 15"):
        Profile.load(path)


def test_evaluate_matches_golden_model(tiny):
    imgs = photos(3)
    prof = profile_network(tiny, imgs, progress=False)["100"]
    ev = evaluate_network(tiny, prof, imgs, TileConfig(), chunk=2, progress=False)
    from dstripes.sim.nets.cluster import dask_client
    with dask_client(jobs=1) as client:  # the same counts from a Dask worker
        ev2 = evaluate_network(tiny, prof, imgs, TileConfig(), client=client, chunk=1, progress=False)
    assert ev.totals() == ev2.totals() and ev.photos == ev2.photos
    run = tiny.forward(tiny.prepare([im for _, im in imgs]), capture=True)
    for l, lc in zip(tiny.layers(), ev.layers()):
        lp = prof.layer(l.name)
        direct = layer_cycles(lp.quant.codes(run.acts[l.name]), l, lp.window, TileConfig())
        assert lc.cycles == direct.cycles and (lc.hist == direct.hist).all()
        assert ev.layers("both-g16")[0].config.trim == "both"
    d = ev.as_dict()
    assert d["images"] == 3 and len(d["layers"]) == 4
    assert d["total"]["stripes"] <= d["total"]["dadn"]
    assert d["total"]["dstripes"] <= d["total"]["stripes"]


def test_corrupt_and_missing_onnx(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a protobuf\xff\xff")
    with pytest.raises(ConfigError, match="not a readable ONNX model"):
        OnnxNetwork(str(bad))
    assert cli(["profile", "--model", str(bad), "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a readable ONNX model" in err[0]
    assert cli(["evaluate", "--model", str(tmp_path / "none.onnx"), "--out", str(tmp_path / "o")]) == 2
    assert "ONNX model not found" in capsys.readouterr().err


def test_cli_profile_and_evaluate_own_photos(tmp_path, capsys):
    from PIL import Image
    model = tiny_model(str(tmp_path / "tiny.onnx"))
    d = tmp_path / "photos"
    d.mkdir()
    for name, im in photos(6):
        Image.fromarray(im).save(d / f"{name}.png")
    prof = str(tmp_path / "p.json")
    # the folder's held-out half (3 of 6 photos) is smaller than the default 16: all 3 are used, and said
    assert cli(["profile", "--model", model, "--image-dir", str(d), "--images", "2", "--size", "16",
                "--criterion", "cosine", "--no-progress", "--jobs", "1", "--out", prof]) == 0
    cap = capsys.readouterr()
    assert cap.err.splitlines() == [f"image folder {d} has 3 held-out photos (its odd-numbered files), fewer than "
                                    f"the default 16 of --heldout: using 3"]
    assert "on 2 profiling photos" in cap.out and "on 3 held-out photos" in cap.out
    assert cli(["profile", "--model", model, "--image-dir", str(d), "--images", "2", "--heldout", "2",
                "--size", "16", "--criterion", "cosine", "--no-progress", "--jobs", "1", "--out", prof]) == 0
    out = capsys.readouterr().out
    assert "on 2 profiling photos" in out and "on 2 held-out photos" in out and "wrote" in out
    saved = json.load(open(prof))
    assert saved["images"]["profile"] == ["p0.png", "p2.png"] and saved["images"]["heldout"] == ["p1.png", "p3.png"]
    out = str(tmp_path / "eval")
    assert cli(["evaluate", "--model", model, "--profile", prof, "--image-dir", str(d), "--images", "3",
                "--size", "16", "--jobs", "1", "--no-progress", "--out", out, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["network"] == "tiny" and res["images"] == 3 and len(res["layers"]) == 4
    assert res["image_names"] == ["p1.png", "p3.png", "p5.png"]  # the held-out half only
    assert {"dadn", "stripes", "dstripes", "ideal", "pragmatic"} <= set(res["total"])
    assert res["speedup"]["stripes_over_dadn"] > 1
    per = res["speedup_per_photo"]["all"]["dstripes_over_stripes"]
    assert per["min"] <= per["median"] <= per["max"] and len(res["photos"]) == 3
    for f in ("report.md", "summary.json", "layers.csv", "networks.png", "tiny/report.md",
              "tiny/layers.csv", "tiny/summary.json", "tiny/speedup.png", "tiny/precision.png"):
        assert os.path.getsize(os.path.join(out, f)) > 0, f
    # error paths: missing photo folder, too many photos, a bad profile
    assert cli(["evaluate", "--model", model, "--profile", prof, "--image-dir", str(tmp_path / "nope"),
                "--out", out]) == 2
    assert "image folder not found" in capsys.readouterr().err
    assert cli(["evaluate", "--model", model, "--profile", prof, "--image-dir", str(d), "--images", "9",
                "--out", out]) == 2
    assert "--images 9: image folder" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{not json")
    assert cli(["evaluate", "--model", model, "--profile", str(tmp_path / "bad.json"), "--image-dir", str(d),
                "--out", out]) == 2
    assert "not valid JSON" in capsys.readouterr().err


@pytest.mark.nets
def test_onnx_export_matches_pytorch(tmp_path):
    """The same network through the PyTorch hooks and through torch.onnx.export + the generic
    ONNX front-end: same layers, same activations up to float rounding."""
    import torch
    from dstripes.sim.nets.models import load_network
    eager = load_network("mobilenet-v2", size=64, engine="torch")
    exported = eager.to_onnx()
    assert [(l.name, l.describe()) for l in eager.layers()] == [(l.name, l.describe()) for l in exported.layers()]
    # and a plain file export read back without any naming help
    path = str(tmp_path / "m.onnx")
    probe = torch.from_numpy(eager.prepare([np.zeros((64, 64, 3), np.uint8)]))
    import warnings
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated but needs no onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(eager.model, (probe,), path, dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "n"}})
    generic = OnnxNetwork(path, size=64)
    assert generic.criterion == "top1"
    assert [l.describe() for l in generic.layers()] == [l.describe() for l in eager.layers()]
    imgs = [im for _, im in photos(2, size=64)]
    a = eager.forward(eager.prepare(imgs), capture=True)
    b = generic.forward(generic.prepare(imgs), capture=True)
    for le, lg in zip(eager.layers(), generic.layers()):
        x, y = a.acts[le.name], b.acts[lg.name]
        assert x.shape == y.shape
        assert np.abs(x - y).max() <= 1e-4 * max(1.0, float(np.abs(x).max())), le.name
    assert (a.output.argmax(1) == b.output.argmax(1)).all()
