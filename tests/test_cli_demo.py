"""``dstripes demo`` (the README's main command) in its fast form: a small tile on Icarus."""
from __future__ import annotations

import json

from dstripes.scripts.cli import main
from dstripes.sim.samples import sample_names


def test_demo_small_on_icarus(capsys):
    assert main(["demo", "--small", "--sim", "icarus", "--window-sets", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    sim = out["simulation"]
    assert out["check_passed"] is True
    assert sim["cycles_rtl"] == sim["cycles_model"] == out["model_cycles"]["dstripes"] + sim["latency"]
    assert sim["results_checked"] == 2 * 4 * 4
    assert out["speedup"]["over_stripes"] >= 1.0  # detection never costs cycles


def test_demo_lists_samples(capsys):
    assert main(["demo", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in sample_names())


def test_demo_unknown_sample(capsys):
    assert main(["demo", "--sample", "nope", "--small", "--sim", "icarus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dstripes: error: unknown sample 'nope'") and err.count("\n") == 1
