"""Bad input, as a new user would try it, against every command: one line naming the bad value
and exit status 2, before any long work; a failed external tool gets its own line and status 3;
an interrupt 130; a bug 4.

One table row per (class, command): files of the wrong kind, selections out of range, output
paths that cannot be written, sizes that cannot fit, layer keys that contradict each other,
options that do not apply, broken photos. The rows run in-process (``main``) and never reach a
simulator, yosys or a network's forward pass: each must be refused before.
"""
from __future__ import annotations

import json
import pickle
import struct
import zlib

import numpy as np
import pytest

from dstripes.scripts.cli import main
from dstripes.sim.nets.images import image_names
from test_nets_onnx import tiny_model

SMALL = ["--lanes", "4", "--columns", "4", "--rows", "2", "--act-bits", "8", "--weight-bits", "8"]


def _png(path, width: int, height: int, data: bytes = b"") -> None:
    """A PNG file whose header declares ``width x height`` (pixels need not follow)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b""))


@pytest.fixture
def f(tmp_path):
    """Every input file of the table, by the name the rows use."""
    rng = np.random.default_rng(3)
    files = {}

    def save(name, array):
        np.save(tmp_path / name, array)
        files[name.split(".")[0]] = str(tmp_path / name)

    save("acts.npy", rng.integers(0, 100, (4, 6, 6)).astype(np.uint8))
    save("acts4.npy", rng.integers(0, 100, (2, 4, 6, 6)).astype(np.uint8))
    save("weights.npy", rng.integers(-100, 100, (3, 4, 3, 3)))
    save("empty.npy", np.zeros((0, 6, 6), np.uint8))
    np.savez(tmp_path / "arrays.npz", acts=np.zeros((4, 6, 6)))
    files["npz"] = str(tmp_path / "arrays.npz")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    files["pickle"] = str(tmp_path / "list.pkl")
    (tmp_path / "acts.txt").write_text("1 2 3\n4 5 6\n")
    files["text"] = str(tmp_path / "acts.txt")
    np.save(tmp_path / "cut.npy", np.arange(4 * 6 * 6).reshape(4, 6, 6))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:-40])
    files["truncated"] = str(tmp_path / "cut.npy")
    with open(tmp_path / "huge.npy", "wb") as fh:  # declares 600 GB, holds 64 bytes
        np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False,
                                                 "shape": (60, 100_000, 100_000)})
        fh.write(bytes(64))
    files["huge"] = str(tmp_path / "huge.npy")
    np.save(tmp_path / "few.npy", np.arange(4 * 30 * 30, dtype=np.int16).reshape(4, 30, 30))  # 7,200 bytes of data
    (tmp_path / "few.npy").write_bytes((tmp_path / "few.npy").read_bytes()[:-3])             # 3 of them cut
    files["few"] = str(tmp_path / "few.npy")
    (tmp_path / "blocked" / "dstripes_tile.v").mkdir(parents=True)  # a folder where a file is to go
    files["blocked"] = str(tmp_path / "blocked")
    (tmp_path / "afile").write_text("not a folder")
    files["file"] = str(tmp_path / "afile")
    files["tmp"] = str(tmp_path)
    files["heldout"] = f"only {len(image_names('heldout'))}"  # the shipped held-out split
    files["onnx"] = tiny_model(str(tmp_path / "tiny.onnx"))  # fixes its input at 16x16
    for name in ("photos", "bomb", "warnbomb", "corrupt"):
        (tmp_path / name).mkdir()
        files[name] = str(tmp_path / name)
    from PIL import Image
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3)).astype(np.uint8)).save(tmp_path / "photos" / f"{i}.png")
    _png(tmp_path / "bomb" / "big.png", 50_000, 50_000)        # 2.5 G pixels: PIL's error
    _png(tmp_path / "warnbomb" / "big.png", 10_000, 10_000)    # 100 M pixels: PIL only warns
    _png(tmp_path / "corrupt" / "cut.png", 64, 64, bytes(10))  # pixel data cut short
    return files


CYCLES = ["cycles", "--acts", "{acts}", "--layer", "k=4,kh=3,pad=1", "--window", "7:0"]
SIM = ["simulate", "--sim", "icarus", "--acts", "{acts4}", "--weights", "{weights}", "--layer",
       "k=3,kh=3,pad=1", "--window", "7:0", *SMALL]
# one profiling photo and (evaluate) one held-out photo: the two halves of a two-photo folder
PROFILE = ["profile", "--model", "{onnx}", "--image-dir", "{photos}", "--images", "1", "--heldout", "0",
           "--no-progress"]
EVALUATE = ["evaluate", "--model", "{onnx}", "--image-dir", "{photos}", "--images", "1",
            "--profile-images", "1", "--no-progress"]


def _with(base, **options):
    """``base`` with ``--option value`` pairs replaced or added (``None``: removed)."""
    out = list(base)
    for key, value in options.items():
        opt = "--" + key.replace("_", "-")
        if opt in out:
            i = out.index(opt)
            del out[i:i + 2]
        if value is not None:
            out += [opt, value]
    return out


# (id, argv, named: tokens the one error line must hold)
ROWS = [
    # ---- files of the wrong kind
    ("cycles-npz", _with(CYCLES, acts="{npz}"), [".npz archive", "acts", "arrays.npz"]),
    ("cycles-pickle", _with(CYCLES, acts="{pickle}"), ["list.pkl", "pickle"]),
    ("cycles-text", _with(CYCLES, acts="{text}"), ["acts.txt", "not a .npy"]),
    ("cycles-truncated", _with(CYCLES, acts="{truncated}"), ["cut.npy", "truncated"]),
    ("cycles-folder", _with(CYCLES, acts="{tmp}"), ["is a folder"]),
    ("cycles-empty-array", _with(CYCLES, acts="{empty}"), ["no values", "(0, 6, 6)"]),
    ("simulate-npz-acts", _with(SIM, acts="{npz}"), [".npz archive"]),
    ("simulate-npz-weights", _with(SIM, weights="{npz}"), ["weights file", ".npz archive"]),
    ("simulate-text-weights", _with(SIM, weights="{text}"), ["weights file", "acts.txt"]),
    ("simulate-missing-acts", _with(SIM, acts="/nonexistent.npy"), ["activations file not found: /nonexistent.npy"]),
    ("simulate-weights-shape", _with(SIM, layer="k=2,kh=3,pad=1"),
     ["weights have shape (3, 4, 3, 3), the layer needs (2, 4, 3, 3)"]),
    ("profile-npy-as-model", _with(PROFILE, model="{acts}", out="{tmp}/p.json"), ["acts.npy"]),
    ("evaluate-npy-as-profile", _with(EVALUATE, profile="{acts}", out="{tmp}/o"), ["acts.npy", "JSON"]),
    # ---- selections out of range
    ("simulate-filter-set-beyond", _with(SIM, filter_set="2"), ["filter set 2", "0..1"]),
    ("simulate-filter-set-negative", _with(SIM, filter_set="-1"), ["filter set -1"]),
    ("simulate-window-sets-negative", _with(SIM, window_sets="-3"), ["-3", "between 1 and 9"]),
    ("simulate-window-sets-beyond", _with(SIM, window_sets="10"), ["10", "between 1 and 9"]),
    ("simulate-image-beyond", _with(SIM, image="2"), ["--image 2", "2 inputs"]),
    ("simulate-image-negative", _with(SIM, image="-1"), ["--image -1"]),
    ("cycles-image-beyond", _with(CYCLES, acts="{acts4}", image="5"), ["--image 5", "0..1"]),
    ("demo-window-sets-negative", ["demo", "--window-sets", "-1"], ["--window-sets -1", "1..16"]),
    ("demo-window-sets-beyond", ["demo", "--window-sets", "17"], ["--window-sets 17", "1..16"]),
    ("demo-unknown-sample", ["demo", "--sample", "nope"], ["'nope'"]),
    ("evaluate-images-zero", _with(EVALUATE, images="0", out="{tmp}/o"), ["--images", "0"]),
    ("evaluate-images-beyond", _with(EVALUATE, image_dir=None, images="1000", out="{tmp}/o"), ["1000", "{heldout}"]),
    ("profile-heldout-negative", _with(PROFILE, image_dir=None, heldout="-1", out="{tmp}/p.json"), ["--heldout", "-1"]),
    ("evaluate-jobs-negative", _with(EVALUATE, jobs="-2", out="{tmp}/o"), ["--jobs", "-2"]),
    # ---- output paths: an existing file, below a file, a device, empty
    ("generate-out-file", ["generate", "--out", "{file}"], ["afile", "not a folder"]),
    ("generate-out-below-file", ["generate", "--out", "{file}/sub"], ["below", "afile"]),
    ("generate-out-device", ["generate", "--out", "/dev/null"], ["/dev/null"]),
    ("generate-out-empty", ["generate", "--out", ""], ["empty"]),
    ("simulate-waves-device", _with(SIM, waves="/dev/null"), ["--waves /dev/null"]),
    ("simulate-waves-empty", _with(SIM, waves=""), ["--waves", "empty"]),
    ("synth-out-file", ["synth", "--scheme", "dadn", "--out", "{file}"], ["afile"]),
    ("profile-out-device", _with(PROFILE, out="/dev/null"), ["/dev/null", "not a regular file"]),
    ("profile-out-below-file", _with(PROFILE, out="{file}/p.json"), ["afile"]),
    ("profile-out-empty", _with(PROFILE, out=""), ["empty"]),
    ("profile-out-folder", _with(PROFILE, out="{tmp}"), ["not a regular file"]),
    ("profile-out-slash", _with(PROFILE, out="{tmp}/new/"), ["names a folder"]),
    ("evaluate-out-file", _with(EVALUATE, out="{file}"), ["afile", "not a folder"]),
    ("evaluate-out-device", _with(EVALUATE, out="/dev/null"), ["/dev/null"]),
    ("evaluate-out-empty", _with(EVALUATE, out=""), ["empty"]),
    # ---- sizes that cannot fit
    ("cycles-huge-header", _with(CYCLES, acts="{huge}"), ["huge.npy", "60x100000x100000", "truncated"]),
    ("simulate-huge-header", _with(SIM, acts="{huge}"), ["huge.npy", "truncated"]),
    ("cycles-huge-padding", _with(CYCLES, layer="k=4,pad=10000000"), ["p10000000x10000000", "memory"]),
    ("cycles-huge-columns", _with(CYCLES, columns="1000000000"), ["columns 1000000000", "1024"]),
    ("cycles-huge-lanes", _with(CYCLES, lanes="4096"), ["lanes 4096", "1024"]),
    ("cycles-huge-max-reduction", _with(CYCLES, max_reduction=str(1 << 40)), [str(1 << 40)]),
    ("generate-huge-tile", ["generate", "--rows", "512", "--columns", "32", "--out", "{tmp}/g"],
     ["262,144", "65,536"]),
    ("generate-huge-rows", ["generate", "--rows", "100000", "--out", "{tmp}/g"], ["rows 100000", "1024"]),
    ("synth-huge-tile", ["synth", "--scheme", "all", "--lanes", "64", "--columns", "128"], ["131,072", "65,536"]),
    ("simulate-huge-tile", _with(SIM, rows="1024", columns="256"), ["multiplier lanes"]),
    # ---- layer keys that contradict each other
    ("cycles-fc-with-kh", _with(CYCLES, layer="k=4,fc,kh=3"), ["'kh'", "fully-connected"]),
    ("cycles-fc-with-stride", _with(CYCLES, layer="k=4,fc,stride=2"), ["'stride'"]),
    ("cycles-fc-with-pad", _with(CYCLES, layer="k=4,fc,pad=1"), ["'pad'"]),
    ("cycles-fc-with-groups", _with(CYCLES, layer="k=4,fc,groups=2"), ["'groups'"]),
    ("cycles-fc-maybe", _with(CYCLES, layer="k=4,fc=maybe"), ["'maybe'"]),
    ("simulate-fc-maybe", _with(SIM, layer="k=3,fc=maybe"), ["'maybe'"]),
    ("simulate-fc", _with(SIM, layer="k=3,fc"), ["simulate runs conv layers", "dstripes verify"]),
    ("cycles-dilation-too-wide", _with(CYCLES, layer="k=4,kh=3,dilation=4"), ["extent 9", "6"]),
    # ---- values named as the user wrote them, not as the model's fields are called
    ("cycles-stride-zero", _with(CYCLES, layer="k=4,stride=0"), ["layer stride along the height must be a positive "
                                                                 "integer, not 0"]),
    ("cycles-stride-width-zero", _with(CYCLES, layer="k=4,stride=1x0"), ["layer stride along the width", "not 0"]),
    ("cycles-groups-zero", _with(CYCLES, layer="k=4,groups=0"), ["layer groups must be a positive integer, not 0"]),
    ("cycles-pad-negative", _with(CYCLES, layer="k=4,pad=-1"), ["layer pad along the height must be a non-negative "
                                                                "integer, not -1"]),
    ("cycles-dilation-zero", _with(CYCLES, layer="k=4,dilation=0"), ["layer dilation along the height", "not 0"]),
    ("cycles-kernel-zero", _with(CYCLES, layer="k=4,kh=0"), ["layer kh (kernel height) must be"]),
    ("cycles-cut-by-3-bytes", _with(CYCLES, acts="{few}"), ["few.npy", "(7,200 bytes) but holds only 7,197 bytes"]),
    ("generate-out-blocked", ["generate", *SMALL, "--out", "{blocked}"], ["Is a directory: {blocked}/dstripes_tile.v"]),
    # ---- options that do not apply
    ("cycles-image-on-3d", _with(CYCLES, image="0"), ["--image 0", "(4, 6, 6)"]),
    ("simulate-image-on-3d", _with(SIM, acts="{acts}", image="0"), ["--image 0", "one input"]),
    ("generate-group-on-dadn", ["generate", "--scheme", "dadn", "--group", "2", "--out", "{tmp}/g"],
     ["--group 2", "dadn"]),
    ("simulate-trim-on-stripes", _with(SIM, scheme="stripes", trim="both"), ["--trim both", "stripes"]),
    ("simulate-group-on-stripes", _with(SIM, scheme="stripes", group="2"), ["--group 2 does not apply to the stripes tile"]),
    ("simulate-mode-on-stripes", _with(SIM, scheme="stripes", mode="leading"), ["the stripes tile has no run-time precision"]),
    ("simulate-codes-outside-window", _with(SIM, window="3:0"), ["outside the unsigned window [3:0]"]),
    ("profile-size-on-fixed-onnx", _with(PROFILE, size="32", out="{tmp}/p.json"), ["16x16", "size 32"]),
    ("evaluate-size-on-fixed-onnx", _with(EVALUATE, size="32", out="{tmp}/o"), ["16x16", "size 32"]),
    ("profile-engine-torch-on-onnx", _with(PROFILE, engine="torch", out="{tmp}/p.json"), ["torch", "tiny.onnx"]),
    ("evaluate-engine-torch-on-onnx", _with(EVALUATE, model="resnet50-nsfw", engine="torch", out="{tmp}/o"),
     ["torch", "resnet50-nsfw"]),
    # ---- photos that are decompression bombs or corrupt
    ("profile-bomb", _with(PROFILE, image_dir="{bomb}", out="{tmp}/p.json"), ["big.png", "decompression bomb"]),
    ("profile-warning-bomb", _with(PROFILE, image_dir="{warnbomb}", out="{tmp}/p.json"), ["big.png", "decompression bomb"]),
    ("profile-corrupt", _with(PROFILE, image_dir="{corrupt}", out="{tmp}/p.json"), ["cut.png"]),
]


def run(capsys, argv):
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(err: str, prefix: str = "dstripes: error:") -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix) and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("argv, named", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_bad_input_is_one_line_and_status_2(capsys, f, argv, named):
    rc, out, err = run(capsys, [a.format(**f) for a in argv])
    line = one_line(err)
    assert rc == 2, (rc, err)
    assert out == ""
    for token in named:
        assert token.format(**f) in line, (token, line)
    assert ".tmp" not in line and " sy " not in line and "conv_groups" not in line, line


def test_rounded_figures_never_read_equal():
    """Two figures one message compares are never printed alike when they differ: sizes fall back
    to exact bytes, a fidelity to more digits than its target."""
    from dstripes.sim.limits import bytes_apart
    from dstripes.sim.table import against
    assert bytes_apart(7200, 7197) == ("7,200 bytes", "7,197 bytes")
    assert bytes_apart(3 << 20, 1 << 20) == ("3.0 MB", "1.0 MB")
    assert against(0.99896, 0.999) == "0.99896" and against(0.9993, 0.999) == "0.9993"
    assert against(49.99996, 50) == "49.99996" and against(0.999, 0.999) == "0.999"


def test_a_refused_run_leaves_no_empty_out_folder(capsys, f, tmp_path, monkeypatch):
    """The output folders a run creates go again when it is refused or interrupted while they are
    still empty; a folder that was there, or one that holds a file, stays."""
    new = tmp_path / "new"
    for argv in (_with(EVALUATE, images="1000", image_dir=None, out=str(new / "deeper")),
                 _with(EVALUATE, out=str(new / "o"), dump=str(new / "d"), model="{acts}"),
                 _with(PROFILE, out=str(new / "sub" / "p.json"), heldout="7")):
        rc, _, err = run(capsys, [a.format(**f) for a in argv])
        assert rc == 2 and one_line(err)
        assert not new.exists(), argv
    there = tmp_path / "there"
    there.mkdir()
    rc, _, err = run(capsys, [a.format(**f) for a in _with(EVALUATE, images="1000", image_dir=None, out=str(there))])
    assert rc == 2 and there.is_dir()
    import dstripes.scripts.cmd_generate as gen

    def interrupted(args):
        from dstripes.scripts.output import check_out_dir
        check_out_dir(args.out)
        raise KeyboardInterrupt
    monkeypatch.setattr(gen, "run", interrupted)
    rc, _, err = run(capsys, ["generate", "--out", str(new / "g")])
    assert rc == 130 and not new.exists()


@pytest.mark.parametrize("command", ["profile", "evaluate"])
def test_out_is_checked_before_the_network_loads(capsys, f, monkeypatch, command):
    """A bad --out is reported before minutes of profiling or capture: the network is never
    loaded."""
    import dstripes.sim.nets.models as models

    def never(*a, **k):
        raise AssertionError("the network was loaded before --out was checked")
    monkeypatch.setattr(models, "load_network", never)
    base = PROFILE if command == "profile" else EVALUATE
    rc, _, err = run(capsys, [a.format(**f) for a in _with(base, out="{file}/x")])
    assert rc == 2 and "afile" in one_line(err)


def test_tool_failure_is_status_3(capsys, monkeypatch):
    """A broken yosys is not the user's fault: its own line and status 3, before any work."""
    monkeypatch.setenv("DSTRIPES_YOSYS", "/bin/false")
    rc, _, err = run(capsys, ["synth", "--scheme", "dadn", "--lanes", "2", "--rows", "2"])
    assert rc == 3 and "yosys" in one_line(err, "dstripes: tool failure:")


def test_memory_limit_is_checked_before_allocating(capsys, f, monkeypatch):
    """A layer whose one-input pass needs more memory than is available fails at once, naming the
    layer and the memory (here a 1 MB limit; the default is the machine's available memory)."""
    monkeypatch.setenv("DSTRIPES_MEMORY_LIMIT", "1M")
    rc, _, err = run(capsys, _with([a.format(**f) for a in CYCLES], layer="k=4,kh=3,pad=300"))
    line = one_line(err)
    assert rc == 2 and "p300x300" in line and "1.0 MB available" in line


def test_huge_layer_figures_do_not_wrap(capsys, f):
    """A layer with 10**20 filters on small activations: every count is exact (the precision
    histogram used to wrap around int64 into negative numbers)."""
    rc, out, err = run(capsys, _with([a.format(**f) for a in CYCLES], layer=f"k={10 ** 20},kh=3,pad=1") + ["--json"])
    assert rc == 0, err
    d = json.loads(out)
    hist = d["group_precision_hist"]
    assert all(h >= 0 for h in hist)
    assert sum(hist) == d["steps"] * 16  # one entry per (step, precision group), G = 1 of 16 columns
    fsets = -(-10 ** 20 // 256)  # 16 rows x 16 tiles
    assert d["dadn"]["cycles"] == 36 * 9 * fsets  # 6x6 windows, 3x3 kernel, one channel block
    assert d["stripes"]["cycles"] == 3 * 9 * 8 * fsets


def test_interrupt_is_130_and_bug_is_4(capsys, monkeypatch):
    import dstripes.scripts.cmd_generate as gen

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(gen, "run", interrupted)
    rc, _, err = run(capsys, ["generate", "--out", "x"])
    assert rc == 130 and one_line(err, "dstripes: interrupted")

    def buggy(args):
        raise ZeroDivisionError("division by zero")
    monkeypatch.setattr(gen, "run", buggy)
    rc, _, err = run(capsys, ["generate", "--out", "x"])
    assert rc == 4 and "ZeroDivisionError" in one_line(err, "dstripes: internal error:")
    monkeypatch.setenv("DSTRIPES_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["generate", "--out", "x"])


def test_narrow_files_stay_narrow(f):
    """An activation file is memory-mapped in its own dtype and checked without a copy: a 1 GB
    uint8 file never becomes 8 GB of int64 (peak memory: see docs/usage.md)."""
    from dstripes.scripts.arrays import load_int_array
    from dstripes.sim.fixed import Window
    a = load_int_array(f["acts4"], "activations")
    assert a.dtype == np.uint8 and not a.flags.owndata  # a view of the mapped file
    assert Window(7, 0).check(a, 16) is a
    floats = f["tmp"] + "/floats.npy"
    np.save(floats, np.arange(12, dtype=np.float64).reshape(1, 3, 2, 2))
    assert load_int_array(floats, "activations").dtype == np.uint8  # integral floats: narrowest type


def test_interrupted_writes_leave_no_truncated_file(tmp_path, monkeypatch):
    """Reports and plots go through a temporary name: a run interrupted while writing leaves
    neither a truncated file nor the temporary one (and an earlier complete file stays)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    from dstripes.sim.files import write_atomic
    from dstripes.sim.nets import plots

    target = tmp_path / "speedup.png"
    target.write_bytes(b"the previous complete plot")
    real = Figure.savefig

    def interrupted(self, fname, *a, **k):
        real(self, fname, *a, **k)  # the temporary file is complete on disk...
        raise KeyboardInterrupt     # ...when Ctrl-C arrives before the rename
    monkeypatch.setattr(Figure, "savefig", interrupted)
    fig, _ = plt.subplots()
    with pytest.raises(KeyboardInterrupt):
        plots._save(fig, str(target))
    assert target.read_bytes() == b"the previous complete plot"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speedup.png"]

    def cut(self, target):  # the temporary report is written when Ctrl-C arrives
        assert self.read_text() == "# report\n"
        raise KeyboardInterrupt
    monkeypatch.setattr("pathlib.Path.replace", cut)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "report.md", "# report\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speedup.png"]


def test_onnxruntime_failure_is_a_tool_failure(capsys, f, tmp_path):
    """A valid ONNX model that onnxruntime cannot run (a dilated Conv with SAME_UPPER padding, as
    torch.onnx.export writes for padding='same'): status 3 naming onnxruntime and the model,
    not a traceback and not the user's fault."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], dilations=[2, 2],
                            auto_pad="SAME_UPPER")
    g = helper.make_graph([node], "same", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    path = str(tmp_path / "same.onnx")
    onnx.save(m, path)
    argv = [a.format(**f) for a in _with(PROFILE, model=path, criterion="cosine", out="{tmp}/p.json")]
    rc, _, err = run(capsys, argv)
    line = one_line(err, "dstripes: tool failure:")
    assert rc == 3 and "onnxruntime" in line and "same.onnx" in line
