"""Amaranth-simulator testbench of the whole accelerator (tiles and memories built in,
``Chip(embed=True)``): a cycle-by-cycle off-chip memory following ``docs/design.md`` §10.6's
process (the same as ``sim/chip/dram.py``), commands played in order, the ``LAYER`` command's
cycles counted and the memory read back."""
from __future__ import annotations

from amaranth.sim import Simulator

from dstripes.hw.chip.chip import Chip
from dstripes.hw.chip.layouts import OPS, command_layout
from dstripes.sim.chip.dram import FRACTION, SALT, DramConfig, xorshift32


def words_int(row) -> int:
    return sum(int(w) << (64 * j) for j, w in enumerate(row))


class Memory:
    """The off-chip memory seen cycle by cycle (beats as Python ints)."""

    def __init__(self, config: DramConfig, beat_bytes: int, image: dict):
        self.c, self.bb = config, beat_bytes * FRACTION
        self.image = dict(image)
        self.reseed()

    def reseed(self):
        s = self.c.seed
        self.state = [(s ^ salt) or salt for salt in SALT]
        self.t = 0
        self.job = None            # [write, addr, left, start, credit]

    def step(self):
        """Advance to the next cycle's generator values."""
        self.t += 1
        if self.t > 1:
            self.state = [xorshift32(x) for x in self.state]

    def ok(self, gen) -> bool:
        return (self.state[gen] & 0xFFFF) >= self.c.threshold


async def play(ctx, dut, mem: Memory, commands, limit=2_000_000):
    """Run ``commands`` (``(op, fields)``) one after the other; returns each one's cycles (from its
    transfer, cycle 0, to its last busy cycle)."""
    lay = command_layout(dut.chip)
    out = []
    for op, fields in commands:
        ctx.set(dut.cmd.valid, 1)
        ctx.set(dut.cmd.payload, lay.const({"op": OPS[op], **fields}))
        while not ctx.get(dut.cmd.ready):
            await ctx.tick()
        await ctx.tick()                       # the transfer (cycle 0)
        ctx.set(dut.cmd.valid, 0)
        mem.reseed()
        n = 0
        while True:
            n += 1
            if n > limit:
                raise RuntimeError("command did not finish")
            mem.step()                        # values of cycle n
            # request channel
            ctx.set(dut.mem_req.ready, 0)
            if mem.job is None and ctx.get(dut.mem_req.valid) and mem.ok(0):
                req = ctx.get(dut.mem_req.payload)
                ctx.set(dut.mem_req.ready, 1)
                extra = mem.state[1] & mem.c.jitter
                mem.job = [req.write, req.addr, req.count, mem.t + mem.c.latency + extra, 0]
            # read data
            ctx.set(dut.mem_rdata.valid, 0)
            ctx.set(dut.mem_wdata.ready, 0)
            job = mem.job
            if job is not None and not job[0] and mem.t >= job[3] and mem.t > 0:
                job[4] += mem.c.credit
                if job[4] >= mem.bb and mem.ok(2):
                    job[4] -= mem.bb
                    ctx.set(dut.mem_rdata.valid, 1)
                    ctx.set(dut.mem_rdata.payload, mem.image.get(job[1], 0))
                    job[1] += 1
                    job[2] -= 1
                    if not job[2]:
                        mem.job = None
            elif job is not None and job[0] and mem.t > job[3] - mem.c.latency:
                ctx.set(dut.mem_wdata.ready, 1)
                if ctx.get(dut.mem_wdata.valid):
                    mem.image[job[1]] = ctx.get(dut.mem_wdata.payload)
                    job[1] += 1
                    job[2] -= 1
                    if not job[2]:
                        mem.job = None
            busy = ctx.get(dut.busy)
            await ctx.tick()
            if not busy:
                out.append(n - 1)
                break
    return out


def run_chip(chip, commands, dram: DramConfig, image: dict):
    """Simulate ``commands`` on an embedded chip; returns (cycles per command, final memory)."""
    dut = Chip(chip, embed=True)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    mem = Memory(dram, chip.beat_bytes, image)
    result = {}

    async def bench(ctx):
        result["cycles"] = await play(ctx, dut, mem, commands)

    sim.add_testbench(bench)
    sim.run()
    return result["cycles"], mem.image
