# amaranth: UnusedElaboratable=no
"""The accelerator: ``T`` tiles around NM, the weight buffers and the off-chip port, walking
whole layers from descriptors (``docs/design.md`` §10)."""
from __future__ import annotations

from amaranth.hdl import Cat, ClockSignal, Instance, Module, Mux, ResetSignal, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.design import TileDesign
from dstripes.hw.params import COUNT_BITS as TILE_COUNT_BITS, pallet_layout, result_layout, run_layout, weight_layout
from dstripes.sim.chip.config import ChipConfig

from .dma import Dma
from .fetch import Fetch
from .pool import PoolUnit
from .layouts import (OP_LAYER, OP_LOAD, OP_POOL, OP_STORE, SIZE_BITS, check_chip, command_layout,
                      pass_layout, request_layout)
from .setup import Setup
from .sram import Sram
from .walker import Walker
from .reducer import Reducer, bias_slot
from .writer import Writer

#: Cycles from a ``LAYER`` command's transfer (cycle 0) to the end of its set-up.
SETUP = 2


class Chip(wiring.Component):
    """The accelerator (``docs/design.md`` §10.5).

    Parameters
    ----------
    chip : ChipConfig
    tile_top : str
        Verilog module name of the tile (emitted once, instantiated ``T`` times).
    embed : bool
        Build ``T`` tile components and Amaranth memories inside (for Amaranth's simulator) instead
        of ``T`` instances of ``tile_top`` and SRAM black boxes (for the emitted Verilog).

    Members
    -------
    cmd : ``In(stream(command_layout))``
        One command (``LAYER``, ``LOAD``, ``STORE``, ``POOL``); accepted while idle.
    mem_req : ``Out(stream(request_layout))``, mem_rdata : ``In(stream(beat))``, mem_wdata : ``Out(stream(beat))``
        The off-chip port.
    busy : ``Out(1)``
        From the cycle after a command's transfer to its last cycle (§10.6: a ``LAYER`` command
        is busy for ``Y_last + 1`` cycles).

    Latency and throughput: §10.6.
    """

    def __init__(self, chip: ChipConfig, *, tile_top: str = "tile", embed: bool = False):
        self._chip = check_chip(chip)
        if not isinstance(tile_top, str) or not tile_top.isidentifier():
            raise ValueError(f"tile_top must be a Verilog identifier, not {tile_top!r}")
        self._top = tile_top
        self._embed = bool(embed)
        super().__init__({
            "cmd": In(stream.Signature(command_layout(chip))),
            "mem_req": Out(stream.Signature(request_layout())),
            "mem_rdata": In(stream.Signature(chip.brick_bits)),
            "mem_wdata": Out(stream.Signature(chip.brick_bits)),
            "busy": Out(1),
        })

    chip = property(lambda self: self._chip)
    setup = property(lambda self: SETUP)

    def memories(self) -> list:
        """``(name, words, bits, count)`` of every on-chip memory."""
        c, t = self._chip, self._chip.tile
        return [("nm", c.nm_words, c.brick_bits, 1), ("sb", 2 * c.sb_words, c.weight_brick_bits, c.tiles)]

    def _tiles(self, m):
        """Per tile: ``(config, act, weight, result, busy)`` signal sets (streams as dicts)."""
        c, t = self._chip, self._chip.tile
        kind = TileDesign.of(c.scheme, t).kind
        out = []
        for ti in range(c.tiles):
            if self._embed:
                tile = TileDesign.of(c.scheme, t).component     # a new design: a new component
                m.submodules[f"tile{ti}"] = tile
                out.append(tile)
                continue
            cols = kind.scheme.columns(t)
            ports = {
                "config": (run_layout(t.act_bits, TILE_COUNT_BITS), In),
                "act": (pallet_layout(t.lanes, cols, t.act_bits), In),
                "weight": (weight_layout(t.lanes, t.rows, t.weight_bits), In),
                "result": (result_layout(t.rows, cols, t.acc_bits), Out),
            }
            sig = wiring.Signature({n: (flow(stream.Signature(lay)) if flow is Out else
                                        Out(stream.Signature(lay))) for n, (lay, flow) in ports.items()}
                                   | {"busy": In(1)})
            # the tile seen from the chip: its inputs are our outputs
            slot = sig.create(path=(f"tile{ti}",))
            args = {}
            for n, (_, flow) in ports.items():
                s = getattr(slot, n)
                if flow is In:
                    args.update({f"i_{n}__valid": s.valid, f"i_{n}__payload": Value.cast(s.payload), f"o_{n}__ready": s.ready})
                else:
                    args.update({f"o_{n}__valid": s.valid, f"o_{n}__payload": Value.cast(s.payload), f"i_{n}__ready": s.ready})
            m.submodules[f"tile{ti}"] = Instance(self._top, i_clk=ClockSignal(), i_rst=ResetSignal(),
                                                 o_busy=slot.busy, o_cycles=Signal(32, name=f"tile{ti}_cycles"), **args)
            out.append(slot)
        return out

    def elaborate(self, platform):
        m = Module()
        c, t = self._chip, self._chip.tile
        nc, b, lanes, nf = c.columns, c.nm_read, t.lanes, t.rows * c.tiles
        impl = "amaranth" if self._embed else "instance"
        sb_words = c.sb_words

        # read ports 0 .. B-1: the fetch unit (port 0 shared with the DMA); B .. 2B-1: the writer's residual
        m.submodules.nm = nm = Sram(width=c.brick_bits, depth=c.nm_words, read_ports=2 * b, write_ports=b,
                                    granularity=t.act_bits, implementation=impl)
        sbs = []
        for ti in range(c.tiles):
            sb = Sram(width=c.weight_brick_bits, depth=2 * sb_words, granularity=c.brick_bits, implementation=impl)
            m.submodules[f"sb{ti}"] = sb
            sbs.append(sb)
        m.submodules.walker = walker = Walker(c)
        m.submodules.fetch = fetch = Fetch(c, sb_words=sb_words)
        m.submodules.writer = writer = Writer(c)
        reducers = []
        for ti in range(c.tiles):
            m.submodules[f"reducer{ti}"] = rd = Reducer(c)
            reducers.append(rd)
        m.submodules.dma = dma = Dma(c, sb_words=sb_words)
        m.submodules.pool = pool = PoolUnit(c)
        tiles = self._tiles(m)

        # -- command, set-up ---------------------------------------------------------------
        cmd = Signal(command_layout(c))
        m.submodules.setup = setup = Setup(c)
        geo = setup.geometry
        IDLE, SETUP_, LAYER, XFER, POOL = 0, 1, 2, 3, 4
        state = Signal(3)
        m.d.comb += self.cmd.ready.eq(state == IDLE)
        with m.If(self.cmd.valid & self.cmd.ready):
            m.d.sync += [cmd.eq(self.cmd.payload), state.eq(SETUP_), self.busy.eq(1)]
        m.d.comb += [setup.descriptor.eq(self.cmd.payload.layer), setup.load.eq(self.cmd.valid & self.cmd.ready)]
        for sub in (walker, writer, pool, *reducers):
            m.d.comb += sub.geometry.eq(geo)

        # -- passes ------------------------------------------------------------------------
        pas = Signal(pass_layout(c))
        m.d.comb += [walker.pass_.eq(pas), writer.pass_.eq(pas)]
        for rd in reducers:
            m.d.comb += rd.half.eq(pas.half)
        started = Signal(SIZE_BITS)                   # passes started
        loaded = Signal(SIZE_BITS)                    # passes whose weights were asked for
        sb_ready = Signal(2)
        running = Signal()                            # a pass is in progress
        group, fset = Signal(16), Signal(16)          # the next pass's
        tiles_idle = Cat(*[~tl.busy for tl in tiles]).all()
        pass_over = Signal()
        m.d.comb += pass_over.eq(running & ~walker.enable & fetch.idle & tiles_idle)
        free = ~running | pass_over
        half = started[0]
        can_start = Signal()
        m.d.comb += can_start.eq((state == LAYER) & free & ~geo.prefetch & (started < geo.passes)
                                 & sb_ready.bit_select(half, 1) & tiles_idle)
        # the pass that starts: its filters, output bricks and input channels
        k0 = Signal(16)
        nfil = Signal(16)
        ch0 = Signal(32)
        m.d.comb += [k0.eq(group * geo.kg + fset * nf), ch0.eq(group * geo.cg),
                     nfil.eq(Mux(geo.kg - fset * nf < nf, geo.kg - fset * nf, nf))]
        with m.If(can_start):
            m.d.sync += [
                pas.index.eq(started), pas.group.eq(group), pas.k0.eq(k0), pas.filters.eq(nfil),
                pas.kb0.eq(k0 // lanes), pas.lane0.eq(k0 % lanes),
                pas.out_bricks.eq((k0 + nfil - 1) // lanes - k0 // lanes + 1),
                pas.in_block.eq(ch0 // lanes), pas.in_lane.eq(Mux(geo.small_group, ch0 % lanes, 0)),
                pas.half.eq(half), pas.last.eq(started == geo.passes - 1),
                started.eq(started + 1), running.eq(1), walker.enable.eq(1), fset.eq(fset + 1),
            ]
            with m.If(fset == geo.filter_sets - 1):
                m.d.sync += [fset.eq(0), group.eq(group + 1)]
            for h in range(2):
                with m.If(half == h):
                    m.d.sync += sb_ready[h].eq(0)
        with m.Elif(pass_over):
            m.d.sync += running.eq(0)
        m.d.comb += [walker.init.eq(can_start), writer.init.eq(can_start)]
        with m.If(walker.take & walker.step.last):
            m.d.sync += walker.enable.eq(0)

        # tile configuration: every tile takes it in the pass's first cycle (they are idle)
        for tl in tiles:
            cfg = tl.config.payload
            m.d.comb += [tl.config.valid.eq(can_start), cfg.msb.eq(geo.msb), cfg.lsb.eq(geo.lsb),
                         cfg.signed.eq(geo.signed), cfg.mode.eq(geo.mode), cfg.steps.eq(geo.steps),
                         cfg.window_sets.eq(geo.window_sets)]

        # -- weights: pass ``loaded`` once its half is free (the pass two back has ended) ---
        want_w = Signal()
        m.d.comb += want_w.eq((state == LAYER) & dma.idle & (loaded < geo.passes) & (loaded <= started)
                              & ~(geo.prefetch & (loaded != 0)))
        m.d.comb += [dma.w_start.eq(want_w), dma.w_pass.eq(loaded), dma.w_base.eq(geo.w_base),
                     dma.pass_beats.eq(geo.pass_beats), dma.steps.eq(geo.steps)]
        w_pass = Signal(SIZE_BITS)
        with m.If(want_w):
            m.d.sync += [loaded.eq(loaded + 1), w_pass.eq(loaded)]
        with m.If(dma.done & (state == LAYER)):
            for h in range(2):
                with m.If(w_pass[0] == h):
                    m.d.sync += sb_ready[h].eq(1)

        # -- LOAD / STORE -------------------------------------------------------------------
        xfer = Signal()
        m.d.comb += [dma.ld_start.eq((state == XFER) & ~xfer & (cmd.op == OP_LOAD)),
                     dma.st_start.eq((state == XFER) & ~xfer & (cmd.op == OP_STORE)),
                     dma.dram.eq(cmd.dram), dma.nm.eq(cmd.nm), dma.count.eq(cmd.count)]
        with m.If(dma.ld_start | dma.st_start):
            m.d.sync += xfer.eq(1)

        # -- set-up (cycle 1), end of a command ---------------------------------------------
        with m.If(state == SETUP_):
            m.d.sync += [started.eq(0), running.eq(0), group.eq(0), fset.eq(0),
                         walker.enable.eq(0), xfer.eq(0),
                         loaded.eq(cmd.layer.w0_loaded), sb_ready.eq(cmd.layer.w0_loaded),
                         state.eq(Mux(cmd.op == OP_LAYER, LAYER, Mux(cmd.op == OP_POOL, POOL, XFER)))]
        m.d.comb += pool.start.eq((state == SETUP_) & (cmd.op == OP_POOL))
        finished = Signal()
        m.d.comb += finished.eq(
            ((state == LAYER) & Mux(geo.prefetch, sb_ready[0], (started == geo.passes) & free)) |
            ((state == XFER) & xfer & dma.done) |
            ((state == POOL) & pool.idle))
        with m.If(finished):
            m.d.sync += [state.eq(IDLE), self.busy.eq(0)]

        # -- fetch, SB, broadcast -----------------------------------------------------------
        m.d.comb += [fetch.step.eq(walker.step), fetch.valid.eq(walker.valid), walker.take.eq(fetch.take),
                     fetch.reuse.eq(geo.reuse), fetch.small_group.eq(geo.small_group),
                     fetch.in_lane.eq(pas.in_lane), fetch.group_lanes.eq(geo.cg),
                     fetch.sb_base.eq(Mux(pas.half, sb_words, 0))]
        layer_op = state == LAYER
        pool_op = state == POOL
        for j in range(b):
            rd = nm.rdata[j]
            m.d.comb += [fetch.rdata[j].eq(rd), pool.rdata[j].eq(rd)]
            port0 = j == 0
            addr = Mux(port0 & ~layer_op, dma.nm_raddr, fetch.raddr[j]) if port0 else fetch.raddr[j]
            m.d.comb += [nm.raddr[j].eq(Mux(pool_op, pool.raddr[j], addr)),
                         nm.ren[j].eq((fetch.ren[j] | (dma.nm_ren if port0 else 0) | pool.ren[j]))]
        m.d.comb += dma.nm_rdata.eq(nm.rdata[0])
        for j in range(b):
            m.d.comb += [nm.raddr[b + j].eq(writer.res_raddr[j]), nm.ren[b + j].eq(writer.res_ren[j]),
                         writer.res_rdata[j].eq(nm.rdata[b + j])]
        taken_a = Signal(c.tiles)
        taken_w = Signal(c.tiles)
        fires = []
        for ti, tl in enumerate(tiles):
            sb = sbs[ti]
            m.d.comb += [sb.raddr[0].eq(fetch.sb_raddr), sb.ren[0].eq(fetch.sb_ren),
                         sb.waddr[0].eq(dma.sb_waddr), sb.wdata[0].eq(dma.sb_wdata), sb.wen[0].eq(dma.sb_wen[ti]),
                         tl.act.valid.eq(fetch.out_valid & ~taken_a[ti]), tl.act.payload.eq(fetch.pallet.as_value()),
                         tl.weight.valid.eq(fetch.out_valid & ~taken_w[ti]), tl.weight.payload.eq(sb.rdata[0])]
            fa = taken_a[ti] | (tl.act.valid & tl.act.ready)
            fw = taken_w[ti] | (tl.weight.valid & tl.weight.ready)
            fires.append((ti, tl, fa, fw))
        all_taken = Cat(*[fa & fw for _, _, fa, fw in fires]).all()
        m.d.comb += fetch.out_taken.eq(fetch.out_valid & all_taken)
        for ti, tl, fa, fw in fires:
            m.d.sync += [taken_a[ti].eq(Mux(all_taken, 0, fa)), taken_w[ti].eq(Mux(all_taken, 0, fw))]

        # -- results, writer, NM writes ------------------------------------------------------
        m.d.comb += writer.valid.eq(Cat(*[tl.result.valid for tl in tiles]).all())
        m.d.comb += [writer.bias_we.eq(dma.bias_we), writer.bias_beat.eq(dma.bias_beat)]
        for ti, (tl, rd) in enumerate(zip(tiles, reducers)):
            # tile ti's reducer: its results, the writer's column, its filters ti*Nr + r
            m.d.comb += [rd.results.eq(tl.result.payload), tl.result.ready.eq(writer.ready), rd.col.eq(writer.col),
                         rd.bias_half.eq(dma.bias_half)]
            for r in range(t.rows):
                i = ti * t.rows + r
                m.d.comb += [writer.codes[i].eq(rd.codes[r]), rd.res_pat[r].eq(writer.res_pat[i]),
                             rd.bias_wen[r].eq(writer.bias_wen[i]), rd.bias_in[r].eq(bias_slot(c, dma.bias_data, i))]
        for j in range(b):
            if j == 0:
                m.d.comb += [nm.waddr[0].eq(Mux(layer_op, writer.waddr[0], Mux(pool_op, pool.waddr, dma.nm_waddr))),
                             nm.wen[0].eq(Mux(layer_op, writer.wen[0], Mux(pool_op, pool.wen, dma.nm_wen))),
                             nm.wdata[0].eq(Mux(layer_op, writer.wdata[0], Mux(pool_op, pool.wdata, dma.nm_wdata)))]
            else:
                m.d.comb += [nm.waddr[j].eq(writer.waddr[j]), nm.wen[j].eq(writer.wen[j]),
                             nm.wdata[j].eq(writer.wdata[j])]

        wiring.connect(m, wiring.flipped(self.mem_req), dma.mem_req)
        wiring.connect(m, wiring.flipped(self.mem_rdata), dma.mem_rdata)
        wiring.connect(m, dma.mem_wdata, wiring.flipped(self.mem_wdata))
        return m
