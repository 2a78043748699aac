"""int8 QDQ models on the accelerator (issue 22): ``evaluate --chip`` and ``explore`` run an int8
model on its own codes on 8-bit tiles (``A = W = 8``): codes ``q - zero_point`` where they fit 8
bits, the raw codes ``q`` where a zero point shifts them to 9 (the zero point's term folded into
the bias). The codes are read here independently from the QDQ graph (``test_nets_int8``)."""
from __future__ import annotations

import json

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
