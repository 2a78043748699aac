"""Run-time precision detector."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.config import TileConfig, check_dimension, check_group, check_width

from .params import MODE_BOTH, MODE_STATIC, index_bits, pallet_layout, window_members
from .tree import reduce_tree


def group_detection_layout(act_bits: int, groups: int) -> data.ArrayLayout:
    """Per group: ``top`` (first, highest processed bit) and ``bits`` (bits to process)."""
    return data.ArrayLayout(data.StructLayout({
        "top": unsigned(index_bits(act_bits - 1)),
        "bits": unsigned(index_bits(act_bits)),
    }), groups)


class PrecisionDetector(wiring.Component):
    """Detects, per group of ``G`` columns of a pallet, the bits the group needs (docs/design.md §5).

    For each group: OR-reduce the codes (signed layers: of ``x ^ (x >> (A-1))``), a leading-one
    encoder gives the highest needed bit (plus one sign bit when signed), a trailing-zero encoder
    on the OR of the raw codes gives the lowest; both are clamped to the layer window. Modes:
    static (the whole window, as Stripes), leading, and leading+trailing (only when generated
    with ``trailing=True``; otherwise that mode behaves as leading).

    Parameters
    ----------
    lanes, columns, act_bits : int
        Pallet shape ``L``, ``Nc`` and activation width ``A``.
    group : int
        Columns per group ``G`` (divides ``columns``).
    trailing : bool
        Build the trailing-zero encoders.

    Members
    -------
    pallet : ``In(pallet_layout)``
        The pallet, element ``[column][lane]``.
    msb, lsb : ``In(range(A))``
        Layer window.
    signed : ``In(1)``
        Two's-complement codes.
    mode : ``In(2)``
        ``MODE_STATIC`` / ``MODE_LEADING`` / ``MODE_BOTH``.
    groups : ``Out(group_detection_layout)``
        ``top`` and ``bits`` of every group; an all-zero group has ``bits == 0``.
    cycles : ``Out(range(A + 1))``
        Cycles the pallet takes: ``max(1, max_g bits_g)``.

    Latency: combinational (:data:`LATENCY`, 0 cycles). Throughput: one pallet per cycle.
    """

    #: Combinational: 0 cycles from a pallet to its detection.
    LATENCY = 0

    def __init__(self, *, lanes: int = 16, columns: int = 16, act_bits: int = 16, group: int = 1,
                 trailing: bool = False):
        self._lanes = check_dimension("lanes", lanes)
        self._columns = check_dimension("columns", columns)
        self._act_bits = check_width("act_bits", act_bits)
        self._group = check_group(group, columns)
        self._trailing = bool(trailing)
        super().__init__({
            "pallet": In(pallet_layout(lanes, columns, act_bits)),
            **window_members(act_bits, In),
            "groups": Out(group_detection_layout(act_bits, columns // group)),
            "cycles": Out(range(act_bits + 1)),
        })

    group = property(lambda self: self._group)
    trailing = property(lambda self: self._trailing)

    # The two encoders are methods of their own so that the formal tests can build a mutant
    # (``tests/test_formal.py``) without a broken variant ever living in this file.
    def _leading_one(self, m: Module, v, name: str) -> Signal:
        """``msb(v) + 1`` (``0`` when ``v == 0``)."""
        lead = Signal(range(self._act_bits + 1), name=name)
        for i in range(self._act_bits):
            with m.If(v[i]):
                m.d.comb += lead.eq(i + 1)
        return lead

    def _trailing_zero(self, m: Module, t, name: str) -> Signal:
        """``lsb(t)`` (``0`` when ``t == 0``)."""
        trail = Signal(range(self._act_bits), name=name)
        for i in reversed(range(self._act_bits)):
            with m.If(t[i]):
                m.d.comb += trail.eq(i)
        return trail

    def elaborate(self, platform):
        m = Module()
        a = self._act_bits
        ngroups = self._columns // self._group
        bits_w = index_bits(a)
        cycles = Signal(range(a + 1))
        m.d.comb += cycles.eq(1)
        for g in range(ngroups):
            codes = [self.pallet[c][l] for c in range(g * self._group, (g + 1) * self._group)
                     for l in range(self._lanes)]
            v = Signal(a, name=f"v{g}")      # OR of the sign-stripped codes
            t = Signal(a, name=f"t{g}")      # OR of the raw codes
            sv = 0
            tv = 0
            for x in codes:
                sv = sv | (x ^ Mux(self.signed, x[a - 1].replicate(a), 0))
                tv = tv | x
            m.d.comb += [v.eq(sv), t.eq(tv)]

            lead = self._leading_one(m, v, f"lead{g}")
            # top = msb(v) (+1 sign bit when signed); -1 is never used since zero groups get 0 bits
            raw_top = Signal(range(a + 1), name=f"raw_top{g}")
            top = Signal(range(a + 1), name=f"top{g}")
            m.d.comb += [
                raw_top.eq(Mux(self.signed, lead, lead - 1)),
                top.eq(Mux(raw_top > self.msb, self.msb, raw_top)),
            ]

            low = Signal(range(a), name=f"low{g}")
            m.d.comb += low.eq(self.lsb)
            if self._trailing:
                trail = self._trailing_zero(m, t, f"trail{g}")
                with m.If((self.mode == MODE_BOTH) & (trail > self.lsb)):
                    m.d.comb += low.eq(trail)

            out = self.groups[g]
            with m.If(self.mode == MODE_STATIC):
                m.d.comb += [out.top.eq(self.msb), out.bits.eq(self.msb - self.lsb + 1)]
            with m.Elif(t == 0):
                m.d.comb += [out.top.eq(self.lsb), out.bits.eq(0)]
            with m.Elif(top < low):
                m.d.comb += [out.top.eq(top), out.bits.eq(0)]
            with m.Else():
                m.d.comb += [out.top.eq(top), out.bits.eq((top - low + 1)[:bits_w])]
        # log depth; named nodes, because a maximum uses each operand twice
        most = reduce_tree([self.groups[g].bits for g in range(ngroups)], lambda x, y: Mux(x > y, x, y),
                           m=m, name="max", shape=range(a + 1))
        m.d.comb += self.cycles.eq(Mux(most == 0, 1, most))
        return m


def tile_detector(config: TileConfig) -> PrecisionDetector:
    """A detector like the one inside the dispatcher of a Dynamic Stripes tile of ``config``
    (trailing-zero encoders with ``trim="both"``): the tiles list it for synthesis on its own."""
    c = config
    return PrecisionDetector(lanes=c.lanes, columns=c.columns, act_bits=c.act_bits, group=c.group,
                             trailing=c.trim == "both")
