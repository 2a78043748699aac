"""The run-ahead Dynamic Stripes tile: precision groups that run up to ``R`` steps apart.

In the lock-step tile (:class:`hw.tile.SerialTile`) every column waits for the slowest precision
group of each pallet. Here each group has its own step counter and serialiser and may start
step ``s`` once every group has finished step ``s - R - 1`` (``docs/design.md`` §5), so a group
whose pallets need few bits gets ahead while another one works through a wide pallet.

What that costs (``docs/design.md`` §6):

* **steps in flight** — the dispatcher keeps ``R + 1`` slots (pallet, weight brick, detected
  bits, window-set end) instead of one current-step register, and loads the next pallet into a
  slot as soon as the slowest group frees one;
* **weight selection** — the columns of different groups multiply different steps' weights, so
  each group selects its step's brick among the ``R + 1`` in the slots: a multiplexer per group
  shared by its ``G`` columns (:class:`WeightSelect`, ``weight_select="mux"``) or inside every
  SIP, folded into its AND gates (``weight_select="sip"``);
* **result staging** — each group closes window-sets on its own; the output buffer is loaded in
  per-group parts (:class:`hw.result_buffer.ResultBuffer` with ``parts``), one window-set deep
  (the same storage as the lock-step buffer). A group that closes window-set ``w`` while its
  part still holds ``w - 1`` waits for ``w - 1`` to leave; the model counts that wait.
"""
from __future__ import annotations

from functools import partial

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.checks import check_integer
from dstripes.sim.config import TileConfig, check_dimension, check_width

from .controller import Controller
from .detector import PrecisionDetector, group_detection_layout, tile_detector
from .input_register import InputRegister
from .params import (COUNT_BITS, SynthBlock, check_config, check_dispatch, index_bits, pallet_layout, result_layout,
                     run_members, serial_tile_signature, weight_layout)
from .result_buffer import ResultBuffer
from .sip import SIP, sip_name
from .tile_component import TileComponent
from .tree import reduce_tree

#: Where the weights of each group's step are selected (:data:`sim.config.WEIGHT_SELECTS`).
SELECT_AUTO, SELECT_MUX, SELECT_SIP = "auto", "mux", "sip"


def resolve_select(config: TileConfig) -> str:
    """``config.weight_select`` with ``auto`` made concrete: the smaller of the two as measured
    (``docs/design.md`` §6): in the SIPs when every column is its own precision group (a mux
    per group would then be one per column, wider than the SIP's AND-OR), else one
    multiplexer per group, shared by its ``G`` columns."""
    if config.weight_select != SELECT_AUTO:
        return config.weight_select
    return SELECT_SIP if config.group == 1 else SELECT_MUX


def tagged_pallet_layout(lanes: int, columns: int, act_bits: int) -> data.StructLayout:
    """A pallet and whether its step is the last of its window-set (``closes``)."""
    return data.StructLayout({"pallet": pallet_layout(lanes, columns, act_bits), "closes": unsigned(1)})


def _pick(select, options):
    """One-hot selection: the OR of the options whose select bit is set (flat values)."""
    return reduce_tree([Mux(select[k], o, 0) for k, o in enumerate(options)], lambda x, y: x | y)


class RunAheadDispatcher(wiring.Component):
    """Pallets in, one bit-plane sequence per precision group out; groups up to ``R`` steps apart.

    *next* (an :class:`InputRegister`) holds an accepted pallet and its weight brick; the
    :class:`PrecisionDetector` between *next* and the slots detects it; ``R + 1`` slots hold the
    steps in flight (pallet, weight brick, each group's ``top``/``bits``, window-set end). Group
    ``g`` serialises the slot of its own next step: in cycle ``t`` of that step its columns get
    bit ``top_g - t`` of their activations while ``t < bits_g``, and the step takes
    ``max(1, bits_g)`` cycles. The oldest slot is freed in the cycle the last group finishes its
    step, and *next* is loaded into a free (or freeing) slot in the same cycle, so a group may
    start step ``s`` exactly once every group has finished step ``s - R - 1``.

    Parameters
    ----------
    lanes, columns, rows, act_bits, weight_bits, group : int
        Tile shape (see :class:`sim.config.TileConfig`).
    run_ahead : int
        ``R >= 1``: steps a group may run ahead of the slowest one.
    trailing : bool
        Build the trailing-zero encoders (see :class:`PrecisionDetector`).

    Members
    -------
    act : ``In(stream.Signature(tagged_pallet_layout))``
        One pallet per step, with its window-set end.
    weight : ``In(stream.Signature(weight_layout))``
        One ``Nr x L`` weight brick per step.
    msb, lsb, signed, mode : ``In``
        Layer window, signedness, precision mode (constant during a run).
    act_enable, weight_enable : ``In(1)``
        Accept inputs.
    valid : ``Out(groups)``
        The group offers a bit plane (its next step is in a slot).
    ready : ``In(groups)``
        The group's plane is consumed this cycle (its SIPs advance).
    first, last, closes, active, neg : ``Out(groups)``
        Per group: first / last cycle of its step; the step is the last of its window-set; the
        bit is inside the group's range; sign cycle.
    low : ``Out(ArrayLayout(range(A), groups))``
        Per group: weight of the step's lowest processed bit.
    bits : ``Out(ArrayLayout(unsigned(L), columns))``
        This cycle's activation bits of every column (each from its group's step).
    bricks : ``Out(ArrayLayout(weight_layout, R + 1))``
        The weight bricks of the slots.
    select : ``Out(ArrayLayout(unsigned(R + 1), groups))``
        Per group, one-hot: the slot of its step.

    Latency: a pallet accepted in cycle ``k`` into a free slot yields its first bit planes in
    cycle ``k + 2`` (:data:`LATENCY`). Throughput: group ``g`` one step per ``max(1, bits_g)``
    cycles; one pallet accepted per cycle while a slot is free.
    """

    #: Cycles from a pallet's transfer to its first bit plane: the input register, then a slot.
    LATENCY = InputRegister.LATENCY + 1

    def __init__(self, *, lanes=16, columns=16, rows=16, act_bits=16, weight_bits=16, group=1,
                 run_ahead=1, trailing=False):
        (self._lanes, self._columns, self._rows, self._act_bits, self._weight_bits,
         self._group) = check_dispatch(lanes, columns, rows, act_bits, weight_bits, group)
        self._run_ahead = check_integer("run_ahead", run_ahead)
        self._trailing = bool(trailing)
        groups, slots = columns // group, run_ahead + 1
        wlay = weight_layout(lanes, rows, weight_bits)
        super().__init__({
            "act": In(stream.Signature(tagged_pallet_layout(lanes, columns, act_bits))),
            "weight": In(stream.Signature(wlay)),
            **run_members(act_bits, In),
            "valid": Out(groups),
            "ready": In(groups),
            "first": Out(groups),
            "last": Out(groups),
            "closes": Out(groups),
            "active": Out(groups),
            "neg": Out(groups),
            "low": Out(data.ArrayLayout(unsigned(index_bits(act_bits - 1)), groups)),
            "bits": Out(data.ArrayLayout(unsigned(lanes), columns)),
            "bricks": Out(data.ArrayLayout(wlay, slots)),
            "select": Out(data.ArrayLayout(unsigned(slots), groups)),
        })

    run_ahead = property(lambda self: self._run_ahead)
    slots = property(lambda self: self._run_ahead + 1, doc="Steps in flight: ``R + 1``.")

    def elaborate(self, platform):
        m = Module()
        a, lanes, g_cols = self._act_bits, self._lanes, self._group
        groups, slots = self._columns // g_cols, self.slots
        play = pallet_layout(lanes, self._columns, a)
        dlay = group_detection_layout(a, groups)

        m.submodules.next = nxt = InputRegister(act_layout=tagged_pallet_layout(lanes, self._columns, a),
                                                weight_layout=weight_layout(lanes, self._rows, self._weight_bits))
        wiring.connect(m, wiring.flipped(self.act), nxt.act)
        wiring.connect(m, wiring.flipped(self.weight), nxt.weight)
        m.submodules.detector = det = PrecisionDetector(lanes=lanes, columns=self._columns, act_bits=a, group=g_cols,
                                                        trailing=self._trailing)
        m.d.comb += [det.pallet.eq(nxt.acts.pallet), det.msb.eq(self.msb), det.lsb.eq(self.lsb),
                     det.signed.eq(self.signed), det.mode.eq(self.mode),
                     nxt.act_enable.eq(self.act_enable), nxt.weight_enable.eq(self.weight_enable)]

        # The slots: a ring of the steps in flight, oldest at `head`, `occ` of them loaded.
        a_slot = [Signal(play, name=f"pallet{k}") for k in range(slots)]
        d_slot = [Signal(dlay, name=f"detected{k}") for k in range(slots)]
        c_slot = [Signal(name=f"closes{k}") for k in range(slots)]
        head = Signal(range(slots))
        occ = Signal(range(slots + 1))
        # Per group: steps finished beyond the oldest slot's, its slot (one-hot), its cycle.
        lead = [Signal(range(slots + 1), name=f"lead{g}") for g in range(groups)]
        sel = [Signal(slots, init=1, name=f"sel{g}") for g in range(groups)]
        t = [Signal(range(a + 1), name=f"t{g}") for g in range(groups)]

        fin = Signal(groups)
        for g in range(groups):
            d = Signal(dlay.elem_shape, name=f"step{g}")
            m.d.comb += [
                d.as_value().eq(_pick(sel[g], [d_slot[k][g].as_value() for k in range(slots)])),
                self.closes[g].eq(_pick(sel[g], c_slot)),
                self.select[g].eq(sel[g]),
                self.valid[g].eq(lead[g] < occ),
            ]
            last = Signal(name=f"last{g}")
            active = Signal(name=f"active{g}")
            idx = Signal(range(a), name=f"idx{g}")
            m.d.comb += [
                last.eq(t[g] + 1 >= d.bits),          # max(1, bits) cycles
                active.eq(t[g] < d.bits),
                idx.eq(d.top - t[g]),
                self.first[g].eq(t[g] == 0),
                self.last[g].eq(last),
                self.active[g].eq(active),
                self.neg[g].eq(self.signed & (t[g] == 0) & (d.bits != 0)),
                self.low[g].eq(d.top - d.bits + 1),
                fin[g].eq(self.valid[g] & self.ready[g] & last),
            ]
            for c in range(g * g_cols, (g + 1) * g_cols):
                for l in range(lanes):
                    code = Signal(a, name=f"code{c}_{l}")
                    m.d.comb += [code.eq(_pick(sel[g], [a_slot[k][c][l] for k in range(slots)])),
                                 self.bits[c][l].eq(active & code.bit_select(idx, 1))]
            with m.If(self.valid[g] & self.ready[g]):
                m.d.sync += t[g].eq(t[g] + 1)
                with m.If(last):
                    m.d.sync += [t[g].eq(0), sel[g].eq(sel[g].rotate_left(1))]

        # The oldest slot frees when every group has finished its step (this cycle or before);
        # `next` moves into a free slot, or into the one freeing now.
        free = Signal()
        load = Signal()
        tail = Signal(range(slots))
        m.d.comb += [
            free.eq(reduce_tree([(lead[g] != 0) | fin[g] for g in range(groups)], lambda x, y: x & y)),
            load.eq(nxt.item & ((occ != slots) | free)),
            nxt.take.eq(load),
            tail.eq(Mux(head + occ >= slots, head + occ - slots, head + occ)),
        ]
        for g in range(groups):
            m.d.sync += lead[g].eq(lead[g] + fin[g] - free)
        m.d.sync += occ.eq(occ + load - free)
        with m.If(free):
            m.d.sync += head.eq(Mux(head == slots - 1, 0, head + 1))
        w_slot = [self.bricks[k] for k in range(slots)]
        for k in range(slots):
            with m.If(load & (tail == k)):
                m.d.sync += [a_slot[k].eq(nxt.acts.pallet), w_slot[k].eq(nxt.weights),
                             d_slot[k].eq(det.groups), c_slot[k].eq(nxt.acts.closes)]
        return m


class WeightSelect(wiring.Component):
    """Per precision group, the weight brick of its step among the ``R + 1`` in the slots.

    Parameters
    ----------
    lanes, rows, weight_bits : int
        Brick shape.
    sources : int
        Bricks to choose from (``R + 1``).
    groups : int
        Precision groups.

    Members
    -------
    bricks : ``In(ArrayLayout(weight_layout, sources))``
    select : ``In(ArrayLayout(unsigned(sources), groups))``
        One-hot per group.
    weights : ``Out(ArrayLayout(weight_layout, groups))``
        The selected brick of each group, for its ``G`` columns of SIPs.

    Latency: combinational (:data:`LATENCY`, 0 cycles). Throughput: a selection every cycle.
    """

    #: Combinational: 0 cycles.
    LATENCY = 0

    def __init__(self, *, lanes=16, rows=16, weight_bits=16, sources=2, groups=16):
        self._sources = check_integer("sources", sources, 2)
        self._groups = check_integer("groups", groups)
        wlay = weight_layout(check_dimension("lanes", lanes), check_dimension("rows", rows),
                             check_width("weight_bits", weight_bits))
        super().__init__({
            "bricks": In(data.ArrayLayout(wlay, sources)),
            "select": In(data.ArrayLayout(unsigned(sources), groups)),
            "weights": Out(data.ArrayLayout(wlay, groups)),
        })

    def elaborate(self, platform):
        m = Module()
        options = [self.bricks[k].as_value() for k in range(self._sources)]
        for g in range(self._groups):
            m.d.comb += self.weights[g].as_value().eq(_pick(self.select[g], options))
        return m


class GroupAddStages(wiring.Component):
    """The add stage of every precision group: when each group's SIPs add a finished step into
    their accumulators, when that add closes a window-set, and when it must wait.

    The cycle after a group's last bit plane of a step, its SIPs add the step's partial
    (aligned by the step's ``low``); if the step closes a window-set, the add also loads the
    group's part of the result buffer, and waits (holding the group: ``advance`` low) while that
    part still holds the previous window-set.

    Parameters
    ----------
    groups : int
    act_bits : int

    Members
    -------
    valid, last, closes : ``In(groups)``
        The group's plane is offered; it ends a step; that step closes a window-set.
    low_in : ``In(ArrayLayout(range(A), groups))``
        The step's alignment.
    can_load : ``In(groups)``
        The group's part of the result buffer can load.
    advance : ``Out(groups)``
        The group's SIPs advance (the plane, if any, is consumed).
    add, clear, load : ``Out(groups)``
        The previous step's partial is added; the add closes a window-set; the group's results
        are loaded into its part of the result buffer.
    low : ``Out(ArrayLayout(range(A), groups))``
        Alignment of the add.

    Latency: the add of a step happens in the cycle after its last bit plane (:data:`LATENCY`).
    Throughput: one add per group per cycle; a group's closing add waits while its result part
    is full.
    """

    #: Cycles from a step's last bit plane to its add.
    LATENCY = 1

    def __init__(self, *, groups: int = 16, act_bits: int = 16):
        self._groups = check_integer("groups", groups)
        lw = unsigned(index_bits(check_width("act_bits", act_bits) - 1))
        super().__init__({
            "valid": In(groups), "last": In(groups), "closes": In(groups),
            "low_in": In(data.ArrayLayout(lw, groups)),
            "can_load": In(groups),
            "advance": Out(groups), "add": Out(groups), "clear": Out(groups), "load": Out(groups),
            "low": Out(data.ArrayLayout(lw, groups)),
        })

    def elaborate(self, platform):
        m = Module()
        for g in range(self._groups):
            pending = Signal(name=f"pending{g}")
            closes = Signal(name=f"closes{g}")
            m.d.comb += [
                self.add[g].eq(pending),
                self.clear[g].eq(pending & closes),
                self.advance[g].eq(~(pending & closes & ~self.can_load[g])),
                self.load[g].eq(pending & closes & self.can_load[g]),
            ]
            with m.If(self.advance[g]):
                m.d.sync += pending.eq(0)
                with m.If(self.valid[g] & self.last[g]):
                    m.d.sync += [pending.eq(1), closes.eq(self.closes[g]), self.low[g].eq(self.low_in[g])]
        return m


class RunAheadTile(TileComponent):
    """The Dynamic Stripes tile with run-ahead ``R >= 1``: ``Nr x Nc`` SIPs whose precision
    groups run up to ``R`` steps apart (``docs/design.md`` §5, §6).

    Ports, run protocol and result order are those of :class:`hw.tile.SerialTile`. Each step the
    tile takes one pallet and one weight brick; precision group ``g`` spends ``max(1, bits_g)``
    cycles on it, and may start step ``s`` once every group has finished step ``s - R - 1``. A
    window-set's results leave once every group has closed it; a group that closes the next one
    first waits for them to leave (one window-set staged per group).

    Parameters
    ----------
    config : sim.config.TileConfig
        ``lanes``, ``columns``, ``rows``, ``act_bits``, ``weight_bits``, ``group``, ``trim``,
        ``run_ahead`` (``>= 1``), ``weight_select`` (``auto`` is resolved by
        :func:`resolve_select`) and ``max_reduction``.
    count_bits : int
        Width of the step and window-set counters of a run.

    Members
    -------
    config, act, weight, result, busy, cycles
        As :class:`hw.tile.SerialTile`.

    Latency: with always-ready streams a run takes the model's run-ahead count of its steps
    (:func:`sim.tile_run.run_cycles`) plus :data:`LATENCY` cycles (dispatcher 2 + add stage 1 +
    output buffer 1), whatever its length. Throughput: group ``g`` one step per
    ``max(1, bits_g)`` cycles, at most ``R`` steps ahead of the slowest group.
    """

    #: Cycles a run takes beyond the model's run-ahead count of its steps (always-ready streams).
    LATENCY = RunAheadDispatcher.LATENCY + GroupAddStages.LATENCY + ResultBuffer.LATENCY

    def __init__(self, config: TileConfig = TileConfig(run_ahead=1), *, count_bits: int = COUNT_BITS):
        super().__init__(config, count_bits=count_bits)
        check_integer("run_ahead", config.run_ahead)

    tile_signature = staticmethod(serial_tile_signature)

    @classmethod
    def synth_blocks(cls, config: TileConfig, *, count_bits: int = COUNT_BITS) -> list[SynthBlock]:
        """The distinct sub-blocks of the tile for ``config`` (one instance each, as the tile
        builds them) and how many of each it holds; the dispatcher includes the input register,
        the slots and the detector, which is also listed on its own."""
        c = check_config(config)
        sips = tuple(sip_name(r, col) for r in range(c.rows) for col in range(c.columns))
        out = [SynthBlock("sip_array", partial(cls._sip, c), sips),
               SynthBlock("dispatcher", partial(cls._dispatcher, c), ("dispatcher",))]
        if resolve_select(c) == SELECT_MUX:
            out.append(SynthBlock("weight_select", partial(cls._weight_select, c), ("weight_select",)))
        out += [SynthBlock("add_stages", partial(cls._add_stages, c), ("add_stages",)),
                SynthBlock("controller", partial(cls._controller, c, count_bits), ("controller",)),
                SynthBlock("buffers", partial(cls._buffer, c), ("buffer",)),
                SynthBlock("detector", partial(tile_detector, c), ("dispatcher.detector",), part_of="dispatcher")]
        return out

    # One maker per distinct sub-block: `elaborate` and `synth_blocks` build them alike.
    @staticmethod
    def _controller(c: TileConfig, count_bits: int) -> Controller:
        return Controller(act_bits=c.act_bits, count_bits=count_bits, add_stage=False)

    @staticmethod
    def _dispatcher(c: TileConfig) -> RunAheadDispatcher:
        return RunAheadDispatcher(lanes=c.lanes, columns=c.columns, rows=c.rows, act_bits=c.act_bits,
                                  weight_bits=c.weight_bits, group=c.group, run_ahead=c.run_ahead,
                                  trailing=c.trim == "both")

    @staticmethod
    def _add_stages(c: TileConfig) -> GroupAddStages:
        return GroupAddStages(groups=c.precision_groups, act_bits=c.act_bits)

    @staticmethod
    def _buffer(c: TileConfig) -> ResultBuffer:
        return ResultBuffer(result_layout(c.rows, c.columns, c.acc_bits), parts=c.precision_groups)

    @staticmethod
    def _weight_select(c: TileConfig) -> WeightSelect:
        """The per-group weight multiplexer (``weight_select="mux"``)."""
        return WeightSelect(lanes=c.lanes, rows=c.rows, weight_bits=c.weight_bits, sources=c.run_ahead + 1,
                            groups=c.precision_groups)

    @staticmethod
    def _sip(c: TileConfig) -> SIP:
        return SIP(lanes=c.lanes, act_bits=c.act_bits, weight_bits=c.weight_bits, acc_bits=c.acc_bits,
                   sources=c.run_ahead + 1 if resolve_select(c) == SELECT_SIP else 1)

    def elaborate(self, platform):
        m = Module()
        c = self._cfg
        ctrl = self._control(m)
        m.submodules.dispatcher = disp = self._dispatcher(c)
        m.submodules.add_stages = adds = self._add_stages(c)
        m.submodules.buffer = buf = self._buffer(c)

        wiring.connect(m, wiring.flipped(self.weight), disp.weight)
        wiring.connect(m, buf.result, wiring.flipped(self.result))
        m.d.comb += [
            disp.act.valid.eq(self.act.valid),
            disp.act.payload.pallet.eq(self.act.payload),
            disp.act.payload.closes.eq(ctrl.act_last),
            self.act.ready.eq(disp.act.ready),
            disp.msb.eq(ctrl.msb), disp.lsb.eq(ctrl.lsb), disp.signed.eq(ctrl.signed),
            disp.mode.eq(ctrl.mode),
            disp.act_enable.eq(ctrl.act_enable), disp.weight_enable.eq(ctrl.weight_enable),
            ctrl.act_done.eq(self.act.valid & self.act.ready),
            ctrl.weight_done.eq(self.weight.valid & self.weight.ready),
            ctrl.result_done.eq(self.result.valid & self.result.ready),
            adds.valid.eq(disp.valid), adds.last.eq(disp.last), adds.closes.eq(disp.closes),
            adds.low_in.eq(disp.low),
            disp.ready.eq(adds.advance),
            adds.can_load.eq(buf.can_load),
            buf.load.eq(adds.load),
            self.busy.eq(ctrl.busy),
            self.cycles.eq(ctrl.cycles),
        ]
        wsel = None
        if resolve_select(c) == SELECT_MUX:
            m.submodules.weight_select = wsel = self._weight_select(c)
            m.d.comb += [wsel.bricks.eq(disp.bricks), wsel.select.eq(disp.select)]

        for r in range(c.rows):
            for col in range(c.columns):
                g = col // c.group
                m.submodules[sip_name(r, col)] = sip = self._sip(c)
                if wsel is not None:
                    m.d.comb += sip.weights.eq(wsel.weights[g][r])
                else:
                    m.d.comb += [sip.select.eq(disp.select[g])]
                    m.d.comb += [sip.weights[k].eq(disp.bricks[k][r]) for k in range(c.run_ahead + 1)]
                m.d.comb += [
                    sip.bits.eq(disp.bits[col]),
                    sip.en.eq(adds.advance[g]),
                    sip.first.eq(disp.valid[g] & disp.first[g]),
                    sip.active.eq(disp.valid[g] & disp.active[g]),
                    sip.neg.eq(disp.neg[g]),
                    sip.add.eq(adds.add[g]),
                    sip.clear.eq(adds.clear[g]),
                    sip.low.eq(adds.low[g]),
                    buf.data[col][r].eq(sip.result),
                ]
        return m
