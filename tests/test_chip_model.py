"""The accelerator's golden model (``sim/chip``) against brute-force references (``tests/brute_chip.py``)
and against the tile model it must reduce to (``docs/design.md`` §10.6)."""
from __future__ import annotations

import numpy as np
import pytest

from brute_chip import conv_requant, pass_sim, pass_sim_ahead, reads, requant_one
from dstripes.sim.chip import (ChipConfig, DramConfig, LayerDescriptor, LayerPlan, model_layer,
                               pass_cycles, requantize)
from dstripes.sim.chip.dram import Dram
from dstripes.sim.chip.timing import PassWork, pass_loop, pass_loop_ahead
from dstripes.sim.config import TileConfig
from dstripes.sim.tile_run import run_cycles, step_costs, step_group_bits
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window, quantize
from dstripes.sim.layer import Layer
from dstripes.sim.samples import load_sample

SMALL = TileConfig(lanes=4, columns=4, rows=4, tiles=2)


def chip(scheme="dstripes", **kw):
    return ChipConfig(scheme=scheme, tile=SMALL, nm_kib=kw.pop("nm_kib", 256), sb_kib=kw.pop("sb_kib", 64), **kw)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("case", range(4))
def test_pass_cycles_equal_the_cycle_by_cycle_simulation(seed, case, parallel):
    rng = np.random.default_rng(seed + case)
    add = 0 if parallel else 1
    for _ in range(300):
        steps, nws = int(rng.integers(1, 6)), int(rng.integers(1, 7))
        n = steps * nws
        c = np.ones(n, int) if parallel else rng.integers(1, 9, n)
        f = rng.integers(1, int(rng.integers(2, 12)), n) if rng.random() < 0.7 else np.ones(n, int)
        o = rng.integers(1, int(rng.integers(2, 40)), nws)
        want = pass_sim(c, f, o, steps, parallel)
        assert pass_loop(c, f, o, steps, add) == want
        assert pass_cycles(c, f, o, steps, add) == want, (steps, c.tolist(), f.tolist(), o.tolist())


@pytest.mark.parametrize("case", range(4))
def test_run_ahead_pass_cycles_equal_the_cycle_by_cycle_simulation(seed, case):
    """The run-ahead tile's pass (its groups apart, ``R + 1`` slots, per-group result staging)
    under fetch stalls and slow write-back, against the block-by-block simulation; window-sets
    of at most ``R`` steps (where the staging bites) included."""
    rng = np.random.default_rng(seed + 100 + case)
    for _ in range(150):
        steps, nws = int(rng.integers(1, 6)), int(rng.integers(1, 7))
        groups, r = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        n = steps * nws
        c = rng.integers(1, int(rng.integers(2, 10)), (n, groups))
        f = rng.integers(1, int(rng.integers(2, 12)), n) if rng.random() < 0.7 else np.ones(n, int)
        o = rng.integers(1, int(rng.integers(2, 40)), nws)
        want = pass_sim_ahead(c, f, o, steps, r)
        assert pass_loop_ahead(c, f, o, steps, r) == want, (steps, r, c.tolist(), f.tolist(), o.tolist())
        assert PassWork(c, f, o, steps, 0, 1, r).cycles() == want


@pytest.mark.parametrize("group, run_ahead", [(1, 1), (1, 2), (2, 1)])
def test_run_ahead_chip_with_ideal_memory_is_the_tile_model_per_pass_plus_constants(group, run_ahead):
    """With every ``f_s = o_w = 1`` and weights in SB (the breakdown's ``compute``), a pass costs the
    run-ahead tile model's RTL-exact count of its steps in the accelerator's order (§5, latency 4)
    plus 2 + 1, and the layer 2 more; the full count adds the stalls on top."""
    acts, weights, layer, window = load_sample("vgg16_conv3_1")
    a, w = acts[0, :16, :10, :10], weights[:16, :16]
    layer = Layer.parse("k=16,kh=3,pad=1", a.shape)
    cfg = ChipConfig(tile=TileConfig(lanes=4, columns=4, rows=4, tiles=2, group=group, run_ahead=run_ahead),
                     nm_read=1, nm_kib=256, sb_kib=64)
    run = model_layer(a, w, LayerDescriptor(layer, window, Window(15, 5), shift=12), cfg,
                      DramConfig(latency=30, bytes_per_cycle=3, stall=0.2, seed=3))
    plan = LayerPlan(layer, cfg)
    bits = plan.chip_order(step_group_bits(a, layer, window, cfg.tile))
    per_pass = run_cycles(bits.reshape(plan.window_sets, plan.steps, -1), run_ahead=run_ahead, latency=4)
    b = run.breakdown
    assert b.compute == len(plan.passes) * (per_pass + 3) + 2
    assert min(b.nm_stall, b.weight_stall) > 0 and b.cycles == run.cycles
    lock = model_layer(a, w, LayerDescriptor(layer, window, Window(15, 5), shift=12), cfg.replace(run_ahead=0))
    assert (run.outputs == lock.outputs).all()
    assert b.compute < lock.breakdown.compute          # the groups running apart save cycles here


def test_each_regime_of_pass_cycles_is_exercised():
    """The three evaluations (no fetch stall, scan, loop) each agree with the simulation on a case
    made for them."""
    steps = 3
    c = np.array([4, 5, 6] * 4)
    cases = {"no fetch stall": (np.ones(12, int), np.full(4, 2)),
             "scan": (np.array([6, 1, 1] * 4), np.full(4, 2)),
             "loop": (np.array([6, 1, 1] * 4), np.full(4, 40))}
    for name, (f, o) in cases.items():
        assert pass_cycles(c, f, o, steps) == pass_sim(c, f, o, steps), name


@pytest.mark.parametrize("spec", ["k=8,kh=3,pad=1", "k=8,kh=3,stride=2,pad=1", "k=8,kh=1", "k=8,kh=1,stride=2",
                                  "k=8,kh=3,dilation=2,pad=2", "k=8,kh=3", "k=8,kh=3,pad=1,groups=8"])
@pytest.mark.parametrize("columns", [1, 4, 16])
def test_nm_reads_per_step_equal_a_walk_over_the_columns(spec, columns):
    layer = Layer.parse(spec, (8, 9, 11))
    cfg = ChipConfig(scheme="dstripes" if columns > 1 else "dadn",
                     tile=TileConfig(lanes=4, columns=max(columns, 1), rows=4, tiles=2), nm_kib=64, sb_kib=64)
    plan = LayerPlan(layer, cfg)
    got = plan.reads
    for ws in range(plan.window_sets):
        for ky in range(layer.kh):
            for kx in range(layer.kw):
                assert got[ws, ky, kx] == reads(layer, plan.columns, ws, ky, kx), (ws, ky, kx)


def test_without_reuse_every_brick_is_read():
    layer = Layer.parse("k=4,kh=3,pad=1", (4, 6, 32))
    plan = LayerPlan(layer, ChipConfig(tile=TileConfig(lanes=4, columns=16, rows=4, tiles=1), nm_kib=64, sb_kib=64,
                                       reuse=False))
    assert plan.reads[2, 1].tolist() == [15, 16, 16] and plan.reads[3, 1].tolist() == [16, 16, 15]


def test_reuse_reads_one_new_brick_per_kernel_column():
    """A 3x3 stride-1 window-set inside one output row reads Nc bricks at kx = 0, one at kx = 1, 2."""
    layer = Layer.parse("k=4,kh=3,pad=1", (4, 6, 32))
    plan = LayerPlan(layer, ChipConfig(tile=TileConfig(lanes=4, columns=16, rows=4, tiles=1), nm_kib=64, sb_kib=64))
    assert plan.reads[2, 1].tolist() == [15, 1, 1]   # window-set 2 = row 1, x 0..15: column 0 at x=-1 is padding
    assert plan.reads[3, 1].tolist() == [16, 1, 0]   # x 16..31: the last column's x=32 is padding


@pytest.mark.parametrize("signed", [False, True])
def test_requantisation_rounds_half_to_even_and_saturates(seed, signed):
    rng = np.random.default_rng(seed)
    window = Window(9, 2, signed)
    acc = rng.integers(-(1 << 20), 1 << 20, size=(5, 40))
    acc[0, :8] = [2 ** 9 * k + 2 ** 8 for k in range(-4, 4)]     # exact halves at shift 7 + lsb 2
    bias = rng.integers(-1000, 1000, size=5)
    got = requantize(acc, 7, window, bias)
    want = np.array([[requant_one(int(acc[k, i] + bias[k]), 7, window) for i in range(40)] for k in range(5)])
    assert (got == want).all()
    # the same rule as the project's quantize with a power-of-two scale
    assert (got == quantize((acc + bias[:, None]).astype(float), 2.0 ** 7, window)).all()
    if not signed:
        assert got.min() >= 0                                         # ReLU


def test_outputs_equal_the_brute_force_convolution(seed):
    rng = np.random.default_rng(seed)
    layer = Layer.parse("k=12,kh=3,stride=2,pad=1,groups=2", (8, 7, 9))
    acts = rng.integers(0, 256, size=(8, 7, 9)) * 4
    weights = rng.integers(-128, 128, size=(12, 4, 3, 3))
    bias = rng.integers(-5000, 5000, size=12)
    d = LayerDescriptor(layer, Window(9, 2), Window(11, 1), shift=6, bias=True)
    run = model_layer(acts, weights, d, chip(), DramConfig(latency=20, bytes_per_cycle=4), bias=bias)
    assert (run.outputs == conv_requant(acts, weights, layer, 6, Window(11, 1), bias)).all()


@pytest.mark.parametrize("scheme", ["dadn", "stripes", "dstripes"])
def test_with_ideal_memory_the_chip_is_the_tile_model_per_pass_plus_constants(scheme):
    """nm_read >= Nc, weights in SB, nothing off-chip: every pass costs the tile model's RTL-exact
    count (the sum of its step costs plus the tile's latency) plus 2 + the last window-set's
    write-back, and the layer 2 more (§10.6)."""
    acts, weights, layer, window = load_sample("vgg16_conv3_1")
    cfg = chip(scheme, nm_read=4)
    mode = "leading" if scheme == "dstripes" else "static"
    d = LayerDescriptor(layer, window, Window(15, 5), shift=12, mode=mode)
    run = model_layer(acts[0], weights, d, cfg, None)
    plan = LayerPlan(layer, cfg)
    if scheme == "dstripes":
        per_pass = int(step_costs(acts[0], layer, window, cfg.tile).sum())
    elif scheme == "stripes":
        per_pass = plan.window_sets * plan.steps * window.bits
    else:
        per_pass = layer.windows * plan.steps
    drains = sum(int(plan.write_cycles(p)[-1]) for p in plan.passes)
    tile_model = per_pass + (3 if scheme == "dadn" else 4)
    assert run.cycles == len(plan.passes) * (tile_model + 2) + drains + 2
    assert run.breakdown.nm_stall == drains - len(plan.passes)   # compute counts one write per window-set


def test_breakdown_sums_and_each_part_is_a_stall():
    acts, weights, layer, window = load_sample("vgg16_conv3_1")
    d = LayerDescriptor(layer, window, Window(15, 5), shift=12)
    run = model_layer(acts[0], weights, d, chip(nm_read=1), DramConfig(latency=300, bytes_per_cycle=2, stall=0.3,
                                                                         jitter=15, seed=7))
    b = run.breakdown
    assert b.compute + b.nm_stall + b.weight_stall + b.offchip_stall == b.cycles == run.cycles
    assert min(b.nm_stall, b.weight_stall, b.offchip_stall) > 0
    assert 0 < b.nm_write_stall < b.nm_stall           # one brick a cycle: both reads and writes wait


def test_dram_reads_follow_the_generators_cycle_by_cycle():
    cfg = DramConfig(latency=7, bytes_per_cycle=2.5, stall=0.4, jitter=3, seed=11)
    mem = Dram(cfg, 8)
    # a cycle-by-cycle replay of the same generators
    from dstripes.sim.chip.dram import SALT, xorshift32
    state = [(11 ^ s) or s for s in SALT]
    vals = [[], [], []]
    for _ in range(5000):
        for i in range(3):
            vals[i].append(state[i])
            state[i] = xorshift32(state[i])
    th = round(0.4 * 65536)
    t = 5
    while vals[0][t - 1] & 0xFFFF < th:
        t += 1
    t += 7 + (vals[1][t - 1] & 3)
    credit, left = 0, 30
    while True:
        credit += 640
        if credit >= 8 * 256 and vals[2][t - 1] & 0xFFFF >= th:
            credit -= 8 * 256
            left -= 1
            if not left:
                break
        t += 1
    assert mem.read(5, 30) == t
    # without randomness the closed form: latency, then one beat per 8 / 2.5 cycles
    assert Dram(DramConfig(latency=7, bytes_per_cycle=2.5), 8).read(5, 30) == 5 + 7 + 96 - 1


@pytest.mark.parametrize("change, message", [
    (dict(tiles=3), "multiple of the 4 lanes"),
    (dict(tiles=0), "tiles must be"),
    (dict(nm_read=0), "nm_read must be"),
])
def test_bad_chip_configurations_are_refused(change, message):
    with pytest.raises(ConfigError, match=message):
        ChipConfig(tile=TileConfig(lanes=4, columns=4, rows=2, tiles=change.pop("tiles", 2),
                                   run_ahead=change.pop("run_ahead", 0)), **change)


@pytest.mark.parametrize("kw, message", [
    (dict(out_window=Window(16, 0)), "wider than the 16-bit activations"),
    (dict(shift=60), "exceeds the 48-bit accumulators"),
    (dict(in_base=-1), "in_base must be"),
    (dict(out_base=10), "overlap"),
    (dict(layer=Layer.parse("k=4,kh=3", (4, 8, 5000))), "descriptor field w = 5000 is out of range"),
    (dict(layer=Layer.parse("k=6,kh=1,groups=2", (12, 4, 4))), "neither a multiple nor a divisor"),
])
def test_bad_descriptors_are_refused(kw, message):
    layer = kw.pop("layer", Layer.parse("k=4,kh=3,pad=1", (4, 8, 8)))
    d = LayerDescriptor(layer, Window(7, 0), kw.pop("out_window", Window(7, 0)), **kw)
    with pytest.raises(ConfigError, match=message):
        model_layer(np.zeros((layer.c, layer.h, layer.w), int), np.zeros((layer.k, layer.cg, layer.kh, layer.kw), int),
                    d, chip())


def test_layers_that_do_not_fit_are_refused():
    layer = Layer.parse("k=64,kh=3,pad=1", (64, 64, 64))
    d = LayerDescriptor(layer, Window(7, 0), Window(7, 0))
    with pytest.raises(ConfigError, match="does not fit NM"):
        model_layer(np.zeros((64, 64, 64), int), np.zeros((64, 64, 3, 3), int), d, chip(nm_kib=64))
    with pytest.raises(ConfigError, match="do not fit an SB half"):
        model_layer(np.zeros((64, 64, 64), int), np.zeros((64, 64, 3, 3), int), d, chip(nm_kib=4096, sb_kib=4))
