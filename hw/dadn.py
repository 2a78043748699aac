"""Bit-parallel baseline tile (DaDianNao-style)."""
from __future__ import annotations

import operator
from functools import partial

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.checks import check_integer
from dstripes.sim.config import TileConfig, check_dimension, check_width

from .input_register import InputRegister
from .params import COUNT_BITS, SynthBlock, brick_layout, check_config, run_layout, tile_signature, weight_layout
from .result_buffer import ResultBuffer
from .tile_component import TileComponent
from .tree import reduce_tree


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

    Latency: a brick's product reaches ``result`` one cycle after the brick (:data:`LATENCY`).
    Throughput: one brick per cycle.
    """

    #: Cycles from a brick to its product in ``result``.
    LATENCY = 1

    def __init__(self, *, lanes=16, act_bits=16, weight_bits=16, acc_bits=48):
        self._lanes = check_dimension("lanes", lanes)
        self._act_bits = check_width("act_bits", act_bits)
        self._weight_bits = check_width("weight_bits", weight_bits)
        self._acc_bits = check_integer("acc_bits", acc_bits, act_bits + weight_bits)
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


class ParallelTile(TileComponent):
    """Bit-parallel tile: ``Nr`` inner-product units, one brick of one window per cycle.

    Streams as :class:`hw.tile.SerialTile`, but one *brick* per activation transfer, one weight
    brick per brick, ``steps`` bricks per window and ``window_sets`` counting windows; each
    result transfer carries the ``Nr`` results of one window.

    Parameters
    ----------
    config : sim.config.TileConfig
        ``lanes``, ``rows``, ``act_bits``, ``weight_bits``, ``max_reduction``.
    count_bits : int

    Latency: a run takes one cycle per brick plus :data:`LATENCY` cycles (input register,
    product register, output buffer). Throughput: one brick per cycle.
    """

    #: Cycles a run takes beyond one cycle per brick (always-ready streams).
    LATENCY = InputRegister.LATENCY + InnerProduct.LATENCY + ResultBuffer.LATENCY

    def __init__(self, config: TileConfig = TileConfig(), *, count_bits: int = COUNT_BITS):
        super().__init__(config, count_bits=count_bits)

    @staticmethod
    def tile_signature(config: TileConfig, count_bits: int = COUNT_BITS) -> wiring.Signature:
        """The tile's signature (:func:`hw.params.tile_signature`) for ``config``."""
        c = config
        return tile_signature({
            "config": In(stream.Signature(run_layout(c.act_bits, count_bits))),
            "act": In(stream.Signature(brick_layout(c.lanes, c.act_bits))),
            "weight": In(stream.Signature(weight_layout(c.lanes, c.rows, c.weight_bits))),
            "result": Out(stream.Signature(data.ArrayLayout(signed(c.acc_bits), c.rows))),
        })

    @classmethod
    def synth_blocks(cls, config: TileConfig, *, count_bits: int = COUNT_BITS) -> list[SynthBlock]:
        """The distinct sub-blocks of the tile for ``config`` (one instance each, as the tile
        builds them) and how many of each it holds."""
        c = check_config(config)
        return [SynthBlock("ip_array", partial(cls._inner_product, c), tuple(f"ip_r{r}" for r in range(c.rows))),
                SynthBlock("input_buffers", partial(cls._inputs, c), ("inputs",)),
                SynthBlock("controller", partial(cls._controller, c, count_bits), ("controller",)),
                SynthBlock("buffers", partial(cls._buffer, c), ("buffer",))]

    # One maker per distinct sub-block (and the controller's, TileComponent._controller):
    # `elaborate` and `synth_blocks` build them alike.
    @staticmethod
    def _inputs(c: TileConfig) -> InputRegister:
        return InputRegister(act_layout=brick_layout(c.lanes, c.act_bits),
                             weight_layout=weight_layout(c.lanes, c.rows, c.weight_bits))

    @staticmethod
    def _buffer(c: TileConfig) -> ResultBuffer:
        return ResultBuffer(data.ArrayLayout(signed(c.acc_bits), c.rows))

    @staticmethod
    def _inner_product(c: TileConfig) -> InnerProduct:
        return InnerProduct(lanes=c.lanes, act_bits=c.act_bits, weight_bits=c.weight_bits, acc_bits=c.acc_bits)

    def elaborate(self, platform):
        m = Module()
        c = self._cfg
        ctrl = self._control(m)
        m.submodules.buffer = buf = self._buffer(c)
        wiring.connect(m, buf.result, wiring.flipped(self.result))

        m.submodules.inputs = inp = self._inputs(c)
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
            m.submodules[f"ip_r{r}"] = ip = self._inner_product(c)
            m.d.comb += [
                ip.acts.eq(inp.acts), ip.signed.eq(ctrl.signed), ip.weights.eq(inp.weights[r]),
                ip.en.eq(ctrl.advance), ip.load.eq(item),
                ip.add.eq(ctrl.add), ip.clear.eq(ctrl.clear),
                buf.data[r].eq(ip.result),
            ]
        return m
