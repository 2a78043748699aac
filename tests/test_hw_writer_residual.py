"""The writer's residual pipeline on its own (``docs/design.md`` §10.5), in Amaranth's simulator
against a dictionary model of NM: an in-place residual (``res_base = out_base``) whose codes come
back as the output codes plus one, over passes at lane offsets 0 and 3, a partial window-set,
the lanes past ``K`` and release delays. Every output lane ends as its residual plus one (so
every brick was read before it was written, and read at the position it is written), each brick
is read at least two cycles before it is written, the residual codes are registers (no path from
the read data to ``res_pat`` within a cycle), and the residual never delays a write."""
from __future__ import annotations

import random

import pytest
from amaranth.sim import Simulator

from dstripes.hw.chip.writer import Writer
from dstripes.hw.params import TileConfig
from dstripes.sim.chip.config import ChipConfig

LANES, ROWS, TILES, COLUMNS, A = 4, 2, 2, 4, 8
# window-sets of 4 and 3 windows; two groups of 7 filters (passes from filters 0, 4, 7, 11: lane
# offsets 0, 0, 3, 3), the last brick with 2 lanes past K
WINDOWS, GROUPS, KG, BASE = 7, 2, 7, 3
K = GROUPS * KG


def _passes():
    nf = ROWS * TILES
    out = []
    for group in range(GROUPS):
        for f in range(0, KG, nf):
            k0, n = group * KG + f, min(nf, KG - f)
            out.append(dict(k0=k0, filters=n, kb0=k0 // LANES, lane0=k0 % LANES,
                            out_bricks=(k0 + n - 1) // LANES - k0 // LANES + 1))
    return out


@pytest.mark.parametrize("nm_read", [1, 2])
def test_in_place_residual_read_two_chunks_ahead_and_registered(nm_read):
    chip = ChipConfig(tile=TileConfig(rows=ROWS, columns=COLUMNS, lanes=LANES, tiles=TILES, act_bits=A, weight_bits=A),
                      nm_read=nm_read, nm_kib=2, sb_kib=2)
    dut = Writer(chip)
    rng = random.Random(nm_read)
    kb = (K + LANES - 1) // LANES
    mem = {BASE + i: rng.getrandbits(LANES * A) for i in range(kb * WINDOWS)}
    orig = dict(mem)
    nf = ROWS * TILES
    lane = lambda word, l: (word >> (l * A)) & ((1 << A) - 1)  # noqa: E731
    passes = _passes()
    assert [p["lane0"] for p in passes] == [0, 0, 3, 3]

    async def bench(ctx):
        g = dut.geometry
        for name, v in dict(windows=WINDOWS, k=K, kb=kb, out_base=BASE, res_base=BASE, residual=1).items():
            ctx.set(getattr(g, name), v)
        cycle = 0
        for p in passes:
            ctx.set(dut.init, 1)
            await ctx.tick()
            cycle += 1
            ctx.set(dut.init, 0)
            for name, v in p.items():
                ctx.set(getattr(dut.pass_, name), v)
            read_at = {}
            offer = cycle + 2                   # results offered 3 cycles after the pass starts, the earliest
            sets = (WINDOWS + COLUMNS - 1) // COLUMNS
            while sets:
                valid = cycle >= offer
                ctx.set(dut.valid, valid)
                pat = [ctx.get(dut.res_pat[i]) for i in range(nf)]
                for i in range(nf):
                    ctx.set(dut.codes[i], (pat[i] + 1) % (1 << A))
                # the residual codes are registers: other read data change nothing within the cycle
                saved = [ctx.get(dut.res_rdata[j]) for j in range(nm_read)]
                for j in range(nm_read):
                    ctx.set(dut.res_rdata[j], rng.getrandbits(LANES * A))
                assert [ctx.get(dut.res_pat[i]) for i in range(nf)] == pat
                for j in range(nm_read):
                    ctx.set(dut.res_rdata[j], saved[j])
                reads = {j: ctx.get(dut.res_raddr[j]) for j in range(nm_read) if ctx.get(dut.res_ren[j])}
                writes = [(ctx.get(dut.waddr[j]), ctx.get(dut.wen[j]), ctx.get(dut.wdata[j])) for j in range(nm_read)]
                writes = [w for w in writes if w[1]]
                assert not valid or writes, f"cycle {cycle}: results offered, nothing written"
                ready = ctx.get(dut.ready)
                for a in reads.values():
                    read_at.setdefault(a, cycle)
                for a, _, _ in writes:
                    assert a in read_at and read_at[a] <= cycle - 2, f"brick {a} written in cycle {cycle}, read {read_at.get(a)}"
                data = {j: mem[a] for j, a in reads.items()}        # read before this cycle's writes
                await ctx.tick()
                cycle += 1
                for a, en, d in writes:
                    w = mem[a]
                    for l in range(LANES):
                        if en >> l & 1:
                            w = (w & ~(((1 << A) - 1) << (l * A))) | (lane(d, l) << (l * A))
                    mem[a] = w
                for j, d in data.items():                          # synchronous read, held until the next
                    ctx.set(dut.res_rdata[j], d)
                if ready:
                    sets -= 1
                    offer = cycle + rng.choice((0, 0, 1, 2))
        ctx.set(dut.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for k in range(kb * LANES):
        for n in range(WINDOWS):
            a, l = BASE + (k // LANES) * WINDOWS + n, k % LANES
            want = (lane(orig[a], l) + 1) % (1 << A) if k < K else 0
            assert lane(mem[a], l) == want, (k, n)
