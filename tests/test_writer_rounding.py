"""The writer's requantiser (logarithmic shifters, round half to even by guard and sticky bits)
against the model on the values where rounding is decided: every half-way point and its
neighbours for shifts from 0 to the accumulator width, and the accumulators' extremes."""
from __future__ import annotations

import pytest
from amaranth.sim import Simulator

from dstripes.hw.chip.reducer import Requantiser
from dstripes.sim.chip import requantize
from dstripes.sim.fixed import Window

ACC = 48


@pytest.mark.parametrize("window", [Window(15, 0, True), Window(11, 3), Window(7, 2, True)])
def test_half_way_points_round_to_even_as_the_model(window):
    shifts = [0, 1, 2, 3, 7, 16, 31, 44]
    cases = []
    for shift in shifts:
        s = shift + window.lsb
        if s > ACC:
            continue
        unit = 1 << max(0, s - 1)
        ys = {(1 << (ACC - 1)) - 1, -(1 << (ACC - 1))}
        for k in range(-7, 8):
            for d in (-1, 0, 1):
                y = k * unit + d
                if -(1 << (ACC - 1)) <= y < 1 << (ACC - 1):
                    ys.add(y)
        cases += [(shift, y) for y in sorted(ys)]
    want = [int(requantize([y], shift, window)[0]) for shift, y in cases]
    dut = Requantiser(acc_bits=ACC, act_bits=16)
    got = []

    async def bench(ctx):
        ctx.set(dut.lsb, window.lsb)
        ctx.set(dut.lo, window.lo >> window.lsb)
        ctx.set(dut.hi, window.hi >> window.lsb)
        for shift, y in cases:
            ctx.set(dut.shift, shift + window.lsb)
            ctx.set(dut.acc, y)
            v = ctx.get(dut.code)
            got.append(v - (1 << 16) if window.signed and v >> 15 else v)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert got == want
