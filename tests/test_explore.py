"""``dstripes explore``: sweep parsing and validation, the Pareto front, and a tiny sweep end to
end (a small ONNX network on real-looking photos, small tiles, real yosys runs, Dask workers),
cold and then warm from the cache."""
from __future__ import annotations

import csv
import json
import os

import pytest

from dstripes.scripts.cli import main
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.synth.explore import SWEEP_KEYS, Sweep, pareto_front, parse_sweep, sweep_configs


def test_parse_sweep_types_and_order():
    s = parse_sweep(["group=1,4,16", "run_ahead=0,1,2", "trim=leading,both", "weight-select=sip"])
    assert s.as_dict() == {"group": [1, 4, 16], "run_ahead": [0, 1, 2], "trim": ["leading", "both"],
                           "weight_select": ["sip"]}
    assert s.keys == ("group", "run_ahead", "trim", "weight_select") and s.varying == ("group", "run_ahead", "trim")
    assert s == Sweep.of({"group": [1, 4, 16], "run_ahead": (0, 1, 2), "trim": ["leading", "both"],
                          "weight_select": ["sip"]})
    assert set(SWEEP_KEYS) == set(TileConfig().as_dict())
    assert parse_sweep(["fc-dispatch=0,on"]).as_dict() == {"fc_dispatch": [False, True]}


@pytest.mark.parametrize("items,message", [
    ([], "the sweep is empty"),
    (["colour=1,2"], "unknown sweep key 'colour'"),
    (["group"], "sweep item 'group' is not KEY=V1,V2"),
    (["group="], "sweep key 'group' has no values"),
    (["group=1", "group=2"], "sweep key 'group' is given twice"),
    (["group=1,x"], "sweep value group=x is not an integer"),
    (["run_ahead=1,1"], "repeats a value"),
    (["fc_dispatch=2"], "sweep value fc_dispatch=2 is not 0/1 or off/on"),
])
def test_parse_sweep_rejects(items, message):
    with pytest.raises(ConfigError, match=message):
        parse_sweep(items)


@pytest.mark.parametrize("values,message", [
    ({}, "the sweep is empty"),
    ({"colour": [1]}, "unknown sweep key 'colour'"),
    ({"group": []}, "sweep key 'group' has no values"),
    ({"run_ahead": [1, 1]}, "sweep key 'run_ahead' repeats a value: 1,1"),
])
def test_sweep_of_rejects(values, message):
    with pytest.raises(ConfigError, match=message):
        Sweep.of(values)


@pytest.mark.parametrize("sweep,message", [
    ({"group": [1, 3]}, "group size 3 does not divide columns 16"),
    ({"run_ahead": [0, -1]}, "run_ahead must be a non-negative integer, not -1"),
    ({"columns": [4], "group": [8]}, "group size 8 does not divide columns 4"),
    ({"weight_select": ["rom"]}, "weight_select must be one of"),
    ({"act_bits": [1]}, "act_bits must be between 2 and 32"),
])
def test_sweep_values_the_generator_rejects(sweep, message):
    with pytest.raises(ConfigError, match=message):
        sweep_configs(Sweep.of(sweep))
    with pytest.raises(TypeError, match="sweep must be a Sweep"):
        sweep_configs({"group": [1]})


def test_sweep_points_product_and_duplicates():
    small = TileConfig(lanes=2, columns=4, rows=2, act_bits=8, weight_bits=8)
    pts = sweep_configs(Sweep.of({"group": [1, 4], "run_ahead": [0, 2], "weight_select": ["mux", "sip"]}), small)
    # lock-step has no weight selection: (G, R=0) once, (G, R=2) with each selection
    assert [(c.group, c.run_ahead, c.weight_select) for c in pts] == [
        (1, 0, "auto"), (1, 2, "mux"), (1, 2, "sip"), (4, 0, "auto"), (4, 2, "mux"), (4, 2, "sip")]
    # "auto" is the concrete choice it stands for: G = 1 in the SIPs, else a mux per group
    auto = sweep_configs(Sweep.of({"group": [1, 4], "run_ahead": [1], "weight_select": ["auto", "sip", "mux"]}),
                         small)
    assert [(c.group, c.weight_select) for c in auto] == [(1, "sip"), (1, "mux"), (4, "mux"), (4, "sip")]


def test_pareto_front():
    speed = [1.0, 2.0, 1.5, 2.0, 0.5, 2.5]
    area = [1.0, 3.0, 1.0, 2.0, 0.5, 4.0]
    # 0 is beaten by 2 (same area, faster); 1 by 3 (same speed, smaller)
    assert pareto_front(speed, area) == [4, 2, 3, 5]
    assert pareto_front([1.0, 1.0], [2.0, 2.0]) == [0]   # equal points: the first


@pytest.mark.parametrize("argv,needle", [
    (["--sweep", "colour=red"], "unknown sweep key 'colour'"),
    (["--sweep", "group=3"], "group size 3 does not divide columns 16"),
    (["--sweep", "run_ahead=-1"], "run_ahead must be a non-negative integer, not -1"),
    (["--sweep", "group="], "sweep key 'group' has no values"),
    (["--sweep", "group=1", "--liberty", "/nonexistent.lib"], "liberty file not found"),
    (["--sweep", "group=1", "--images", "0"], "--images must be positive"),
])
def test_cli_rejects_bad_input_before_any_work(tmp_path, capsys, argv, needle):
    """One line, exit 2, and nothing done: the network is never loaded (its name is bogus) and
    the output folder never created."""
    out = tmp_path / "out"
    assert main(["explore", "--model", "no-such-network", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dstripes: error: ") and err.count("\n") == 0 and needle in err
    assert not out.exists()


def test_cli_empty_sweep(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["explore", "--model", "vgg16-hed", "--sweep", "--out", str(tmp_path)])
    assert e.value.code == 2
    assert capsys.readouterr().err.startswith("dstripes: error: ")


@pytest.fixture(scope="module")
def tiny_net(tmp_path_factory):
    """A small ONNX network, three photos and its precision profile."""
    from PIL import Image

    from .test_nets_onnx import photos, tiny_model

    d = tmp_path_factory.mktemp("tiny")
    model = tiny_model(str(d / "tiny.onnx"))
    pics = d / "photos"
    pics.mkdir()
    for name, im in photos(4):  # two profile, two are held out
        Image.fromarray(im).save(pics / f"{name}.png")
    prof = str(d / "profile.json")
    assert main(["profile", "--model", model, "--image-dir", str(pics), "--images", "2", "--heldout", "0", "--size", "16",
                 "--criterion", "cosine", "--no-progress", "--out", prof]) == 0
    return model, str(pics), prof


def test_tiny_sweep_end_to_end_then_from_the_cache(tiny_net, tmp_path, capsys, monkeypatch):
    """Two points on small tiles (lock-step and run-ahead), real yosys runs on two Dask workers,
    areas also in a user liberty's units (the GE library itself, so both must agree). Then the
    same sweep again: every block and the model's counts come from the cache, same figures."""
    from dstripes.synth.recipe import GE_LIBERTY

    model, pics, prof = tiny_net
    monkeypatch.setenv("DSTRIPES_SYNTH_CACHE", str(tmp_path / "cache"))
    argv = ["explore", "--model", model, "--profile", prof, "--image-dir", pics, "--images", "2",
            "--size", "16", "--sweep", "lanes=2", "columns=2", "rows=1", "weight_bits=4", "run_ahead=0,1",
            "--liberty", str(GE_LIBERTY), "--jobs", "2", "--no-progress", "--json"]
    assert main(argv + ["--out", str(tmp_path / "cold")]) == 0
    cold = json.loads(capsys.readouterr().out)
    assert cold["network"] == "tiny" and len(cold["images"]) == 2
    assert cold["blocks"]["synthesised"] == cold["blocks"]["distinct"] > 0
    lock, ahead = cold["points"]
    assert lock["params"] == {"lanes": 2, "columns": 2, "rows": 1, "weight_bits": 4, "run_ahead": 0}
    assert ahead["params"]["run_ahead"] == 1 and ahead["label"] == "R=1"
    for p in (lock, ahead):
        c = p["cycles"]
        assert p["speedup_over_stripes"] == pytest.approx(c["stripes"] / c["dstripes"])
        assert p["speedup_over_dadn"] == pytest.approx(c["dadn"] / c["dstripes"])
        assert p["area"]["ge"] == pytest.approx(sum(b["ge"] for b in p["blocks"].values() if "part_of" not in b))
        assert p["area"]["liberty"] == pytest.approx(p["area"]["ge"], rel=1e-6)
        assert p["perf_per_area_over_stripes"] == pytest.approx(
            p["speedup_over_stripes"] / (p["area"]["ge"] / p["references"]["stripes"]["ge"]))
        assert p["depth"] > 0 and not p["published"]
    # run-ahead: never slower, more area (slots and selection), compared with its own lock-step
    assert ahead["cycles"]["dstripes"] <= lock["cycles"]["dstripes"]
    assert ahead["area"]["ge"] > lock["area"]["ge"]
    # G = 1: the weights are selected in the SIPs (weight_select auto), which grow
    assert ahead["config"]["weight_select"] == "sip" and "weight_select" not in ahead["blocks"]
    assert ahead["blocks"]["sip_array"]["ge"] > lock["blocks"]["sip_array"]["ge"]
    assert ahead["references"]["lockstep"]["ge"] == pytest.approx(lock["area"]["ge"])
    assert lock["perf_per_area_over_lockstep"] == pytest.approx(1.0)
    assert cold["pareto"] and set(cold["pareto"]) <= {0, 1}
    best = cold["best"]["perf_per_area"]
    assert cold["points"][best]["perf_per_area_over_stripes"] == max(p["perf_per_area_over_stripes"]
                                                                      for p in cold["points"])
    out = tmp_path / "cold"
    for f in ("explore.json", "explore.csv", "explore.txt", "explore.png"):
        assert os.path.getsize(out / f) > 0, f
    rows = list(csv.DictReader(open(out / "explore.csv")))
    assert [int(r["run_ahead"]) for r in rows] == [0, 1]
    assert float(rows[1]["ge"]) == pytest.approx(ahead["area"]["ge"])

    assert main(argv + ["--out", str(tmp_path / "warm")]) == 0
    warm = json.loads(capsys.readouterr().out)
    assert warm["blocks"]["synthesised"] == 0 and warm["blocks"]["from_cache"] == cold["blocks"]["distinct"]
    for a, b in zip(cold["points"], warm["points"]):
        assert a["cycles"] == b["cycles"] and a["area"] == b["area"]

    # damaged cache entries (issue 19): a block's synthesis, a tile's Verilog memo, the model's
    # counts of a point. Each is reported in one line and made again; the figures are the same.
    cache = tmp_path / "cache"
    damaged = [sorted(p for p in cache.glob("??/*.json"))[0], sorted(cache.glob("verilog/*.json"))[0],
               sorted(cache.glob("model/*.json"))[0]]
    damaged[0].write_bytes(damaged[0].read_bytes()[:40])
    damaged[1].write_text('{"files": {"garbled": tru')
    damaged[2].write_bytes(b"")
    assert main(argv + ["--out", str(tmp_path / "healed")]) == 0
    captured = capsys.readouterr()
    healed = json.loads(captured.out)
    err = [line for line in captured.err.splitlines() if line.startswith("dstripes: ")]   # not the notes
    assert len(err) == 3 and all(" was damaged (" in line for line in err), err
    for what, path in zip(("the synthesis cache entry", "the explore Verilog memo entry",
                           "the explore model-cycles entry"), damaged):
        assert sum(line.startswith(f"dstripes: {what} {path} was damaged (") for line in err) == 1, (what, err)
    assert healed["blocks"]["synthesised"] == 1
    for a, b in zip(cold["points"], healed["points"]):
        assert a["cycles"] == b["cycles"] and a["area"] == b["area"]


def test_cli_unknown_model_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["explore", "--model", "no-such-network", "--sweep", "group=1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dstripes: error: ") and "no-such-network" in err and not out.exists()


def test_cli_counts_only_held_out_photos_of_a_folder(tiny_net, tmp_path, capsys):
    """A user's folder is split as profile and evaluate split it: asking for more photos than its
    held-out half (every second file) is refused before any work, naming the option and that half."""
    model, pics, prof = tiny_net
    argv = ["explore", "--model", model, "--profile", prof, "--image-dir", pics, "--images", "3", "--size", "16",
            "--sweep", "lanes=2", "columns=2", "rows=1", "--no-progress", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"dstripes: error: --images 3: image folder {pics} has only 2 held-out photos (its odd-numbered "
                   f"files); ask for 2 or fewer, or leave --images out to use them all")
