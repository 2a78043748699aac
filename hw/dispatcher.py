"""Dispatcher: pallets in (bit-parallel), bit planes out (bit-serial), double-buffered."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .detector import PrecisionDetector, group_detection_layout
from .input_register import InputRegister
from .params import check_dispatch, index_bits, pallet_layout, run_members, weight_layout


def plane_layout(lanes: int, columns: int, rows: int, act_bits: int, weight_bits: int,
                 group: int, weights: bool = True) -> data.StructLayout:
    """One cycle of work for the SIP array.

    ``weights=False``: without the ``weights`` field (a dispatcher built with the fully-connected
    dispatch hands each brick to the SIPs' own weight registers instead, ``brick`` / ``brick_load``).

    Fields
    ------
    bits : ``[column][lane]`` activation bits of this cycle.
    active, neg : per group: the bit is inside the group's range; it is the sign cycle.
    low : per group: weight of the lowest processed bit (alignment of the step's partial).
    first, last : first and last cycle of the step.
    weights : the step's weight brick ``[row][lane]``.
    """
    groups = columns // group
    fields = {
        "bits": data.ArrayLayout(unsigned(lanes), columns),
        "active": unsigned(groups),
        "neg": unsigned(groups),
        "low": data.ArrayLayout(unsigned(index_bits(act_bits - 1)), groups),
        "first": unsigned(1),
        "last": unsigned(1),
    }
    if weights:
        fields["weights"] = weight_layout(lanes, rows, weight_bits)
    return data.StructLayout(fields)


def fc_column_layout(act_bits: int) -> data.StructLayout:
    """The controls one column's SIPs take in a fully-connected run from a dispatcher built with
    the fully-connected dispatch (the column's weights are in its SIPs, see ``brick_load``).

    Fields
    ------
    first, active, neg : the column's step starts; its bit is inside the brick's range; sign
        cycle (fully-connected runs).
    add : the column's brick ended in the previous cycle: add its partial (fully-connected runs).
    low : the alignment of the column's pending add, in every run (conv: its group's ``low``
        of the step whose last plane left last).
    """
    return data.StructLayout({
        "first": unsigned(1),
        "active": unsigned(1),
        "neg": unsigned(1),
        "add": unsigned(1),
        "low": unsigned(index_bits(act_bits - 1)),
    })


class Dispatcher(wiring.Component):
    """Turns one bit-parallel pallet per step into one bit plane per cycle.

    Two registers in a row: *next* holds an accepted pallet and its weight brick; *current*
    holds the pallet being serialised (and its weight brick, or with ``fc=True`` the SIPs load
    it: ``brick_load``) with its detected per-group ``top`` / ``bits`` and the
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
    fc : bool
        Build the fully-connected dispatch (members ``fc``, ``brick``, ``brick_load``,
        ``fc_columns``, ``fc_ready``, ``fc_final``; the plane has no ``weights``: the SIPs hold
        their own, :class:`~dstripes.hw.sip.SIP` ``hold=True``).

    Members
    -------
    act : ``In(stream.Signature(pallet_layout))``
        One pallet per step.
    weight : ``In(stream.Signature(weight_layout))``
        One ``Nr x L`` weight brick per step.
    plane : ``Out(stream.Signature(plane_layout))``
        One bit plane per cycle; a transfer consumes one cycle of the current step (with
        ``fc=True`` without ``weights``).
    msb, lsb, signed, mode : ``In``
        Layer window, signedness and precision mode (held constant during a run).
    act_enable, weight_enable : ``In(1)``
        Accept inputs (the controller deasserts them when a run's inputs are all in).
    fc : ``In(1)``
        Only with ``fc=True``: the run is fully-connected (held constant during a run).
    brick : ``Out(weight_layout)``
        Only with ``fc=True``: the weight brick of the item in *next* (the one being loaded).
    brick_load : ``Out(columns)``
        Only with ``fc=True``: column ``j``'s SIPs load ``brick`` into their weight registers
        this cycle: every column when a conv step enters *current* (so the columns hold the same
        brick), the round-robin pointer's column when a fully-connected brick enters it. The
        weights never travel as one per-column value (at the published size the 16 columns'
        bricks together are 65,536 bits, more than one Amaranth value holds).
    fc_columns : ``Out(fc_column_layout).array(columns)``
        Only with ``fc=True``: each column's own controls in a fully-connected run.
    fc_ready : ``In(1)``
        Only with ``fc=True``: the result buffer can load (``fc_final`` waits for it).
    fc_final : ``Out(1)``
        Only with ``fc=True``: every brick of the fully-connected run issued and finished, and the
        result buffer can load: the columns' accumulators are summed into it and cleared in this
        cycle. With always-ready streams this is the add cycle of the last brick (the buffer is
        empty: one result per run); a later final finds every partial already added.

    **Fully-connected runs** (``fc`` high; ``docs/design.md`` §5). The run is one window whose
    ``steps`` bricks arrive in column 0 of the pallets (the other columns are ignored). Each
    column ``j`` has its own brick register (its column of the pallet register), detection,
    bit counter and add stage; its weight brick is in its SIPs (``brick_load[j]``). The brick in
    *next* (detected on its own: column 0 is a precision group alone) is loaded into the column
    a round-robin pointer names, in the
    cycle that column is empty or serialises its last plane, so brick ``i`` starts at
    ``max(start[i-1] + 1, free[i mod Nc])`` and keeps its column for ``max(1, bits_i)`` cycles
    (Stripes: the window's width): :func:`dstripes.sim.tile_run.fc_cycles`. The conv step
    register stays empty; the columns share the conv path's bit selection, each with its own
    ``top - t`` index.

    Latency: a pallet accepted in cycle ``k`` yields its first bit plane in cycle ``k + 2``
    (:data:`LATENCY`); a fully-connected brick likewise. Throughput: one pallet per
    ``max(1, max_g bits_g)`` cycles; fully-connected: one brick per cycle into a free column.
    """

    #: Cycles from a pallet's transfer to its first bit plane: the input register, then the
    #: current-step register.
    LATENCY = InputRegister.LATENCY + 1

    def __init__(self, *, lanes=16, columns=16, rows=16, act_bits=16, weight_bits=16, group=1,
                 detect=True, trailing=False, fc=False):
        (self._lanes, self._columns, self._rows, self._act_bits, self._weight_bits,
         self._group) = check_dispatch(lanes, columns, rows, act_bits, weight_bits, group)
        self._detect = bool(detect)
        self._trailing = bool(trailing) and self._detect
        self._fc = bool(fc)
        members = {
            "act": In(stream.Signature(pallet_layout(lanes, columns, act_bits))),
            "weight": In(stream.Signature(weight_layout(lanes, rows, weight_bits))),
            "plane": Out(stream.Signature(plane_layout(lanes, columns, rows, act_bits, weight_bits, group,
                                                       weights=not self._fc))),
            **run_members(act_bits, In),
        }
        if self._fc:
            members.update({
                "fc": In(1),
                "brick": Out(weight_layout(lanes, rows, weight_bits)),
                "brick_load": Out(columns),
                "fc_columns": Out(fc_column_layout(act_bits)).array(columns),
                "fc_ready": In(1),
                "fc_final": Out(1),
            })
        super().__init__(members)

    detect = property(lambda self: self._detect)
    has_fc = property(lambda self: self._fc, doc="Built with the fully-connected dispatch.")

    def elaborate(self, platform):
        m = Module()
        a, groups, g = self._act_bits, self._columns // self._group, self._group
        nc, fc = self._columns, self._fc
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
        # the step's weight brick (with the fully-connected dispatch the SIPs hold it: brick_load)
        w_cur = None if fc else Signal(wlay)
        d_cur = Signal(dlay)
        c_full = Signal()
        c_cycles = Signal(range(a + 1))
        t = Signal(range(a + 1))
        fc_run = fc_load = None
        if fc:
            fc_run, fc_load = Signal(), Signal()
            m.d.comb += fc_run.eq(self.fc)

        # What the step in `next` will need: detected, or the whole window (Stripes).
        d_next = Signal(dlay)
        n_cycles = Signal(range(a + 1))
        if self._detect:
            m.submodules.detector = det = PrecisionDetector(lanes=self._lanes, columns=self._columns, act_bits=a,
                                                            group=g, trailing=self._trailing)
            seen = a_next
            if fc:
                # a fully-connected brick is column 0 alone: its group's other columns are ignored
                seen = Signal(play)
                m.d.comb += seen.eq(a_next)
                with m.If(fc_run):
                    m.d.comb += [seen[j].eq(0) for j in range(1, g)]
            m.d.comb += [det.pallet.eq(seen), det.msb.eq(self.msb), det.lsb.eq(self.lsb),
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
            load.eq(nxt.item & (~c_full | finishing) & ~fc_run if fc else nxt.item & (~c_full | finishing)),
            nxt.take.eq(load | fc_load if fc else load),
            nxt.act_enable.eq(self.act_enable),
            nxt.weight_enable.eq(self.weight_enable),
        ]

        with m.If(self.plane.valid & self.plane.ready):
            m.d.sync += t.eq(t + 1)
            with m.If(last):
                m.d.sync += [t.eq(0), c_full.eq(0)]
        with m.If(load):
            m.d.sync += [a_cur.eq(a_next), *([] if fc else [w_cur.eq(w_next)]), d_cur.eq(d_next),
                         c_cycles.eq(n_cycles), c_full.eq(1), t.eq(0)]

        p = self.plane.payload
        m.d.comb += [
            self.plane.valid.eq(c_full),
            p.first.eq(t == 0),
            p.last.eq(last),
            *([] if fc else [p.weights.eq(w_cur)]),
        ]
        # each column's bit selection: its group's (conv) or its own brick's (fully-connected)
        if fc:
            col_active = [Signal(name=f"col_active{c}") for c in range(nc)]
            col_idx = [Signal(range(a), name=f"col_idx{c}") for c in range(nc)]
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
                if fc:
                    m.d.comb += [col_active[c].eq(active), col_idx[c].eq(idx)]
                else:
                    for l in range(self._lanes):
                        m.d.comb += p.bits[c][l].eq(active & a_cur[c][l].bit_select(idx, 1))
        if fc:
            m.d.comb += self.brick.eq(w_next)
            self._fc_columns(m, nxt, a_cur, load, finishing, d_next[0], fc_run, fc_load, col_active, col_idx)
            for c in range(nc):
                for l in range(self._lanes):
                    m.d.comb += p.bits[c][l].eq(col_active[c] & a_cur[c][l].bit_select(col_idx[c], 1))
        return m

    # A method of its own so that a test can build a mutant (``tests/test_hw_fc.py``) without a
    # broken variant ever living in this file.
    def _column_free(self, full, fin, ptr):
        """The column ``ptr`` names takes the next brick in this cycle: it is empty, or it
        serialises its last plane."""
        return ~full.bit_select(ptr, 1) | fin.bit_select(ptr, 1)

    def _fc_columns(self, m, nxt, a_cur, load, finishing, d_next, fc_run, fc_load, col_active, col_idx):
        """The fully-connected dispatch: per column a brick's detection, bit counter and add
        stage, its weight-load strobe, the round-robin pointer, and the run's final add (see the
        class notes)."""
        a, nc = self._act_bits, self._columns
        one = group_detection_layout(a, 1).elem_shape
        ptr = Signal(range(nc))
        full = Signal(nc)
        pend = Signal(nc)
        fin = Signal(nc)
        m.d.comb += fc_load.eq(fc_run & nxt.item & self._column_free(full, fin, ptr))
        with m.If(fc_load):
            m.d.sync += ptr.eq(Mux(ptr == nc - 1, 0, ptr + 1))
        for j in range(nc):
            d = Signal(one, name=f"fc_d{j}")
            cyc = Signal(range(a + 1), name=f"fc_cycles{j}")
            tj = Signal(range(a + 1), name=f"fc_t{j}")
            low = Signal(range(a), name=f"fc_low{j}")
            col = self.fc_columns[j]
            m.d.comb += [
                fin[j].eq(full[j] & (tj == cyc - 1)),
                # a conv step loads every column's weights; a fully-connected brick its column's
                self.brick_load[j].eq(load | (fc_load & (ptr == j))),
                col.first.eq(full[j] & (tj == 0)),
                col.active.eq(full[j] & (tj < d.bits)),
                col.neg.eq(full[j] & self.signed & (tj == 0) & (d.bits != 0)),
                col.add.eq(pend[j]),
                col.low.eq(low),
            ]
            with m.If(fc_run):
                m.d.comb += [col_active[j].eq(col.active), col_idx[j].eq(d.top - tj)]
            with m.If(full[j]):
                m.d.sync += tj.eq(tj + 1)
                with m.If(fin[j]):
                    m.d.sync += [tj.eq(0), full[j].eq(0)]
            # the add stage: the cycle after the column's last plane, aligned by the brick's low bit
            m.d.sync += pend[j].eq(fin[j])
            # the alignment of the column's next add in every run (conv: its group's, taken as
            # the step's last plane leaves), so that the SIPs' `low` needs no choice by `fc`
            with m.If(fin[j]):
                m.d.sync += low.eq(d.top - d.bits + 1)
            with m.If(finishing):
                m.d.sync += low.eq(self.plane.payload.low[j // self._group])
            with m.If(fc_load & (ptr == j)):
                m.d.sync += [a_cur[j].eq(nxt.acts[0]), d.eq(d_next),
                             cyc.eq(Mux(d_next.bits == 0, 1, d_next.bits)), full[j].eq(1), tj.eq(0)]
        # every brick is in, issued and finished (the last one adds now, or has added), once a run
        final = Signal()
        open_ = Signal()  # a brick of the run was issued and the run's sum has not been taken
        m.d.comb += [final.eq(fc_run & open_ & ~self.act_enable & ~self.weight_enable & ~nxt.item & ~full.any()
                              & self.fc_ready),
                     self.fc_final.eq(final)]
        with m.If(fc_load):
            m.d.sync += open_.eq(1)
        with m.If(final):
            m.d.sync += [ptr.eq(0), open_.eq(0)]
