# amaranth: UnusedElaboratable=no
"""The accelerator's verification harness: the chip, its commands from a memory, and an off-chip
memory whose timing is ``docs/design.md`` §10.6's process, so the simulator runs the clock with
no Python work per cycle.

Verification hardware, not the accelerator. Around :class:`dstripes.hw.chip.Chip`:

* a **command memory** (``dstripes_rom``, ``tb/gateware/mem_models.v``) played in order: each command is
  presented when the chip is idle; the cycles it keeps ``busy`` high are counted and logged
  (``dstripes_log``) with its index;
* an **off-chip memory**: storage ``dstripes_ram`` (``tb/gateware/chip_models.v``; the testbench loads the
  image and dumps a range after the commands) and its timing in hardware: three xorshift32
  generators reseeded (``seed ^ SALT[i]``, :data:`dstripes.sim.chip.dram.SALT`) at every command's
  transfer and advanced every cycle; a request is accepted when generator ``A`` allows; its data
  start ``latency + (B & jitter)`` cycles later; a credit grows by ``credit`` (1/256 byte) per cycle
  and a read beat leaves when it holds a beat and ``C`` allows; write beats are taken when ``C``
  allows. One request at a time.
* an **observer** (``dstripes_observer``, ``tb/gateware/observer.v``): a second command memory
  marks the commands whose output the testbench reads in NM (flag, first and last NM word); the
  cycle after such a command ends, NM's words are written to ``observed<index>.hex``. The
  chip's own cycles and memories are untouched: a whole network is checked layer by layer with
  no ``STORE`` copy of each layer (``tb/host/chain_path.py``).

The testbench (``tb/bench/chip_bench.py``) touches only the ports of this component and the memory files.
Every input is registered before use, the reset too (:data:`CORE`): Verilator evaluates again, at
every clock edge, each piece of logic that reads a top-level input (its ``ico`` region), and every
register's next-state logic reads the reset. With ``rst`` itself the chip's reset, that was 14 % of
the simulator's time on two tiles of 16x16x16 (``perf``); registered, the chip leaves reset one
cycle later, before any command (no command's cycles change).
"""
from __future__ import annotations

from amaranth.hdl import (Cat, ClockDomain, ClockSignal, Const, DomainRenamer, Instance, Module, Mux, ResetSignal,
                          Signal, unsigned)
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.chip.chip import Chip
from dstripes.hw.chip.layouts import command_layout
from dstripes.sim.chip.config import ChipConfig
from dstripes.sim.chip.dram import FRACTION, SALT

from ..memfile import LINE_BITS, parts
from .tile_harness import _xorshift

#: Memory files in the simulator's working folder.
FILES = {"commands": "commands.hex", "image": "dram.hex", "dump": "dump.hex", "log": "commands.log",
         "observe": "observe.hex"}
#: The observer's files: ``OBSERVED`` + the command's index + ``.hex``.
OBSERVED = "observed"
LOG_FIELDS = (("command", 16), ("cycles", 32))
COUNT = 32
def observe_layout(chip: ChipConfig) -> data.StructLayout:
    """A word of the observation memory (one per command): ``fire`` (observe this command), and
    the ``first`` and ``last`` NM word of its output."""
    return data.StructLayout({"fire": unsigned(1), "first": unsigned(chip.nm_addr_bits),
                              "last": unsigned(chip.nm_addr_bits)})


#: The clock domain of the chip and the harness's logic: the ``sync`` clock, the ``sync`` reset
#: registered (so no logic but one register reads a top-level input, see the module's docstring).
CORE = "core"


class ChipHarness(wiring.Component):
    """The chip inside its command memory and off-chip memory model.

    Parameters
    ----------
    chip : ChipConfig
    tile_top : str
        The tile module's name.
    dram_bits : int
        Address bits of the off-chip memory (words of one beat).
    command_bits : int
        Address bits of the command memory.

    Members
    -------
    start : ``In(8)``
        A new value starts playing ``commands`` commands.
    commands : ``In(16)``, seed : ``In(32)``, stall, latency, jitter, credit : ``In(16)``
        The batch and the memory's timing (stall in 1/65536, credit in 1/256 byte per cycle).
    load : ``In(2)``
        Bit 0 loads the command memory, bit 1 the off-chip image, at the next rising edge.
    dump : ``In(1)``, dump_first, dump_last : ``In(dram_bits)``
        Write off-chip words ``dump_first .. dump_last`` to the dump file.
    done : ``Out(1)``, logged : ``Out(16)``, busy : ``Out(1)``

    Bit 0 of ``load`` also loads the observation memory (:data:`FILES` ``observe``): per command
    one :func:`observe_layout` word.

    Latency and throughput: the chip's.
    """

    def __init__(self, chip: ChipConfig, *, tile_top: str, dram_bits: int, command_bits: int = 4):
        self._chip = chip
        self._top = tile_top
        self._dbits = dram_bits
        self._cbits = command_bits
        self._cmd_width = command_layout(chip).size
        super().__init__({
            "start": In(8), "commands": In(16), "seed": In(32), "stall": In(16), "latency": In(16),
            "jitter": In(16), "credit": In(16), "load": In(2), "dump": In(1),
            "dump_first": In(dram_bits), "dump_last": In(dram_bits),
            "done": Out(1), "logged": Out(16), "busy": Out(1),
        })

    @property
    def command_width(self) -> int:
        return self._cmd_width

    @property
    def command_lane(self) -> int:
        return min(self._cmd_width, LINE_BITS)

    def elaborate(self, platform):
        m = Module()
        chip = self._chip
        m.domains.core = ClockDomain(CORE, local=True)
        rst_q = Signal(init=1, reset_less=True)
        m.d.sync += rst_q.eq(ResetSignal("sync"))
        m.d.comb += [ClockSignal(CORE).eq(ClockSignal("sync")), ResetSignal(CORE).eq(rst_q)]
        m.submodules.chip = dut = DomainRenamer(CORE)(Chip(chip, tile_top=self._top))
        q = {n: Signal(len(getattr(self, n)), name=f"{n}_q", reset_less=True)
             for n in ("start", "commands", "seed", "stall", "latency", "jitter", "credit", "load", "dump",
                       "dump_first", "dump_last")}
        m.d.core += [s.eq(getattr(self, n)) for n, s in q.items()]
        m.d.comb += self.busy.eq(dut.busy)

        # -- commands ------------------------------------------------------------------------
        last_start = Signal(8)
        new = Signal()
        m.d.core += last_start.eq(q["start"])
        m.d.comb += new.eq(q["start"] != last_start)
        running, waiting = Signal(), Signal()
        index = Signal(16)
        word = Signal(self._cmd_width)
        lane = self.command_lane
        m.submodules.commands = Instance(
            "dstripes_rom", p_WIDTH=self._cmd_width, p_ABITS=self._cbits, p_LANE=lane,
            p_PARTS=parts(self._cmd_width, lane), p_FILE0=FILES["commands"], p_FILE1="",
            i_clk=ClockSignal(CORE), i_load=Cat(q["load"][0], Const(0, 1)), i_addr=index[:self._cbits], o_data=word)
        m.d.comb += [dut.cmd.valid.eq(running & ~waiting & (index < q["commands"])),
                     dut.cmd.payload.eq(word)]
        transfer = dut.cmd.valid & dut.cmd.ready
        count = Signal(COUNT)
        closing = Signal()
        m.d.comb += closing.eq(waiting & ~dut.busy & ~transfer)
        with m.If(transfer):
            m.d.core += [index.eq(index + 1), waiting.eq(1), count.eq(0)]
        with m.Elif(waiting & dut.busy):
            m.d.core += count.eq(count + 1)
        with m.If(closing):
            m.d.core += [waiting.eq(0), self.logged.eq(self.logged + 1)]
        m.submodules.log = Instance("dstripes_log", a_keep=1, p_WIDTH=48, p_FILE=FILES["log"], i_clk=ClockSignal(CORE),
                                    i_we=closing, i_data=Cat((index - 1)[:16], count))
        # -- the observer: NM read by the testbench the cycle after a marked command ends ------
        layout = observe_layout(chip)
        ow = layout.size
        seen = Signal(layout)
        m.submodules.observe = Instance(
            "dstripes_rom", p_WIDTH=ow, p_ABITS=self._cbits, p_LANE=min(ow, LINE_BITS),
            p_PARTS=parts(ow, min(ow, LINE_BITS)), p_FILE0=FILES["observe"], p_FILE1="", i_clk=ClockSignal(CORE),
            i_load=Cat(q["load"][0], Const(0, 1)), i_addr=(index - 1)[:self._cbits], o_data=seen.as_value())
        fire, which = Signal(), Signal(16)
        # separate registers: with both bounds slices of one register, Verilator 5.49's
        # $writememh found the first above the last ("invalid address range") while $display
        # printed them right
        first, last = Signal.like(seen.first), Signal.like(seen.last)
        # a cycle after the end, so that the command's last NM write has landed
        m.d.core += [fire.eq(closing & seen.fire), which.eq(index - 1), first.eq(seen.first), last.eq(seen.last)]
        m.submodules.observer = Instance("dstripes_observer", a_keep=1, p_ABITS=chip.nm_addr_bits, p_PREFIX=OBSERVED,
                                         i_clk=ClockSignal(CORE), i_fire=fire, i_index=which, i_first=first,
                                         i_last=last)
        with m.If(running & (self.logged == q["commands"]) & ~waiting):
            m.d.core += [running.eq(0), self.done.eq(1)]
        with m.If(new):
            m.d.core += [running.eq(1), self.done.eq(0), index.eq(0), waiting.eq(0), self.logged.eq(0)]

        # -- the off-chip memory's timing ----------------------------------------------------
        gens = [Signal(32, name=f"rng{i}", init=SALT[i]) for i in range(3)]
        for i, g in enumerate(gens):
            seeded = q["seed"] ^ SALT[i]
            with m.If(transfer):
                m.d.core += g.eq(Mux(seeded == 0, SALT[i], seeded))
            with m.Else():
                m.d.core += g.eq(_xorshift(g))
        ok = [g[:16] >= q["stall"] for g in gens]
        job, write = Signal(), Signal()
        addr, left = Signal(self._dbits), Signal(32)
        wait, credit = Signal(17), Signal(32)
        beat = chip.beat_bytes * FRACTION
        m.d.comb += dut.mem_req.ready.eq(~job & ok[0])
        req = dut.mem_req.payload
        rdata = Signal(chip.brick_bits)
        eligible = job & (wait == 0)
        grown = credit + q["credit"]
        send = Signal()
        m.d.comb += [send.eq(eligible & ~write & (grown >= beat) & ok[2]),
                     dut.mem_rdata.valid.eq(send), dut.mem_rdata.payload.eq(rdata),
                     dut.mem_wdata.ready.eq(eligible & write & ok[2])]
        wtake = dut.mem_wdata.valid & dut.mem_wdata.ready
        with m.If(dut.mem_req.valid & dut.mem_req.ready):
            m.d.core += [job.eq(1), write.eq(req.write), addr.eq(req.addr), left.eq(req.count), credit.eq(0),
                         wait.eq(q["latency"] + (gens[1][:16] & q["jitter"]) - 1)]
        with m.Elif(job & (wait != 0)):
            m.d.core += wait.eq(wait - 1)
        with m.Elif(eligible & ~write):
            m.d.core += credit.eq(Mux(send, grown - beat, grown))
        with m.If(send | wtake):
            m.d.core += [addr.eq(addr + 1), left.eq(left - 1)]
            with m.If(left == 1):
                m.d.core += job.eq(0)
        with m.If(transfer):
            m.d.core += job.eq(0)
        m.submodules.dram = Instance(
            "dstripes_ram", p_WIDTH=chip.brick_bits, p_ABITS=self._dbits, p_FILE=FILES["image"], p_DUMP=FILES["dump"],
            i_clk=ClockSignal(CORE), i_load=q["load"][1], i_dump=q["dump"], i_dump_first=q["dump_first"],
            i_dump_last=q["dump_last"], i_raddr=addr, o_rdata=rdata, i_we=wtake, i_waddr=addr,
            i_wdata=dut.mem_wdata.payload)
        return m
