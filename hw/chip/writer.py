"""The output path: per tile a reducer (``Nr`` requantisers on one column of the tile's results),
``B`` output bricks per cycle into NM (``docs/design.md`` §10.5)."""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.params import brick_layout, result_layout
from dstripes.sim.checks import check_integer
from dstripes.sim.chip.config import ChipConfig

from .fetch import _select
from .layouts import SIZE_BITS, check_chip, geometry_layout, pass_layout


class Requantiser(wiring.Component):
    """``code = 2**lsb * round_half_even((acc + bias + extra) / 2**shift)`` saturated to ``[lo, hi]``
    (``shift`` here is the descriptor's shift plus the output lsb; ``lo``, ``hi`` in units of
    ``2**lsb``).

    Parameters
    ----------
    acc_bits, act_bits : int

    Members
    -------
    acc, bias : ``In(signed(acc_bits))``
    extra : ``In(signed(acc_bits + 1))``
        A further addend: the shifted residual ``r << res_shift`` (0 without).
    shift : ``In(8)``, lsb : ``In``, lo, hi : ``In(signed(act_bits + 1))``
    code : ``Out(act_bits)``
        The output code's ``A``-bit pattern (two's complement for a signed window).

    Latency 0 (combinational); one value per cycle.
    """

    def __init__(self, *, acc_bits: int, act_bits: int):
        self._acc = check_integer("acc_bits", acc_bits, 2)
        self._a = check_integer("act_bits", act_bits, 2)
        super().__init__({
            "acc": In(signed(acc_bits)), "bias": In(signed(acc_bits)), "extra": In(signed(acc_bits + 1)), "shift": In(8),
            "lsb": In(range(act_bits)), "lo": In(signed(act_bits + 1)), "hi": In(signed(act_bits + 1)),
            "code": Out(act_bits),
        })

    latency = property(lambda self: 0)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.code.eq(requantise(m, self.acc, self.bias, self.shift, self.lsb, self.lo, self.hi,
                                            acc_bits=self._acc, act_bits=self._a, extra=self.extra))
        return m


def _log_shift(m, x, amount, *, left: bool, width: int, name: str):
    """``x`` shifted by ``amount`` (a signal), as a logarithmic shifter written out stage by
    stage: ``amount``'s bit ``k`` selects a shift by ``2**k`` (a constant shift is wiring) — the
    barrel shifter a designer draws, and no variable-shift cell for yosys' SAT resource sharing
    to pair up across the writer's hundreds of requantisers.

    Parameters
    ----------
    m : Module
    x : Value
        Shifted arithmetically (right) when signed.
    amount : Value
        The shift; every bit a stage.
    left : bool
    width : int
        Bits of the result (a left shift keeps the low ones).
    name : str
        Prefix of the stages' signals.

    Returns
    -------
    Signal
    """
    sgn = x.shape().signed
    v = x
    for k in range(len(amount)):
        step = 1 << k
        nxt = Signal(signed(width) if sgn else unsigned(width), name=f"{name}{k}")
        if left:
            moved = (v << step)[:width]
            moved = moved.as_signed() if sgn else moved
        else:
            moved = v >> min(step, width - 1 if sgn else width)
        m.d.comb += nxt.eq(Mux(amount[k], moved, v))
        v = nxt
    return v


def requantise(m, acc, bias, shift, lsb, lo, hi, *, acc_bits: int, act_bits: int, name: str = "rq", extra=0):
    """The requantisation logic (:class:`Requantiser`), built into module ``m``; returns the code.

    ``y = acc + bias + extra``; with ``s = shift`` (the descriptor's shift plus the output lsb):
    ``z = y >> (s - 1)`` on a logarithmic shifter, ``q = z >> 1``, the guard bit ``z[0]`` and
    the sticky bit (any of ``y``'s ``s - 1`` low bits set, one mask shared by every
    requantiser) round half to even (``up = guard & (sticky | q[0])``); then the saturation and
    the output lsb (a logarithmic left shift). The writer builds it inline ``T x Nr`` times.
    ``extra``: a further addend (the shifted residual, at most ``acc_bits + 1`` bits wide).

    Parameters
    ----------
    m : Module
    acc, bias : Value
        The accumulator and the bias (``acc_bits`` signed).
    shift : Value (8 bits)
    lsb : Value
        The output window's lsb.
    lo, hi : Value
        The window's bounds in units of ``2**lsb``.
    acc_bits, act_bits : int
    name : str
        Prefix of the signals made.
    extra : Value or int

    Returns
    -------
    Signal
        The ``act_bits``-bit code.
    """
    width = acc_bits + 2
    ext = acc_bits + 3
    y = Signal(signed(width), name=f"{name}_y")
    s = Signal(range(ext + 1), name=f"{name}_s")
    t = Signal(range(ext + 1), name=f"{name}_t")             # s - 1 (0 when s = 0)
    mask = Signal(width, name=f"{name}_mask")                 # the s - 1 bits below the guard
    m.d.comb += [y.eq(acc + bias + extra), s.eq(Mux(shift > ext, ext, shift)), t.eq(Mux(s == 0, 0, s - 1)),
                 mask.eq(((Const(1, ext + 1) << t) - 1)[:width])]
    z = _log_shift(m, y, t, left=False, width=width, name=f"{name}_z")
    q = Signal(signed(width), name=f"{name}_q")
    up = Signal(name=f"{name}_up")
    r = Signal(signed(width + 1), name=f"{name}_r")
    c = Signal(signed(act_bits + 1), name=f"{name}_c")
    m.d.comb += [
        q.eq(Mux(s == 0, y, z >> 1)),
        up.eq((s != 0) & z[0] & ((y.as_unsigned() & mask).any() | q[0])),
        r.eq(q + up),
        c.eq(Mux(r < lo, lo, Mux(r > hi, hi, r))),
    ]
    return _log_shift(m, c[:act_bits], lsb, left=True, width=act_bits, name=f"{name}_code")


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
    results : ``In(result_layout)`` per tile, valid : ``In(1)``, ready : ``Out(1)``
        The tiles' window-set results (all offered together) and their release.
    geometry : ``In``, pass_ : ``In``, init : ``In(1)``
        The layer, the pass, and its start (the first window-set's position).
    waddr, wen, wdata : ``Out`` per NM write port
    bias_we, bias_half, bias_beat, bias_data : ``In``
        The DMA's writes of the biases (one beat of them at a time) of the pass loading into a half.
    res_raddr, res_ren : ``Out`` per residual read port, res_rdata : ``In`` per residual read port
        ``B`` NM read ports of its own for the residual (``geometry.residual``): the bricks of the
        next chunk are read in the cycle the current one is written (the first chunk of a pass
        in the cycle after its start), so the residual never delays a write; each brick is read
        before it is written, which makes an in-place residual (``res_base = out_base``) safe.

    Latency 1 (results offered → first write); throughput above, with or without a residual.
    """

    def __init__(self, chip: ChipConfig):
        self._chip = check_chip(chip)
        t = chip.tile
        self._rl = result_layout(t.rows, chip.columns, t.acc_bits)
        self._nf = t.rows * chip.tiles
        super().__init__({
            "results": In(self._rl).array(chip.tiles), "valid": In(1), "ready": Out(1),
            "geometry": In(geometry_layout(chip)), "pass_": In(pass_layout(chip)), "init": In(1),
            "waddr": Out(chip.nm_addr_bits).array(chip.nm_read), "wen": Out(t.lanes).array(chip.nm_read),
            "wdata": Out(chip.brick_bits).array(chip.nm_read),
            "bias_we": In(1), "bias_half": In(1), "bias_beat": In(16), "bias_data": In(chip.brick_bits),
            "res_raddr": Out(chip.nm_addr_bits).array(chip.nm_read), "res_ren": Out(1).array(chip.nm_read),
            "res_rdata": In(chip.brick_bits).array(chip.nm_read),
        })

    latency = property(lambda self: 1)

    def elaborate(self, platform):
        m = Module()
        chip, t = self._chip, self._chip.tile
        nc, b, lanes, a, nf = chip.columns, chip.nm_read, t.lanes, t.act_bits, self._nf
        g, p = self.geometry, self.pass_
        bias = [[Signal(signed(t.acc_bits), name=f"bias{h}_{i}") for i in range(nf)] for h in range(2)]
        per = max(1, chip.bias_per_beat)
        with m.If(self.bias_we):
            for h in range(2):
                for i in range(nf):
                    # bias i arrives in beat i // per, slot i % per
                    with m.If((self.bias_half == h) & (self.bias_beat == i // per)):
                        m.d.sync += bias[h][i].eq(self.bias_data[(i % per) * t.acc_bits:(i % per + 1) * t.acc_bits])

        col = Signal(range(max(2, nc)))
        chunk = Signal(16)
        n0 = Signal(SIZE_BITS)                       # first window of the window-set
        n = Signal(SIZE_BITS)                        # the current window (n0 + col)
        chunks = Signal(16)
        m.d.comb += [chunks.eq((p.out_bricks + (b - 1)) // b), n.eq(n0 + col)]
        nvalid = Signal(SIZE_BITS)
        m.d.comb += nvalid.eq(Mux(g.windows - n0 < nc, g.windows - n0, nc))
        last_chunk = chunk == chunks - 1
        last_col = col == nvalid - 1
        # with a residual, the current chunk's residual bricks must have been read (``primed``)
        primed = Signal()
        go = Signal()
        m.d.comb += [go.eq(self.valid & (primed | ~g.residual)),
                     self.ready.eq(go & last_chunk & last_col)]

        # the position after this chunk: the next chunk, or the next window (n + 1: the windows
        # of a window-set and the window-sets follow each other in raster order)
        n_col, n_chunk, n_n0 = Signal.like(col), Signal.like(chunk), Signal.like(n0)
        n_n = Signal(SIZE_BITS)
        m.d.comb += [n_col.eq(col), n_chunk.eq(chunk + 1), n_n0.eq(n0), n_n.eq(n)]
        with m.If(last_chunk):
            m.d.comb += [n_chunk.eq(0), n_col.eq(col + 1), n_n.eq(n + 1)]
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

        # the residual: read the current position's bricks once (after a pass starts), then the
        # next position's in every cycle a chunk is written
        prime = g.residual & ~primed & ~self.init
        advance = g.residual & go
        res_row = Signal(chip.nm_addr_bits)          # the brick row read: its base, chunk and window
        m.d.comb += res_row.eq(g.res_base + pass_off + Mux(prime, coff + n, n_coff + n_n))
        more = Mux(prime, 1, ~(last_chunk & last_col) | (n_n0 < g.windows))
        for port in range(b):
            cur = Signal(16, name=f"res_jb{port}")
            nxt = Signal(16, name=f"res_njb{port}")
            m.d.comb += [cur.eq(chunk * b + port), nxt.eq(n_chunk * b + port)]
            jb = Mux(prime, cur, nxt)
            m.d.comb += [self.res_raddr[port].eq(res_row + port_off[port]),
                         self.res_ren[port].eq((prime | advance) & more & (jb < p.out_bricks))]
        with m.If(self.init):
            m.d.sync += primed.eq(0)
        with m.Elif(prime):
            m.d.sync += primed.eq(1)

        # one column of every tile, requantised: the pass's filters in order t*Nr + r; filter i
        # sits at lane (lane0 + i) % L of pass brick (lane0 + i) // L, read on port (that % B)
        codes = []
        for ti in range(chip.tiles):
            res = self.results[ti]
            column = Signal(data.ArrayLayout(signed(t.acc_bits), t.rows), name=f"column{ti}")
            m.d.comb += column.eq(_select([col == c for c in range(nc)], [res[c] for c in range(nc)]))
            for r in range(t.rows):
                i = ti * t.rows + r
                b_i = Mux(g.bias, Mux(p.half, bias[1][i], bias[0][i]), 0)
                pat = Signal(a, name=f"res{i}")
                m.d.comb += pat.eq(_select([p.lane0 == s for s in range(lanes)],
                                           [self.res_rdata[((s + i) // lanes) % b].word_select((s + i) % lanes, a)
                                            for s in range(lanes)]))
                val = Signal(signed(a + 1), name=f"resv{i}")
                m.d.comb += val.eq(Mux(g.res_signed, pat.as_signed(), pat))
                sh = Signal(signed(t.acc_bits + 1), name=f"ress{i}")
                shifted = _log_shift(m, val, g.res_shift, left=True, width=t.acc_bits + 1, name=f"resl{i}")
                m.d.comb += sh.eq(Mux(g.residual, shifted, 0))
                codes.append(requantise(m, column[r], b_i, g.round_shift, g.out_lsb, g.out_lo, g.out_hi,
                                        acc_bits=t.acc_bits, act_bits=a, name=f"rq{i}", extra=sh))
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
