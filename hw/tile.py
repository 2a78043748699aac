"""Bit-serial tiles: Dynamic Stripes (with the precision detector) and Stripes (without)."""
from __future__ import annotations

import operator
from functools import partial

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring

from dstripes.sim.config import TileConfig

from .controller import Controller
from .detector import tile_detector
from .dispatcher import Dispatcher
from .params import COUNT_BITS, SynthBlock, check_config, result_layout, serial_tile_signature
from .result_buffer import ResultBuffer
from .sip import SIP, connect_array, sip_name
from .tile_component import TileComponent
from .tree import reduce_tree


class SerialTile(TileComponent):
    """An ``Nr x Nc`` array of SIPs with its dispatcher, controller and output buffer.

    Row ``r`` computes filter ``r``, column ``c`` window ``c`` of the window-set. Each step the
    tile takes one pallet and one ``Nr x L`` weight brick and spends ``max(1, max_g bits_g)``
    cycles on it (Dynamic Stripes) or ``p_L`` cycles (Stripes, ``detect=False``); after the last
    step of a window-set the ``Nc x Nr`` results leave on ``result`` while the next window-set is
    already being computed.

    Built with the fully-connected dispatch (``config.fc_dispatch``; ``docs/design.md`` §5), a
    fully-connected run (config field ``fc``) is one window: the dispatcher issues its bricks
    round-robin to the columns (each column with its own bit counter and add stage, its weight
    brick held in its SIPs: every SIP has its own weight register, which a conv step loads in
    every column and an FC brick in its column only), and when the last brick adds, every
    column's accumulator of each row is summed into column 0 of the results (an adder tree per
    row) and cleared. Without it (the default) the tile is the conv-only tile: the dispatcher
    holds the step's weight brick, no SIP holds weights, no column sum, no ``fc`` field.

    Parameters
    ----------
    config : sim.config.TileConfig
        ``lanes``, ``columns``, ``rows``, ``act_bits``, ``weight_bits``, ``group``, ``trim`` and
        ``max_reduction`` (which sets the accumulator width), ``fc_dispatch``; ``tiles`` and
        ``run_ahead`` are model-only.
    detect : bool
        Dynamic Stripes (``True``) or Stripes (``False``).
    count_bits : int
        Width of the step and window-set counters of a run.

    Members
    -------
    config : ``In(stream.Signature(run_layout))``
        One run: window, signedness, mode, steps per window-set, window-sets.
    act : ``In(stream.Signature(pallet_layout))``
        One pallet per step, ``[column][lane]``.
    weight : ``In(stream.Signature(weight_layout))``
        One weight brick per step, ``[row][lane]``.
    result : ``Out(stream.Signature(result_layout))``
        One window-set of results, ``[column][row]``.
    busy : ``Out(1)``
    cycles : ``Out(CYCLE_BITS)``
        Cycles of the current (or last) run, see :class:`Controller`.

    Latency: with always-ready streams a run takes the sum of its step costs plus
    :data:`LATENCY` cycles (dispatcher 2 + SIP add stage 1 + output buffer 1), whatever its
    length. Throughput: one step per ``max(1, max_g bits_g)`` cycles (Stripes: the window's
    ``msb - lsb + 1``); a window-set's results leave while the next one is computed.
    """

    #: Cycles a run takes beyond the sum of its step costs (always-ready streams).
    LATENCY = Dispatcher.LATENCY + SIP.LATENCY + ResultBuffer.LATENCY

    def __init__(self, config: TileConfig = TileConfig(), *, detect: bool = True, count_bits: int = COUNT_BITS):
        self._detect = bool(detect)
        super().__init__(config, count_bits=count_bits)

    tile_signature = staticmethod(serial_tile_signature)
    detect = property(lambda self: self._detect)

    @classmethod
    def synth_blocks(cls, config: TileConfig, *, detect: bool = True,
                     count_bits: int = COUNT_BITS) -> list[SynthBlock]:
        """The distinct sub-blocks of the tile for ``config`` (one instance each, as the tile
        builds them) and how many of each it holds; the dispatcher includes the input double
        buffer and the detector, which is also listed on its own."""
        c = check_config(config)
        sips = tuple(sip_name(r, col) for r in range(c.rows) for col in range(c.columns))
        out = [SynthBlock("sip_array", partial(cls._sip, c), sips),
               SynthBlock("dispatcher", partial(cls._dispatcher, c, detect), ("dispatcher",)),
               SynthBlock("controller", partial(cls._controller, c, count_bits), ("controller",)),
               SynthBlock("buffers", partial(cls._buffer, c), ("buffer",))]
        if detect:
            out.append(SynthBlock("detector", partial(tile_detector, c), ("dispatcher.detector",),
                                  part_of="dispatcher"))
        return out

    # One maker per distinct sub-block (and the controller's, TileComponent._controller):
    # `elaborate` and `synth_blocks` build them alike.
    @staticmethod
    def _dispatcher(c: TileConfig, detect: bool) -> Dispatcher:
        return Dispatcher(lanes=c.lanes, columns=c.columns, rows=c.rows, act_bits=c.act_bits,
                          weight_bits=c.weight_bits, group=c.group, detect=detect, trailing=c.trim == "both",
                          fc=c.fc_dispatch)

    @staticmethod
    def _controller(c: TileConfig, count_bits: int) -> Controller:
        return Controller(act_bits=c.act_bits, count_bits=count_bits, fc_final=c.fc_dispatch)

    @staticmethod
    def _buffer(c: TileConfig) -> ResultBuffer:
        if c.fc_dispatch:
            # one part per column, each part's load (and zeroing) its own gate in the tile
            # (docs/design.md §5)
            return ResultBuffer(result_layout(c.rows, c.columns, c.acc_bits), parts=c.columns,
                                zero=c.columns > 1)
        return ResultBuffer(result_layout(c.rows, c.columns, c.acc_bits))

    @staticmethod
    def _sip(c: TileConfig) -> SIP:
        return SIP(lanes=c.lanes, act_bits=c.act_bits, weight_bits=c.weight_bits, acc_bits=c.acc_bits,
                   hold=c.fc_dispatch)

    def elaborate(self, platform):
        m = Module()
        c = self._cfg
        ctrl = self._control(m)
        m.submodules.dispatcher = disp = self._dispatcher(c, self._detect)
        m.submodules.buffer = buf = self._buffer(c)

        wiring.connect(m, wiring.flipped(self.act), disp.act)
        wiring.connect(m, wiring.flipped(self.weight), disp.weight)
        wiring.connect(m, buf.result, wiring.flipped(self.result))
        plane = disp.plane
        m.d.comb += [
            disp.msb.eq(ctrl.msb), disp.lsb.eq(ctrl.lsb), disp.signed.eq(ctrl.signed),
            disp.mode.eq(ctrl.mode),
            disp.act_enable.eq(ctrl.act_enable), disp.weight_enable.eq(ctrl.weight_enable),
            ctrl.act_done.eq(self.act.valid & self.act.ready),
            ctrl.weight_done.eq(self.weight.valid & self.weight.ready),
            ctrl.item_valid.eq(plane.valid),
            ctrl.item_last.eq(plane.payload.last),
            plane.ready.eq(ctrl.advance),
            # (with the FC dispatch: one part per column, all loaded together, see _fc_array)
            ctrl.buffer_can_load.eq(buf.can_load.all() if buf.parts > 1 else buf.can_load),
            *([] if buf.parts > 1 else [buf.load.eq(ctrl.buffer_load)]),
            ctrl.result_done.eq(self.result.valid & self.result.ready),
            self.busy.eq(ctrl.busy),
            self.cycles.eq(ctrl.cycles),
        ]

        # The alignment of a step's partial is needed one cycle after its last bit (add stage).
        groups = c.columns // c.group
        add_low = Signal(data.ArrayLayout(range(c.act_bits), groups))
        with m.If(plane.valid & plane.ready & plane.payload.last):
            m.d.sync += add_low.eq(plane.payload.low)

        sips = [[self._sip(c) for _ in range(c.columns)] for _ in range(c.rows)]
        if not c.fc_dispatch:
            connect_array(m, sips, c.group, plane.payload, plane.valid, en=ctrl.advance, add=ctrl.add,
                          clear=ctrl.clear, low=add_low)
            m.d.comb += [buf.data[col][r].eq(sip.result) for r, row in enumerate(sips)
                         for col, sip in enumerate(row)]
            return m
        self._fc_array(m, c, ctrl, disp, buf, sips, plane, add_low)
        return m

    @staticmethod
    def _fc_array(m, c, ctrl, disp, buf, sips, plane, add_low) -> None:
        """The SIP array of a tile with the fully-connected dispatch: SIPs holding their own
        weights, each column its own controls in a fully-connected run, and every column's
        accumulators summed per filter into column 0 of the results when the last brick adds
        (``docs/design.md`` §5)."""
        fc = ctrl.fc
        m.d.comb += disp.fc.eq(fc)
        connect_array(m, sips, c.group, plane.payload, plane.valid, en=ctrl.advance, add=ctrl.add,
                      clear=ctrl.clear, low=add_low, brick=disp.brick, brick_load=disp.brick_load)
        final = disp.fc_final
        m.d.comb += [disp.fc_ready.eq(buf.can_load.all()), ctrl.fc_final.eq(final)]
        # The result buffer in one part per column, each part's load a gate of its own here (the
        # same transfers: the controller loads only with can_load): the controller's load drives
        # Nc gates and each gate one column's result-register enables. (Inside the buffer block
        # the synthesis folds such a gate into every register's input logic, and the load net
        # reaches all Nc*Nr*acc_bits of them from a block input, which no fan-out repair buffers.)
        # Likewise a fully-connected result's other columns are zeroed by their parts, each on a
        # gate of its own, not by a choice on every result bit of one `fc` net.
        if buf.parts > 1:  # (one column: the load drives the one part directly)
            m.d.comb += [buf.load[p].eq(ctrl.buffer_load & buf.can_load[p]) for p in range(buf.parts)]
            m.d.comb += [buf.zero[p].eq(fc & buf.can_load[p] if p else 0) for p in range(buf.parts)]
        sums = []
        for r, row in enumerate(sips):
            parts = []
            for col, sip in enumerate(row):
                own = disp.fc_columns[col]
                with m.If(fc):
                    m.d.comb += [sip.en.eq(1), sip.first.eq(own.first), sip.active.eq(own.active),
                                 sip.neg.eq(own.neg), sip.add.eq(own.add | final), sip.clear.eq(final)]
                m.d.comb += sip.low.eq(own.low)  # every run (no choice by `fc` before the result adder)
                parts.append(Mux(own.add, sip.result, sip.stored))
            total = Signal(signed(c.acc_bits), name=f"fc_sum{r}")
            m.d.comb += total.eq(reduce_tree(parts, operator.add))
            sums.append(total)
        for r, row in enumerate(sips):
            for col, sip in enumerate(row):
                m.d.comb += buf.data[col][r].eq(Mux(fc, sums[r], sip.result) if col == 0 else sip.result)
