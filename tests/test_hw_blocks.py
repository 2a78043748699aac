"""Each block of the bit-serial tile against :mod:`sim` in the Amaranth simulator."""
from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.hdl import unsigned
from amaranth.lib import data
from amaranth.sim import Simulator

from dstripes.hw.detector import PrecisionDetector
from dstripes.hw.dispatcher import Dispatcher
from dstripes.hw.params import MODE_CODES as MODES
from dstripes.hw.result_buffer import ResultBuffer
from dstripes.hw.sip import SIP
from dstripes.sim.fixed import Window
from dstripes.sim.precision import bits_from_or, group_or

from .conftest import stable_seed
from .hwsim import pack

L, NC, A, W = 4, 4, 8, 8
#: Block shapes ``(L, Nc, A, W)``: A != W both ways, so a swapped width cannot pass.
SHAPES = [(4, 4, 8, 8), (4, 4, 6, 12), (3, 4, 12, 5)]


def seeded(*parts) -> np.random.Generator:
    seed = stable_seed(*parts)
    print(f"random seed {seed} for {parts}")
    return np.random.default_rng(seed)


def edge_pallets(rng, window, n, columns=NC, lanes=L):
    """Random pallets mixed with the edge cases: all-zero groups, full-precision values, the
    signed minimum, single-bit values at both ends of the window."""
    lo, hi = window.lo, window.hi
    special = [0, hi, lo, 1 << window.lsb, 1 << window.msb if not window.signed else -(1 << window.lsb)]
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            p = rng.integers(lo, hi + 1, size=(columns, lanes))
        elif kind == 1:
            p = rng.choice(special, size=(columns, lanes))
        elif kind == 2:
            p = rng.integers(lo, hi + 1, size=(columns, lanes)) >> int(rng.integers(0, window.msb + 1))
        else:
            p = np.zeros((columns, lanes), dtype=np.int64)
            p[int(rng.integers(0, columns)), int(rng.integers(0, lanes))] = rng.choice(special)
        p = np.clip((p >> window.lsb) << window.lsb, lo, hi)
        out.append(p.astype(np.int64))
    return out


WINDOWS = [Window(7, 0), Window(5, 2), Window(7, 0, True), Window(6, 1, True), Window(3, 3)]


def check_detector(det, pals, window, mode, group, a_bits, lanes=L, columns=NC):
    async def bench(ctx):
        ctx.set(det.msb, window.msb)
        ctx.set(det.lsb, window.lsb)
        ctx.set(det.signed, window.signed)
        ctx.set(det.mode, MODES[mode])
        for p in pals:
            ctx.set(det.pallet.as_value(), pack(p, a_bits))
            v, t, _ = group_or(p.reshape(columns // group, group * lanes), window.signed)
            bits, top = bits_from_or(v, t, window, mode)
            for g in range(columns // group):
                assert ctx.get(det.groups[g].bits) == bits[g], (p, g)
                if bits[g]:
                    assert ctx.get(det.groups[g].top) == top[g], (p, g)
            assert ctx.get(det.cycles) == max(1, int(bits.max()))

    sim = Simulator(det)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("window", WINDOWS, ids=str)
@pytest.mark.parametrize("mode", ["static", "leading", "both"])
@pytest.mark.parametrize("group", [1, 2, 4])
def test_detector_matches_model(window, mode, group):
    det = PrecisionDetector(lanes=L, columns=NC, act_bits=A, group=group, trailing=True)
    pals = edge_pallets(seeded("detector", str(window), mode, group), window, 40)
    check_detector(det, pals, window, mode, group, A)


@pytest.mark.parametrize("window", [Window(5, 2), Window(4, 1, True), Window(9, 3), Window(6, 6)], ids=str)
@pytest.mark.parametrize("mode", ["leading", "both"])
@pytest.mark.parametrize("group", [1, 2])
def test_detector_clamps_codes_outside_the_window(window, mode, group):
    """Raw A-bit codes with bits above ``msb`` and below ``lsb`` (which a quantised layer never
    holds): the detector clamps its top to ``msb`` and the trailing-zero position to ``lsb``,
    exactly as the model does, so neither clamp is dead logic."""
    a = 12
    det = PrecisionDetector(lanes=L, columns=NC, act_bits=a, group=group, trailing=True)
    rng = seeded("clamps", str(window), mode, group)
    pals = []
    for i in range(40):
        raw = rng.integers(0, 1 << a, size=(NC, L))
        if i % 3 == 1:  # only bits below the window's lsb: trailing zeros all below lsb
            raw &= (1 << window.lsb) - 1
        elif i % 3 == 2:  # small values plus one code far above msb
            raw >>= a - 2
            raw[int(rng.integers(0, NC)), 0] = 1 << (a - 2)
        codes = np.where(raw >= 1 << (a - 1), raw - (1 << a), raw) if window.signed else raw
        pals.append(codes.astype(np.int64))
    assert any(np.any(p & ((1 << window.lsb) - 1)) for p in pals)
    assert any(np.any((p >> (window.msb + 1)) != (0 if not window.signed else p >> 63)) for p in pals)
    check_detector(det, pals, window, mode, group, a)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "L{}_Nc{}_A{}_W{}".format(*s))
@pytest.mark.parametrize("signed", [False, True])
def test_detector_widths(shape, signed):
    """Other activation widths (the window at the top of the container), without the
    trailing-zero encoders."""
    lanes, columns, a, _ = shape
    window = Window(a - 1, 1, signed)
    det = PrecisionDetector(lanes=lanes, columns=columns, act_bits=a, group=2, trailing=False)
    pals = edge_pallets(seeded("widths", shape, signed), window, 30, columns, lanes)
    check_detector(det, pals, window, "leading", 2, a, lanes, columns)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "L{}_Nc{}_A{}_W{}".format(*s))
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("sources", [1, 3])
def test_sip_shift_accumulate(shape, signed, sources):
    """Random steps of random bit counts: the window result equals the integer dot product of
    the bit-serial values with the weights, aligned by each step's lowest bit. With several
    weight sources (run-ahead, selection in the SIP) the step's weights sit in a random slot
    among random decoys and ``select`` names it."""
    L, _, A, W = shape
    sip = SIP(lanes=L, act_bits=A, weight_bits=W, acc_bits=A + W + 12, sources=sources)
    seed = stable_seed("sip", shape, signed, sources)
    print(f"random seed {seed}")
    rng = random.Random(seed)

    def set_weights(ctx, weights):
        if sources == 1:
            ctx.set(sip.weights.as_value(), pack(weights, W))
            return
        k = rng.randrange(sources)
        slots = [[rng.randint(-(1 << (W - 1)), (1 << (W - 1)) - 1) for _ in range(L)] for _ in range(sources)]
        slots[k] = weights
        ctx.set(sip.weights.as_value(), pack(slots, W))
        ctx.set(sip.select, 1 << k)

    def drive(ctx, **values):
        for name, value in values.items():
            ctx.set(getattr(sip, name), value)

    async def bench(ctx):
        ctx.set(sip.en, 1)
        expected = 0
        prev_low = 0
        for step in range(60):
            bits_n = rng.randint(0, A)
            top = rng.randint(max(bits_n - 1, 0), A - 1)
            low = top - bits_n + 1 if bits_n else 0
            weights = [rng.randint(-(1 << (W - 1)), (1 << (W - 1)) - 1) for _ in range(L)]
            acts = [0] * L
            cycles = max(1, bits_n + rng.randint(0, 2))  # a group may finish before the step
            set_weights(ctx, weights)
            for t in range(cycles):
                active = t < bits_n
                plane = [rng.randint(0, 1) if active else 0 for _ in range(L)]
                neg = signed and t == 0 and bits_n > 0
                for i in range(L):
                    if active:
                        acts[i] += (-1 if neg else 1) * plane[i] << (top - t)
                drive(ctx, bits=pack(plane, 1), first=t == 0, active=active, neg=neg, add=step > 0 and t == 0,
                      clear=0, low=prev_low)
                await ctx.tick()
            prev_low = low
            expected += sum(a * w for a, w in zip(acts, weights))
        drive(ctx, first=0, active=0, add=1, clear=1, low=prev_low)
        assert ctx.get(sip.result) == expected
        await ctx.tick()
        # the window restarted: a one-bit step of plane 0b0001 adds exactly weights[0] << 0
        drive(ctx, add=0, clear=0, first=1, active=1, neg=0, bits=1)
        await ctx.tick()
        drive(ctx, first=0, active=0, add=1, clear=1, low=0)
        assert ctx.get(sip.result) == weights[0]

    sim = Simulator(sip)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


# (detect, mode, trailing): a tile without trailing-zero encoders never runs mode "both"
# (rejected up front, see test_cli_simulate)
_MODES = [(True, "leading", True), (True, "both", True), (True, "leading", False),
          (True, "static", False), (False, "static", False)]
DISPATCH_CASES = [(SHAPES[0], w, d, m, t, g) for w in WINDOWS for d, m, t in _MODES for g in (1, 2)]
DISPATCH_CASES += [(s, w, d, m, t, 2) for s in SHAPES[1:] for w in (Window(5, 1), Window(5, 0, True))
                   for d, m, t in _MODES]


@pytest.mark.parametrize("shape,window,detect,mode,trailing,group", DISPATCH_CASES,
                         ids=lambda v: "L{}_Nc{}_A{}_W{}".format(*v) if isinstance(v, tuple) else str(v))
def test_dispatcher_serialises_exactly(shape, window, detect, mode, trailing, group):
    """The bit planes of every step rebuild every activation exactly, in exactly the model's
    step cost, under random idle cycles and back-pressure, and nothing is lost or repeated."""
    L, NC, A, W = shape
    rows = 2
    disp = Dispatcher(lanes=L, columns=NC, rows=rows, act_bits=A, weight_bits=W, group=group,
                      detect=detect, trailing=trailing)
    seed = stable_seed("dispatcher", shape, str(window), detect, mode, group, trailing)
    print(f"random seed {seed}")
    rng = np.random.default_rng(seed)
    pals = edge_pallets(rng, window, 30, NC, L)
    wts = [rng.integers(-(1 << (W - 1)), 1 << (W - 1), size=(rows, L)) for _ in pals]
    prng = random.Random(seed)

    async def bench(ctx):
        ctx.set(disp.msb, window.msb)
        ctx.set(disp.lsb, window.lsb)
        ctx.set(disp.signed, window.signed)
        ctx.set(disp.mode, MODES[mode])
        ctx.set(disp.act_enable, 1)
        ctx.set(disp.weight_enable, 1)
        a_i = w_i = 0
        steps = []  # per step: list of plane payloads
        cur = []
        for _ in range(5000):
            a_valid = a_i < len(pals) and prng.random() < 0.8
            w_valid = w_i < len(wts) and prng.random() < 0.8
            ready = prng.random() < 0.8
            ctx.set(disp.act.valid, a_valid)
            if a_valid:
                ctx.set(disp.act.payload.as_value(), pack(pals[a_i], A))
            ctx.set(disp.weight.valid, w_valid)
            if w_valid:
                ctx.set(disp.weight.payload.as_value(), pack(wts[w_i], W))
            ctx.set(disp.plane.ready, ready)
            _, _, ar, wr, pv, bits, active, neg, low, first, last, weights = await ctx.tick().sample(
                disp.act.ready, disp.weight.ready, disp.plane.valid, disp.plane.payload.bits.as_value(),
                disp.plane.payload.active, disp.plane.payload.neg, disp.plane.payload.low.as_value(),
                disp.plane.payload.first, disp.plane.payload.last, disp.plane.payload.weights.as_value())
            a_i += bool(a_valid and ar)
            w_i += bool(w_valid and wr)
            if pv and ready:
                cur.append((int(bits), int(active), int(neg), int(first), int(last), int(weights)))
                if last:
                    steps.append(cur)
                    cur = []
            if len(steps) == len(pals):
                break
        assert len(steps) == len(pals)
        for s, (p, w, planes) in enumerate(zip(pals, wts, steps)):
            v, t, _ = group_or(p.reshape(NC // group, group * L), window.signed)
            bits, top = bits_from_or(v, t, window, mode)
            assert len(planes) == max(1, int(bits.max())), s
            assert planes[0][3] == 1 and all(pl[3] == 0 for pl in planes[1:])
            assert all(pl[5] == pack(w, W) for pl in planes)
            rebuilt = np.zeros((NC, L), dtype=np.int64)
            for t_, (word, active, neg, _, _, _) in enumerate(planes):
                for c in range(NC):
                    g = c // group
                    assert ((active >> g) & 1) == (t_ < bits[g])
                    for l in range(L):
                        if (word >> (c * L + l)) & 1:
                            sign = -1 if (neg >> g) & 1 else 1
                            rebuilt[c, l] += sign * (1 << int(top[g] - t_))
            np.testing.assert_array_equal(rebuilt, p, err_msg=f"step {s}")

    sim = Simulator(disp)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_result_buffer_in_parts():
    """A set loaded in parts is offered once every part is in; a loaded part cannot load again
    until the set leaves (then in the same cycle), so the parts never mix window-sets."""
    buf = ResultBuffer(data.ArrayLayout(unsigned(8), 4), parts=2)   # parts: elements 0-1, 2-3

    async def bench(ctx):
        ctx.set(buf.result.ready, 1)
        ctx.set(buf.data.as_value(), pack([1, 2, 3, 4], 8))
        ctx.set(buf.load, 0b01)
        assert ctx.get(buf.can_load) == 0b11
        await ctx.tick()
        ctx.set(buf.load, 0)
        assert ctx.get(buf.result.valid) == 0 and ctx.get(buf.can_load) == 0b10
        await ctx.tick()
        ctx.set(buf.data.as_value(), pack([9, 9, 5, 6], 8))
        ctx.set(buf.load, 0b10)
        await ctx.tick()
        assert ctx.get(buf.result.valid) == 1 and ctx.get(buf.can_load) == 0b11  # leaving now
        assert ctx.get(buf.result.payload.as_value()) == pack([1, 2, 5, 6], 8)
        ctx.set(buf.data.as_value(), pack([7, 8, 0, 0], 8))
        ctx.set(buf.load, 0b01)          # part 0 of the next set, in the cycle the set leaves
        await ctx.tick()
        ctx.set(buf.load, 0)
        assert ctx.get(buf.result.valid) == 0 and ctx.get(buf.can_load) == 0b10

    sim = Simulator(buf)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
