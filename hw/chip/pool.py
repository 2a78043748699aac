"""The pool unit: the ``POOL`` command's lane-wise max-pooling of an NM tensor into another
(``docs/design.md`` §10.7)."""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.chip.config import ChipConfig

from .layouts import check_chip, geometry_layout

#: Largest kernel side (the descriptor's 4-bit ``kh``, ``kw``).
MAX_KERNEL = 15


class PoolUnit(wiring.Component):
    """Walks the output bricks in address order; for each, reads its ``kh*kw`` kernel positions
    ``B`` per cycle in row-major order (a position in the padding reads nothing), keeps the
    lane-wise max (two's complement when ``geometry.signed``) and writes the brick two cycles after
    its last reads, while the next brick's reads go on: NM's read data enter a register first (no
    SRAM read data → NM write path in one cycle, ``docs/design.md`` §10.8), the max of the
    registered data and the brick's running max is written the cycle after. The last brick's
    write falls in the command's last cycle (``idle`` is already high then), so the ``POOL``
    command costs the cycles it cost with the write one cycle after the reads. Ceil mode needs nothing here: the set-up
    derives the output size (``geometry.oh``, ``ow``), and a window hanging over the bottom/right
    edge has its positions past the edge skipped by the same bounds check as the padding.

    Parameters
    ----------
    chip : ChipConfig

    Members
    -------
    geometry : ``In``
        The command's descriptor, derived (``c``, ``h``, ``w``, ``kh``, ``kw``, ``sy``, ``sx``,
        ``py``, ``px``, ``signed``, ``in_base``, ``out_base``, ``oh``, ``ow``, ``cbg``).
    start : ``In(1)``
        Starts the walk at the next cycle.
    raddr, ren : ``Out`` per NM read port, rdata : ``In`` per NM read port
    waddr, wen, wdata : ``Out``
        One NM write port.
    idle : ``Out(1)``
        No read pending and no brick's data still to be registered (the last brick's write, if
        any, is in this cycle).

    Latency 2 (an output brick's last reads → its write); throughput one output brick per
    ``ceil(kh*kw / B)`` cycles.
    """

    def __init__(self, chip: ChipConfig):
        self._chip = check_chip(chip)
        b = chip.nm_read
        super().__init__({
            "geometry": In(geometry_layout(chip)), "start": In(1),
            "raddr": Out(chip.nm_addr_bits).array(b), "ren": Out(1).array(b), "rdata": In(chip.brick_bits).array(b),
            "waddr": Out(chip.nm_addr_bits), "wen": Out(chip.tile.lanes), "wdata": Out(chip.brick_bits),
            "idle": Out(1),
        })

    latency = property(lambda self: 2)

    def elaborate(self, platform):
        m = Module()
        chip, t = self._chip, self._chip.tile
        b, lanes, a = chip.nm_read, t.lanes, t.act_bits
        g = self.geometry
        running = Signal()
        cb, oy, ox = Signal(16), Signal(12), Signal(12)
        pos = Signal(8)                                   # first kernel position of this chunk
        area = Signal(8)
        m.d.comb += area.eq(g.kh * g.kw)
        last_chunk = pos + b >= area
        last_brick = last_chunk & (ox == g.ow - 1) & (oy == g.oh - 1) & (cb == g.cbg - 1)

        # each port's kernel position, row and column (row = how many multiples of kw it passes)
        base_y = Signal(signed(16))
        base_x = Signal(signed(16))
        m.d.comb += [base_y.eq(oy * g.sy - g.py), base_x.eq(ox * g.sx - g.px)]
        valid_q = Signal(b)
        for j in range(b):
            p = Signal(9, name=f"pool_p{j}")
            ky = Signal(4, name=f"pool_ky{j}")
            kx = Signal(9, name=f"pool_kx{j}")
            m.d.comb += [p.eq(pos + j), ky.eq(sum((p >= r * g.kw).as_unsigned() for r in range(1, MAX_KERNEL + 1))),
                         kx.eq(p - ky * g.kw)]
            iy, ix = Signal(signed(17), name=f"pool_iy{j}"), Signal(signed(17), name=f"pool_ix{j}")
            m.d.comb += [iy.eq(base_y + ky), ix.eq(base_x + kx)]
            ok = (p < area) & (iy >= 0) & (iy < g.h) & (ix >= 0) & (ix < g.w)
            m.d.comb += [self.ren[j].eq(running & ok),
                         self.raddr[j].eq(g.in_base + (cb * g.h + iy.as_unsigned()) * g.w + ix.as_unsigned())]
            m.d.sync += valid_q[j].eq(running & ok)

        # the cycle after the reads: the read data enter a register (no logic between NM's read
        # port and a register: the macro's data arrive late, §10.8); the cycle after: lane-wise max
        # of the registered data and ``acc``, a tree (depth ceil(log2(B + 1))), written to NM when
        # the brick's last chunk is in. ``key`` flips the sign bit of signed codes so that an
        # unsigned compare orders them; a port that read nothing contributes 0 (the least key).
        flip = Mux(g.signed, 1 << (a - 1), 0)
        rq = [Signal(chip.brick_bits, name=f"pool_rq{j}") for j in range(b)]
        valid_r = Signal(b)
        m.d.sync += [rq[j].eq(self.rdata[j]) for j in range(b)]
        m.d.sync += valid_r.eq(valid_q)
        acc = [Signal(a, name=f"pool_acc{l}") for l in range(lanes)]
        best = []
        for l in range(lanes):
            level = [acc[l]]
            for j in range(b):
                key = Signal(a, name=f"pool_key{l}_{j}")
                m.d.comb += key.eq(Mux(valid_r[j], rq[j].word_select(l, a) ^ flip, 0))
                level.append(key)
            depth = 0
            while len(level) > 1:                         # a signal per node: no expression blow-up
                nxt = []
                for i in range(0, len(level) - 1, 2):
                    x, y = level[i], level[i + 1]
                    nv = Signal(a, name=f"pool_max{l}_{depth}_{i // 2}")
                    m.d.comb += nv.eq(Mux(y > x, y, x))
                    nxt.append(nv)
                if len(level) % 2:
                    nxt.append(level[-1])
                level, depth = nxt, depth + 1
            best.append(level[0])
        write = Signal()                                  # the brick's last chunk read (its data next cycle)
        write_r = Signal()                                # ... in the register: the brick is written
        out_addr, out_addr_r = Signal(chip.nm_addr_bits), Signal(chip.nm_addr_bits)
        m.d.comb += [self.wen.eq(Mux(write_r, (1 << lanes) - 1, 0)), self.waddr.eq(out_addr_r),
                     self.wdata.eq(Cat(*[v ^ flip for v in best])),
                     self.idle.eq(~running & ~write)]
        m.d.sync += [acc[l].eq(Mux(write_r, 0, best[l])) for l in range(lanes)]
        m.d.sync += [write.eq(running & last_chunk), write_r.eq(write), out_addr_r.eq(out_addr)]
        with m.If(running & last_chunk):
            m.d.sync += out_addr.eq(g.out_base + (cb * g.oh + oy) * g.ow + ox)

        with m.If(self.start):
            m.d.sync += [running.eq(1), cb.eq(0), oy.eq(0), ox.eq(0), pos.eq(0)]
            m.d.sync += [acc[l].eq(0) for l in range(lanes)]
        with m.Elif(running):
            m.d.sync += pos.eq(pos + b)
            with m.If(last_chunk):
                m.d.sync += [pos.eq(0), ox.eq(ox + 1)]
                with m.If(ox == g.ow - 1):
                    m.d.sync += [ox.eq(0), oy.eq(oy + 1)]
                    with m.If(oy == g.oh - 1):
                        m.d.sync += [oy.eq(0), cb.eq(cb + 1)]
                with m.If(last_brick):
                    m.d.sync += running.eq(0)
        return m
