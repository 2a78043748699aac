"""int8 QDQ models on the accelerator (issue 22): ``evaluate --chip`` and ``explore`` run an int8
model on its own codes on 8-bit tiles (``A = W = 8``): codes ``q - zero_point`` where they fit 8
bits, the raw codes ``q`` where a zero point shifts them to 9 (the zero point's term folded into
the bias). The codes are read here independently from the QDQ graph (``test_nets_int8``)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dstripes.scripts.cli import main as cli
from dstripes.sim.chip.config import ChipConfig
from dstripes.sim.config import TileConfig
from dstripes.sim.fixed import Window
from dstripes.sim.nets.images import take
from dstripes.sim.nets.chip_eval import READINGS, capture_codes, chip_inputs, evaluate_chip
from dstripes.sim.nets.onnx_capture import OnnxNetwork
from dstripes.sim.nets.profile import model_profile

from .test_nets_int8 import SIZE, _independent_codes, models  # noqa: F401
from .test_nets_onnx import _no_run_cache, photos  # noqa: F401

#: A small accelerator: 2 tiles of 2 rows x 2 columns x 4 lanes.
CHIP = ["--lanes", "4", "--columns", "2", "--rows", "2", "--tiles", "2", "--nm-kib", "64", "--sb-kib", "16",
        "--nm-read", "2"]


def _expected(path: str, net, ims) -> dict:
    """``layer -> (reading, window, codes)`` of every conv layer on an 8-bit accelerator, from the
    graph alone: ``q - zp`` when it fits 8 bits, else the raw codes ``q`` in their type's window."""
    batch = net.prepare([im for _, im in ims])
    out = {}
    for name, (q, window, zp, dtype, _) in _independent_codes(path, batch).items():
        if name == "fc":
            continue
        if name == "first":  # asymmetric pads (0,0,1,1): the real zero (code 0) below and right
            q = np.pad(q, ((0, 0), (0, 0), (0, 1), (0, 1)))
        if window.bits <= 8:
            out[name] = (READINGS[1], window, q)
        else:
            out[name] = (READINGS[2], Window(7, 0, dtype == "int8"), q + zp)
    return out


@pytest.mark.parametrize("variant", ["uint8", "int8-sym-pc", "int8-asym"])
def test_the_accelerator_reads_the_models_own_codes(models, variant):
    net = OnnxNetwork(models[variant], size=SIZE)
    prof = model_profile(net)
    ims = photos(2, 24, seed=3)
    readings, codes = chip_inputs(prof, capture_codes(net, prof, ims), 8, 8)
    want = _expected(models[variant], net, ims)
    assert sorted(readings) == sorted(want)
    for name, (reading, window, q) in want.items():
        r = readings[name]
        assert (r.reading, r.window) == (reading, window), name
        assert r.zero_point == prof.layer(name).quant.zero_point
        np.testing.assert_array_equal(codes[name].reshape(q.shape), q)
    kinds = {r.reading for r in readings.values()}
    # uint8: the normalised image is shifted (raw q), the ReLU outputs are not; int8 symmetric:
    # every layer on q - zp; int8 asymmetric after a ReLU: zp = -128, q - zp unsigned 8 bits
    assert kinds == {"uint8": {READINGS[1], READINGS[2]}, "int8-sym-pc": {READINGS[1]},
                     "int8-asym": {READINGS[1], READINGS[2]}}[variant]


def test_evaluate_chip_counts_the_codes_on_8_bit_tiles(models, tmp_path, capsys):
    path = models["uint8"]
    assert cli(["evaluate", "--chip", "--model", path, "--size", str(SIZE), "--images", "2", *CHIP,
                "--no-progress", "--out", str(tmp_path / "ev"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["chip"]["brick_bits"] == 4 * 8                    # 4 lanes of 8-bit activations
    assert d["skipped_fc"] == ["fc"]
    # the same counts from the codes read off the graph, on the accelerator of 8-bit tiles
    net = OnnxNetwork(path, size=SIZE)
    want = _expected(path, net, [(p.name, p.read(net.size)) for p in take("heldout", 2)])  # the photos evaluated
    chip = ChipConfig(tile=TileConfig(lanes=4, columns=2, rows=2, tiles=2, act_bits=8, weight_bits=8),
                      nm_read=2, nm_kib=64, sb_kib=16)
    mine = evaluate_chip(net.layers(), {n: w for n, (_, w, _) in want.items()},
                         {n: q for n, (_, _, q) in want.items()}, chip)
    by = {l.name: l for l in mine.layers}
    for l in d["layers"]:
        reading, window, _ = want[l["name"]]
        assert l["codes"]["reading"] == reading and l["codes"]["bits"] == window.bits == 8
        assert l["codes"]["signed"] == window.signed and l["precision"] == 8
        for s in ("dadn", "stripes", "dstripes"):
            assert l[s] == by[l["name"]].counts[s].as_dict(), (l["name"], s)
        assert l["dstripes"]["compute"] <= l["stripes"]["compute"]
    assert d["layers"][0]["codes"]["zero_point"] != 0 and d["layers"][0]["codes"]["reading"] == "raw q"
    # the accelerator sweep runs the same model on the same tiles
    assert cli(["explore", "--model", path, "--size", str(SIZE), "--images", "1", "--sweep", "nm_read=1,4",
                "--out", str(tmp_path / "ex"), "--json"]) == 0
    e = json.loads(capsys.readouterr().out)
    assert e["chip"]["brick_bits"] == 16 * 8 and [p["nm_read"] for p in e["points"]] == [1, 4]
    assert e["points"][0]["total"]["dstripes"]["compute"] == e["points"][1]["total"]["dstripes"]["compute"]


def test_int8_on_the_accelerator_bad_input(models, tmp_path, capsys):
    def refused(argv, text):
        assert cli(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("dstripes: error: ") and text in err[0], err

    path = models["uint8"]
    base = ["evaluate", "--chip", "--size", str(SIZE), "--images", "1", "--no-progress"]
    refused([*base, "--model", path, *CHIP, "--weight-bits", "4", "--out", str(tmp_path / "a")],
            "layer first: the model's weight codes need 8 bits, the accelerator's tiles have 4 (--weight-bits)")
    refused([*base, "--model", path, *CHIP, "--act-bits", "4", "--out", str(tmp_path / "b")],
            "layer first: the model's uint8 codes need 8 bits, the accelerator's tiles have 4 (--act-bits)")
    refused([*base, "--model", path, models["float"], "--out", str(tmp_path / "c")],
            "is an int8 QDQ model (8-bit tiles) and")
    refused([*base, "--model", path, "--profile", str(tmp_path / "p.json"), "--out", str(tmp_path / "d")],
            "--profile does not apply")
    refused(["explore", "--model", path, "--size", str(SIZE), "--profile", str(tmp_path / "p.json"),
             "--sweep", "group=1,2", "--out", str(tmp_path / "e")], "--profile does not apply")
    assert not any((tmp_path / x).exists() for x in "abcde")


def test_explore_sweeps_tiles_of_the_models_widths(models, tmp_path, capsys, monkeypatch):
    """``explore`` on an int8 model: tiles of its codes' widths (A = 9 here: the shifted first
    layer; W = 8), counted on its own codes (the same counts as ``evaluate_network`` on them)."""
    from dstripes.sim.nets.evaluate import evaluate_network

    monkeypatch.setenv("DSTRIPES_SYNTH_CACHE", str(tmp_path / "cache"))
    path = models["uint8"]
    argv = ["explore", "--model", path, "--size", str(SIZE), "--images", "1", "--sweep", "lanes=2", "columns=2",
            "rows=1", "--jobs", "1", "--no-progress", "--json"]
    assert cli([*argv, "--out", str(tmp_path / "x")]) == 0
    d = json.loads(capsys.readouterr().out)
    (p,) = d["points"]
    assert (p["config"]["act_bits"], p["config"]["weight_bits"], p["config"]["lanes"]) == (9, 8, 2)
    cfg = TileConfig(**p["config"])
    net = OnnxNetwork(path, size=SIZE)
    # explore decodes the photos as evaluate does (at the network's size): the same codes, the same
    # counts (a large JPEG decoded at full scale would give other codes: checked it differs)
    photos = take("heldout", 1)
    assert photos[0].read().shape != photos[0].read(SIZE).shape
    ev = evaluate_network(net, model_profile(net), photos, cfg, progress=False)
    t = ev.totals()
    assert {s: p["cycles"][s] for s in ("dadn", "stripes", "dstripes")} == {s: int(t[s]) for s in
                                                                             ("dadn", "stripes", "dstripes")}
    assert cli([*argv[:-6], "weight_bits=4", "--no-progress", "--out", str(tmp_path / "y")]) == 2
    assert "weight codes need 8 bits" in capsys.readouterr().err


#: The energy model of the 8-bit tiles of 4 lanes x 2 columns x 1 row (sky130), made by
#: ``synth.energy.energy_model`` (activity on the bundled samples re-quantised to 8 bits; about
#: 7 minutes, so kept as a file rather than made by the test).
ENERGY_8BIT = Path(__file__).parent / "data" / "energy_model_tiny_8bit.json"


def test_evaluate_chip_energy_of_an_int8_model(models, tmp_path, capsys):
    """``evaluate --chip --energy``: the 8-bit tiles' logic energy, every access at its macro's
    energy, off-chip beats of ``L x 8`` bits."""
    from dstripes.synth.chip_energy import DRAM_PJ_PER_BIT
    from dstripes.synth.energy import EnergyModel

    argv = ["evaluate", "--chip", "--model", models["uint8"], "--size", str(SIZE), "--images", "1", "--lanes", "4",
            "--columns", "2", "--rows", "1", "--tiles", "4", "--nm-kib", "64", "--sb-kib", "16", "--nm-read", "4",
            "--dram-bytes-per-cycle", "4", "--no-progress", "--energy", "--energy-model", str(ENERGY_8BIT)]
    assert cli([*argv, "--out", str(tmp_path / "e"), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    model = EnergyModel.load(ENERGY_8BIT)
    assert d["chip"]["brick_bits"] == 32 and d["energy_efficiency_over_dadn"]["dadn"] == 1.0
    m = d["memories"]
    for s in ("dadn", "stripes", "dstripes"):
        for l in d["layers"]:
            a, p = l["accesses"][s], l["energy_parts_pj"][s]
            assert p["logic"] == pytest.approx(model.energy_pj(s, l[s]["cycles"], 4))
            assert p["nm_read"] == pytest.approx((a["nm_reads"] + a["nm_residual_reads"]) * m["nm"]["read_pj"])
            assert p["offchip"] == pytest.approx(a["offchip_beats"] * 32 * DRAM_PJ_PER_BIT) and p["offchip"] > 0
        assert d["total"]["energy_pj"][s] == pytest.approx(sum(l["energy_pj"][s] for l in d["layers"]))
    # a tile of other widths than the energy model's is refused before the evaluation
    assert cli([*argv, "--act-bits", "16", "--weight-bits", "16", "--out", str(tmp_path / "f")]) == 2
    assert "is for another tile" in capsys.readouterr().err and not (tmp_path / "f").exists()


def test_activity_samples_at_the_tiles_widths():
    """No bundled sample (16-bit codes) fits an 8-bit tile: the activity runs on their real codes
    re-quantised to 8 bits (top bits, round half to even, saturated)."""
    from dstripes.hw.design import TileDesign
    from dstripes.synth.activity import at_widths, sample_runs

    a = np.array([0, 255, 256, 383, 384, 65535])
    w = np.array([-32768, -129, 127, 128, 383, 32767])
    acts, weights, window = at_widths(a, w, Window(15, 0, False), 8, 8)
    assert window == Window(7, 0, False)
    np.testing.assert_array_equal(acts, [0, 1, 1, 1, 2, 255])          # /256: 0.996, 1, 1.5 -> 2 (even)...
    np.testing.assert_array_equal(weights, [-128, -1, 0, 0, 1, 127])
    acts, _, window = at_widths(np.array([-32768, 32767, -200]), w, Window(15, 0, True), 8, 8)
    assert window == Window(7, 0, True) and acts.tolist() == [-128, 127, -1]
    runs, described = sample_runs(TileDesign.of("dstripes", TileConfig(lanes=4, columns=2, rows=1, act_bits=8,
                                                                        weight_bits=8)), 1)
    assert runs and all("re-quantised to 8-bit activations and 8-bit weights" in x for x in described)
    runs16, described16 = sample_runs(TileDesign.of("dstripes", TileConfig(lanes=4, columns=2, rows=1)), 1)
    assert len(runs16) == len(runs) and not any("re-quantised" in x for x in described16)


def test_raw_codes_with_the_zero_point_in_the_bias_on_the_8_bit_accelerator(models):
    """The 8-bit accelerator in RTL (Verilator, 2 tiles of 4x4x4 at A = W = 8) on the int8 model's
    shifted first layer (uint8, zero point != 0: 9-bit codes ``q - zp``): it runs the raw codes
    ``q`` with ``-zp * sum(w)`` as each filter's bias, and its outputs are the requantised
    convolution of ``q - zp`` itself (computed here in numpy), bit for bit, in the model's cycles."""
    from dstripes.hw.chip.design import ChipDesign
    from dstripes.sim.chip import DramConfig, LayerDescriptor
    from dstripes.tb.host.chip_path import chip_run, simulate_chip

    net = OnnxNetwork(models["uint8"], size=SIZE)
    prof = model_profile(net)
    readings, codes = chip_inputs(prof, capture_codes(net, prof, photos(1, 24, seed=3)), 8, 8)
    r = readings["first"]
    assert r.reading == READINGS[2] and r.zero_point != 0 and r.window == Window(7, 0, False)
    layer = next(l for l in net.layers() if l.name == "first")
    w = net.weight_codes("first")[0].astype(np.int64)                     # (K, C, 3, 3), int8 codes
    q = codes["first"][0].astype(np.int64)                               # (C, H, W): raw codes, pads explicit
    assert layer.py == layer.px == 0                                     # every tap in the image
    chip = ChipConfig(tile=TileConfig(lanes=4, columns=4, rows=4, tiles=2, act_bits=8, weight_bits=8), nm_read=2,
                      nm_kib=64, sb_kib=16)
    design = ChipDesign.of(chip)
    shift, out = 10, Window(7, 0, True)
    desc = LayerDescriptor(layer, r.window, out, shift=shift, bias=True, mode="leading",
                           w_base=-(-layer.c // 4) * layer.h * layer.w)
    plan = chip_run(chip, desc, q, w, dram=DramConfig(latency=20, bytes_per_cycle=3, stall=0.2, jitter=7, seed=2),
                    bias=-r.zero_point * w.sum(axis=(1, 2, 3)))
    res = simulate_chip(design, plan, quick=True)
    assert res.passed, res.verdict.message()
    assert res.cycles_rtl == res.cycles_model and res.mismatches == 0 and res.checked == layer.k * layer.oh * layer.ow
    # independent: the convolution of the codes q - zp, rounded half to even by 2**shift, saturated
    x = q - r.zero_point
    acc = np.zeros((layer.k, layer.oh, layer.ow), np.int64)
    for ky in range(layer.kh):
        for kx in range(layer.kw):
            patch = x[:, ky:ky + layer.sy * layer.oh:layer.sy, kx:kx + layer.sx * layer.ow:layer.sx]
            acc += np.einsum("kc,chw->khw", w[:, :, ky, kx], patch)
    want = np.clip(np.rint(acc / 2.0 ** shift), -128, 127).astype(np.int64)
    assert np.abs(want).max() > 0 and (np.abs(want) < 127).mean() > 0.5  # mostly neither saturated nor zero
    np.testing.assert_array_equal(res.outputs.reshape(want.shape), want)
