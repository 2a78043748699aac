"""``dstripes simulate --chip`` with the output path: a residual (``--residual --res-window
--res-signed --res-shift``) and a ``POOL`` command after the layer (``--pool KxK/S[/P][/ceil]``); bad
input is one line and exit 2 before any build (``docs/usage.md`` §12)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dstripes.sim.samples import load_sample

from .test_cli_chip import SMALL, _cli, no_build  # noqa: F401  (the fixture too)


@pytest.fixture
def files(tmp_path):
    acts, weights, _, window = load_sample("vgg16_conv3_1")
    np.save(tmp_path / "a.npy", acts[0, :8, :8, :8].astype(np.uint16))
    np.save(tmp_path / "w.npy", weights[:8, :8].astype(np.int16))
    np.save(tmp_path / "r.npy", load_sample("vgg16_conv1_2")[0][0, :8, :8, :8])
    np.save(tmp_path / "r7.npy", load_sample("vgg16_conv1_2")[0][0, :8, :8, :7])
    return ["--acts", str(tmp_path / "a.npy"), "--weights", str(tmp_path / "w.npy"), "--layer", "k=8,kh=3,pad=1",
            "--window", f"{window.msb}:{window.lsb}", "--out-window", "15:5", "--out-shift", "12"]


def test_residual_and_pool_json(tmp_path, capsys, files):
    out = tmp_path / "o.npy"
    rc, stdout, err = _cli(capsys, "simulate", "--chip", *SMALL, "--nm-read", "1", *files,
                           "--residual", str(tmp_path / "r.npy"), "--res-window", "15:5", "--res-shift", "12",
                           "--pool", "3x3/2/1", "--dram-stall", "0.3", "--seed", "2", "--out-acts", str(out), "--json")
    assert rc == 0, err
    d = json.loads(stdout)
    assert d["passed"] is True and d["cycles"]["rtl"] == d["cycles"]["model"]
    assert d["nm"]["residual_reads"] == d["nm"]["writes"] == 2 * 64
    assert [c["command"] for c in d["commands"]] == ["load", "load", "layer", "store"]
    p = d["pool"]
    assert p["passed"] is True and p["cycles"]["rtl"] == p["cycles"]["model"] == 3 + 2 * 16 * 9
    assert p["results"] == {"checked": 8 * 4 * 4, "mismatches": 0}
    # rows (and columns) inside per output: 2, 3, 3, 3 (the first window starts in the padding)
    assert p["nm"] == {"reads": 2 * (2 + 3 + 3 + 3) ** 2, "residual_reads": 0, "writes": 2 * 16}
    assert [c["command"] for c in p["commands"]] == ["load", "pool", "store"]
    assert np.load(out).shape == (8, 4, 4)


def test_ceil_mode_pool_json(tmp_path, capsys, files):
    """``--pool 3x3/2/ceil`` on the 8x8 output: ceil((8 - 3) / 2) + 1 = 4 windows a side (floor
    mode: 3), the last one hanging over the edge by a row and a column."""
    out = tmp_path / "o.npy"
    rc, stdout, err = _cli(capsys, "simulate", "--chip", *SMALL, "--nm-read", "2", *files, "--pool", "3x3/2/ceil",
                           "--dram-stall", "0.3", "--seed", "3", "--out-acts", str(out), "--json")
    assert rc == 0, err
    p = json.loads(stdout)["pool"]
    assert p["passed"] is True and p["cycles"]["rtl"] == p["cycles"]["model"] == 3 + 2 * 16 * 5
    assert p["results"] == {"checked": 8 * 4 * 4, "mismatches": 0}
    # rows (and columns) inside per output: 3, 3, 3, 2 (the last window hangs over the edge)
    assert p["nm"] == {"reads": 2 * (3 + 3 + 3 + 2) ** 2, "residual_reads": 0, "writes": 2 * 16}
    pooled = np.load(out)
    assert pooled.shape == (8, 4, 4)
    rc, stdout, _ = _cli(capsys, "simulate", "--chip", *SMALL, "--nm-read", "2", *files, "--pool", "3x3/2",
                         "--json")
    floor = json.loads(stdout)["pool"]
    assert rc == 0 and floor["passed"] and floor["results"]["checked"] == 8 * 3 * 3


@pytest.mark.parametrize("extra, needle", [
    (["--residual", "{tmp}/r7.npy", "--res-window", "15:5"], "the residual has shape (8, 8, 7), the layer's output is (8, 8, 8)"),
    (["--residual", "{tmp}/r.npy", "--res-window", "15:5", "--res-shift", "33"], "res_shift 33 is out of range (0..31"),
    (["--residual", "{tmp}/r.npy", "--res-window", "15:6"], "residual"),
    (["--residual", "{tmp}/r.npy"], "--residual needs --res-window MSB:LSB"),
    (["--res-shift", "2"], "--res-shift applies only with --residual"),
    (["--res-window", "15:5"], "--res-window applies only with --residual"),
    (["--pool", "9x9/2"], "the pool window 9x9 (pad 0,0) is bigger than the 8x8 input"),
    (["--pool", "3x3/2/2"], "more than half"),
    (["--pool", "2x2"], "is not KxK/S[/P][/ceil]"),
    (["--pool", "3x3/2/ceil/1"], "is not KxK/S[/P][/ceil]"),
    (["--pool", "11x11/2/ceil"], "the pool window 11x11 (pad 0,0) is bigger than the 8x8 input by a whole stride"),
])
def test_bad_input_is_one_line_exit_2_before_any_build(tmp_path, capsys, files, no_build, extra, needle):
    extra = [e.replace("{tmp}", str(tmp_path)) for e in extra]
    rc, _, err = _cli(capsys, "simulate", "--chip", *SMALL, *files, *extra)
    assert rc == 2
    assert err.startswith("dstripes: error: ") and err.count("\n") == 1 and needle in err, err


@pytest.mark.parametrize("flag, value", [("--pool", "2x2/2"), ("--residual", "r.npy"), ("--res-shift", "1")])
def test_output_path_options_need_chip(tmp_path, capsys, flag, value):
    rc, _, err = _cli(capsys, "simulate", "--acts", "a", "--weights", "w", "--layer", "k=1", "--window", "7",
                      flag, value)
    assert rc == 2 and f"{flag} applies only with --chip" in err, err
