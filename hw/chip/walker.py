"""The step walker: every step of a pass, each column's source (``docs/design.md`` §10.4)."""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.chip.config import ChipConfig

from .layouts import SIZE_BITS, check_chip, geometry_layout, pass_layout


def step_layout(chip: ChipConfig) -> data.StructLayout:
    """One step for the fetch unit: per column ``read`` (from NM at ``addr``), ``reuse`` (the
    previous step's column ``c + q``), ``zero``; the SB word; the pass's last step."""
    nc = chip.columns
    return data.StructLayout({
        "read": unsigned(nc), "reuse": unsigned(nc), "zero": unsigned(nc),
        "addr": data.ArrayLayout(unsigned(chip.nm_addr_bits), nc),
        "sb_word": unsigned(SIZE_BITS), "last": unsigned(1),
    })


class Walker(wiring.Component):
    """Walks a pass's steps (window-sets, ``ky``, ``cb``, ``kx`` innermost) and describes each.

    Parameters
    ----------
    chip : ChipConfig

    Members
    -------
    geometry : ``In(geometry_layout)``
        The layer, derived at set-up (held).
    pass_ : ``In(pass_layout)``
        The pass (held while it runs).
    init : ``In(1)``
        Go to the pass's first step (the cycle the pass starts).
    enable : ``In(1)``
        Steps are wanted (the pass runs and its last step has not been taken).
    step : ``Out(step_layout)``, valid : ``Out(1)``
        The current step (combinational from the walker's registers).
    take : ``In(1)``
        The fetch unit takes the step: go to the next one.

    Latency 0 (the step is described in the cycle it is current); throughput one step per cycle.
    """

    def __init__(self, chip: ChipConfig):
        self._chip = check_chip(chip)
        super().__init__({
            "geometry": In(geometry_layout(chip)),
            "pass_": In(pass_layout(chip)),
            "init": In(1),
            "enable": In(1),
            "step": Out(step_layout(chip)),
            "valid": Out(1),
            "take": In(1),
        })

    latency = property(lambda self: 0)

    def elaborate(self, platform):
        m = Module()
        chip, nc = self._chip, self._chip.columns
        g, p = self.geometry, self.pass_
        ky, cb, kx = Signal(4), Signal(16), Signal(4)
        ws = Signal(SIZE_BITS)
        sb = Signal(SIZE_BITS)
        first = Signal(SIZE_BITS)                      # window of column 0
        oy = [Signal(12, name=f"oy{c}") for c in range(nc)]
        ox = [Signal(12, name=f"ox{c}") for c in range(nc)]

        m.d.comb += self.valid.eq(self.enable)
        last_kx, last_cb, last_ky = kx == g.kw - 1, cb == g.cbg - 1, ky == g.kh - 1
        last_ws = ws == g.window_sets - 1
        end_ws = last_kx & last_cb & last_ky
        m.d.comb += self.step.last.eq(end_ws & last_ws)

        # where each column's window starts at this kernel position
        valid = Signal(nc)
        ys = [Signal(signed(20), name=f"y{c}") for c in range(nc)]
        xs = [Signal(signed(20), name=f"x{c}") for c in range(nc)]
        inside = Signal(nc)
        ty = Signal(signed(20))
        tx = Signal(signed(20))
        m.d.comb += [ty.eq(ky * g.dy - g.py), tx.eq(kx * g.dx - g.px)]
        row = Signal(unsigned(chip.nm_addr_bits + 8))
        m.d.comb += row.eq((p.in_block + cb) * g.h)
        for c in range(nc):
            m.d.comb += [
                valid[c].eq(first + c < g.windows),
                ys[c].eq(oy[c] * g.sy + ty),
                xs[c].eq(ox[c] * g.sx + tx),
                inside[c].eq((ys[c] >= 0) & (ys[c] < g.h) & (xs[c] >= 0) & (xs[c] < g.w)),
                self.step.addr[c].eq(g.in_base + (row + ys[c].as_unsigned()[:16]) * g.w + xs[c].as_unsigned()[:16]),
            ]
            # reuse: column c + q held this brick in the previous step (same output row)
            same = [(g.reuse == d) & valid[c + d] & (oy[c + d] == oy[c]) for d in range(1, nc - c)]
            reuse = Signal(name=f"reuse{c}")
            m.d.comb += reuse.eq((kx != 0) & (Cat(*same).any() if same else 0))
            m.d.comb += [
                self.step.reuse[c].eq(reuse),
                self.step.zero[c].eq(~valid[c] | ~inside[c]),
                self.step.read[c].eq(valid[c] & inside[c] & ~reuse),
            ]
        m.d.comb += self.step.sb_word.eq(sb)

        with m.If(self.init):
            m.d.sync += [ky.eq(0), cb.eq(0), kx.eq(0), ws.eq(0), sb.eq(0), first.eq(0)]
            for c in range(nc):
                # column c's window of the first window-set: (c // ow, c % ow), stepping along
                m.d.sync += [oy[c].eq(Const(c, 16) // g.ow), ox[c].eq(Const(c, 16) % g.ow)]
        with m.Elif(self.take):
            m.d.sync += [kx.eq(kx + 1), sb.eq(sb + 1)]
            with m.If(last_kx):
                m.d.sync += [kx.eq(0), cb.eq(cb + 1)]
                with m.If(last_cb):
                    m.d.sync += [cb.eq(0), ky.eq(ky + 1)]
                    with m.If(last_ky):
                        m.d.sync += [ky.eq(0), sb.eq(0), ws.eq(ws + 1), first.eq(first + nc)]
                        for c in range(nc):
                            # the next window-set: col_rows rows and col_step columns further
                            nx = ox[c] + g.col_step
                            wrap = nx >= g.ow
                            m.d.sync += [ox[c].eq(Mux(wrap, nx - g.ow, nx)), oy[c].eq(oy[c] + g.col_rows + wrap)]
        return m
