"""``dstripes synth`` (scripts/cmd_synth.py): JSON and table output, and one-line errors."""
from __future__ import annotations

import json

import pytest

from dstripes.scripts.cli import main

SMALL = ["--lanes", "4", "--columns", "2", "--rows", "2", "--act-bits", "8", "--weight-bits", "8"]




def test_json_all_schemes(capsys, tmp_path):
    assert main(["synth", *SMALL, "--json", "--workload", "synthetic", "--out", str(tmp_path)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d["tiles"]) == {"dadn", "stripes", "dstripes"}
    assert d["yosys"].startswith("0.") and d["config"]["lanes"] == 4
    for scheme, t in d["tiles"].items():
        assert isinstance(t["transistors"], int) and t["transistors"] > 0
        assert t["ge"] > 0 and t["cells"] > 0 and t["depth"] > 0
        assert t["blocks"] and all(b["transistors"] > 0 for b in t["blocks"].values())
        assert t["vs_dadn"]["perf_per_area_ge"] > 0
    assert d["tiles"]["dadn"]["vs_dadn"]["area_ratio_ge"] == 1.0
    assert "ReLU-like" in d["workload"]["layers"][0]["description"]
    # the Stripes speedup on the reference layer is the closed form Nc / p = 2 / 8
    assert d["tiles"]["stripes"]["vs_dadn"]["speedup"] == pytest.approx(0.25)
    assert "dstripes_over_stripes" in d and d["workload"]["layers"]
    assert d["workload"]["cycles"]["dadn"] == d["tiles"]["dadn"]["vs_dadn"]["cycles"]
    assert json.loads((tmp_path / "synth.json").read_text())["tiles"] == d["tiles"]
    assert (tmp_path / "stripes" / "sip_array" / "cmos.rpt").is_file()


def test_table_single_scheme(capsys):
    assert main(["synth", *SMALL, "--scheme", "stripes"]) == 0
    out = capsys.readouterr().out
    assert "Stripes: blocks" in out and "sip_array" in out
    assert "need --scheme all" in out  # no bit-parallel reference, so no ratios


def test_bad_config_is_one_line(capsys):
    assert main(["synth", "--lanes", "4", "--columns", "3", "--group", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "dstripes: error: group size 2 does not divide columns 3"


def test_broken_liberty_is_one_line(capsys, tmp_path):
    bad = tmp_path / "broken.lib"
    bad.write_text("library(x) { cell(INV) { area : 1; \n")
    assert main(["synth", *SMALL, "--scheme", "stripes", "--liberty", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("dstripes: error: liberty file") and "broken.lib" in err


def test_missing_liberty_and_bad_jobs(capsys, tmp_path):
    assert main(["synth", *SMALL, "--liberty", str(tmp_path / "none.lib")]) == 2
    assert "liberty file not found" in capsys.readouterr().err
    assert main(["synth", *SMALL, "--jobs", "0"]) == 2
    assert "jobs must be a positive integer" in capsys.readouterr().err


def test_sky130_json_and_table(capsys, tmp_path):
    """--liberty sky130: the table says what the clock figure is; the JSON (here the copy
    --out keeps) has today's shape plus area_um2 / critical_path_ns / fmax_mhz per tile and per
    block."""
    assert main(["synth", *SMALL, "--scheme", "dstripes", "--liberty", "sky130", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Silicon (sky130)" in out and "ideal clock, no wires" in out and "µm²" in out
    d = json.loads((tmp_path / "synth.json").read_text())
    t = d["tiles"]["dstripes"]
    assert {"transistors", "ge", "cells", "depth", "blocks"} <= set(t)
    for obj in [t, *t["blocks"].values()]:
        assert obj["area_um2"] > 0 and obj["critical_path_ns"] > 0
        assert obj["fmax_mhz"] == pytest.approx(1000 / obj["critical_path_ns"])
    assert t["critical_path"]["through"][:2] == ["dispatcher", "sip_array"]
    assert d["liberty"] == "sky130" and d["sta"].startswith("OpenSTA") and "ideal clock" in d["timing_scope"]
    assert (tmp_path / "dstripes" / "_tile" / "tile_path.rpt").is_file()


def test_liberty_without_timing_is_one_line(capsys):
    from dstripes.synth.recipe import GE_LIBERTY

    assert main(["synth", *SMALL, "--liberty", str(GE_LIBERTY)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("dstripes: error: liberty") and "has no timing arcs" in err


def test_missing_opensta_is_a_tool_failure(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DSTRIPES_STA", str(tmp_path / "sta"))
    assert main(["synth", *SMALL, "--liberty", "sky130"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("dstripes: tool failure: OpenSTA executable not found") and "\n" not in err
