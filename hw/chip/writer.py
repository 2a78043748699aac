"""The output path's shared part (``docs/design.md`` §10.5): the writer walks the window-sets'
columns and chunks, reads the residual, aligns the ``T x Nr`` codes of the tiles' reducers
(:mod:`.reducer`, one per tile) to the pass's output bricks and writes ``B`` of them per cycle
into NM."""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.chip.config import ChipConfig

from .fetch import _select
from .layouts import SIZE_BITS, check_chip, geometry_layout, pass_layout


def _times(x, k: int):
    """``k * x`` for a constant ``k``: a sum of shifted copies of ``x`` (0 for ``k = 0``).

    Parameters
    ----------
    x : Value
    k : int

    Returns
    -------
    Value
    """
    terms = [x << i for i in range(k.bit_length()) if k >> i & 1]
    return sum(terms[1:], terms[0]) if terms else Const(0, 1)


class Writer(wiring.Component):
    """Writes each window-set's outputs to NM: window after window, ``B`` of its output bricks
    per cycle, with lane masks; releases the tiles' results in the window-set's last cycle
    (``o_w = n_w * ceil(n_kb / B)`` cycles from the cycle they are offered).

    Parameters
    ----------
    chip : ChipConfig

    Members
    -------
    codes : ``In(act_bits)`` per filter of the pass (``T x Nr``: filter ``t * Nr + r`` is tile
        ``t``'s reducer's ``codes[r]``), valid : ``In(1)``, ready : ``Out(1)``
        The reducers' codes of the column ``col``; the tiles' window-set results are all offered
        (``valid``) and released (``ready``) together.
    col : ``Out``
        The column (window of the window-set) the reducers requantise.
    res_pat : ``Out(act_bits)`` per filter
        Filter ``i``'s residual code at the position written (to its tile's reducer): a register,
        loaded from the bricks read.
    bias_wen : ``Out(1)`` per filter
        Filter ``i``'s bias is in the DMA's beat (``bias_we`` and beat ``i // per``; the reducer
        takes it from its slot, :func:`.reducer.bias_slot`).
    geometry : ``In``, pass_ : ``In``, init : ``In(1)``
        The layer, the pass, and its start (the first window-set's position).
    waddr, wen, wdata : ``Out`` per NM write port
    bias_we, bias_beat : ``In``
        The DMA's writes of the biases (one beat of them at a time).
    res_raddr, res_ren : ``Out`` per residual read port, res_rdata : ``In`` per residual read port
        ``B`` NM read ports of its own for the residual (``geometry.residual``), two positions
        (chunks) ahead of the writes: in the cycle a chunk is written, the next chunk's bricks
        (held by the read ports) go through the per-filter selection into ``res_pat`` and the
        chunk after it is read; a pass's first two chunks are read in the two cycles after its
        start, long before its first results. The residual never delays a write, no path runs
        from NM's read data to its write port in one cycle, and each brick is read at least two
        cycles before it is written, which makes an in-place residual (``res_base = out_base``) safe.

    Latency 1 (results offered → first write); throughput above, with or without a residual.
    """

    def __init__(self, chip: ChipConfig):
        self._chip = check_chip(chip)
        t = chip.tile
        self._nf = t.rows * chip.tiles
        super().__init__({
            "codes": In(t.act_bits).array(self._nf), "valid": In(1), "ready": Out(1),
            "col": Out(range(max(2, chip.columns))), "res_pat": Out(t.act_bits).array(self._nf),
            "bias_wen": Out(1).array(self._nf),
            "geometry": In(geometry_layout(chip)), "pass_": In(pass_layout(chip)), "init": In(1),
            "waddr": Out(chip.nm_addr_bits).array(chip.nm_read), "wen": Out(t.lanes).array(chip.nm_read),
            "wdata": Out(chip.brick_bits).array(chip.nm_read),
            "bias_we": In(1), "bias_beat": In(16),
            "res_raddr": Out(chip.nm_addr_bits).array(chip.nm_read), "res_ren": Out(1).array(chip.nm_read),
            "res_rdata": In(chip.brick_bits).array(chip.nm_read),
        })

    latency = property(lambda self: 1)

    def elaborate(self, platform):
        m = Module()
        chip, t = self._chip, self._chip.tile
        nc, b, lanes, a, nf = chip.columns, chip.nm_read, t.lanes, t.act_bits, self._nf
        g, p = self.geometry, self.pass_
        per = max(1, chip.bias_per_beat)
        for i in range(nf):
            # bias i arrives in beat i // per
            m.d.comb += self.bias_wen[i].eq(self.bias_we & (self.bias_beat == i // per))

        col = self.col
        chunk = Signal(16)
        n0 = Signal(SIZE_BITS)                       # first window of the window-set
        n = Signal(SIZE_BITS)                        # the current window (n0 + col)
        chunks = Signal(16)
        m.d.comb += [chunks.eq((p.out_bricks + (b - 1)) // b), n.eq(n0 + col)]
        nvalid = Signal(SIZE_BITS)
        m.d.comb += nvalid.eq(Mux(g.windows - n0 < nc, g.windows - n0, nc))
        last_chunk = chunk == chunks - 1
        last_col = col == nvalid - 1
        # with a residual, the current position's residual codes must be in ``res_pat`` (``primed``)
        fill = Signal(2)                             # positions read ahead: 0, 1, 2 (primed)
        primed = fill == 2
        go = Signal()
        m.d.comb += [go.eq(self.valid & (primed | ~g.residual)),
                     self.ready.eq(go & last_chunk & last_col)]

        # the position after this chunk: the next chunk, or the next window (n + 1: the windows
        # of a window-set and the window-sets follow each other in raster order)
        n_col, n_chunk, n_n0 = Signal.like(col), Signal.like(chunk), Signal.like(n0)
        m.d.comb += [n_col.eq(col), n_chunk.eq(chunk + 1), n_n0.eq(n0)]
        with m.If(last_chunk):
            m.d.comb += [n_chunk.eq(0), n_col.eq(col + 1)]
            with m.If(last_col):
                m.d.comb += [n_col.eq(0), n_n0.eq(n0 + nc)]

        # NM addresses, brick (kb0 + chunk*B + port, window n) at base + (kb0 + chunk*B + port)*HoWo + n,
        # built from sums (no multiplier per port): the pass's offset kb0*HoWo (one product,
        # constant for the pass), the chunk's offset (a register advancing by B*HoWo) and the
        # port's port*HoWo (a constant multiple: shifts and adds)
        plane = g.windows
        pass_off = Signal(chip.nm_addr_bits)
        m.d.comb += pass_off.eq(p.kb0 * plane)
        coff = Signal(chip.nm_addr_bits)             # chunk * B * HoWo
        n_coff = Signal(chip.nm_addr_bits)
        m.d.comb += n_coff.eq(Mux(last_chunk, 0, coff + _times(plane, b)))
        port_off = [Signal(chip.nm_addr_bits, name=f"port_off{j}") for j in range(b)]
        for j in range(b):
            m.d.comb += port_off[j].eq(_times(plane, j))

        # the residual, two positions ahead of the writes (``res_pat`` holds the current position's
        # codes in registers, the read ports hold the next position's bricks, the read pointer
        # is the position after): after a pass starts, its first position is read (fill 0 -> 1),
        # then the second while the first's codes are registered (1 -> 2, primed); in every cycle
        # a position is written, the next one's codes are registered from the read ports and the
        # position after it is read. So no path runs from NM's read data to its write port.
        # Positions run window-major in a pass (the windows of a window-set and the window-sets
        # follow each other in raster order), chunk-minor.
        rn = Signal(SIZE_BITS)                       # the read pointer: window, chunk, chunk * B * HoWo
        rchunk = Signal(16)
        rcoff = Signal(chip.nm_addr_bits)
        read = Signal()
        capture = Signal()
        m.d.comb += [read.eq(g.residual & ~self.init & (~primed | go)),
                     capture.eq(g.residual & ~self.init & ((fill == 1) | (primed & go)))]
        res_row = Signal(chip.nm_addr_bits)          # the brick row read: its base, chunk and window
        m.d.comb += res_row.eq(g.res_base + pass_off + rcoff + rn)
        for port in range(b):
            jb = Signal(16, name=f"res_jb{port}")
            m.d.comb += [jb.eq(rchunk * b + port),
                         self.res_raddr[port].eq(res_row + port_off[port]),
                         self.res_ren[port].eq(read & (rn < g.windows) & (jb < p.out_bricks))]
        with m.If(self.init):
            m.d.sync += [fill.eq(0), rn.eq(0), rchunk.eq(0), rcoff.eq(0)]
        with m.Elif(read):
            with m.If(~primed):
                m.d.sync += fill.eq(fill + 1)
            with m.If(rchunk == chunks - 1):
                m.d.sync += [rchunk.eq(0), rcoff.eq(0), rn.eq(rn + 1)]
            with m.Else():
                m.d.sync += [rchunk.eq(rchunk + 1), rcoff.eq(rcoff + _times(plane, b))]

        # each filter's residual code for its tile's reducer (which requantises column ``col``),
        # registered from the read ports' bricks: the pass's filters in order t*Nr + r; filter i
        # sits at lane (lane0 + i) % L of pass brick (lane0 + i) // L, read on port (that % B)
        codes = list(self.codes)
        for i in range(nf):
            with m.If(capture):
                m.d.sync += self.res_pat[i].eq(_select([p.lane0 == s for s in range(lanes)],
                                                       [self.res_rdata[((s + i) // lanes) % b].word_select((s + i) % lanes, a)
                                                        for s in range(lanes)]))
        # the codes at lane offset lane0 of the pass's first output brick
        span = nf + lanes
        vec = [Signal(a, name=f"v{i}") for i in range(span)]
        for i in range(span):
            picks = [codes[i - s] if 0 <= i - s < nf else Const(0, a) for s in range(lanes)]
            m.d.comb += vec[i].eq(_select([p.lane0 == s for s in range(lanes)], picks))
        nbricks = span // lanes
        out_row = Signal(chip.nm_addr_bits)
        m.d.comb += out_row.eq(g.out_base + pass_off + coff + n)
        for port in range(b):
            jb = Signal(16, name=f"jb{port}")
            m.d.comb += jb.eq(chunk * b + port)
            brick = [_select([jb == j for j in range(nbricks)], [vec[j * lanes + l] for j in range(nbricks)])
                     for l in range(lanes)]
            kb = Signal(16, name=f"kb{port}")
            m.d.comb += kb.eq(p.kb0 + jb)          # for the lanes past K only
            en, keep = [], []
            for l in range(lanes):
                pos = jb * lanes + l
                in_pass = (pos >= p.lane0) & (pos - p.lane0 < p.filters)
                tail = (kb == g.kb - 1) & (kb * lanes + l >= g.k)   # lanes past K: written 0
                keep.append(in_pass)
                en.append(in_pass | tail)
            m.d.comb += [
                self.wen[port].eq(Mux(go & (jb < p.out_bricks), Cat(*en), 0)),
                self.wdata[port].eq(Cat(*[Mux(keep[l], brick[l], 0) for l in range(lanes)])),
                self.waddr[port].eq(out_row + port_off[port]),
            ]

        with m.If(self.init):
            m.d.sync += [col.eq(0), chunk.eq(0), n0.eq(0), coff.eq(0)]
        with m.Elif(go):
            m.d.sync += [col.eq(n_col), chunk.eq(n_chunk), n0.eq(n_n0), coff.eq(n_coff)]
        return m
