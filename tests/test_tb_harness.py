"""The fast path: a tile inside its memory-backed verification harness (``tb/gateware/tile_harness.py``),
against the per-cycle cocotb testbench and the golden model on the same runs.

The harness here has tiny memories (an 8-word activation ring, a 4-word result ring, two runs
per batch), so every run streams through ring refills and the runs split into batches.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dstripes.hw.design import TileDesign
from dstripes.tb.host.cycle_path import tile_verilog
from dstripes.tb.host.fast_path import harness_verilog
from dstripes.tb.host.runs import layer_runs
from dstripes.tb.host.simulate import play
from dstripes.tb.host.soak import soak

from test_tb_tile import SMALL, layers, scheme_runs

SCHEMES = ["dstripes", "stripes", "dadn"]
DEPTHS = dict(act_depth=8, result_depth=4, weight_depth=64, run_depth=2)


@pytest.fixture(scope="module")
def designs():
    cache = {}

    def get(scheme, path):
        if (scheme, path) not in cache:
            tile = TileDesign.of(scheme, SMALL)
            cache[scheme, path] = harness_verilog(tile, **DEPTHS) if path == "fast" else tile_verilog(tile)
        return cache[scheme, path]
    return get


def _play(designs, scheme, path, runs, simulator="icarus", **kw):
    return play(TileDesign.of(scheme, SMALL), simulator, runs, path=path, designed=designs(scheme, path), quick=True,
                **kw)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_fast_path_equals_per_cycle_path(designs, scheme):
    """Same runs on both paths (Icarus): every result exact, and per run the same cycle count,
    which is the model's RTL-exact one."""
    runs = scheme_runs(scheme, np.random.default_rng(3))
    fast = _play(designs, scheme, "fast", runs)
    slow = _play(designs, scheme, "cycle", runs)
    for out in (fast, slow):
        assert out.passed, out.failure
        assert [o.results for o in out.runs] == [len(r.expected) for r in runs]
        assert [o.mismatches for o in out.runs] == [0] * len(runs)
    assert [o.cycles for o in fast.runs] == [o.cycles for o in slow.runs] == [r.cycles for r in runs]
    assert [o.tb_cycles for o in fast.runs] == [r.cycles for r in runs]
    assert fast.results_checked == slow.results_checked == sum(r.expected.size for r in runs)


def test_filter_sets_share_one_activation_stream(designs):
    """Several filter-sets of one input (one activation stream stored once) and a grouped layer's
    convolution groups, back to back on Verilator."""
    (hl, hw, ha, hwt), _ = layers(np.random.default_rng(4))
    runs = layer_runs(TileDesign.of("dstripes", SMALL), hl, hw, ha, hwt, filter_sets=(0, 1))
    assert runs[0].acts is runs[1].acts
    out = _play(designs, "dstripes", "fast", runs, simulator="verilator")
    assert out.passed, out.failure
    assert [o.cycles for o in out.runs] == [r.cycles for r in runs]


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_stalls_and_mid_run_reset_on_both_paths(designs, simulator):
    """Seeded idle cycles on every source, back-pressure on the results and a reset in the
    middle of the first run: on both paths every result exact, in order, once; the tile's
    counter agrees with the testbench's own count; the stalls cost cycles; nothing lost or
    repeated (the harness counts every stream's transfers)."""
    runs = scheme_runs("dstripes", np.random.default_rng(5))
    for path in ("fast", "cycle"):
        out = _play(designs, "dstripes", path, runs, simulator=simulator, idle=0.3, stall=0.5, seed=9,
                    reset_at=runs[0].cycles // 2)
        assert out.passed, (path, out.failure)
        names = {c.name: c.status for c in out.checks}
        assert names["cycles exact"] == "not checked"
        assert out.interrupted.at == runs[0].cycles // 2 and out.interrupted.mismatches == 0
        for o, r in zip(out.runs, runs):
            assert o.results == len(r.expected) and o.mismatches == 0
            assert o.cycles == o.tb_cycles >= r.cycles
        slower = [o.cycles > r.cycles for o, r in zip(out.runs, runs)]
        assert any(slower), (path, "the stalls never slowed the tile")
        if path == "fast":
            assert names["activation transfers"] == names["weight transfers"] == "passed"


@pytest.mark.parametrize("path", ["fast", "cycle"])
def test_a_corrupted_expected_result_is_reported_exactly(designs, path):
    """One expected value changed in the second run: exactly that result transfer is reported
    (its index over the whole simulation, what came out and what was expected), nothing else."""
    runs = scheme_runs("dstripes", np.random.default_rng(3))
    expected = runs[1].expected.copy()
    truth = expected[1].copy()
    expected[1, 2, 1] += 1
    runs[1] = dataclasses.replace(runs[1], expected=expected)
    out = _play(designs, "dstripes", path, runs)
    assert not out.passed
    failed = [c for c in out.checks if c.status == "failed"]
    assert [c.name for c in failed] == ["results bit-exact"]
    assert failed[0].detail.startswith("run 1: 1 of ")
    assert out.mismatches == 1 and out.results_checked == 0
    first = out.first_mismatch
    assert first["index"] == len(runs[0].expected) + 1
    if path == "fast":
        width = 4 * 2 * SMALL.acc_bits
        assert first["run"] == 1 and first["window_set"] == 1
        got, want = int(first["got"], 16), int(first["expected"], 16)
        mask = (1 << SMALL.acc_bits) - 1
        unpack = lambda w: [[(w >> ((c * 2 + r) * SMALL.acc_bits)) & mask for r in range(2)] for c in range(4)]
        assert got < (1 << width) and unpack(got) == (truth & mask).tolist()
        assert unpack(want) == (expected[1] & mask).tolist()
    else:
        assert first["got"] == truth.tolist() and first["expected"] == expected[1].tolist()


@pytest.mark.parametrize("path", ["fast", "cycle"])
def test_a_corrupted_cycle_count_fails_the_cycle_check(designs, path):
    runs = scheme_runs("stripes", np.random.default_rng(3))
    runs[0] = dataclasses.replace(runs[0], cycles=runs[0].cycles + 1)
    out = _play(designs, "stripes", path, runs)
    assert not out.passed
    failed = [c for c in out.checks if c.status == "failed"]
    assert [c.name for c in failed] == ["cycles exact"]
    got = out.runs[0].cycles
    assert failed[0].detail == f"run 0: RTL {got}, model RTL-exact {got + 1}"
    assert out.mismatches == 0


def test_soak_short(designs):
    """The soak (``scripts/bench/soak.py`` runs 10**6 cycles of the published tile) in short: random
    runs with idle cycles on every source, back-pressure and a reset in the first run."""
    result = soak(TileDesign.of("dstripes", SMALL), "verilator", 20_000, idle=0.25, stall=0.35, seed=11,
                  designed=designs("dstripes", "fast"), quick=True)
    out = result.play
    assert result.passed, out.failure
    assert result.runs_played == len(out.runs) and result.reset_at == out.interrupted.at
    assert out.mismatches == 0 and out.interrupted.mismatches == 0
    assert all(got == want for got, want in out.transfers.values())
    assert all(o.cycles == o.tb_cycles >= o.expected_cycles for o in out.runs)
    assert out.sim_cycles > out.cycles_model >= 20_000
