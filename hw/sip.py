"""Serial inner-product unit (SIP)."""
from __future__ import annotations

import operator

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.checks import check_integer
from dstripes.sim.config import check_dimension, check_width
from dstripes.sim.errors import ConfigError

from .params import index_bits
from .tree import reduce_tree


class SIP(wiring.Component):
    """Serial inner-product unit: one bit of ``L`` activations against ``L`` weights per cycle.

    Each cycle the unit ANDs the ``L`` activation bits with the ``L`` signed weights, sums them
    in an adder tree, negates the sum on the sign cycle of a signed layer, and shift-accumulates
    MSB first into a *partial* sum of the current step. The cycle after a step's last bit the
    partial is added into the window accumulator, aligned by the group's lowest processed bit
    (``low``); when that add closes a window-set, ``result`` carries the window's final value and
    the accumulator restarts from zero.

    The unit works in lock-step with the rest of its precision group: nothing happens in a cycle
    with ``en`` low.

    With ``sources > 1`` (the run-ahead tile's in-SIP weight selection, ``weight_select="sip"``)
    the unit receives the weights of ``sources`` steps and a one-hot ``select``; the selection is
    folded into the AND of each activation bit with its weight (an AND-OR per weight bit), so
    no multiplexed copy of the weights exists.

    With ``hold=True`` (the lock-step tiles with the fully-connected dispatch) the unit holds its
    own weight register, loaded from ``weights`` in a cycle with ``load`` high, and computes with
    the register: a conv step loads the step's brick into every column, a fully-connected run
    gives each column its own brick (``docs/design.md`` §5).

    Parameters
    ----------
    lanes : int
        Activation bits (and weights) per cycle ``L``.
    act_bits : int
        Activation width ``A`` (longest serial sequence, largest alignment shift ``A - 1``).
    weight_bits : int
        Weight width ``W`` (two's complement).
    acc_bits : int
        Accumulator width (see :func:`sim.config.accumulator_bits`).
    sources : int
        Weight vectors to choose from (``1``: the step's weights only).
    hold : bool
        Hold the weights in a register of the unit (``load``); only with ``sources == 1``.

    Members
    -------
    bits : ``In(L)``
        Activation bits of this cycle, one per lane.
    weights : ``In(ArrayLayout(signed(W), L))``
        The step's weights; with ``sources > 1`` ``In(ArrayLayout(ArrayLayout(signed(W), L),
        sources))``, the candidates.
    select : ``In(sources)``
        Only with ``sources > 1``: one-hot choice of the candidate of this cycle.
    load : ``In(1)``
        Only with ``hold=True``: the weight register takes ``weights`` (used from the next cycle).
    en : ``In(1)``
        The array advances this cycle.
    first : ``In(1)``
        First cycle of a step: the partial restarts.
    active : ``In(1)``
        This cycle's bit belongs to the group's detected range (otherwise the partial holds).
    neg : ``In(1)``
        Sign cycle: subtract instead of add.
    add : ``In(1)``
        Add the finished partial of the previous step into the accumulator.
    low : ``In(range(A))``
        Weight of the previous step's lowest processed bit (alignment of that add).
    clear : ``In(1)``
        The add closes a window-set: the accumulator restarts from zero.
    result : ``Out(signed(acc_bits))``
        ``acc + (partial << low)``: the window's result in the cycle ``add & clear``.
    stored : ``Out(signed(acc_bits))``
        Only with ``hold=True``: ``acc`` alone (a fully-connected run sums the columns'
        accumulators, and a column whose last brick was added earlier has no partial to add).

    Latency: a step's contribution reaches ``result`` one cycle after its last bit plane
    (:data:`LATENCY`). Throughput: one bit plane per cycle.
    """

    #: Cycles from a step's last bit plane to its contribution in ``result``.
    LATENCY = 1

    def __init__(self, *, lanes: int = 16, act_bits: int = 16, weight_bits: int = 16, acc_bits: int = 48,
                 sources: int = 1, hold: bool = False):
        self._lanes = check_dimension("lanes", lanes)
        self._weight_bits = check_width("weight_bits", weight_bits)
        self._act_bits = check_width("act_bits", act_bits)
        self._acc_bits = check_integer("acc_bits", acc_bits, act_bits + weight_bits)
        self._sources = check_integer("sources", sources)
        self._hold = bool(hold)
        if self._hold and sources != 1:
            raise ConfigError(f"a SIP holds its own weights (hold) only with sources 1, not {sources}")
        vector = data.ArrayLayout(signed(weight_bits), lanes)
        select = {"select": In(sources)} if sources > 1 else {}
        if self._hold:
            select["load"] = In(1)
        super().__init__({
            "bits": In(lanes),
            "weights": In(vector if sources == 1 else data.ArrayLayout(vector, sources)),
            **select,
            "en": In(1),
            "first": In(1),
            "active": In(1),
            "neg": In(1),
            "add": In(1),
            "low": In(range(act_bits)),
            "clear": In(1),
            "result": Out(signed(acc_bits)),
            **({"stored": Out(signed(acc_bits))} if self._hold else {}),
        })
        # the state, created here so that a formal harness can observe it (tb/formal/sip.py)
        self._partial = Signal(signed(self.partial_bits), name="partial")
        self._acc = Signal(signed(self._acc_bits), name="acc")

    lanes = property(lambda self: self._lanes)
    weight_bits = property(lambda self: self._weight_bits)
    act_bits = property(lambda self: self._act_bits)
    acc_bits = property(lambda self: self._acc_bits)
    sources = property(lambda self: self._sources)
    hold = property(lambda self: self._hold)

    partial = property(lambda self: self._partial,
                       doc="The step's partial sum (state, read only: for formal proofs).")
    acc = property(lambda self: self._acc, doc="The window accumulator (state, read only: for formal proofs).")

    @property
    def partial_bits(self) -> int:
        """Width of the partial: the negated tree sum (``W + clog2(L) + 1``) grown by ``A`` shifts."""
        return self._weight_bits + index_bits(self._lanes - 1) + 1 + self._act_bits

    def elaborate(self, platform):
        m = Module()
        # AND of a bit with a signed weight: a 2:1 mux keeps the sign (a mixed-signedness `&`
        # would zero-extend the bit mask and lose it).
        if self._sources == 1:
            weights = self.weights
            if self._hold:
                weights = Signal(data.ArrayLayout(signed(self._weight_bits), self._lanes), name="held")
                with m.If(self.load):
                    m.d.sync += weights.eq(self.weights)
            terms = [Mux(self.bits[i], weights[i], 0) for i in range(self._lanes)]
        else:
            terms = []
            for i in range(self._lanes):
                picks = [Mux(self.bits[i] & self.select[k], self.weights[k][i], 0)
                         for k in range(self._sources)]
                terms.append(reduce_tree(picks, operator.or_))
        tree = Signal(signed(self._weight_bits + index_bits(self._lanes - 1) + 1))
        m.d.comb += tree.eq(reduce_tree(terms, operator.add))
        term = Signal.like(tree)
        m.d.comb += term.eq(Mux(self.neg, -tree, tree))

        partial, acc = self._partial, self._acc
        aligned = Signal(signed(self._acc_bits))
        m.d.comb += [
            aligned.eq(partial << self.low),
            self.result.eq(acc + aligned),
        ]
        if self._hold:
            m.d.comb += self.stored.eq(acc)
        with m.If(self.en):
            with m.If(self.first):
                m.d.sync += partial.eq(0)
                with m.If(self.active):
                    m.d.sync += partial.eq(term)
            with m.Elif(self.active):
                m.d.sync += partial.eq((partial << 1) + term)
            with m.If(self.add):
                m.d.sync += acc.eq(Mux(self.clear, 0, self.result))
        return m


def sip_name(row: int, column: int) -> str:
    """The submodule name of the SIP of ``row`` and ``column`` in a tile."""
    return f"sip_r{row}_c{column}"


def connect_array(m: Module, sips, group: int, plane, valid, *, en, add, clear, low,
                  brick=None, brick_load=None) -> None:
    """Add the ``Nr x Nc`` SIP array ``sips[r][col]`` to ``m`` and feed it from one plane
    (``plane``: a :func:`hw.dispatcher.plane_layout` payload, ``valid`` its stream's valid):
    column ``col`` takes its bits and its group's ``active``/``neg``/``low[g]``, row ``r`` its
    weights; ``en``, ``add`` and ``clear`` are shared. The one wiring of the lock-step tile
    (``hw/tile.py``), also proven as it stands by the serial harnesses of ``tb/formal``.

    SIPs that hold their own weights (``hold=True``) take row ``r`` of ``brick`` instead of the
    plane's weights, column ``col`` loading it when ``brick_load[col]`` is high (a dispatcher
    built with the fully-connected dispatch: its ``brick`` and ``brick_load``)."""
    for r, row in enumerate(sips):
        for col, sip in enumerate(row):
            g = col // group
            m.submodules[sip_name(r, col)] = sip
            m.d.comb += [
                sip.bits.eq(plane.bits[col]),
                sip.weights.eq(plane.weights[r] if brick is None else brick[r]),
                sip.en.eq(en),
                sip.first.eq(valid & plane.first),
                sip.active.eq(valid & plane.active[g]),
                sip.neg.eq(plane.neg[g]),
                sip.add.eq(add),
                sip.clear.eq(clear),
                sip.low.eq(low[g]),
            ]
            if brick is not None:
                m.d.comb += sip.load.eq(brick_load[col])

