"""Built-in networks: layer shapes against the known topologies, capture on real photos,
fidelity monotonicity on real layers, shipped profiles and the CLI on built-in names."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dstripes.scripts.cli import main as cli
from dstripes.sim.errors import ConfigError

pytestmark = pytest.mark.nets


@pytest.fixture(scope="module")
def eager():
    """Layer discovery at 224x224 through the PyTorch hooks (one probe pass per network)."""
    from dstripes.sim.nets.models import load_network
    return {n: load_network(n, engine="torch") for n in ("vgg16-hed", "resnet50-imgsim", "mobilenet-v2")}


def test_vgg16_topology(eager):
    ls = eager["vgg16-hed"].layers()
    assert [l.name for l in ls][:3] == ["conv1_1", "conv1_2", "conv2_1"] and len(ls) == 13
    assert [l.c for l in ls] == [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512]
    assert [l.k for l in ls] == [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    assert [l.h for l in ls] == [224, 224, 112, 112, 56, 56, 56, 28, 28, 28, 14, 14, 14]
    assert all((l.kh, l.kw, l.sy, l.py, l.conv_groups, l.fc) == (3, 3, 1, 1, 1, False) for l in ls)


def test_resnet50_topology(eager):
    ls = eager["resnet50-imgsim"].layers()
    convs = [l for l in ls if not l.fc]
    assert len(convs) == 53 and len(ls) == 54 and ls[-1].fc and (ls[-1].c, ls[-1].k) == (2048, 768)
    first = convs[0]
    assert (first.c, first.h, first.k, first.kh, first.sy, first.py) == (3, 224, 64, 7, 2, 3)
    down = [l for l in convs if "downsample" in l.name]
    assert [(l.c, l.k, l.sy, l.kh) for l in down] == [(64, 256, 1, 1), (256, 512, 2, 1),
                                                     (512, 1024, 2, 1), (1024, 2048, 2, 1)]
    strided = [l.name for l in convs if l.sy == 2]
    assert strided == ["conv1", "layer2.0.downsample.0", "layer2.0.conv2", "layer3.0.downsample.0",
                       "layer3.0.conv2", "layer4.0.downsample.0", "layer4.0.conv2"]
    assert sum(l.kh == 3 for l in convs) == 16 and sum(l.kh == 1 for l in convs) == 36


def test_mobilenet_v2_topology(eager):
    ls = eager["mobilenet-v2"].layers()
    convs = [l for l in ls if not l.fc]
    assert len(convs) == 52 and ls[-1].fc and (ls[-1].c, ls[-1].k) == (1280, 1000)
    dw = [l for l in convs if l.conv_groups > 1]
    assert len(dw) == 17 and all(l.conv_groups == l.c == l.k and l.kh == 3 for l in dw)
    assert [l.c for l in dw][:4] == [32, 96, 144, 144]
    assert sum(l.sy == 2 for l in dw) == 4 and convs[0].sy == 2


def test_nsfw_onnx_topology():
    from dstripes.sim.nets.models import load_network
    net = load_network("resnet50-nsfw")
    ls = net.layers()
    assert len([l for l in ls if not l.fc]) == 53 and ls[-1].fc and (ls[-1].c, ls[-1].k) == (1024, 2)
    assert (ls[0].c, ls[0].kh, ls[0].sy, ls[0].py) == (3, 7, 2, 3)
    assert net.layout == "NHWC" and net.criterion == "psnr"


def test_capture_on_real_photos():
    from dstripes.sim.nets.images import load_images
    from dstripes.sim.nets.models import load_network
    net = load_network("vgg16-hed", size=64)
    photos = load_images("heldout", 2)
    assert [n for n, _ in photos] == ["aibench.classification.1", "aibench.enhancement.1"]
    run = net.forward(net.prepare([im for _, im in photos]), capture=True)
    for l in net.layers():
        a = run.acts[l.name]
        assert a.shape == (2, l.c, l.h, l.w)
        if l.name == "conv1_1":
            assert a.min() < 0 < a.max()  # BGR minus mean
        else:
            assert a.min() >= 0 and 0.05 < (a == 0).mean() < 0.99  # post-ReLU, real sparsity
    assert run.output.shape == (2, 1, 64, 64) and 0 <= run.output.min() and run.output.max() <= 1


def test_fidelity_grows_with_precision_on_real_layers():
    """A wider window never lowers fidelity (PSNR of the HED edge map) on real layers."""
    from dstripes.sim.nets.fidelity import fidelity
    from dstripes.sim.nets.images import load_images
    from dstripes.sim.nets.models import load_network
    from dstripes.sim.nets.profile import layer_stats, quant_at
    net = load_network("vgg16-hed", size=64)
    batch = net.prepare([im for _, im in load_images("profile", 2)])
    stats = layer_stats(net.forward(batch, capture=True).acts, 16)
    ref = net.forward(batch).output
    for name in ("conv1_1", "conv2_2", "conv4_1"):
        f = [fidelity("psnr", ref, net.forward(batch, {name: quant_at(stats[name], p, 16)}).output)
             for p in range(3, 13)]
        assert all(b >= a for a, b in zip(f, f[1:])), (name, f)


def test_shipped_profiles_fit_their_networks():
    """Every shipped profile meets its target on at least 32 held-out photos that share none
    with its profiling photos."""
    from dstripes.sim.nets.images import image_names
    from dstripes.sim.nets.models import BUILTIN, load_network
    from dstripes.sim.nets.profile import Profile, builtin_profile_path
    held_split = set(image_names("heldout"))
    for name in BUILTIN:
        strict, loose = (Profile.load(builtin_profile_path(name, t)) for t in ("100", "99"))
        for p in (strict, loose):
            f = p.fidelity
            assert f["profile_pass"] and f["heldout_pass"], (name, p.target, f)
            assert f["heldout_images"] >= 32 and f["heldout"] >= p.threshold
            assert not set(p.images["profile"]) & set(p.images["heldout"])
            assert set(p.images["heldout"]) <= held_split
        assert all(b.bits <= a.bits for a, b in zip(strict.layers, loose.layers))
        assert strict.layers[0].signed
    strict = Profile.load(builtin_profile_path("resnet50-nsfw", "100"))
    strict.check_network(load_network("resnet50-nsfw"))


def test_cli_errors_on_builtin_inputs(tmp_path, capsys):
    assert cli(["evaluate", "--model", "alexnet", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'alexnet'" in err[0]
    from dstripes.sim.nets.images import image_names
    n = len(image_names("profile"))
    assert cli(["profile", "--model", "mobilenet-v2", "--images", str(n + 1), "--out", str(tmp_path / "p.json")]) == 2
    assert (f"--images {n + 1}: the shipped photo set has only {n} profiling photos (the profiling split); ask for "
            f"{n} or fewer, or leave --images out to use them all") in capsys.readouterr().err
    # counts are checked before any work: no network is loaded for this
    n = len(image_names("heldout"))
    assert cli(["evaluate", "--model", "all", "--images", "400", "--out", str(tmp_path)]) == 2
    assert f"--images 400: the shipped photo set has only {n} held-out photos" in capsys.readouterr().err
    assert cli(["evaluate", "--model", "mobilenet-v2", "--images", "0", "--out", str(tmp_path)]) == 2
    assert "--images must be positive" in capsys.readouterr().err
    wrong = tmp_path / "wrong.json"
    from dstripes.sim.nets.profile import builtin_profile_path
    wrong.write_text(open(builtin_profile_path("vgg16-hed")).read())
    assert cli(["evaluate", "--model", "mobilenet-v2", "--profile", str(wrong), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no layer 'features.0.0'" in err[0] and "(the profile has 13 layers" in err[0]


def test_cli_evaluate_builtin_json(tmp_path, capsys):
    assert cli(["evaluate", "--model", "vgg16-hed", "--images", "1", "--size", "64", "--no-progress",
                "--profile", _profile_at(tmp_path, "vgg16-hed", 64), "--out", str(tmp_path / "o"),
                "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["network"] == "vgg16-hed" and res["images"] == 1 and len(res["layers"]) == 13
    s = res["speedup"]
    assert s["stripes_over_dadn"] > 1 and s["dstripes_over_stripes"] >= 1
    assert res["total"]["dstripes"] <= res["total"]["stripes"] <= res["total"]["dadn"]
    hist = res["layers"][3]["group_precision_hist"]
    assert len(hist) == res["layers"][3]["precision"] + 1 and sum(hist) > 0


def _profile_at(tmp_path, network, size):
    """The shipped profile relabelled for another input size (windows do not depend on it)."""
    from dstripes.sim.nets.profile import builtin_profile_path
    d = json.load(open(builtin_profile_path(network)))
    d["input"]["size"] = size
    path = tmp_path / f"{network}-{size}.json"
    path.write_text(json.dumps(d))
    return str(path)


def test_unknown_layer_quantisation_is_rejected():
    from dstripes.sim.nets.models import load_network
    from dstripes.sim.nets.network import Quant
    from dstripes.sim.fixed import Window
    net = load_network("mobilenet-v2", size=32)
    with pytest.raises(ConfigError, match="has no layer 'conv9'"):
        net.forward(net.prepare([np.zeros((32, 32, 3), np.uint8)]), {"conv9": Quant(1.0, Window(7))})
