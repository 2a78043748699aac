"""Output buffer: one window-set of results waiting for the consumer."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.checks import check_integer


class ResultBuffer(wiring.Component):
    """Holds one set of results for the result stream, so the array keeps working while the
    consumer has not taken them yet (the accumulators are the other half of the double buffer).

    With ``parts > 1`` the set is loaded in parts (the outer elements of ``layout`` split into
    ``parts`` equal slices, e.g. the columns of each precision group of a run-ahead tile), each
    with its own ``load`` and full flag; the set is offered once every part is full. A part can
    load again only when the set leaves, so all parts always hold the same window-set.

    Parameters
    ----------
    layout : data.Layout
        Payload of one result transfer (an ``ArrayLayout`` when ``parts > 1``).
    parts : int
        Independently loaded slices of the payload.
    zero : bool
        With ``parts > 1``: build ``zero``, one input per part: a part loaded with its ``zero``
        high stores zeros instead of its slice of ``data`` (the tile with the fully-connected
        dispatch: the columns other than 0 of a fully-connected run's result, ``docs/design.md``
        §5; each part's select is its own input, so no one net selects every result bit).

    Members
    -------
    data : ``In(layout)``
        Results to store when ``load`` is high.
    load : ``In(parts)``
        Store each part's slice of ``data``; only allowed while its ``can_load`` is high.
    zero : ``In(parts)``
        Only with ``zero=True``: the part stores zeros when it loads.
    can_load : ``Out(parts)``
        The part is empty or the set is being emptied this cycle.
    result : ``Out(stream.Signature(layout))``
        The stored results.

    Latency: results loaded in cycle ``k`` are offered from cycle ``k + 1`` (:data:`LATENCY`),
    once every part is loaded. Throughput: one set per cycle.
    """

    #: Cycles from a load to the results being offered.
    LATENCY = 1

    def __init__(self, layout, *, parts: int = 1, zero: bool = False):
        self._layout = data.Layout.cast(layout)
        self._parts = check_integer("parts", parts)
        self._zero = bool(zero)
        if self._zero and parts < 2:
            raise ValueError("a result buffer zeroes parts (zero) only when it has several parts")
        if parts > 1:
            if not isinstance(self._layout, data.ArrayLayout) or self._layout.length % parts:
                raise ValueError(f"a result buffer in {parts} parts needs an array layout whose "
                                 f"length {parts} divides, not {self._layout!r}")
        super().__init__({
            "data": In(self._layout),
            "load": In(parts),
            "can_load": Out(parts),
            **({"zero": In(parts)} if self._zero else {}),
            "result": Out(stream.Signature(self._layout)),
        })

    parts = property(lambda self: self._parts)
    zeroes = property(lambda self: self._zero, doc="Built with ``zero`` (per-part zeroing).")

    def elaborate(self, platform):
        m = Module()
        if self._parts == 1:
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
        per = self._layout.length // self._parts
        full = Signal(self._parts)
        leave = Signal()
        m.d.comb += [
            self.result.valid.eq(full.all()),
            leave.eq(self.result.valid & self.result.ready),
        ]
        for p in range(self._parts):
            m.d.comb += self.can_load[p].eq(~full[p] | leave)
            with m.If(leave):
                m.d.sync += full[p].eq(0)
            with m.If(self.load[p]):
                m.d.sync += full[p].eq(1)
                for i in range(p * per, (p + 1) * per):
                    if self._zero:
                        m.d.sync += self.result.payload[i].eq(Mux(self.zero[p], 0, self.data[i]))
                    else:
                        m.d.sync += self.result.payload[i].eq(self.data[i])
        return m
