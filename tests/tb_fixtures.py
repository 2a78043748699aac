"""A small stream component that exercises the cocotb infrastructure in ``tb/``.

:class:`SumPipe` takes a nested array of signed values per transfer (``[col][lane]``, the
shape of a pallet), sums each column and emits the sums with a sequence tag through a
``depth``-entry FIFO. Its ``ready`` and ``valid`` are registered, like a real pipeline stage,
and ``count`` counts emitted results since reset, so a test can tell a reset from a hang.
"""
from __future__ import annotations

from amaranth import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out


class SumPipe(wiring.Component):
    """Column sums of an array payload through a small FIFO.

    Parameters
    ----------
    lanes, columns : int
        Input payload ``ArrayLayout(ArrayLayout(signed(width), lanes), columns)``.
    width : int
        Input element width.
    depth : int
        FIFO entries (at least 2 for one transfer per cycle).

    Ports
    -----
    inp : stream in
    out : stream out, ``StructLayout({"sums": ArrayLayout(signed(width + clog2(lanes)), columns),
        "tag": unsigned(8)})``; ``tag`` numbers the inputs modulo 256.
    count : Out(16)
        Results emitted since reset.
    """

    def __init__(self, lanes: int = 4, columns: int = 2, width: int = 8, depth: int = 2):
        for name, v, lo in (("lanes", lanes, 1), ("columns", columns, 1), ("width", width, 2),
                            ("depth", depth, 2)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, not {v!r}")
        self.lanes, self.columns, self.width, self.depth = lanes, columns, width, depth
        self.sum_width = width + (lanes - 1).bit_length()
        self.in_layout = data.ArrayLayout(data.ArrayLayout(signed(width), lanes), columns)
        self.out_layout = data.StructLayout({
            "sums": data.ArrayLayout(signed(self.sum_width), columns),
            "tag": unsigned(8),
        })
        super().__init__({
            "inp": In(stream.Signature(self.in_layout)),
            "out": Out(stream.Signature(self.out_layout)),
            "count": Out(16),
        })

    def elaborate(self, platform):
        m = Module()
        depth = self.depth
        entries = Array(Signal(self.out_layout.size, name=f"entry{i}") for i in range(depth))
        wr = Signal(range(depth))
        rd = Signal(range(depth))
        level = Signal(range(depth + 1))
        tag = Signal(8)
        computed = Signal(self.out_layout)

        for c in range(self.columns):
            m.d.comb += computed.sums[c].eq(sum(self.inp.payload[c][l] for l in range(self.lanes)))
        m.d.comb += computed.tag.eq(tag)

        push = Signal()
        pop = Signal()
        m.d.comb += [
            self.inp.ready.eq(level < depth),
            self.out.valid.eq(level != 0),
            self.out.payload.eq(entries[rd]),
            push.eq(self.inp.valid & self.inp.ready),
            pop.eq(self.out.valid & self.out.ready),
        ]
        with m.If(push):
            m.d.sync += [entries[wr].eq(computed), wr.eq(_wrap(wr, depth)), tag.eq(tag + 1)]
        with m.If(pop):
            m.d.sync += [rd.eq(_wrap(rd, depth)), self.count.eq(self.count + 1)]
        m.d.sync += level.eq(level + push - pop)
        return m


def _wrap(pointer: Signal, depth: int):
    """The next FIFO slot after ``pointer`` (``depth`` need not be a power of two)."""
    return Mux(pointer == depth - 1, 0, pointer + 1)
