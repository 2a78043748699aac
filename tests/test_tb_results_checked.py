"""The results checked are the layer's real outputs, each counted once (issue 19, item 6).

The tile computes, and its harness compares, padding too: the rows of a partial filter-set
(filters past ``K/groups``: zero weights) and the columns of a partial window-set (windows past
``Ho x Wo``). A depthwise layer's every convolution group has one real filter in an ``Nr``-row
filter-set, so counting result values would claim ``Nr`` times its outputs. Here every count
is compared with ``K x Ho x Wo`` (or the part of it that was run) worked out from the layer's
shape, through :func:`dstripes.tb.host.verify.verify_layer` (what ``dstripes verify`` runs per
layer), ``dstripes simulate --json`` and the per-cycle path, on a 4x4x4 Icarus tile (seconds).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from dstripes.hw.design import TileDesign
from dstripes.scripts.cli import main
from dstripes.sim.config import TileConfig
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.tb.host.runs import layer_runs
from dstripes.tb.host.simulate import play
from dstripes.tb.host.soak import relu_like
from dstripes.tb.host.verify import LayerJob, verify_layer

#: Nr = 4 filters per tile run, Nc = 4 windows per window-set.
SMALL = TileConfig(lanes=4, columns=4, rows=4, act_bits=8, weight_bits=8, max_reduction=1 << 10)
WINDOW = Window(6, 0)
IMAGES = 2

#: (name, layer): none has K/groups or Ho*Wo a multiple of 4 (Nr, Nc).
LAYERS = [
    # depthwise 3x3: 6 groups of one filter each (3 padding rows per run); 5x7 = 35 windows
    ("depthwise", Layer(6, 5, 7, 6, 3, 3, 1, 1, 1, 1, conv_groups=6)),
    # 7 filters (a full filter-set of 4 and a partial one of 3); 5x6 = 30 windows (the 8th window-set half padding)
    ("partial sets", Layer(5, 5, 6, 7, 3, 3, 1, 1, 1, 1)),
    # grouped, stride 2: 2 groups of 3 filters (Kg = 3 < Nr); 9x9 at stride 2, pad 1: 5x5 = 25 windows
    ("grouped stride 2", Layer(4, 9, 9, 6, 3, 3, 2, 2, 1, 1, conv_groups=2)),
]


def _job(layer: Layer, scheme: str, filter_sets: str) -> LayerJob:
    rng = np.random.default_rng(layer.k * 100 + layer.c)
    codes = relu_like(rng, (IMAGES, layer.c, layer.h, layer.w), WINDOW)
    weights = rng.integers(-128, 128, (layer.k, layer.cg, layer.kh, layer.kw))
    return LayerJob("layer", layer, WINDOW, codes, weights, TileDesign.of(scheme, SMALL), "icarus", filter_sets)


@pytest.mark.parametrize("scheme", ["dstripes", "dadn"])
@pytest.mark.parametrize("name, layer", LAYERS, ids=[n for n, _ in LAYERS])
def test_verify_counts_each_real_output_once(name, layer, scheme):
    """``--filter-sets all``: exactly ``K x Ho x Wo`` results per photo; the result transfers
    (window-sets, or windows on the bit-parallel tile, of every run) are counted apart."""
    out = verify_layer(_job(layer, scheme, "all"))
    assert out.passed and out.mismatches == 0, out.failure
    assert out.results_checked == IMAGES * layer.k * layer.oh * layer.ow
    sets = -(-layer.kg // SMALL.rows)
    units = -(-layer.oh * layer.ow // SMALL.columns) if scheme == "dstripes" else layer.oh * layer.ow
    assert out.runs == IMAGES * layer.conv_groups * sets
    assert out.result_transfers == out.runs * units
    # the old count (every value of every transfer, padding included) is larger for each of these layers
    assert out.result_transfers * SMALL.rows * (SMALL.columns if scheme == "dstripes" else 1) > out.results_checked


def test_verify_first_filter_sets_counts_their_real_filters():
    """``--filter-sets first``: each convolution group's first filter-set, its real filters
    only: ``min(Nr, K/groups) x groups x Ho x Wo`` per photo."""
    for _, layer in LAYERS:
        out = verify_layer(_job(layer, "dstripes", "first"))
        assert out.passed, out.failure
        assert out.results_checked == IMAGES * min(SMALL.rows, layer.kg) * layer.conv_groups * layer.oh * layer.ow


def test_the_depthwise_count_is_the_layers_outputs_not_16_times_them(tmp_path):
    """The report and the table name both counts; the depthwise layer's is its outputs."""
    from dstripes.tb.host.verify import Verification, layer_rows, LAYER_HEADERS, write_reports

    name, layer = LAYERS[0]
    lv = verify_layer(_job(layer, "dstripes", "all"))
    assert lv.results_checked == IMAGES * 6 * 5 * 7 and lv.result_transfers == IMAGES * 6 * 9
    v = Verification("net", TileDesign.of("dstripes", SMALL), "icarus", ["a", "b"], "all", [lv])
    row = dict(zip(LAYER_HEADERS, layer_rows(v)[0]))
    assert row["results checked"] == 420 and row["result transfers"] == 108
    write_reports(v, tmp_path)
    d = json.loads((tmp_path / "verify.json").read_text())
    assert d["layers"][0]["results_checked"] == d["total"]["results_checked"] == 420
    assert d["layers"][0]["result_transfers"] == d["total"]["result_transfers"] == 108
    report = (tmp_path / "report.md").read_text()
    assert "420 results checked (the layers' real outputs, each once), 108 result transfers" in report
    assert "result_transfers" in (tmp_path / "layers.csv").read_text().splitlines()[0]


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(7)
    acts = relu_like(rng, (5, 7, 6), WINDOW)
    np.save(tmp_path / "acts.npy", acts)
    np.save(tmp_path / "w3.npy", rng.integers(-128, 128, (3, 5, 3, 3)))
    np.save(tmp_path / "wdw.npy", rng.integers(-128, 128, (5, 1, 3, 3)))
    return tmp_path


SIM = ["simulate", "--sim", "icarus", "--window", "6:0", "--lanes", "4", "--columns", "4", "--rows", "4",
       "--act-bits", "8", "--weight-bits", "8", "--max-reduction", "1024", "--window-sets", "all", "--json"]


def test_simulate_json_counts_the_layers_outputs(files, capsys):
    """``dstripes simulate --json`` on a whole layer of 3 filters (one partial filter-set of 4
    rows) over 7x6 = 42 windows (11 window-sets of 4, the last half padding): ``K x Ho x Wo``."""
    rc = main([*SIM, "--acts", str(files / "acts.npy"), "--weights", str(files / "w3.npy"),
               "--layer", "k=3,kh=3,pad=1"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["passed"]
    assert out["results_checked"] == 3 * 7 * 6 and out["result_transfers"] == 11
    # a depthwise layer: the run is one convolution group, whose one filter's 42 outputs are checked
    rc = main([*SIM, "--acts", str(files / "acts.npy"), "--weights", str(files / "wdw.npy"),
               "--layer", "k=5,kh=3,pad=1,groups=5"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["passed"]
    assert out["results_checked"] == 1 * 7 * 6 and out["result_transfers"] == 11


def test_simulate_table_names_both_counts(files, capsys):
    rc = main([*SIM[:-1], "--acts", str(files / "acts.npy"), "--weights", str(files / "w3.npy"),
               "--layer", "k=3,kh=3,pad=1"])
    out = capsys.readouterr().out
    assert rc == 0
    lines = {l.rsplit(None, 1)[0].strip(): l.rsplit(None, 1)[1] for l in out.splitlines()
             if l.startswith(("results checked (", "result transfers ("))}
    assert lines == {"results checked (the layer's real outputs)": "126",
                     "result transfers (4 x 4 results, padding included)": "11"}


def test_the_per_cycle_path_counts_the_same():
    """The per-cycle cocotb testbench and the harness judge the same runs: the same counts."""
    _, layer = LAYERS[1]
    job = _job(layer, "dstripes", "all")
    runs = layer_runs(job.tile, layer, WINDOW, job.codes[0], job.weights, filter_sets=(0, 1), window_sets=3)
    for path in ("cycle", "fast"):
        out = play(job.tile, "icarus", runs, path=path)
        assert out.passed, out.failure
        # 3 window-sets = 12 real windows; filter-set 0: 4 real filters, filter-set 1: 3
        assert out.results_checked == 12 * 4 + 12 * 3 and out.result_transfers == 2 * 3
