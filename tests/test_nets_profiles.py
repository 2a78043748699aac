"""Profiles that are judged on photos they never saw: photo splits, bad photos, the run cache,
the search's margin and headroom, profiles that do not fit a network, unreachable targets, the
user's folder split by ``profile`` / ``evaluate``, per-photo speedups and ``evaluate --dump``.

Everything runs on the small hand-built ONNX CNN of ``test_nets_onnx`` (no pretrained network)."""
from __future__ import annotations

import json
import shlex
import struct
import zlib

import numpy as np
import pytest

from dstripes.scripts.cli import main as cli
from dstripes.sim.errors import ConfigError
from dstripes.sim.nets import fidelity
from dstripes.sim.nets.cache import RunCache
from dstripes.sim.nets.images import check_readable, photos_in_dir, read_image, split_photos
from dstripes.sim.nets.headroom import headroom_bits
from dstripes.sim.nets.profile import Profile, profile_network

# the fixtures too: ``tiny`` and the autouse one that keeps tests off the user's run cache
from .test_nets_onnx import _no_run_cache, photos, tiny, tiny_model  # noqa: F401


def _folder(tmp_path, n, name="photos"):
    from PIL import Image
    d = tmp_path / name
    d.mkdir()
    for i, (_, im) in enumerate(photos(n, seed=3)):
        Image.fromarray(im).save(d / f"p{i}.png")
    return d


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` pixels (the data is a few bytes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def test_bad_photos_are_one_line_errors(tmp_path, capsys):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(100_000, 100_000))
    with pytest.raises(ConfigError, match="decompression bomb"):
        read_image(str(bomb))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ConfigError, match="cannot read image"):
        read_image(str(broken))
    # a folder of only unreadable files: nothing to profile on
    d = tmp_path / "junk"
    d.mkdir()
    (d / "a.jpg").write_bytes(b"garbage")
    (d / "b.png").write_bytes(b"")
    with pytest.raises(ConfigError, match="holds no readable photo"):
        check_readable(photos_in_dir(str(d)), "image folder junk")
    model = tiny_model(str(tmp_path / "tiny.onnx"))
    assert cli(["profile", "--model", model, "--image-dir", str(d), "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dstripes: error:") and "no readable photo" in err[0]
    # an enormous photo among good ones is refused before anything is decoded
    good = _folder(tmp_path, 4)
    (good / "zz.png").write_bytes(bomb.read_bytes())
    assert cli(["profile", "--model", model, "--image-dir", str(good), "--out", str(tmp_path / "p.json")]) == 2
    assert "decompression bomb" in capsys.readouterr().err


def test_user_folder_split_is_disjoint_and_counted(tmp_path):
    ps = photos_in_dir(str(_folder(tmp_path, 7)))
    prof, held = split_photos(ps, 3, 3, "folder")
    assert [p.name for p in prof] == ["p0.png", "p2.png", "p4.png"]
    assert [p.name for p in held] == ["p1.png", "p3.png", "p5.png"]
    with pytest.raises(ConfigError, match="4 images requested but folder .held-out half.* has only 3"):
        split_photos(ps, 1, 4, "folder")
    assert split_photos(ps, 7, 0, "folder") == (ps, [])


def test_fidelity_measure_margin_and_energy():
    ref = np.array([[3.0, 1.0, 0.0], [0.0, 2.0, 1.9]])
    out = np.array([[2.5, 1.5, 0.0], [0.0, 1.9, 2.0]])  # image 0 keeps its class by half its lead
    m = fidelity.measure(ref, out)
    assert m[0, 2] == pytest.approx(0.5) and m[0, 3] == pytest.approx(0.5)  # lead 2 -> 1
    assert m[1, 2] < 0 and m[1, 4] == 2  # image 1 changed class
    assert fidelity.image_scores("top1", m).tolist() == [1.0, 0.0]
    assert not fidelity.meets("top1", "100", m[:1], margin_db=12.0)  # needs 75 % of the lead kept
    assert fidelity.meets("top1", "100", m[:1], margin_db=3.0)  # needs 29 %
    m2 = fidelity.measure(np.ones((1, 4)) * 0.5, np.ones((1, 4)) * 0.5 + 10 ** -2.6)  # 52 dB
    assert fidelity.meets("psnr", "100", m2) and not fidelity.meets("psnr", "100", m2, margin_db=3.0)
    assert fidelity.energy("psnr", "100", m2, 0.0)[0] == pytest.approx(10 ** -0.2)
    with pytest.raises(ConfigError, match="margin must be a non-negative"):
        fidelity.energy("psnr", "100", m2, -1.0)
    # a photo whose lead full precision already moves by a quarter or more is a tie
    full = fidelity.measure(ref, np.array([[2.9, 1.0, 0.0], [0.0, 2.0, 1.95]]))
    assert fidelity.ties("top1", full).tolist() == [False, True]
    assert not fidelity.ties("psnr", full).any()
    # the top-1 margin asks no more than a share of what full precision keeps
    assert fidelity.meets("top1", "100", m[:1], margin_db=12.0, full=np.array([[0, 0, 0.6, 0, 0]]))


def test_headroom():
    maxima = 2.0 ** np.array([[0.0, 3.0], [0.1, 5.0], [-0.1, 4.0], [0.0, 2.0]])
    h = headroom_bits(maxima, "auto")
    assert h[1] > h[0] >= 0  # the layer whose maximum varies most across photos gets most room
    assert headroom_bits(maxima, 1).tolist() == [1.0, 1.0]
    for bad in ("lots", -1, 9):
        with pytest.raises(ConfigError, match="headroom must be"):
            headroom_bits(maxima, bad)


def test_profile_is_judged_on_other_photos_and_cached(tiny, tmp_path):
    ps = photos_in_dir(str(_folder(tmp_path, 8)))
    prof, held = split_photos(ps, 4, 4, "folder")
    cache = RunCache(str(tmp_path / "runs.sqlite"))
    out = profile_network(tiny, prof, ("100", "99"), heldout=held, progress=False, cache=cache)
    strict, loose = out["100"], out["99"]
    f = strict.fidelity
    assert f["profile_images"] == 4 and f["heldout_images"] == 4 and f["profile_pass"]
    assert f["heldout_worst"]["photo"] in [p.name for p in held]
    assert f["heldout_pass"] == (f["heldout"] >= strict.threshold)
    assert all(b.bits <= a.bits for a, b in zip(strict.layers, loose.layers))
    assert strict.search["margin_db"] == 3.0 and strict.search["headroom"] == "auto"
    with pytest.raises(ConfigError, match="must not be profiling photos"):
        profile_network(tiny, prof, heldout=prof[:1], progress=False, cache=RunCache(None))
    # the same search again: every run comes from the cache, nothing is recomputed; with labels,
    # top-1 accuracy of the float and the quantised network beside the agreement
    again = RunCache(str(tmp_path / "runs.sqlite"))
    float_class = {p.name: int(np.argmax(tiny.forward(tiny.prepare([p.read()])).output)) for p in held}
    labels = {name: c if i % 2 else (c + 1) % 10 for i, (name, c) in enumerate(float_class.items())}
    twice = profile_network(tiny, prof, ("100", "99"), heldout=held, progress=False, cache=again, labels=labels)
    assert again.misses == 0 and again.hits > 0
    assert [l.bits for l in twice["100"].layers] == [l.bits for l in strict.layers]
    acc = twice["100"].fidelity["heldout_accuracy"]
    assert acc["photos"] == 4 and acc["float"] == 0.5 and "profile_accuracy" not in twice["100"].fidelity


def test_unreachable_target_and_mismatched_profile(tiny, tmp_path, capsys):
    imgs = photos(3)
    with pytest.raises(ConfigError, match="cannot be met even at full 2-bit precision"):
        profile_network(tiny, imgs, act_bits=2, progress=False, cache=RunCache(None))
    model = tiny.path
    d = _folder(tmp_path, 6)
    assert cli(["profile", "--model", model, "--image-dir", str(d), "--images", "2", "--heldout", "0",
                "--act-bits", "2", "--size", "16", "--no-progress", "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be met even at full 2-bit precision" in err[0]
    # a profile of another network: a layer too many, a layer missing, a layer twice
    prof = profile_network(tiny, imgs, progress=False, cache=RunCache(None))["100"]
    path = tmp_path / "other.json"
    for change, message in ((lambda L: L + [dict(L[-1], name="extra")], "is not a layer of network tiny"),
                            (lambda L: L[:-1], "has no layer 'fc' of network tiny"),
                            (lambda L: L + [L[0]], "lists layer 'first' twice")):
        d_ = prof.as_dict()
        d_["layers"] = change(d_["layers"])
        path.write_text(json.dumps(d_))
        with pytest.raises(ConfigError, match=message):
            Profile.load(str(path)).check_network(tiny)
    assert cli(["evaluate", "--model", model, "--profile", str(path), "--image-dir", str(d), "--images", "1",
                "--size", "16", "--no-progress", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "twice (the profile has 5 layers, network tiny 4)" in err[0]


def test_evaluate_profiles_first_and_dumps(tmp_path, capsys):
    model = tiny_model(str(tmp_path / "tiny.onnx"))
    d = _folder(tmp_path, 6)
    out, dump = tmp_path / "out", tmp_path / "dump"
    # counts are checked before any work: 4 is more than the folder's held-out half
    assert cli(["evaluate", "--model", model, "--image-dir", str(d), "--images", "4", "--size", "16",
                "--out", str(out)]) == 2
    assert "4 images requested but image folder" in capsys.readouterr().err
    assert cli(["evaluate", "--model", model, "--image-dir", str(d), "--images", "3", "--profile-images", "3",
                "--criterion", "cosine", "--size", "16", "--jobs", "1", "--no-progress", "--out", str(out),
                "--dump", str(dump)]) == 0
    text = capsys.readouterr().out
    assert "profiling first on 3 photos (criterion cosine, target 100)" in text
    assert "on 3 profiling photos" in text and "on 3 held-out photos" in text
    assert "per photo, Dynamic Stripes over Stripes: min" in text and "profile held-out fidelity" in text
    saved = Profile.load(str(out / "tiny" / "profile-100.json"))
    assert saved.images["heldout"] == ["p1.png", "p3.png", "p5.png"] and "heldout" in saved.fidelity
    index = json.load(open(dump / "layers.json"))
    assert [e["layer"] for e in index["layers"]] == ["first", "Conv_2", "pointwise", "fc"]
    first = index["layers"][0]
    codes = np.load(first["acts"])
    assert codes.shape == (1, 3, 17, 17) and first["signed"]  # the first layer's input is signed
    assert np.load(first["weights"]).shape == (8, 3, 3, 3)
    for e in index["layers"]:  # every command line runs as printed
        argv = shlex.split(e["cycles"])[1:] + ["--json"]
        assert cli(argv) == 0, e["cycles"]
        res = json.loads(capsys.readouterr().out)
        assert res["dstripes"]["cycles"] <= res["stripes"]["cycles"] and res["precision"] == codes_bits(e)


def codes_bits(entry) -> int:
    msb, lsb = (int(x) for x in entry["window"].split(":"))
    return msb - lsb + 1


def test_shipped_photo_splits():
    from dstripes.sim.nets.images import photos as split
    prof, held = split("profile"), split("heldout")
    assert len(prof) >= 100 and len(held) >= 100
    assert not {p.name for p in prof} & {p.name for p in held}
    assert not {p.key for p in prof} & {p.key for p in held}  # no photo file in both
    for ps in (prof, held):
        assert len({p.name.split(".")[0] for p in ps[:8]}) >= 4  # the first few mix the sources
        assert not any("segmented" in p.name for p in ps)
    names = {p.name: s for s, ps in (("p", prof), ("h", held)) for p in ps}
    for a, b in (("skimage.motorcycle_left", "skimage.motorcycle_right"), ("opencv.aloeL", "opencv.aloeR")):
        if a in names:
            assert names[a] == names[b]  # near-identical pairs never straddle the split
