"""The DMA: the off-chip port's only user (``docs/design.md`` §10.5, §10.6)."""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.checks import check_integer
from dstripes.sim.chip.config import ChipConfig
from dstripes.sim.chip.descriptor import DRAM_ADDR_BITS

from .layouts import COUNT_BITS, SIZE_BITS, check_chip, request_layout

WEIGHTS, LOAD, STORE = 0, 1, 2


class Dma(wiring.Component):
    """Moves data between the off-chip memory and NM or the weight buffers; one request at a time.

    * **weights** (``w_start``, pass ``w_pass``): one read of ``pass_beats`` beats from
      ``w_base + w_pass * pass_beats``; beat ``i < steps·T·Nr·W/A`` is part ``i mod Nr·W/A`` of
      step ``i / (T·Nr·W/A)``'s brick for tile ``(i / (Nr·W/A)) mod T``, written into SB half
      ``w_pass mod 2``; the following beats carry the pass's biases (``bias_we``, one beat of them
      at a time). ``w_done`` in the cycle of the last beat.
    * **LOAD** (``ld_start``): ``count`` beats from DRAM ``dram`` into NM bricks from ``nm``.
    * **STORE** (``st_start``): ``count`` NM bricks from ``nm`` to DRAM ``dram``.

    A request is presented from the cycle its start is asked (while ``idle``) until the memory
    accepts it; read data are always accepted. ``done`` in the cycle a transfer's last beat moves.

    Parameters
    ----------
    chip : ChipConfig
    sb_words : int
        Words of one SB half.

    Members
    -------
    mem_req : ``Out(stream(request_layout))``, mem_rdata : ``In(stream)``, mem_wdata : ``Out(stream)``
    idle, done : ``Out(1)``
    w_start, w_pass, w_base, pass_beats, steps : ``In``
    ld_start, st_start, dram, nm, count : ``In``
    sb_waddr, sb_wdata : ``Out``, sb_wen : ``Out`` per tile (one enable per beat of a brick)
    bias_we, bias_half, bias_beat, bias_data : ``Out``
    nm_waddr, nm_wen, nm_wdata, nm_raddr, nm_ren : ``Out``, nm_rdata : ``In``
        NM port 0 (``LOAD`` and ``STORE``).

    Latency: the memory's; throughput one beat per cycle.
    """

    def __init__(self, chip: ChipConfig, *, sb_words: int):
        self._chip = check_chip(chip)
        check_integer("sb_words", sb_words)
        t = chip.tile
        bb = chip.brick_bits
        self._bpb = chip.beats_per_brick
        self._sb_words = sb_words
        sb_bits = max(1, (2 * sb_words - 1).bit_length())
        super().__init__({
            "mem_req": Out(stream.Signature(request_layout())), "mem_rdata": In(stream.Signature(bb)),
            "mem_wdata": Out(stream.Signature(bb)), "idle": Out(1), "done": Out(1),
            "w_start": In(1), "w_pass": In(SIZE_BITS), "w_base": In(DRAM_ADDR_BITS), "pass_beats": In(32),
            "steps": In(SIZE_BITS),
            "ld_start": In(1), "st_start": In(1), "dram": In(DRAM_ADDR_BITS), "nm": In(chip.nm_addr_bits),
            "count": In(COUNT_BITS),
            "sb_waddr": Out(sb_bits), "sb_wdata": Out(chip.weight_brick_bits), "sb_wen": Out(self._bpb).array(chip.tiles),
            "bias_we": Out(1), "bias_half": Out(1), "bias_beat": Out(16), "bias_data": Out(bb),
            "nm_waddr": Out(chip.nm_addr_bits), "nm_wen": Out(t.lanes), "nm_wdata": Out(bb),
            "nm_raddr": Out(chip.nm_addr_bits), "nm_ren": Out(1), "nm_rdata": In(bb),
        })

    def elaborate(self, platform):
        m = Module()
        chip, t = self._chip, self._chip.tile
        bpb, tiles = self._bpb, chip.tiles
        IDLE, REQ, DATA = 0, 1, 2
        state = Signal(2)
        kind = Signal(2)
        total = Signal(32)
        moved = Signal(32)
        half = Signal()
        part, tile, step = Signal(range(max(2, bpb))), Signal(range(max(2, tiles))), Signal(SIZE_BITS)
        wbeats = Signal(32)
        ptr = Signal(chip.nm_addr_bits)
        held = Signal(request_layout())
        req = self.mem_req.payload
        m.d.comb += self.idle.eq(state == IDLE)

        # -- the request ---------------------------------------------------------------------
        asked = Signal(request_layout())
        m.d.comb += [asked.write.eq(self.st_start),
                     asked.addr.eq(Mux(self.w_start, self.w_base + self.w_pass * self.pass_beats, self.dram)),
                     asked.count.eq(Mux(self.w_start, self.pass_beats, self.count))]
        starting = (state == IDLE) & (self.w_start | self.ld_start | self.st_start)
        m.d.comb += [self.mem_req.valid.eq(starting | (state == REQ)), req.eq(Mux(state == REQ, held, asked))]
        with m.If(starting):
            m.d.sync += [held.eq(asked), kind.eq(Mux(self.w_start, WEIGHTS, Mux(self.ld_start, LOAD, STORE))),
                         half.eq(self.w_pass[0]), total.eq(asked.count), moved.eq(0), part.eq(0), tile.eq(0),
                         step.eq(0), wbeats.eq(self.steps * (tiles * bpb)), ptr.eq(self.nm),
                         state.eq(Mux(self.mem_req.ready, DATA, REQ))]
        with m.If((state == REQ) & self.mem_req.ready):
            m.d.sync += state.eq(DATA)

        # -- reads: weights, biases, LOAD ----------------------------------------------------
        m.d.comb += self.mem_rdata.ready.eq(1)
        beat = self.mem_rdata.payload
        got = Signal()
        m.d.comb += got.eq((state == DATA) & (kind != STORE) & self.mem_rdata.valid)
        is_w = (kind == WEIGHTS) & (moved < wbeats)
        m.d.comb += [self.sb_waddr.eq(Mux(half, self._sb_words, 0) + step), self.sb_wdata.eq(Cat(*([beat] * bpb))),
                     self.bias_we.eq(got & (kind == WEIGHTS) & ~is_w), self.bias_half.eq(half),
                     self.bias_beat.eq(moved - wbeats), self.bias_data.eq(beat),
                     self.nm_waddr.eq(ptr), self.nm_wdata.eq(beat),
                     self.nm_wen.eq(Mux(got & (kind == LOAD), (1 << t.lanes) - 1, 0))]
        for ti in range(tiles):
            m.d.comb += self.sb_wen[ti].eq(Mux(got & is_w & (tile == ti), 1 << part, 0))
        with m.If(got):
            m.d.sync += [moved.eq(moved + 1), ptr.eq(ptr + 1)]
            with m.If(is_w):
                m.d.sync += part.eq(part + 1)
                with m.If(part == bpb - 1):
                    m.d.sync += [part.eq(0), tile.eq(tile + 1)]
                    with m.If(tile == tiles - 1):
                        m.d.sync += [tile.eq(0), step.eq(step + 1)]

        # -- STORE: NM port 0 into the write-data stream, one brick per cycle ----------------
        have = Signal()
        issued = Signal(32)
        fire = Signal()
        m.d.comb += fire.eq(self.mem_wdata.valid & self.mem_wdata.ready)
        sending = (state == DATA) & (kind == STORE)
        read = Signal()
        m.d.comb += [read.eq(sending & (issued < total) & (~have | fire)),
                     self.nm_ren.eq(read), self.nm_raddr.eq(ptr),
                     self.mem_wdata.valid.eq(have), self.mem_wdata.payload.eq(self.nm_rdata)]
        with m.If(starting):
            m.d.sync += [issued.eq(0), have.eq(0)]
        with m.If(read):
            m.d.sync += [issued.eq(issued + 1), ptr.eq(ptr + 1), have.eq(1)]
        with m.Elif(fire):
            m.d.sync += have.eq(0)
        with m.If(fire):
            m.d.sync += moved.eq(moved + 1)

        last = Signal()
        m.d.comb += [last.eq(moved == total - 1), self.done.eq((got | fire) & last)]
        with m.If(self.done):
            m.d.sync += state.eq(IDLE)
        return m
