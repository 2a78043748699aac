"""``dstripes generate|simulate|evaluate|explore --chip``: the accelerator on the command line.
Bad input is one line and exit status 2, before any build; ``simulate --chip`` prints the JSON of
``docs/usage.md`` §9 and writes the outputs with ``--out-acts``."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dstripes.scripts.cli import main
from dstripes.sim.samples import load_sample

SMALL = ["--tiles", "2", "--lanes", "4", "--columns", "4", "--rows", "4", "--nm-kib", "128", "--sb-kib", "96"]


@pytest.fixture
def layer_files(tmp_path):
    acts, weights, _, window = load_sample("vgg16_conv3_1")
    a, w = tmp_path / "a.npy", tmp_path / "w.npy"
    np.save(a, acts[0, :8, :8, :8].astype(np.uint16))
    np.save(w, weights[:8, :8].astype(np.int16))
    np.save(tmp_path / "b.npy", np.arange(-4, 4) * 5000)
    return ["--acts", str(a), "--weights", str(w), "--layer", "k=8,kh=3,pad=1", "--window", f"{window.msb}:{window.lsb}"]


def _cli(capsys, *argv):
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.fixture
def no_build(monkeypatch):
    """Any simulator build fails the test: bad input must be refused before."""
    import dstripes.tb.host.chip_path as cs

    def refuse(*a, **k):
        raise AssertionError("a build started for bad input")
    monkeypatch.setattr(cs, "build", refuse)


def test_simulate_chip_json_and_outputs(tmp_path, capsys, layer_files):
    out = tmp_path / "out.npy"
    rc, stdout, err = _cli(capsys, "simulate", "--chip", *SMALL, "--nm-read", "1", *layer_files,
                           "--bias", str(tmp_path / "b.npy"), "--out-window", "15:5", "--out-shift", "12",
                           "--dram-latency", "20", "--dram-bytes-per-cycle", "6", "--dram-stall", "0.3",
                           "--seed", "4", "--out-acts", str(out), "--json")
    assert rc == 0, err
    d = json.loads(stdout)
    assert d["passed"] is True
    assert set(d["cycles"]) == {"rtl", "model", "compute", "nm_stall", "weight_stall", "offchip_stall"}
    c = d["cycles"]
    assert c["rtl"] == c["model"] == c["compute"] + c["nm_stall"] + c["weight_stall"] + c["offchip_stall"]
    assert d["results"] == {"checked": 8 * 8 * 8, "mismatches": 0}
    assert d["simulated_cycles_per_s"] > 0
    codes = np.load(out)
    assert codes.shape == (8, 8, 8) and codes.dtype == np.int64 and codes.min() >= 0 and codes.max() > 0


def test_simulate_and_generate_chip_with_the_run_ahead_tile(tmp_path, capsys, layer_files):
    """``--group 1 --run-ahead 1``: the accelerator around the run-ahead tile, RTL and model exact
    under NM and off-chip stalls; ``generate`` names it."""
    rc, stdout, err = _cli(capsys, "simulate", "--chip", *SMALL, "--group", "1", "--run-ahead", "1", "--nm-read", "1",
                           *layer_files, "--out-window", "15:5", "--out-shift", "12", "--dram-latency", "20",
                           "--dram-bytes-per-cycle", "6", "--dram-stall", "0.3", "--seed", "4", "--json")
    assert rc == 0, err
    d = json.loads(stdout)
    assert d["passed"] is True and d["results"]["mismatches"] == 0
    assert d["cycles"]["rtl"] == d["cycles"]["model"] and d["cycles"]["nm_stall"] > 0
    rc, stdout, err = _cli(capsys, "generate", "--chip", *SMALL, "--group", "1", "--run-ahead", "2",
                           "--out", str(tmp_path / "g"))
    assert rc == 0, err
    assert "Dynamic Stripes (run-ahead 2) accelerator: 2 tiles" in stdout


def test_generate_chip_lists_the_memories(tmp_path, capsys):
    rc, stdout, err = _cli(capsys, "generate", "--chip", *SMALL, "--nm-read", "2", "--out", str(tmp_path / "g"), "--json")
    assert rc == 0, err
    m = json.loads(stdout)
    assert m["top"] == "dstripes_chip" and m["tile_top"] == "dstripes_tile"
    assert m["memories"] == [{"name": "nm", "words": 16384, "bits": 64, "count": 1},
                             {"name": "sb", "words": 3072, "bits": 256, "count": 2}]
    v = (tmp_path / "g" / "dstripes_chip.v").read_text()
    assert v.count("module dstripes_tile(") == 1 and v.count("dstripes_tile tile") == 2   # emitted once, instantiated twice
    assert "module dstripes_sram" in v


@pytest.mark.parametrize("extra, needle", [
    (["--nm-kib", "1"], "does not fit NM (128 bricks, 1 KiB) without the off-chip path"),
    (["--sb-kib", "1"], "do not fit an SB half"),
    (["--out-shift", "60"], "shift 60 + output lsb 5 exceeds the 48-bit accumulators"),
    (["--out-window", "16:0"], "the output window [16:0] is wider than the 16-bit activations"),
    (["--tiles", "3", "--rows", "2"], "multiple of the 4 lanes of an output brick (--tiles 3 does not fit)"),
    (["--tiles", "65"], "tiles must be between 1 and 64"),
    (["--layer", "k=8,kh=3,pad=16"], "descriptor field py = 16 is out of range (0..15, 4 bits)"),
    (["--window-sets", "2"], "--window-sets does not apply to --chip"),
    (["--dram-bytes-per-cycle", "9"], "above one 8-byte beat per cycle"),
])
def test_bad_input_is_one_line_exit_2_before_any_build(tmp_path, capsys, layer_files, no_build, extra, needle):
    argv = ["simulate", "--chip", *SMALL, *layer_files, "--out-window", "15:5", "--out-shift", "12"]
    for i in range(0, len(extra), 2):                  # a later option replaces an earlier one
        if extra[i] in argv and extra[i] != "--layer":
            j = argv.index(extra[i])
            del argv[j:j + 2]
        elif extra[i] == "--layer":
            j = argv.index("--layer")
            del argv[j:j + 2]
    argv += extra
    rc, stdout, err = _cli(capsys, *argv)
    assert rc == 2
    assert err.startswith("dstripes: error: ") and err.count("\n") == 1 and needle in err, err


@pytest.mark.parametrize("argv, needle", [
    (["generate", "--nm-read", "2", "--out", "x"], "--nm-read applies only with --chip"),
    (["generate", "--tiles", "2", "--out", "x"], "--tiles applies only with --chip"),
    (["simulate", "--acts", "a", "--weights", "w", "--layer", "k=1", "--window", "7", "--out-shift", "3"],
     "--out-shift applies only with --chip"),
    (["explore", "--model", "vgg16-hed", "--sweep", "nm_read=1,0", "--out", "x"], "nm_read must be"),
    (["explore", "--model", "vgg16-hed", "--sweep", "nm_read=1,2", "group=1", "--out", "x"], "cannot be mixed"),
    (["simulate", "--chip", "--acts", "a", "--weights", "w", "--layer", "k=1", "--window", "7"],
     "--chip needs --out-window MSB:LSB and --out-shift S"),
    (["simulate", "--chip", "--acts", "a", "--weights", "w", "--layer", "k=1", "--window", "7", "--out-window", "7",
      "--out-shift", "0"], "not found"),
])
def test_chip_options_out_of_place(tmp_path, capsys, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    rc, _, err = _cli(capsys, *argv)
    assert rc == 2 and err.startswith("dstripes: error: ") and needle in err, err


@pytest.mark.nets
def test_evaluate_and_explore_chip(tmp_path, capsys):
    rc, stdout, err = _cli(capsys, "evaluate", "--chip", "--model", "vgg16-hed", "--size", "32", "--images", "1",
                           "--profile", str(_profile(tmp_path)), "--nm-read", "4", "--dram-bytes-per-cycle", "32",
                           "--no-progress", "--out", str(tmp_path / "ev"), "--json")
    assert rc == 0, err
    d = json.loads(stdout)
    assert [l["name"] for l in d["layers"]][:2] == ["conv1_1", "conv1_2"] and len(d["layers"]) == 13
    for l in d["layers"]:
        for s in ("dadn", "stripes", "dstripes"):
            b = l[s]
            assert b["cycles"] == b["compute"] + b["nm_stall"] + b["weight_stall"] + b["offchip_stall"]
    assert d["speedup"]["dstripes_over_dadn"] <= d["speedup_ideal_memory"]["dstripes_over_dadn"]
    rc, stdout, err = _cli(capsys, "explore", "--model", "vgg16-hed", "--size", "32", "--images", "1",
                           "--profile", str(_profile(tmp_path)), "--sweep", "nm_read=1,4,16",
                           "--out", str(tmp_path / "ex"), "--json")
    assert rc == 0, err
    e = json.loads(stdout)
    assert [p["nm_read"] for p in e["points"]] == [1, 4, 16]
    assert (tmp_path / "ex" / "explore.png").stat().st_size > 0
    stalls = [p["stall_share"]["dstripes"] for p in e["points"]]
    assert stalls == sorted(stalls, reverse=True)        # wider NM, fewer stalls


@pytest.mark.nets
def test_evaluate_chip_with_the_run_ahead_tile(tmp_path, capsys):
    """``evaluate --chip --group 1 --run-ahead 1``: Dynamic Stripes counted on the run-ahead tile
    (its own timing, fewer compute cycles than lock-step here); the other kinds unchanged."""
    runs = {}
    for r in (0, 1):
        rc, stdout, err = _cli(capsys, "evaluate", "--chip", "--model", "vgg16-hed", "--size", "32", "--images", "1",
                               "--profile", str(_profile(tmp_path)), "--nm-read", "4", "--group", "1",
                               "--run-ahead", str(r), "--no-progress", "--out", str(tmp_path / f"ev{r}"), "--json")
        assert rc == 0, err
        runs[r] = json.loads(stdout)
    for l in runs[1]["layers"]:
        b = l["dstripes"]
        assert b["cycles"] == b["compute"] + b["nm_stall"] + b["weight_stall"] + b["offchip_stall"]
    lock, ahead = runs[0]["total"], runs[1]["total"]
    assert ahead["dstripes"]["compute"] < lock["dstripes"]["compute"]
    assert ahead["stripes"] == lock["stripes"] and ahead["dadn"] == lock["dadn"]


def _profile(tmp_path):
    """The shipped VGG-16 profile (its windows do not depend on the input size)."""
    from dstripes.sim.nets.profile import builtin_profile_path
    return builtin_profile_path("vgg16-hed", "100")
