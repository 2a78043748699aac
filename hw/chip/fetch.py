"""The fetch unit: a step's bricks from NM, the previous step or zeros, into the pallet the tiles
take (``docs/design.md`` §10.4–§10.6)."""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.params import brick_layout
from dstripes.sim.checks import check_integer
from dstripes.sim.chip.config import ChipConfig

from .layouts import SIZE_BITS, check_chip
from .walker import step_layout


def popcount(bits) -> list:
    """``[popcount(bits[:c]) for c in range(len(bits) + 1)]`` as values."""
    out = [Const(0, 1)]
    for b in bits:
        out.append(out[-1] + b)
    return out


class Fetch(wiring.Component):
    """Assembles each step's pallet and offers it, with the step's SB word read for the tiles.

    A step taken from the walker in cycle ``G`` issues its NM reads ``B`` per cycle, the first
    ``B`` pending columns in column order, in cycles ``G .. G + f - 1`` (``f = max(1, ceil(r/B))``);
    each read's brick is merged a cycle later, lane-shifted for a narrow convolution group. In the
    first merge cycle the reused columns copy the previous pallet's column ``c + q`` and the zero
    columns clear. The step is *committed* — the pallet copied into the output register and its
    SB word read — in its last merge cycle, or later once the output register is free; the next
    step starts in the commit cycle.

    Parameters
    ----------
    chip : ChipConfig

    Members
    -------
    step : ``In(step_layout)``, valid : ``In(1)``, take : ``Out(1)``
        From the walker.
    reuse : ``In(4)``
        ``q`` (0: no reuse), small_group : ``In(1)``, in_lane : ``In``, group_lanes : ``In(16)``
        The layer's reuse shift and, for a narrow convolution group, its lanes in the brick.
    raddr, ren : ``Out`` per NM read port, rdata : ``In`` per NM read port
    sb_raddr : ``Out``, sb_ren : ``Out(1)``
        The SB word of the committed step (the tiles' weight bricks, from the next cycle).
    sb_base : ``In``
        Where the pass's SB half starts.
    pallet : ``Out(columns x brick)``, out_valid : ``Out(1)``, out_taken : ``In(1)``
        The output register and its hand-off.
    idle : ``Out(1)``
        No step in the unit and the output register empty.

    Latency: a step's pallet is offered the cycle after its last read's merge; throughput one
    step per ``f`` cycles.
    """

    def __init__(self, chip: ChipConfig, *, sb_words: int):
        self._chip = check_chip(chip)
        check_integer("sb_words", sb_words)
        t = chip.tile
        self._brick = brick_layout(t.lanes, t.act_bits)
        b, nc = chip.nm_read, chip.columns
        self._sb_bits = max(1, (2 * sb_words - 1).bit_length())
        super().__init__({
            "step": In(step_layout(chip)), "valid": In(1), "take": Out(1),
            "reuse": In(4), "small_group": In(1), "in_lane": In(range(t.lanes)), "group_lanes": In(16),
            "raddr": Out(chip.nm_addr_bits).array(b), "ren": Out(1).array(b), "rdata": In(chip.brick_bits).array(b),
            "sb_raddr": Out(self._sb_bits), "sb_ren": Out(1), "sb_base": In(self._sb_bits),
            "pallet": Out(data.ArrayLayout(self._brick, nc)), "out_valid": Out(1), "out_taken": In(1),
            "idle": Out(1),
        })

    latency = property(lambda self: 1)

    def elaborate(self, platform):
        m = Module()
        chip, t = self._chip, self._chip.tile
        nc, b, lanes = chip.columns, chip.nm_read, t.lanes
        cur = Signal(step_layout(chip))
        mask = Signal(nc)
        active, issuing, done = Signal(), Signal(), Signal()
        dv, dfirst, dlast = Signal(), Signal(), Signal()
        route = Signal(nc)
        port = [Signal(range(max(2, b)), name=f"port{c}") for c in range(nc)]
        asm = Signal(data.ArrayLayout(self._brick, nc))

        out_free = ~self.out_valid | self.out_taken
        commit = Signal()
        m.d.comb += commit.eq((dv & dlast | done) & out_free)
        start = Signal()
        m.d.comb += [start.eq((~active | commit) & self.valid), self.take.eq(start),
                     self.idle.eq(~active & ~self.out_valid)]

        # -- issue: the first B pending columns --------------------------------------------
        src = Signal(nc)
        addr = Signal.like(cur.addr)
        m.d.comb += [src.eq(Mux(start, self.step.read, mask)), addr.eq(Mux(start, self.step.addr, cur.addr))]
        issuing_now = start | (active & issuing)
        rank = popcount([src[c] for c in range(nc)])
        chunk = Signal(nc)
        m.d.comb += chunk.eq(Cat(*[src[c] & (rank[c] < b) for c in range(nc)]))
        for j in range(b):
            hits = [chunk[c] & (rank[c] == j) for c in range(nc)]
            m.d.comb += [self.ren[j].eq(issuing_now & Cat(*hits).any()),
                         self.raddr[j].eq(Mux(Cat(*hits).any(), _select(hits, [addr[c] for c in range(nc)]), 0))]
        rest = src & ~chunk
        m.d.sync += dv.eq(issuing_now)
        with m.If(issuing_now):
            m.d.sync += [dfirst.eq(start), dlast.eq(rest == 0), route.eq(chunk), mask.eq(rest),
                         issuing.eq(rest != 0)]
            for c in range(nc):
                m.d.sync += port[c].eq(rank[c][:len(port[c])])
        with m.If(start):
            m.d.sync += cur.eq(self.step)

        # -- merge (plain multiplexers: wide conditional processes are costly to emit) -----
        # Every intermediate is a named signal: an expression used twice is built twice.
        new = Signal.like(asm)
        for c in range(nc):
            copied = Signal(len(asm[c].as_value()), name=f"copied{c}")
            expr = Mux(cur.zero[c], 0, asm[c].as_value())
            for d in range(1, nc - c):
                expr = Mux(cur.reuse[c] & (self.reuse == d), asm[c + d].as_value(), expr)
            word = Signal.like(copied, name=f"read{c}")
            m.d.comb += [copied.eq(expr),
                         word.eq(_select([port[c] == j for j in range(b)], [self.rdata[j] for j in range(b)]))]
            got = self._lanefix(m, word, c)
            m.d.comb += new[c].eq(Mux(dv & route[c], got, Mux(dv & dfirst, copied, asm[c].as_value())))
        m.d.sync += asm.eq(new)
        m.d.sync += [done.eq((done | (dv & dlast)) & ~commit), active.eq((active & ~commit) | start)]

        # -- commit into the output register, with the step's SB word ----------------------
        m.d.comb += [self.sb_ren.eq(commit), self.sb_raddr.eq(self.sb_base + cur.sb_word)]
        with m.If(commit):
            m.d.sync += [self.pallet.eq(new), self.out_valid.eq(1)]
        with m.Elif(self.out_taken):
            m.d.sync += self.out_valid.eq(0)
        return m

    def _lanefix(self, m, word, c):
        """A read brick of a narrow convolution group: its lanes moved to lane 0, the others zero."""
        t = self._chip.tile
        lanes, a = t.lanes, t.act_bits
        lane = [word[l * a:(l + 1) * a] for l in range(lanes)]
        moved = Cat(*[Mux(l < self.group_lanes,
                          _select([self.in_lane == s for s in range(lanes)], [lane[(l + s) % lanes] for s in range(lanes)]),
                          0) for l in range(lanes)])
        out = Signal.like(word, name=f"fixed{c}")
        m.d.comb += out.eq(Mux(self.small_group, moved, word))
        return out


def _select(conds, values):
    """``values[i]`` for the one true ``conds[i]`` (0 if none): an AND-OR multiplexer."""
    out = 0
    for cond, v in zip(conds, values):
        out = out | Mux(cond, v, 0)
    return out
