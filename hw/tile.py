# amaranth: UnusedElaboratable=no
"""Bit-serial tiles: Dynamic Stripes (with the precision detector) and Stripes (without)."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import Out

from dstripes.sim.config import TileConfig

from .controller import Controller
from .dispatcher import Dispatcher
from .params import COUNT_BITS, CYCLE_BITS, SynthBlock, check_config, check_int, result_layout, serial_streams
from .result_buffer import ResultBuffer
from .sip import SIP, connect_array


class SerialTile(wiring.Component):
    """An ``Nr x Nc`` array of SIPs with its dispatcher, controller and output buffer.

    Row ``r`` computes filter ``r``, column ``c`` window ``c`` of the window-set. Each step the
    tile takes one pallet and one ``Nr x L`` weight brick and spends ``max(1, max_g bits_g)``
    cycles on it (Dynamic Stripes) or ``p_L`` cycles (Stripes, ``detect=False``); after the last
    step of a window-set the ``Nc x Nr`` results leave on ``result`` while the next window-set is
    already being computed.

    Parameters
    ----------
    config : sim.config.TileConfig
        ``lanes``, ``columns``, ``rows``, ``act_bits``, ``weight_bits``, ``group``, ``trim`` and
        ``max_reduction`` (which sets the accumulator width); ``tiles`` and ``run_ahead`` are
        model-only.
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
    :attr:`latency` cycles (dispatcher + SIP add stage + output buffer), whatever its length.
    """

    def __init__(self, config: TileConfig = TileConfig(), *, detect: bool = True, count_bits: int = COUNT_BITS):
        self._cfg = check_config(config)
        self._detect = bool(detect)
        self._count_bits = check_int("count_bits", count_bits, 1, 32)
        c = config
        super().__init__({
            **serial_streams(c, count_bits),
            "busy": Out(1),
            "cycles": Out(CYCLE_BITS),
        })
        self._controller = Controller(act_bits=c.act_bits, count_bits=self._count_bits)
        self._dispatcher = Dispatcher(lanes=c.lanes, columns=c.columns, rows=c.rows, act_bits=c.act_bits,
                                      weight_bits=c.weight_bits, group=c.group, detect=self._detect,
                                      trailing=c.trim == "both")
        self._buffer = ResultBuffer(result_layout(c.rows, c.columns, c.acc_bits))
        self._sips = [[SIP(lanes=c.lanes, act_bits=c.act_bits, weight_bits=c.weight_bits, acc_bits=c.acc_bits)
                       for _ in range(c.columns)] for _ in range(c.rows)]

    tile_config = property(lambda self: self._cfg)
    detect = property(lambda self: self._detect)

    def synth_blocks(self) -> list[SynthBlock]:
        """The distinct sub-blocks (one instance each) and how many of each the tile holds; the
        dispatcher includes the input double buffer and the detector, which is also listed on
        its own."""
        c = self._cfg
        out = [SynthBlock("sip_array", self._sips[0][0], c.rows * c.columns),
               SynthBlock("dispatcher", self._dispatcher, 1),
               SynthBlock("controller", self._controller, 1),
               SynthBlock("buffers", self._buffer, 1)]
        if self._dispatcher.detector is not None:
            out.append(SynthBlock("detector", self._dispatcher.detector, 1, part_of="dispatcher"))
        return out

    @property
    def latency(self) -> int:
        """Cycles a run takes beyond the sum of its step costs (always-ready streams)."""
        return self._dispatcher.latency + self._sips[0][0].latency + self._buffer.latency

    def elaborate(self, platform):
        m = Module()
        c = self._cfg
        m.submodules.controller = ctrl = self._controller
        m.submodules.dispatcher = disp = self._dispatcher
        m.submodules.buffer = buf = self._buffer

        wiring.connect(m, wiring.flipped(self.config), ctrl.config)
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
            ctrl.buffer_can_load.eq(buf.can_load),
            buf.load.eq(ctrl.buffer_load),
            ctrl.result_done.eq(self.result.valid & self.result.ready),
            self.busy.eq(ctrl.busy),
            self.cycles.eq(ctrl.cycles),
        ]

        # The alignment of a step's partial is needed one cycle after its last bit (add stage).
        groups = c.columns // c.group
        add_low = Signal(data.ArrayLayout(range(c.act_bits), groups))
        with m.If(plane.valid & plane.ready & plane.payload.last):
            m.d.sync += add_low.eq(plane.payload.low)

        connect_array(m, self._sips, c.group, plane.payload, plane.valid, en=ctrl.advance, add=ctrl.add,
                      clear=ctrl.clear, low=add_low)
        m.d.comb += [buf.data[col][r].eq(sip.result) for r, row in enumerate(self._sips) for col, sip in enumerate(row)]
        return m
