"""A user's photo folder (``--image-dir``): every photo a command will use is decoded before any
work, a broken one is one line naming it; a small folder works with the default counts, and a
count the user gave that the folder cannot fill names the option (docs/usage.md §5)."""
from __future__ import annotations

import io
import re
import struct
import warnings
import zlib

import numpy as np
import pytest

from dstripes.scripts.cli import main as cli
from dstripes.sim.errors import ConfigError
from dstripes.sim.nets.images import read_image

from .test_nets_onnx import _no_run_cache, photos, tiny_model  # noqa: F401


def _encoded(fmt: str) -> bytes:
    from PIL import Image
    rng = np.random.default_rng(11)
    b = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)).save(b, fmt)
    return b.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` pixels (its data is a few bytes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def _folder(tmp_path, n: int):
    from PIL import Image
    d = tmp_path / "photos"
    d.mkdir()
    for i, (_, im) in enumerate(photos(n, seed=4)):
        Image.fromarray(im).save(d / f"p{i:02d}.png")
    return d


BROKEN = {
    "truncated JPEG": ("p03.jpg", lambda: _encoded("JPEG")[:-600], "is truncated or corrupt"),
    "truncated PNG": ("p03.png", lambda: _encoded("PNG")[:5000], "is truncated or corrupt"),
    "empty file": ("p03.jpg", lambda: b"", "is empty (0 bytes)"),
    "not an image": ("p03.png", lambda: b"name,class\nastronaut,1\n", "is not an image file"),
}


@pytest.mark.parametrize("kind", BROKEN)
def test_a_broken_photo_is_named_before_any_work(tmp_path, capsys, kind):
    name, data, says = BROKEN[kind]
    d = _folder(tmp_path, 6)
    (d / "p03.png").unlink()
    bad = d / name
    bad.write_bytes(data())
    # the decoder a worker uses says the same
    with pytest.raises(ConfigError, match="^" + re.escape(f"photo {bad} {says}")):
        read_image(str(bad), 16)
    # a model that fails when it loads proves the photos are checked first, before any network
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"\x08\x07 not an ONNX model")
    out = tmp_path / "out"
    for argv in (["profile", "--model", str(model), "--image-dir", str(d), "--out", str(out / "p.json")],
                 ["evaluate", "--model", str(model), "--image-dir", str(d), "--out", str(out)]):
        assert cli(argv) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith(f"dstripes: error: photo {bad} {says}"), err
    # a broken photo the counts leave out does not matter: the first held-out photo is p01
    assert cli(["evaluate", "--model", str(model), "--image-dir", str(d), "--images", "1", "--profile-images", "1",
                "--out", str(out)]) == 2
    assert "not a readable ONNX model" in capsys.readouterr().err


def test_a_decompression_bomb_is_one_line_and_no_warning(tmp_path, capsys):
    d = _folder(tmp_path, 4)
    bomb = d / "p00.png"
    bomb.write_bytes(_png_claiming(10_000, 10_000))  # PIL's own limit would warn at these 100 M pixels
    model = tiny_model(str(tmp_path / "tiny.onnx"))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert cli(["profile", "--model", model, "--image-dir", str(d), "--out", str(tmp_path / "p.json")]) == 2
        with pytest.raises(ConfigError, match="decompression bomb"):
            read_image(str(bomb))
    assert [str(w.message) for w in seen] == []
    assert capsys.readouterr().err.splitlines() == [
        f"dstripes: error: photo {bomb} is a decompression bomb: 10000x10000 pixels, more than 64,000,000"]


def test_a_small_folder_works_with_the_default_counts(tmp_path, capsys):
    """The README's profile command on a folder of 12 photos: the defaults (16 profiling, 16
    held-out) take the 6 + 6 there are and say so; a count the user gave names its option."""
    d = _folder(tmp_path, 12)
    model = tiny_model(str(tmp_path / "my_net.onnx"))
    prof = str(tmp_path / "my_net.profile.json")
    assert cli(["profile", "--model", model, "--image-dir", str(d), "--out", prof, "--criterion", "cosine",
                "--jobs", "1", "--no-progress"]) == 0
    cap = capsys.readouterr()
    assert cap.err.splitlines() == [
        f"image folder {d} has 6 profiling photos (its even-numbered files), fewer than the default 16 of --images: "
        f"using 6",
        f"image folder {d} has 6 held-out photos (its odd-numbered files), fewer than the default 16 of --heldout: "
        f"using 6"]
    assert "on 6 profiling photos, " in cap.out and "on 6 held-out photos" in cap.out
    for argv, option in ((["profile", "--heldout", "7"], "--heldout 7"),
                         (["profile", "--images", "9"], "--images 9"),
                         (["evaluate", "--images", "16"], "--images 16"),
                         (["evaluate", "--profile-images", "8"], "--profile-images 8")):
        out = str(tmp_path / ("x.json" if argv[0] == "profile" else "x"))
        assert cli(argv + ["--model", model, "--image-dir", str(d), "--out", out]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith(f"dstripes: error: {option}: image folder {d} has only 6 "), err
        assert err[0].endswith(f"ask for 6 or fewer, or leave {option.split()[0]} out to use them all")
    # without held-out photos every file profiles; a folder of one file has no held-out half
    assert cli(["profile", "--model", model, "--image-dir", str(d), "--heldout", "0", "--images", "13",
                "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert f"--images 13: image folder {d} has only 12 profiling photos (every file)" in err
    one = tmp_path / "one"
    one.mkdir()
    (d / "p00.png").rename(one / "p00.png")
    assert cli(["profile", "--model", model, "--image-dir", str(one), "--out", str(tmp_path / "x.json")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"dstripes: error: image folder {one} has no held-out photos (its odd-numbered files); --heldout 0 runs "
        f"without them"]
    # evaluate with a profile: the default 16 held-out photos become the 6 there are
    assert cli(["evaluate", "--model", model, "--profile", prof, "--image-dir", str(d), "--jobs", "1",
                "--no-progress", "--json", "--out", str(tmp_path / "ev")]) == 0
    cap = capsys.readouterr()
    assert cap.err.splitlines() == [f"image folder {d} has 5 held-out photos (its odd-numbered files), fewer than "
                                    f"the default 16 of --images: using 5"]
