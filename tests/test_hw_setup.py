"""The set-up block (``hw/chip/setup.py``) against the golden model's geometry: every derived
field of random convolution descriptors (groups, depthwise, strides, dilation, padding, bias,
clamp) and of pooling descriptors (floor and ceil mode), two cycles after ``load``, held
otherwise."""
from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from dstripes.hw.chip.setup import Setup
from dstripes.sim.chip import ChipConfig, LayerDescriptor, LayerPlan, check_descriptor
from dstripes.sim.chip.model import pass_beats
from dstripes.sim.chip.pool import PoolDescriptor, check_pool, pooled_size
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer

CHIP = ChipConfig(tile=TileConfig(lanes=4, columns=4, rows=4, tiles=2), nm_read=2, nm_kib=256, sb_kib=64)


def conv_geometry(d: LayerDescriptor, chip: ChipConfig) -> dict:
    """Every derived field of a ``LAYER`` descriptor, from the model's plan (§10.4-§10.6)."""
    l, t, plan = d.layer, chip.tile, LayerPlan(d.layer, chip)
    out = d.out_window
    width = out.msb - out.lsb
    lo, top = (-(1 << width), (1 << width) - 1) if out.signed else (0, (1 << (width + 1)) - 1)
    hi = top
    if d.clamp is not None:
        hi = min(top, d.clamp >> out.lsb)
    return {"cg": l.cg, "kg": l.kg, "oh": l.oh, "ow": l.ow, "windows": l.oh * l.ow,
            "window_sets": plan.window_sets, "cbg": -(-l.cg // t.lanes), "steps": plan.steps,
            "filter_sets": -(-l.kg // (t.rows * chip.tiles)), "passes": len(plan.passes),
            "col_rows": chip.columns // l.ow, "col_step": chip.columns % l.ow,
            "reuse": l.dx // l.sx if l.dx % l.sx == 0 else 0,
            "small_group": int(l.conv_groups > 1 and l.cg < t.lanes), "kb": -(-l.k // t.lanes),
            "pass_beats": pass_beats(plan, d.bias), "round_shift": d.shift + out.lsb,
            "out_lo": lo, "out_hi": hi, "in_base": d.in_base, "out_base": d.resolved_out_base(chip)}


def pool_geometry(p: PoolDescriptor) -> dict:
    """The output size of a ``POOL`` descriptor (the model's :func:`pooled_size`)."""
    (_, h, w), (kh, kw), (sy, sx), (py, px) = p.shape, p.kernel, p.stride, p.pad
    return {"oh": pooled_size(h, kh, sy, py, py, p.ceil), "ow": pooled_size(w, kw, sx, px, px, p.ceil)}


def random_conv(rng) -> LayerDescriptor:
    """A valid descriptor (:func:`check_descriptor`) of a random convolution."""
    while True:
        d = _any_conv(rng)
        try:
            check_descriptor(d, CHIP)
            return d
        except ConfigError:
            pass


def _any_conv(rng) -> LayerDescriptor:
    lanes = CHIP.tile.lanes
    groups = int(rng.choice([1, 1, 2, 3, 8]))
    cg = int(rng.choice([1, 2, lanes, 2 * lanes, 3 * lanes])) if groups > 1 else int(rng.integers(1, 40))
    if groups > 1 and cg % lanes and lanes % cg:
        cg = lanes
    kg = int(rng.integers(1, 20)) if groups == 1 else int(rng.choice([1, 2, 5]))
    kh, kw = int(rng.integers(1, 8)), int(rng.integers(1, 8))
    sy, sx = int(rng.integers(1, 8)), int(rng.integers(1, 8))
    dy, dx = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    py, px = int(rng.integers(0, 6)), int(rng.integers(0, 6))
    h = int(rng.integers(max(1, dy * (kh - 1) + 1 - 2 * py), 90))
    w = int(rng.integers(max(1, dx * (kw - 1) + 1 - 2 * px), 90))
    layer = Layer(groups * cg, h, w, groups * kg, kh, kw, sy, sx, py, px, groups, dy=dy, dx=dx)
    signed = bool(rng.integers(2))
    msb = int(rng.integers(2, 16))
    out = Window(msb, int(rng.integers(0, msb)), signed)
    clamp = None
    if rng.integers(2):
        clamp = int(rng.integers(out.lo, out.hi + 1)) >> out.lsb << out.lsb
    return LayerDescriptor(layer, Window(15, int(rng.integers(0, 4))), out, shift=int(rng.integers(0, 30)),
                           bias=bool(rng.integers(2)), in_base=int(rng.integers(0, 50)), clamp=clamp)


def run_setup(payloads: list, *, gap: int = 0) -> list:
    """The geometry after each payload (a descriptor's ``values``): ``load`` for one cycle, then ``gap`` idle cycles besides
    the two of the latency; returns ``(at t + 1, at t + 2, at the end of the gap)`` per payload."""
    dut = Setup(CHIP)
    got = []

    async def bench(ctx):
        for word in payloads:
            ctx.set(dut.descriptor, word)
            ctx.set(dut.load, 1)
            await ctx.tick()
            ctx.set(dut.load, 0)
            ctx.set(dut.descriptor, {f: 0 for f in word})   # stage 1 holds its copy: the port may change
            early = ctx.get(dut.geometry)
            early = {f: getattr(early, f) for f in ("oh", "ow", "passes", "pass_beats", "out_hi")}
            await ctx.tick()
            now = ctx.get(dut.geometry)
            row = {f: getattr(now, f) for f in (*conv_fields(), "c", "k", "groups", "h", "w")}
            for _ in range(gap):
                await ctx.tick()
            held = ctx.get(dut.geometry)
            got.append((early, row, {f: getattr(held, f) for f in row}))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


def conv_fields() -> tuple:
    d = LayerDescriptor(Layer(4, 4, 4, 4, 1, 1), Window(7, 0), Window(7, 0))
    return tuple(conv_geometry(d, CHIP))


def test_setup_derives_every_field_as_the_model(seed):
    rng = np.random.default_rng(seed)
    descs = [random_conv(rng) for _ in range(40)]
    got = run_setup([d.values(CHIP) for d in descs], gap=int(rng.integers(0, 3)))
    previous = None
    for d, (early, row, held) in zip(descs, got):
        want = conv_geometry(d, CHIP)
        got_row = row
        assert {k: got_row[k] for k in want} == want, d.layer
        assert (got_row["c"], got_row["k"], got_row["groups"]) == (d.layer.c, d.layer.k, d.layer.conv_groups)
        assert held == row                            # held while no command is loaded
        if previous is not None:                      # the cycle after load: still the previous geometry
            assert early == {k: previous[k] for k in early}
        previous = row


@pytest.mark.parametrize("text, shape", [("2x2/2", (8, 7, 9)), ("2x2/3/1/ceil", (4, 5, 5)), ("3x3/2/ceil", (4, 7, 8)),
                                         ("3x3/2/1/ceil", (4, 10, 11)), ("3x3/2/1", (4, 112, 112)),
                                         ("3x3/3/ceil", (4, 8, 8)), ("2x3/1/1/ceil", (4, 5, 6))])
def test_setup_sizes_a_pooling_as_the_model(text, shape):
    """Ceil mode drops a last window that would start in the padding (§10.7), as ``pooled_size``."""
    p = PoolDescriptor.parse(text, shape, Window(15, 0))
    (_, row, _), = run_setup([p.values(CHIP)])
    assert {k: row[k] for k in ("oh", "ow")} == pool_geometry(p)


def test_setup_sizes_random_poolings_as_the_model(seed):
    rng = np.random.default_rng(seed)
    pools = []
    while len(pools) < 30:
        kh, kw = (int(v) for v in rng.integers(1, 8, 2))
        p = PoolDescriptor((4, int(rng.integers(1, 40)), int(rng.integers(1, 40))), (kh, kw),
                           tuple(int(v) for v in rng.integers(1, 8, 2)),
                           (int(rng.integers(0, kh // 2 + 1)), int(rng.integers(0, kw // 2 + 1))),
                           ceil=bool(rng.integers(2)))
        try:
            check_pool(p, CHIP)
        except ConfigError:
            continue
        pools.append(p)
    for p, (_, row, _) in zip(pools, run_setup([p.values(CHIP) for p in pools])):
        assert {k: row[k] for k in ("oh", "ow")} == pool_geometry(p), p


def test_setup_takes_a_descriptor_every_cycle(seed):
    """Pipelined: descriptors loaded in consecutive cycles come out in consecutive cycles, each
    two cycles after its ``load``."""
    rng = np.random.default_rng(seed)
    descs = [random_conv(rng) for _ in range(6)]
    dut = Setup(CHIP)
    got = []

    async def bench(ctx):
        for d in descs:
            ctx.set(dut.descriptor, d.values(CHIP))
            ctx.set(dut.load, 1)
            await ctx.tick()
            got.append({f: getattr(ctx.get(dut.geometry), f) for f in conv_fields()})
        ctx.set(dut.load, 0)
        for _ in range(2):
            await ctx.tick()
            got.append({f: getattr(ctx.get(dut.geometry), f) for f in conv_fields()})

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for i, d in enumerate(descs):       # loaded in cycle i, out after the tick ending cycle i + 1
        assert got[i + 1] == conv_geometry(d, CHIP), i
