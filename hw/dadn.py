# amaranth: UnusedElaboratable=no
"""Bit-parallel baseline tile (DaDianNao-style)."""
from __future__ import annotations

import operator

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.config import TileConfig

from .controller import Controller
from .input_register import InputRegister
from .params import COUNT_BITS, CYCLE_BITS, SynthBlock, brick_layout, check_config, check_int, run_layout, weight_layout
from .tree import reduce_tree
from .result_buffer import ResultBuffer


class InnerProduct(wiring.Component):
    """``L`` parallel multipliers and an adder tree: one brick against one filter per cycle.

    The brick's dot product is registered; the cycle after, it is added into the window
    accumulator (``add``), and ``add & clear`` closes the window (``result``).

    Parameters
    ----------
    lanes, act_bits, weight_bits, acc_bits : int

    Members
    -------
    acts : ``In(ArrayLayout(A, L))``, ``signed`` : ``In(1)``
        The brick and whether its codes are two's complement.
    weights : ``In(ArrayLayout(signed(W), L))``
    en, load : ``In(1)``
        The array advances; a brick is present this cycle.
    add, clear : ``In(1)``
    result : ``Out(signed(acc_bits))``
        ``acc + product``.

    Latency: a brick's product reaches ``result`` one cycle after the brick (:attr:`latency`).
    Throughput: one brick per cycle.
    """

    def __init__(self, *, lanes=16, act_bits=16, weight_bits=16, acc_bits=48):
        self._lanes = check_int("lanes", lanes)
        self._act_bits = check_int("act_bits", act_bits, 2)
        self._weight_bits = check_int("weight_bits", weight_bits, 2)
        self._acc_bits = check_int("acc_bits", acc_bits, act_bits + weight_bits)
        super().__init__({
            "acts": In(brick_layout(lanes, act_bits)),
            "signed": In(1),
            "weights": In(data.ArrayLayout(signed(weight_bits), lanes)),
            "en": In(1),
            "load": In(1),
            "add": In(1),
            "clear": In(1),
            "result": Out(signed(acc_bits)),
        })

    latency = property(lambda self: 1, doc="Cycles from a brick to its product in the accumulator.")

    def elaborate(self, platform):
        m = Module()
        a = self._act_bits
        prods = []
        for i in range(self._lanes):
            x = self.acts[i]
            ext = Signal(signed(a + 1), name=f"a{i}")
            m.d.comb += ext.eq(Mux(self.signed, x.as_signed(), x))
            prods.append(ext * self.weights[i])
        product = Signal(signed(self._acc_bits))
        acc = Signal(signed(self._acc_bits))
        m.d.comb += self.result.eq(acc + product)
        with m.If(self.en):
            with m.If(self.load):
                m.d.sync += product.eq(reduce_tree(prods, operator.add))
            with m.Else():
                m.d.sync += product.eq(0)
            with m.If(self.add):
                m.d.sync += acc.eq(Mux(self.clear, 0, self.result))
        return m


class ParallelTile(wiring.Component):
    """Bit-parallel tile: ``Nr`` inner-product units, one brick of one window per cycle.

    Streams as :class:`hw.tile.SerialTile`, but one *brick* per activation transfer, one weight
    brick per brick, ``steps`` bricks per window and ``window_sets`` counting windows; each
    result transfer carries the ``Nr`` results of one window.

    Parameters
    ----------
    config : sim.config.TileConfig
        ``lanes``, ``rows``, ``act_bits``, ``weight_bits``, ``max_reduction``.
    count_bits : int

    Latency: a run takes one cycle per brick plus :attr:`latency` cycles (input register,
    product register, output buffer).
    """

    def __init__(self, config: TileConfig = TileConfig(), *, count_bits: int = COUNT_BITS):
        self._cfg = check_config(config)
        self._count_bits = check_int("count_bits", count_bits, 1, 32)
        c = config
        super().__init__({
            "config": In(stream.Signature(run_layout(c.act_bits, count_bits))),
            "act": In(stream.Signature(brick_layout(c.lanes, c.act_bits))),
            "weight": In(stream.Signature(weight_layout(c.lanes, c.rows, c.weight_bits))),
            "result": Out(stream.Signature(data.ArrayLayout(signed(c.acc_bits), c.rows))),
            "busy": Out(1),
            "cycles": Out(CYCLE_BITS),
        })
        self._inputs = InputRegister(act_layout=brick_layout(c.lanes, c.act_bits),
                                     weight_layout=weight_layout(c.lanes, c.rows, c.weight_bits))
        self._controller = Controller(act_bits=c.act_bits, count_bits=self._count_bits)
        self._buffer = ResultBuffer(data.ArrayLayout(signed(c.acc_bits), c.rows))
        self._ips = [InnerProduct(lanes=c.lanes, act_bits=c.act_bits, weight_bits=c.weight_bits,
                                  acc_bits=c.acc_bits) for _ in range(c.rows)]

    tile_config = property(lambda self: self._cfg)

    def synth_blocks(self) -> list[SynthBlock]:
        """The distinct sub-blocks (one instance each) and how many of each the tile holds."""
        return [SynthBlock("ip_array", self._ips[0], self._cfg.rows),
                SynthBlock("input_buffers", self._inputs, 1),
                SynthBlock("controller", self._controller, 1),
                SynthBlock("buffers", self._buffer, 1)]

    @property
    def latency(self) -> int:
        """Cycles a run takes beyond one cycle per brick (always-ready streams)."""
        return self._inputs.latency + self._ips[0].latency + self._buffer.latency

    def elaborate(self, platform):
        m = Module()
        c = self._cfg
        m.submodules.controller = ctrl = self._controller
        m.submodules.buffer = buf = self._buffer
        wiring.connect(m, wiring.flipped(self.config), ctrl.config)
        wiring.connect(m, buf.result, wiring.flipped(self.result))

        m.submodules.inputs = inp = self._inputs
        wiring.connect(m, wiring.flipped(self.act), inp.act)
        wiring.connect(m, wiring.flipped(self.weight), inp.weight)
        item = inp.item
        m.d.comb += [
            inp.act_enable.eq(ctrl.act_enable),
            inp.weight_enable.eq(ctrl.weight_enable),
            inp.take.eq(item & ctrl.advance),
        ]

        m.d.comb += [
            ctrl.act_done.eq(self.act.valid & self.act.ready),
            ctrl.weight_done.eq(self.weight.valid & self.weight.ready),
            ctrl.item_valid.eq(item),
            ctrl.item_last.eq(1),
            ctrl.buffer_can_load.eq(buf.can_load),
            buf.load.eq(ctrl.buffer_load),
            ctrl.result_done.eq(self.result.valid & self.result.ready),
            self.busy.eq(ctrl.busy),
            self.cycles.eq(ctrl.cycles),
        ]
        for r in range(c.rows):
            ip = self._ips[r]
            m.submodules[f"ip_r{r}"] = ip
            m.d.comb += [
                ip.acts.eq(inp.acts), ip.signed.eq(ctrl.signed), ip.weights.eq(inp.weights[r]),
                ip.en.eq(ctrl.advance), ip.load.eq(item),
                ip.add.eq(ctrl.add), ip.clear.eq(ctrl.clear),
                buf.data[r].eq(ip.result),
            ]
        return m
