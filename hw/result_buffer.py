"""Output buffer: one window-set of results waiting for the consumer."""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out


class ResultBuffer(wiring.Component):
    """Holds one set of results for the result stream, so the array keeps working while the
    consumer has not taken them yet (the accumulators are the other half of the double buffer).

    Parameters
    ----------
    layout : data.Layout
        Payload of one result transfer.

    Members
    -------
    data : ``In(layout)``
        Results to store when ``load`` is high.
    load : ``In(1)``
        Store ``data``; only allowed while ``can_load``.
    can_load : ``Out(1)``
        The buffer is empty or is being emptied this cycle.
    result : ``Out(stream.Signature(layout))``
        The stored results.

    Latency: results loaded in cycle ``k`` are offered from cycle ``k + 1`` (:attr:`latency`).
    Throughput: one set per cycle.
    """

    def __init__(self, layout):
        self._layout = data.Layout.cast(layout)
        super().__init__({
            "data": In(self._layout),
            "load": In(1),
            "can_load": Out(1),
            "result": Out(stream.Signature(self._layout)),
        })

    latency = property(lambda self: 1, doc="Cycles from load to the results being offered.")

    def elaborate(self, platform):
        m = Module()
        full = Signal()
        m.d.comb += [
            self.result.valid.eq(full),
            self.can_load.eq(~full | self.result.ready),
        ]
        with m.If(self.result.ready):
            m.d.sync += full.eq(0)
        with m.If(self.load):
            m.d.sync += [self.result.payload.eq(self.data), full.eq(1)]
        return m
