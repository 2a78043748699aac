# amaranth: UnusedElaboratable=no
"""On-chip memories of the accelerator (NM and the weight buffers) as one block."""
from __future__ import annotations

from pathlib import Path

from amaranth.hdl import ClockSignal, Instance, Module, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.checks import check_integer

#: The behavioural model the emitted Verilog instantiates (module ``dstripes_sram``).
MODEL = Path(__file__).with_name("sram.v")
IMPLEMENTATIONS = ("instance", "amaranth")


class Sram(wiring.Component):
    """A memory of ``depth`` words of ``width`` bits with synchronous read ports and write ports
    with per-slice enables (an SRAM macro).

    Parameters
    ----------
    width, depth : int
        Word width and number of words.
    read_ports, write_ports : int
        Ports of each kind.
    granularity : int
        Bits per write enable (``width`` must be a multiple).
    implementation : str
        ``"instance"``: a black box ``dstripes_sram`` (behavioural model :data:`MODEL`), what the
        emitted Verilog holds; ``"amaranth"``: an :class:`amaranth.lib.memory.Memory`, for
        Amaranth's simulator (which cannot run Verilog). Both behave the same.

    Members
    -------
    raddr, ren : ``In`` per read port
    rdata : ``Out(width)`` per read port
        ``mem[raddr]`` from the cycle after a read with ``ren``; held while ``ren`` is low.
    waddr : ``In`` per write port, wen : ``In(width // granularity)``, wdata : ``In(width)``
        Writes the enabled slices at the rising edge.

    Latency 1 (read); throughput one access per port and cycle.
    """

    def __init__(self, *, width: int, depth: int, read_ports: int = 1, write_ports: int = 1,
                 granularity: int | None = None, implementation: str = "instance"):
        self._width = check_integer("width", width)
        self._depth = check_integer("depth", depth, 2)
        self._nr = check_integer("read_ports", read_ports)
        self._nw = check_integer("write_ports", write_ports)
        self._gran = check_integer("granularity", width if granularity is None else granularity)
        if width % self._gran:
            raise ValueError(f"granularity {self._gran} does not divide width {width}")
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {', '.join(IMPLEMENTATIONS)}, not {implementation!r}")
        self._impl = implementation
        self._abits = max(1, (depth - 1).bit_length())
        slices = width // self._gran
        super().__init__({
            "raddr": In(self._abits).array(self._nr),
            "ren": In(1).array(self._nr),
            "rdata": Out(width).array(self._nr),
            "waddr": In(self._abits).array(self._nw),
            "wen": In(slices).array(self._nw),
            "wdata": In(width).array(self._nw),
        })

    width = property(lambda self: self._width)
    depth = property(lambda self: self._depth)
    addr_bits = property(lambda self: self._abits)
    read_ports = property(lambda self: self._nr)
    write_ports = property(lambda self: self._nw)
    granularity = property(lambda self: self._gran)
    latency = property(lambda self: 1, doc="Cycles from a read's address to its data.")

    @property
    def bits(self) -> int:
        return self._width * self._depth

    def elaborate(self, platform):
        m = Module()
        if self._impl == "instance":
            cat = lambda sigs: Signal(len(sigs) * len(sigs[0]))  # noqa: E731
            raddr, ren, rdata = cat(self.raddr), cat(self.ren), cat(self.rdata)
            waddr, wen, wdata = cat(self.waddr), cat(self.wen), cat(self.wdata)
            for i in range(self._nr):
                m.d.comb += [raddr[i * self._abits:(i + 1) * self._abits].eq(self.raddr[i]), ren[i].eq(self.ren[i]),
                             self.rdata[i].eq(rdata[i * self._width:(i + 1) * self._width])]
            s = self._width // self._gran
            for j in range(self._nw):
                m.d.comb += [waddr[j * self._abits:(j + 1) * self._abits].eq(self.waddr[j]),
                             wen[j * s:(j + 1) * s].eq(self.wen[j]),
                             wdata[j * self._width:(j + 1) * self._width].eq(self.wdata[j])]
            m.submodules.macro = Instance(
                "dstripes_sram", p_WIDTH=self._width, p_DEPTH=self._depth, p_ABITS=self._abits, p_NR=self._nr,
                p_NW=self._nw, p_GRAN=self._gran, i_clk=ClockSignal(), i_ren=ren, i_raddr=raddr, o_rdata=rdata,
                i_wen=wen, i_waddr=waddr, i_wdata=wdata)
            return m
        m.submodules.mem = mem = memory.Memory(shape=unsigned(self._width), depth=self._depth, init=[])
        for j in range(self._nw):
            w = mem.write_port(granularity=self._gran)
            m.d.comb += [w.addr.eq(self.waddr[j]), w.data.eq(self.wdata[j]),
                         w.en.eq(self.wen[j] & (self.waddr[j] < self._depth).replicate(len(w.en)))]
        for i in range(self._nr):
            r = mem.read_port()
            m.d.comb += [r.addr.eq(self.raddr[i]), r.en.eq(self.ren[i]), self.rdata[i].eq(r.data)]
        return m
