"""Input register: one activation item and its weight brick, each with its own full flag."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out


class InputRegister(wiring.Component):
    """Registers an activation item (a pallet or a brick) and its weight brick.

    Each input has its own register and full flag, so either stream can arrive first; an item
    is offered while both are full and leaves when the consumer takes it, and the next one is
    accepted in the same cycle (``ready`` while empty or being emptied).

    Parameters
    ----------
    act_layout, weight_layout : data.Layout
        Payloads of the two streams.

    Members
    -------
    act : ``In(stream.Signature(act_layout))``, weight : ``In(stream.Signature(weight_layout))``
    act_enable, weight_enable : ``In(1)``
        Accept inputs (the controller closes them at the end of a run).
    item : ``Out(1)``
        An activation item and its weights are present.
    take : ``In(1)``
        The consumer takes the item this cycle (only while ``item``).
    acts, weights : ``Out``
        The registered payloads.

    Latency: an input transferred in cycle ``k`` is offered in cycle ``k + 1`` (:data:`LATENCY`).
    Throughput: one item per cycle.
    """

    #: Cycles from an input's transfer to its use.
    LATENCY = 1

    def __init__(self, *, act_layout, weight_layout):
        act_layout = data.Layout.cast(act_layout)
        weight_layout = data.Layout.cast(weight_layout)
        super().__init__({
            "act": In(stream.Signature(act_layout)),
            "weight": In(stream.Signature(weight_layout)),
            "act_enable": In(1),
            "weight_enable": In(1),
            "item": Out(1),
            "take": In(1),
            "acts": Out(act_layout),
            "weights": Out(weight_layout),
        })

    def elaborate(self, platform):
        m = Module()
        a_full = Signal()
        w_full = Signal()
        m.d.comb += [
            self.item.eq(a_full & w_full),
            self.act.ready.eq(self.act_enable & (~a_full | self.take)),
            self.weight.ready.eq(self.weight_enable & (~w_full | self.take)),
        ]
        with m.If(self.take):
            m.d.sync += [a_full.eq(0), w_full.eq(0)]
        with m.If(self.act.valid & self.act.ready):
            m.d.sync += [self.acts.eq(self.act.payload), a_full.eq(1)]
        with m.If(self.weight.valid & self.weight.ready):
            m.d.sync += [self.weights.eq(self.weight.payload), w_full.eq(1)]
        return m
