"""``dstripes simulate``: a checked RTL run from the command line, and its error paths."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dstripes.scripts.cli import main

SMALL = ["--lanes", "4", "--columns", "4", "--rows", "2", "--act-bits", "8", "--weight-bits", "8",
         "--max-reduction", "1024"]
#: The bit-parallel tile has no columns (one window per transfer).
SMALL_DADN = [x for i, x in enumerate(SMALL) if "--columns" not in SMALL[max(0, i - 1):i + 1]]


@pytest.fixture
def layer_files(tmp_path):
    rng = np.random.default_rng(21)
    acts = np.where(rng.random((2, 5, 7, 6)) < 0.4, 0, rng.integers(0, 128, (2, 5, 7, 6)))
    weights = rng.integers(-128, 128, (3, 5, 3, 3))
    a, w = tmp_path / "acts.npy", tmp_path / "w.npy"
    np.save(a, acts)
    np.save(w, weights)
    return str(a), str(w)


@pytest.mark.parametrize("scheme", ["dstripes", "dadn"])
def test_simulate_json_on_icarus(layer_files, capsys, scheme):
    a, w = layer_files
    rc = main(["simulate", "--scheme", scheme, "--sim", "icarus", "--acts", a, "--weights", w,
               "--layer", "k=3,kh=3,kw=3,stride=1,pad=1", "--window", "6:0", "--image", "1",
               "--window-sets", "3", "--filter-set", "1", *(SMALL_DADN if scheme == "dadn" else SMALL),
               "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["sim"] == "icarus" and out["results_match"] is True
    assert out["cycles_rtl"] == out["cycles_model"] == out["ideal"] + out["latency"]
    per = 4 * 2 if scheme == "dstripes" else 2
    assert out["window_sets"] == 3 and out["results_checked"] == 3 * per
    assert out["wall_seconds"] > 0 and out["cycles_per_second"] > 0


def test_simulate_table_and_stalls(layer_files, capsys):
    a, w = layer_files
    rc = main(["simulate", "--sim", "icarus", "--acts", a, "--weights", w,
               "--layer", "k=3,kh=3,kw=3,pad=1", "--window", "6:0", "--window-sets", "2", *SMALL,
               "--idle", "0.3", "--stall", "0.3", "--seed", "5"])
    out = capsys.readouterr().out
    assert rc == 0 and "CHECK PASSED" in out
    # what stalls leave unchecked is said, not claimed as passed
    assert "results bit-exact" in out and "passed" in out
    assert "cycles exact" in out and "not checked" in out


def test_mode_both_needs_a_tile_generated_for_it(layer_files, capsys):
    """``--mode both`` on a tile generated with the default trim (leading only): rejected up
    front, naming the mode and the trim, before anything is built (it used to report a false
    cycle mismatch)."""
    a, w = layer_files
    rc = main(["simulate", "--sim", "icarus", "--acts", a, "--weights", w, "--layer", "k=3,kh=3,kw=3,pad=1",
               "--window", "6:0", "--window-sets", "2", *SMALL, "--mode", "both"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert "mode 'both'" in err and "trim 'leading'" in err
    rc = main(["simulate", "--sim", "icarus", "--acts", a, "--weights", w, "--layer", "k=3,kh=3,kw=3,pad=1",
               "--window", "6:0", "--window-sets", "2", *SMALL, "--mode", "both", "--trim", "both", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["passed"] and out["cycles_rtl"] == out["cycles_model"]


def test_generate_manifest_lists_the_modes(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path / "a"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["modes"] == ["static", "leading"]
    assert main(["generate", "--trim", "both", "--out", str(tmp_path / "b"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["modes"] == ["static", "leading", "both"]
    assert main(["generate", "--scheme", "stripes", "--out", str(tmp_path / "c"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["modes"] == ["static"]


def test_simulate_whole_layer_on_the_fast_path(layer_files, capsys):
    """``--window-sets all`` through the memory-backed harness: the whole filter-set, exact."""
    a, w = layer_files
    rc = main(["simulate", "--sim", "icarus", "--acts", a, "--weights", w, "--layer", "k=3,kh=3,kw=3,pad=1",
               "--window", "6:0", "--window-sets", "all", "--path", "fast", *SMALL, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["passed"] and out["path"] == "fast"
    assert out["window_sets"] == 11 and out["results_checked"] == 11 * 4 * 2  # 42 windows in 4 columns
    assert out["cycles_rtl"] == out["cycles_model"]
    assert {c["name"] for c in out["checks"]} >= {"activation transfers", "weight transfers"}
