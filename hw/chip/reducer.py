"""One tile's reducer (``docs/design.md`` §10.5): the column of the tile's results the writer is
at, each of its ``Nr`` filters' bias, residual and requantisation into an output code. The chip
has ``T`` identical reducers around one writer (:mod:`.writer`): a reducer is emitted and
synthesised once and counted ``T`` times, as the tile is."""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.params import result_layout
from dstripes.sim.checks import check_integer
from dstripes.sim.chip.config import ChipConfig

from .fetch import _select
from .layouts import check_chip, geometry_layout


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



def bias_slot(chip: ChipConfig, data_, i: int):
    """Filter ``i``'s bias in a beat of biases (the DMA's ``bias_data``): bias ``i`` arrives in beat
    ``i // per``, slot ``i % per`` (``per = max(1, chip.bias_per_beat)``).

    Parameters
    ----------
    chip : ChipConfig
    data_ : Value
        One beat (``brick_bits``).
    i : int
        The filter's index in the pass (``tile * Nr + row``).

    Returns
    -------
    Value
    """
    per, acc = max(1, chip.bias_per_beat), chip.tile.acc_bits
    return data_[(i % per) * acc:(i % per + 1) * acc]


class Reducer(wiring.Component):
    """One tile's output path before the writer's alignment: the column ``col`` of the tile's
    window-set results, each row ``r`` requantised with its bias and residual into ``codes[r]``
    (combinational), and the tile's ``2 x Nr`` bias registers (the pass's half and the half
    loading).

    Parameters
    ----------
    chip : ChipConfig

    Members
    -------
    results : ``In(result_layout)``
        The tile's window-set results.
    col : ``In``
        The column (window of the window-set) the writer is at.
    geometry : ``In(geometry_layout)``, half : ``In(1)``
        The layer (bias on, requantisation window, residual) and the pass's bias half.
    bias_wen : ``In(1)`` per row, bias_half : ``In(1)``, bias_in : ``In(signed(acc_bits))`` per row
        Row ``r``'s bias register of half ``bias_half`` loads ``bias_in[r]`` when ``bias_wen[r]``.
    res_pat : ``In(act_bits)`` per row
        Row ``r``'s residual code (its ``A``-bit pattern), read by the writer from NM.
    codes : ``Out(act_bits)`` per row

    Latency 0 (combinational) from ``results``/``col`` to ``codes``.
    """

    def __init__(self, chip: ChipConfig):
        self._chip = check_chip(chip)
        t = chip.tile
        super().__init__({
            "results": In(result_layout(t.rows, chip.columns, t.acc_bits)), "col": In(range(max(2, chip.columns))),
            "geometry": In(geometry_layout(chip)), "half": In(1),
            "bias_wen": In(1).array(t.rows), "bias_half": In(1), "bias_in": In(signed(t.acc_bits)).array(t.rows),
            "res_pat": In(t.act_bits).array(t.rows), "codes": Out(t.act_bits).array(t.rows),
        })

    latency = property(lambda self: 0)

    def elaborate(self, platform):
        m = Module()
        chip, t = self._chip, self._chip.tile
        nc, a, g = chip.columns, t.act_bits, self.geometry
        column = Signal(data.ArrayLayout(signed(t.acc_bits), t.rows), name="column")
        m.d.comb += column.eq(_select([self.col == c for c in range(nc)], [self.results[c] for c in range(nc)]))
        for r in range(t.rows):
            bias = [Signal(signed(t.acc_bits), name=f"bias{h}_{r}") for h in range(2)]
            for h in range(2):
                with m.If(self.bias_wen[r] & (self.bias_half == h)):
                    m.d.sync += bias[h].eq(self.bias_in[r])
            b_r = Mux(g.bias, Mux(self.half, bias[1], bias[0]), 0)
            val = Signal(signed(a + 1), name=f"resv{r}")
            m.d.comb += val.eq(Mux(g.res_signed, self.res_pat[r].as_signed(), self.res_pat[r]))
            sh = Signal(signed(t.acc_bits + 1), name=f"ress{r}")
            shifted = _log_shift(m, val, g.res_shift, left=True, width=t.acc_bits + 1, name=f"resl{r}")
            m.d.comb += sh.eq(Mux(g.residual, shifted, 0))
            m.d.comb += self.codes[r].eq(requantise(m, column[r], b_r, g.round_shift, g.out_lsb, g.out_lo, g.out_hi,
                                                     acc_bits=t.acc_bits, act_bits=a, name=f"rq{r}", extra=sh))
        return m
