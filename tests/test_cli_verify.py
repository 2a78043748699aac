"""``dstripes verify``: real networks' layers through the generated tile, on Dask.

Kept small for CI: 8x8 photos (the shipped profile, applied at that size as the bundled samples
apply it at 64x64), one photo, a 4x4x4 tile, Icarus (a quick build), two local Dask workers.
"""
from __future__ import annotations

import dataclasses
import json
import re

import pytest

from dstripes.scripts.cli import main

pytestmark = pytest.mark.nets

SMALL = ["--size", "8", "--images", "1", "--lanes", "4", "--columns", "4", "--rows", "4", "--sim", "icarus",
         "--no-progress"]


def _verify(tmp_path, capsys, *argv):
    out = tmp_path / "out"
    rc = main(["verify", *SMALL, *argv, "--out", str(out), "--json"])
    cap = capsys.readouterr()
    return rc, (json.loads(cap.out) if cap.out.strip() else None), cap.err, out


def test_two_vgg16_layers_on_two_local_workers(tmp_path, capsys):
    """The first layer (3 signed-input channels) and conv2_1 (64 channels): every window of the
    first filter-set, bit-exact and cycle-exact; the reports are written."""
    rc, d, err, out = _verify(tmp_path, capsys, "--model", "vgg16-hed", "--layers", "conv1_1,conv2_1", "--jobs", "2")
    assert rc == 0, err
    assert d["passed"] and d["network"] == "vgg16-hed" and d["scheme"] == "dstripes" and d["sim"] == "icarus"
    assert [l["name"] for l in d["layers"]] == ["conv1_1", "conv2_1"]
    for l in d["layers"]:
        assert l["runs"] == 1 and l["mismatches"] == 0
        assert l["cycles_rtl"] == l["cycles_model"] == l["cycles_ideal"] + 4  # the tile's latency, once per run
        assert l["results_checked"] > 0 and l["cycles_per_second"] > 0 and l["wall_seconds"] > 0
    # conv1_1 at 8x8: 64 windows in 16 window-sets of 4 columns x 4 filters
    assert d["layers"][0]["results_checked"] == 16 * 4 * 4
    assert d["total"]["cycles_rtl"] == sum(l["cycles_rtl"] for l in d["layers"])
    assert {f.name for f in out.iterdir()} >= {"verify.json", "report.md", "layers.csv"}
    assert json.loads((out / "verify.json").read_text())["passed"] is True
    assert "PASSED" in (out / "report.md").read_text()


def test_the_run_ahead_tile_through_verify(tmp_path, capsys):
    """The run-ahead Dynamic Stripes tile (G = 1, R = 2) on two real layers: exact, and its RTL
    cycles below the lock-step tile's on the same layers (the model says it runs ahead)."""
    rc, ahead, err, _ = _verify(tmp_path, capsys, "--model", "vgg16-hed", "--layers", "conv1_2,conv2_1",
                                "--group", "1", "--run-ahead", "2", "--jobs", "1")
    assert rc == 0, err
    assert ahead["passed"] and all(l["mismatches"] == 0 and l["cycles_rtl"] == l["cycles_model"]
                                   for l in ahead["layers"])
    rc, lock, err, _ = _verify(tmp_path, capsys, "--model", "vgg16-hed", "--layers", "conv1_2,conv2_1",
                               "--group", "1", "--jobs", "1")
    assert rc == 0, err
    assert ahead["total"]["cycles_ideal"] < lock["total"]["cycles_ideal"]


def test_a_depthwise_layer_runs_every_convolution_group(tmp_path, capsys):
    """MobileNet-v2's features.3 depthwise 3x3 (144 channels, 144 groups): each convolution
    group is a run of its own, each exact."""
    rc, d, err, _ = _verify(tmp_path, capsys, "--model", "mobilenet-v2", "--layers", "features.3.conv.1.0")
    assert rc == 0, err
    (l,) = d["layers"]
    assert l["runs"] == 144 and l["mismatches"] == 0 and l["cycles_rtl"] == l["cycles_model"]
    # the layer's outputs, 144 x Ho x Wo, each once: not the 4 rows of each group's filter-set
    k, ho, wo = map(int, re.search(r"-> (\d+)x(\d+)x(\d+)", l["layer"]).groups())
    assert k == 144 and l["results_checked"] == 144 * ho * wo == d["total"]["results_checked"]
    assert l["result_transfers"] == 144 * -(-ho * wo // 4)


def test_resnet50_stride_2_and_1x1_layers(tmp_path, capsys):
    """ResNet-50's 7x7 stride-2 first layer, a 1x1 layer and a 1x1 stride-2 downsample: exact."""
    rc, d, err, _ = _verify(tmp_path, capsys, "--model", "resnet50-imgsim", "--size", "16",
                            "--layers", "conv1,layer1.0.conv1,layer2.0.downsample.0", "--jobs", "1")
    assert rc == 0, err
    assert [l["name"] for l in d["layers"]] == ["conv1", "layer1.0.conv1", "layer2.0.downsample.0"]
    assert all(l["mismatches"] == 0 and l["cycles_rtl"] == l["cycles_model"] and l["results_checked"] > 0
               for l in d["layers"])


def test_a_named_scheduler_runs_the_layers(tmp_path, capsys):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        rc, d, err, _ = _verify(tmp_path, capsys, "--model", "vgg16-hed", "--layers", "conv1_1",
                                "--scheduler", cluster.scheduler_address)
    assert rc == 0, err
    assert d["passed"] and d["layers"][0]["cycles_rtl"] == d["layers"][0]["cycles_model"]


@pytest.mark.parametrize("argv,needle", [
    (["--layers", "conv9_9"], "network vgg16-hed has no layer 'conv9_9'"),
    (["--max-reduction", "64"], "exceeds max_reduction 64"),
    (["--images", "0"], "--images must be positive"),
    (["--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
    (["--scheme", "dadn"], "--columns 4 does not apply to the dadn tile"),
])
def test_bad_input_is_one_line_before_any_work(tmp_path, capsys, monkeypatch, argv, needle):
    monkeypatch.setattr("dstripes.tb.host.verify.SCHEDULER_TIMEOUT", 2.0)
    rc, d, err, out = _verify(tmp_path, capsys, "--model", "vgg16-hed", *argv)
    err = err.strip()
    assert rc == 2 and d is None, err
    assert err.startswith("dstripes: error:") and "\n" not in err and needle in err, err
    assert not (out / "verify.json").exists()


def test_a_missing_simulator_is_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no iverilog, no yosys
    rc, _, err, _ = _verify(tmp_path, capsys, "--model", "vgg16-hed", "--layers", "conv1_1")
    assert rc == 2 and "icarus needs iverilog" in err and err.count("\n") == 1


def test_a_classifier_runs_round_robin_on_the_fc_tile(tmp_path, capsys):
    """MobileNet-v2's classifier (fully-connected 1280 -> 1000, one input vector) on the default
    (conv-only) tile: verify switches ``fc_dispatch`` on for it, says so in one line and in the
    JSON; its 320 bricks go round-robin to the columns, results exact, cycles the model's
    :func:`fc_cycles` plus the tile's latency."""
    rc, d, err, _ = _verify(tmp_path, capsys, "--model", "mobilenet-v2", "--layers", "classifier.1")
    assert rc == 0, err
    (l,) = d["layers"]
    assert d["passed"] and l["fc"] and l["layer"] == "fc 1280->1000" and "skipped" not in d
    assert not d["config"]["fc_dispatch"]
    fc = d["fc_layers"]
    assert fc["switched"] and fc["layers"] == ["classifier.1"] and fc["scheme"] == "dstripes"
    assert fc["config"]["fc_dispatch"] and fc["config"]["lanes"] == 4
    assert len([m for m in err.splitlines() if "classifier.1" in m and "fc_dispatch" in m]) == 1
    assert l["runs"] == 1 and l["mismatches"] == 0 and l["results_checked"] == 4 and l["result_transfers"] == 1
    assert l["cycles_rtl"] == l["cycles_model"] == l["cycles_ideal"] + 4
    # one brick issued per cycle at most, four columns of at most 16 bits each
    assert 320 <= l["cycles_ideal"] <= 320 * 16 // 4 + 16


def test_a_run_ahead_verify_runs_conv_on_its_tile_and_fc_on_the_lock_step_fc_tile(tmp_path, capsys):
    """A conv layer and the classifier on the run-ahead tile (G = 1, R = 1), in the table form:
    the conv layer on the run-ahead tile, the classifier on the lock-step tile with
    ``fc_dispatch`` (the model counts FC layers alike at any R), both exact; nothing "not run"."""
    out = tmp_path / "out"
    rc = main(["verify", *SMALL, "--model", "mobilenet-v2", "--layers", "features.3.conv.1.0,classifier.1",
               "--group", "1", "--run-ahead", "1", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "not run" not in text and "CHECK PASSED" in text
    assert "fully-connected layers (classifier.1) ran on the Dynamic Stripes tile with fc_dispatch (run_ahead 0; " \
           "switched on" in text
    d = json.loads((out / "verify.json").read_text())
    assert d["config"]["run_ahead"] == 1 and d["fc_layers"]["config"]["run_ahead"] == 0
    assert [(l["name"], l["fc"], l["cycles_rtl"] == l["cycles_model"]) for l in d["layers"]] == [
        ("features.3.conv.1.0", False, True), ("classifier.1", True, True)]
    assert "fc_dispatch" in (out / "report.md").read_text()


@pytest.mark.parametrize("argv,said", [
    (["verify", *SMALL, "--model", "mobilenet-v2", "--fc-dispatch", "--group", "1", "--run-ahead", "1"],
     "--fc-dispatch True applies only to the lock-step tile"),
    (["generate", "--scheme", "dadn", "--lanes", "4", "--rows", "4", "--fc-dispatch"],
     "--fc-dispatch True does not apply to the dadn tile"),
])
def test_fc_dispatch_where_the_tile_cannot_have_it_is_bad_input(tmp_path, capsys, argv, said):
    """The run-ahead tile cannot have the FC dispatch, the bit-parallel tile needs none."""
    rc = main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and said in err and err.count("\n") == 1 and err.startswith("dstripes: error: ")


def test_the_report_names_the_first_failure(tmp_path):
    """A failed layer (as a worker reports it) makes the verdict fail and the report name it."""
    from dstripes.hw.design import TileDesign
    from dstripes.tb.host.verify import LayerVerification, Verification, write_reports

    layer = LayerVerification(name="conv2_1", layer="conv", runs=1, cycles_rtl=10, cycles_model=10, cycles_ideal=6,
                              results_checked=0, mismatches=1, wall_seconds=1.0, sim_seconds=0.5,
                              cycles_per_second=20.0, passed=False,
                              failure="run 0: results bit-exact: 1 of 4 transfers differ from the model",
                              first_mismatch={"image": 0, "conv_group": 0, "filter_set": 0, "window_set": 2})
    good = dataclasses.replace(layer, name="conv1_1", mismatches=0, results_checked=64, passed=True, failure=None,
                               first_mismatch=None)
    v = Verification("net", TileDesign.of("dstripes"), "icarus", ["photo"], "first", [good, layer])
    write_reports(v, tmp_path)
    d = json.loads((tmp_path / "verify.json").read_text())
    assert d["passed"] is False and d["first_failure"]["layer"] == "conv2_1"
    report = (tmp_path / "report.md").read_text()
    assert "FAILED** at layer conv2_1" in report and '"window_set": 2' in report
