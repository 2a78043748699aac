"""The set-up: a command's layer geometry derived from its descriptor, in two registered stages
(``docs/design.md`` §10.5)."""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.chip.config import ChipConfig

from .layouts import check_chip, descriptor_layout, geometry_layout

#: Fields the geometry holds as the descriptor gives them.
COPIED = ("c", "h", "w", "k", "kh", "kw", "sy", "sx", "py", "px", "dy", "dx", "groups", "cg", "kg", "in_base", "out_base",
          "w_base", "bias", "msb", "lsb", "signed", "mode", "out_lsb", "w0_loaded", "prefetch", "residual",
          "res_signed", "res_shift", "res_base")


def first_layout() -> data.StructLayout:
    """What stage 1 registers: the divisions by a stride. ``raw_y``/``raw_x``: output rows and
    columns before a ceil-mode POOL drops a window starting in the padding."""
    return data.StructLayout({"raw_y": unsigned(13), "raw_x": unsigned(13), "reuse": unsigned(4)})


class Setup(wiring.Component):
    """Derives the geometry (``geometry_layout``) the blocks hold for a whole command.

    Why two stages: done in one cycle, the divisions by the descriptor's ``groups`` and strides
    followed by the products that size a pass (windows, steps, passes, beats) made a 32.6 ns path
    in sky130 (the published chip), longer than every other path of the chip. Stage 1 registers
    the divisions with the descriptor in the cycle the command is accepted; stage 2 computes the
    rest from those registers into the geometry register in the next cycle (the chip's set-up
    cycle), so the command's cycles are those of a one-cycle set-up (§10.6).

    Parameters
    ----------
    chip : ChipConfig

    Members
    -------
    descriptor : ``In(descriptor_layout)``
        The command's descriptor, from a register (the command port's payload), read while ``load``.
    load : ``In(1)``
        The command is accepted this cycle.
    geometry : ``Out(geometry_layout)``
        The derived geometry, from a register; it changes only at the end of the cycle after ``load``.

    Latency 2: the geometry of a descriptor loaded in cycle ``t`` is out from cycle ``t + 2``;
    one descriptor per cycle (pipelined; the chip loads one per command).
    """

    def __init__(self, chip: ChipConfig):
        self._chip = check_chip(chip)
        super().__init__({"descriptor": In(descriptor_layout(chip)), "load": In(1),
                          "geometry": Out(geometry_layout(chip))})

    chip = property(lambda self: self._chip)

    def elaborate(self, platform):
        m = Module()
        c, t = self._chip, self._chip.tile
        nc, lanes, nf = c.columns, t.lanes, t.rows * c.tiles

        # -- stage 1 (the cycle the command is accepted): the descriptor and its divisions --------
        d = Signal(descriptor_layout(c))
        one = Signal(first_layout())
        pending = Signal()
        m.d.sync += pending.eq(self.load)
        x = self.descriptor
        raws = []
        for axis, n, p, s, dil, k in (("y", x.h, x.py, x.sy, x.dy, x.kh), ("x", x.w, x.px, x.sx, x.dx, x.kw)):
            raw = Signal(13, name=f"o{axis}_raw")
            m.d.comb += raw.eq((n + 2 * p + Mux(x.ceil, s - 1, 0) - dil * (k - 1) - 1) // s + 1)
            raws.append(raw)
        with m.If(self.load):
            m.d.sync += [d.eq(x), one.raw_y.eq(raws[0]), one.raw_x.eq(raws[1]),
                         one.reuse.eq(Mux(x.dx % x.sx == 0, x.dx // x.sx, 0) if c.reuse else 0)]

        # -- stage 2 (the set-up cycle): sizes and products into the geometry register -----------
        g = Signal(geometry_layout(c))
        for name in COPIED:
            m.d.comb += getattr(g, name).eq(getattr(d, name))
        # a POOL in ceil mode drops a last window that would start in the bottom/right padding (§10.7)
        sizes = [raw - (d.ceil & (raw * s >= n + p + s))
                 for raw, n, p, s in ((one.raw_y, d.h, d.py, d.sy), (one.raw_x, d.w, d.px, d.sx))]
        m.d.comb += [
            g.reuse.eq(one.reuse),
            g.oh.eq(sizes[0]), g.ow.eq(sizes[1]),
            g.windows.eq(g.oh * g.ow), g.window_sets.eq((g.windows + nc - 1) // nc),
            g.cbg.eq((g.cg + lanes - 1) // lanes), g.steps.eq(d.kh * d.kw * g.cbg),
            g.filter_sets.eq((g.kg + nf - 1) // nf), g.passes.eq(d.groups * g.filter_sets),
            g.col_rows.eq(Const(nc, 16) // g.ow), g.col_step.eq(Const(nc, 16) % g.ow),
            g.small_group.eq((d.groups > 1) & (g.cg < lanes)),
            g.kb.eq((d.k + lanes - 1) // lanes),
            g.pass_beats.eq(g.steps * (c.tiles * c.beats_per_brick)
                            + Mux(d.bias, (nf + max(1, c.bias_per_beat) - 1) // max(1, c.bias_per_beat), 0)),
            g.round_shift.eq(d.shift + d.out_lsb),
        ]
        width = Signal(range(t.act_bits + 1))  # window bits - 1
        m.d.comb += width.eq(d.out_msb - d.out_lsb)
        unit = Const(1, t.act_bits + 2)
        top = Signal(signed(t.act_bits + 1))    # the window's top, in units of 2**out_lsb
        with m.If(d.out_signed):
            m.d.comb += [g.out_lo.eq(-(unit << width)), top.eq((unit << width) - 1)]
        with m.Else():
            m.d.comb += [g.out_lo.eq(0), top.eq((unit << (width + 1)) - 1)]
        # a clamp (ReLU6) lowers the saturation's top: min(code, clamp) at no cost per value
        bound = Signal(signed(t.act_bits + 1))
        m.d.comb += [bound.eq(Mux(d.out_signed, d.clamp_code.as_signed(), d.clamp_code) >> d.out_lsb),
                     g.out_hi.eq(Mux(d.clamp & (bound < top), bound, top))]
        with m.If(pending):
            m.d.sync += self.geometry.eq(g)
        return m
