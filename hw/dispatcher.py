"""Dispatcher: pallets in (bit-parallel), bit planes out (bit-serial), double-buffered."""
from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .detector import PrecisionDetector, group_detection_layout
from .input_register import InputRegister
from .params import check_dispatch, index_bits, pallet_layout, run_members, weight_layout


def plane_layout(lanes: int, columns: int, rows: int, act_bits: int, weight_bits: int,
                 group: int) -> data.StructLayout:
    """One cycle of work for the SIP array.

    Fields
    ------
    bits : ``[column][lane]`` activation bits of this cycle.
    active, neg : per group: the bit is inside the group's range; it is the sign cycle.
    low : per group: weight of the lowest processed bit (alignment of the step's partial).
    first, last : first and last cycle of the step.
    weights : the step's weight brick ``[row][lane]``.
    """
    groups = columns // group
    return data.StructLayout({
        "bits": data.ArrayLayout(unsigned(lanes), columns),
        "active": unsigned(groups),
        "neg": unsigned(groups),
        "low": data.ArrayLayout(unsigned(index_bits(act_bits - 1)), groups),
        "first": unsigned(1),
        "last": unsigned(1),
        "weights": weight_layout(lanes, rows, weight_bits),
    })


class Dispatcher(wiring.Component):
    """Turns one bit-parallel pallet per step into one bit plane per cycle.

    Two registers in a row: *next* holds an accepted pallet and its weight brick; *current*
    holds the pallet being serialised with its detected per-group ``top`` / ``bits`` and the
    step's cycle count ``max(1, max_g bits_g)``. The detector sits between them, so the next
    pallet is accepted and detected while the current one is serialised: with both inputs always
    valid, a step of ``c`` cycles is followed by the next step without a bubble.

    Column ``j`` of group ``g`` receives, in cycle ``t`` of a step, bit ``top_g - t`` of each of
    its activations while ``t < bits_g`` (zeros afterwards).

    Parameters
    ----------
    lanes, columns, rows, act_bits, weight_bits, group : int
        Tile shape (see :class:`sim.config.TileConfig`).
    detect : bool
        Build the precision detector (Dynamic Stripes); without it every group processes the
        whole layer window (Stripes).
    trailing : bool
        Build the trailing-zero encoders (see :class:`PrecisionDetector`).

    Members
    -------
    act : ``In(stream.Signature(pallet_layout))``
        One pallet per step.
    weight : ``In(stream.Signature(weight_layout))``
        One ``Nr x L`` weight brick per step.
    plane : ``Out(stream.Signature(plane_layout))``
        One bit plane per cycle; a transfer consumes one cycle of the current step.
    msb, lsb, signed, mode : ``In``
        Layer window, signedness and precision mode (held constant during a run).
    act_enable, weight_enable : ``In(1)``
        Accept inputs (the controller deasserts them when a run's inputs are all in).

    Latency: a pallet accepted in cycle ``k`` yields its first bit plane in cycle ``k + 2``
    (:data:`LATENCY`). Throughput: one pallet per ``max(1, max_g bits_g)`` cycles.
    """

    #: Cycles from a pallet's transfer to its first bit plane: the input register, then the
    #: current-step register.
    LATENCY = InputRegister.LATENCY + 1

    def __init__(self, *, lanes=16, columns=16, rows=16, act_bits=16, weight_bits=16, group=1,
                 detect=True, trailing=False):
        (self._lanes, self._columns, self._rows, self._act_bits, self._weight_bits,
         self._group) = check_dispatch(lanes, columns, rows, act_bits, weight_bits, group)
        self._detect = bool(detect)
        self._trailing = bool(trailing) and self._detect
        super().__init__({
            "act": In(stream.Signature(pallet_layout(lanes, columns, act_bits))),
            "weight": In(stream.Signature(weight_layout(lanes, rows, weight_bits))),
            "plane": Out(stream.Signature(plane_layout(lanes, columns, rows, act_bits, weight_bits, group))),
            **run_members(act_bits, In),
        })

    detect = property(lambda self: self._detect)

    def elaborate(self, platform):
        m = Module()
        a, groups, g = self._act_bits, self._columns // self._group, self._group
        play = pallet_layout(self._lanes, self._columns, a)
        wlay = weight_layout(self._lanes, self._rows, self._weight_bits)
        dlay = group_detection_layout(a, groups)

        # the "next" stage: one pallet and its weight brick, accepted while the current step runs
        m.submodules.next = nxt = InputRegister(act_layout=play, weight_layout=wlay)
        wiring.connect(m, wiring.flipped(self.act), nxt.act)
        wiring.connect(m, wiring.flipped(self.weight), nxt.weight)
        a_next = nxt.acts
        w_next = nxt.weights
        a_cur = Signal(play)
        w_cur = Signal(wlay)
        d_cur = Signal(dlay)
        c_full = Signal()
        c_cycles = Signal(range(a + 1))
        t = Signal(range(a + 1))

        # What the step in `next` will need: detected, or the whole window (Stripes).
        d_next = Signal(dlay)
        n_cycles = Signal(range(a + 1))
        if self._detect:
            m.submodules.detector = det = PrecisionDetector(lanes=self._lanes, columns=self._columns, act_bits=a,
                                                            group=g, trailing=self._trailing)
            m.d.comb += [det.pallet.eq(a_next), det.msb.eq(self.msb), det.lsb.eq(self.lsb),
                         det.signed.eq(self.signed), det.mode.eq(self.mode),
                         d_next.eq(det.groups), n_cycles.eq(det.cycles)]
        else:
            width = Signal(range(a + 1))
            m.d.comb += [width.eq(self.msb - self.lsb + 1), n_cycles.eq(width)]
            for j in range(groups):
                m.d.comb += [d_next[j].top.eq(self.msb), d_next[j].bits.eq(width)]

        last = Signal()
        m.d.comb += last.eq(t == c_cycles - 1)
        finishing = self.plane.valid & self.plane.ready & last
        load = Signal()
        m.d.comb += [
            load.eq(nxt.item & (~c_full | finishing)),
            nxt.take.eq(load),
            nxt.act_enable.eq(self.act_enable),
            nxt.weight_enable.eq(self.weight_enable),
        ]

        with m.If(self.plane.valid & self.plane.ready):
            m.d.sync += t.eq(t + 1)
            with m.If(last):
                m.d.sync += [t.eq(0), c_full.eq(0)]
        with m.If(load):
            m.d.sync += [a_cur.eq(a_next), w_cur.eq(w_next), d_cur.eq(d_next),
                         c_cycles.eq(n_cycles), c_full.eq(1), t.eq(0)]

        p = self.plane.payload
        m.d.comb += [
            self.plane.valid.eq(c_full),
            p.first.eq(t == 0),
            p.last.eq(last),
            p.weights.eq(w_cur),
        ]
        for j in range(groups):
            d = d_cur[j]
            active = Signal(name=f"active{j}")
            idx = Signal(range(a), name=f"idx{j}")
            m.d.comb += [
                active.eq(t < d.bits),
                idx.eq(d.top - t),
                p.active[j].eq(active),
                p.neg[j].eq(self.signed & (t == 0) & (d.bits != 0)),
                p.low[j].eq(d.top - d.bits + 1),
            ]
            for c in range(j * g, (j + 1) * g):
                for l in range(self._lanes):
                    m.d.comb += p.bits[c][l].eq(active & a_cur[c][l].bit_select(idx, 1))
        return m
