"""The serial proof's second half: the SIP array sums what the planes carry, for every stream.

The ``Nr x Nc`` SIPs (``hw/sip.py``), wired to the plane stream and the add stage as in the tile
(``hw/tile.py``), face a *free* plane stream: ``valid``, the activation bits, ``first``,
``last``, per group ``active`` / ``neg`` / ``low``, the weights, the array's advance ``en`` and
``clear`` are arbitrary in every cycle. Assumed (``contract``, :func:`.planes.step_counters`,
proven of the dispatcher by :mod:`.dispatch`): no group is active in more than ``A`` transfers
of a step.

For every SIP the harness keeps a running sum ``s``: the SIP's shift-accumulate rule
(:func:`.planes.serial_value`) applied to the lanes' terms ``sum_l (bit_l ? w_l : 0)``, added in
a chain (the SIP has a tree) — no multiplier. When a step's last plane transfers it captures
``s << low``; when the add takes effect, the SIP's ``result`` must equal the running sum of
those since the last ``clear``.

``serial.sip`` — by temporal induction (every reachable state, every stream meeting the
contract), with the invariant ``invariant``: per group at most ``A`` active transfers so far;
``|s| <= L * (2^k - 1) * 2^(W-1)`` after ``k`` of them; the SIP's partial equals ``s`` (so it
never wraps); the accumulator equals the running sum; a pending add carries the step's captured
value. One property covers both signednesses and every mode: the SIP does not know them.

``serial.linearity`` — combinational, every input: the rule on a sum is the sum of the rule on
the parts (``rule(c1 + c2, x1 + x2) = rule(c1, x1) + rule(c2, x2)``); so, by induction over the
lanes and a step's transfers, ``s = sum_l c_l``, ``c_l`` being lane ``l``'s *contribution*, the
rule applied to ``bit_l ? w_l : 0`` alone.

``serial.lane_product`` — combinational, every input: if ``c = w·v`` before a transfer, where
``v`` is the lane's value rebuilt by the same rule on the bit alone (:mod:`.dispatch`), then
``c' = w·v'`` after it and ``c' << low = w·(v' << low)``; so, by induction over a step's transfers
(the weights do not change inside a step, ``serial.planes``), a step's captured value is
``sum_l w_l·(v_l << low)``.
"""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.dispatcher import plane_layout
from dstripes.hw.params import index_bits, result_layout
from dstripes.hw.sip import SIP, connect_array
from dstripes.sim.config import TileConfig

from .common import all_of, field, signed_value
from .engine import Harness, Property
from .planes import serial_value, shift_accumulate, step_counters


def contribution_bits(act_bits: int, weight_bits: int) -> int:
    """Width of a lane's contribution register: ``|c| <= (2^A - 1) * 2^(W-1)`` needs ``W + A``
    signed bits; one more so that a step longer than the contract shows as a value, not a wrap."""
    return weight_bits + act_bits + 1


class SipHarness(wiring.Component):
    """The SIP array and the tile's add stage on a free plane stream, with each SIP's running
    sum by the rule and the running sums of the steps.

    Members
    -------
    plane : ``In(plane_layout)``; valid, en, clear : ``In(1)``
        Free.
    results, expected : ``Out(result_layout)``
        Every SIP's ``result`` and the running sum of the captured steps, ``[column][row]``.
    check : ``Out(1)``
        An add takes effect this cycle.
    result, invariant : ``Out(1)``
        The property (at each add, ``results == expected``) and its inductive invariant;
        ``contract`` is the assumption.
    """

    def __init__(self, config: TileConfig, *, sip=SIP):
        c = self._cfg = config
        self._sip = sip
        super().__init__({
            "plane": In(plane_layout(c.lanes, c.columns, c.rows, c.act_bits, c.weight_bits, c.group)),
            "valid": In(1), "en": In(1), "clear": In(1),
            "results": Out(result_layout(c.rows, c.columns, c.acc_bits)),
            "expected": Out(result_layout(c.rows, c.columns, c.acc_bits)),
            "check": Out(1), "contract": Out(1), "result": Out(1), "invariant": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._cfg
        a, W, L, acc = c.act_bits, c.weight_bits, c.lanes, c.acc_bits
        groups = c.columns // c.group
        p, en = self.plane, self.en
        go = self.valid & en
        done = go & p.last

        # the add stage of the tile (hw/tile.py, hw/controller.py): the cycle after a step's
        # last plane, held while the array stalls
        pending = Signal()
        add_low = Signal(data.ArrayLayout(range(a), groups))
        with m.If(en):
            m.d.sync += pending.eq(self.valid & p.last)
        with m.If(done):
            m.d.sync += add_low.eq(p.low)
        add = pending & en

        k, contract = step_counters(m, go, p.first, [p.active[g] for g in range(groups)], a)
        m.d.comb += self.contract.eq(contract)
        # after k active transfers a lane's share is at most (2^k - 1) * 2^(W-1) in magnitude
        def bound(k):
            # a shift, not a table: yosys sat cannot read a ROM
            return ((Const(1, a + 2) << k) - 1) << (W - 1)
        inv = [k[g][0] <= a for g in range(groups)]

        oks = []
        sips = [[self._sip(lanes=L, act_bits=a, weight_bits=W, acc_bits=acc) for _ in range(c.columns)]
                for _ in range(c.rows)]
        connect_array(m, sips, c.group, p, self.valid, en=en, add=pending, clear=self.clear, low=add_low)
        for r in range(c.rows):
            for col in range(c.columns):
                g = col // c.group
                sip = sips[r][col]
                m.d.comb += self.results[col][r].eq(sip.result)
                # the SIP's rule on the sum of the lanes' terms (a chain, where the SIP has a
                # tree); serial.linearity makes it the sum of the lanes' contributions
                x = sum(Mux(p.bits[col][ln], p.weights[r][ln], 0) for ln in range(L))
                total, nxt = serial_value(m, go, p.first, p.active[g], p.neg[g], x,
                                          sum_bits(L, a, W), f"sum_r{r}_c{col}")
                b = bound(k[g][0]) * L
                inv.append((total <= b) & (total >= -b))
                # the step's value, captured with its last plane; the running sum since `clear`
                step = Signal(signed(acc), name=f"step_r{r}_c{col}")
                run = Signal(signed(acc), name=f"run_r{r}_c{col}")
                with m.If(done):
                    m.d.sync += step.eq(nxt << p.low[g])
                expected = self.expected[col][r]
                m.d.comb += expected.eq(run + step)
                with m.If(add):
                    m.d.sync += run.eq(Mux(self.clear, 0, expected))
                aligned = Signal(signed(acc), name=f"aligned_r{r}_c{col}")
                m.d.comb += aligned.eq(total << add_low[g])
                inv += [sip.partial == total, sip.acc == run, ~pending | (step == aligned)]
                oks.append(self.results[col][r] == expected)
        m.d.comb += [
            self.check.eq(add),
            self.result.eq(~add | all_of(oks)),
            self.invariant.eq(all_of(inv)),
        ]
        return m


class LaneHarness(wiring.Component):
    """One lane's contribution against the product of its weight and rebuilt value, over one
    transfer (every input free).

    Members
    -------
    w, v, bit, first, active, neg, low : ``In``
        A weight, a rebuilt value (``A + 1`` signed bits: ``|v| <= 2^A - 1`` after at most
        ``A`` active transfers), one transfer's flags and an alignment.
    product : ``Out(1)``
        ``c' == w·v'`` and ``c' << low == w·(v' << low)`` where ``c = w·v`` and ``'`` is one
        transfer of :func:`.planes.shift_accumulate`.
    """

    def __init__(self, *, act_bits: int, weight_bits: int):
        self._a, self._w = act_bits, weight_bits
        super().__init__({
            "w": In(signed(weight_bits)), "v": In(signed(act_bits + 1)), "bit": In(1),
            "first": In(1), "active": In(1), "neg": In(1), "low": In(range(act_bits)),
            "product": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        a, W = self._a, self._w
        c = Signal(signed(W + a + 1))
        v_next = Signal(signed(a + 3))
        c_next = Signal(signed(W + a + 3))
        m.d.comb += [
            c.eq(self.w * self.v),
            v_next.eq(shift_accumulate(self.v, self.first, self.active, self.neg, self.bit)),
            c_next.eq(shift_accumulate(c, self.first, self.active, self.neg, Mux(self.bit, self.w, 0))),
            self.product.eq((c_next == self.w * v_next)
                            & ((c_next << self.low) == self.w * (v_next << self.low))),
        ]
        return m


class LinearityHarness(wiring.Component):
    """The SIP's rule is linear: over one transfer, the rule on a sum is the sum of the rule on
    its parts (every input free).

    Members
    -------
    c1, c2 : ``In(signed)``
        Two running values, as wide as a SIP's running sum (:func:`sum_bits`).
    x1, x2 : ``In(signed)``
        Two transfers' terms, as wide as the sum of ``L`` weights.
    first, active, neg : ``In(1)``
        The transfer's flags.
    linear : ``Out(1)``
        ``rule(c1 + c2, x1 + x2) == rule(c1, x1) + rule(c2, x2)``.
    """

    def __init__(self, *, lanes: int, act_bits: int, weight_bits: int):
        cw, xw = sum_bits(lanes, act_bits, weight_bits), weight_bits + index_bits(lanes)
        super().__init__({
            "c1": In(signed(cw)), "c2": In(signed(cw)), "x1": In(signed(xw)), "x2": In(signed(xw)),
            "first": In(1), "active": In(1), "neg": In(1), "linear": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        f, act, neg = self.first, self.active, self.neg
        m.d.comb += self.linear.eq(
            shift_accumulate(self.c1 + self.c2, f, act, neg, self.x1 + self.x2)
            == shift_accumulate(self.c1, f, act, neg, self.x1) + shift_accumulate(self.c2, f, act, neg, self.x2))
        return m


def sum_bits(lanes: int, act_bits: int, weight_bits: int) -> int:
    """Width of a SIP's running sum in the harness: ``L`` contributions
    (:func:`contribution_bits`)."""
    return contribution_bits(act_bits, weight_bits) + index_bits(lanes)


class SipProof(Harness):
    """``serial.sip`` at one configuration."""

    block = "serial"

    def __init__(self, config: TileConfig, *, depth=None, sip=SIP):
        self.config = config
        self.depth = depth or 4
        self.sip = sip

    def label(self) -> str:
        c = self.config
        return (f"SIPs L={c.lanes} Nc={c.columns} Nr={c.rows} A={c.act_bits} W={c.weight_bits} "
                f"G={c.group} acc={c.acc_bits}")

    def component(self):
        return SipHarness(self.config, sip=self.sip)

    def properties(self) -> list[Property]:
        return [Property("serial.sip", ("result", "invariant"), ("contract",), depth=self.depth, induction=True,
                         statement="every plane stream with steps of at most A active transfers: at each "
                                   "add every SIP holds the running sum of its steps' s << low, s the rule on "
                                   "sum_l bit_l ? w_l : 0 "
                                   "(induction)")]

    def render(self, prop: Property, steps) -> str:
        c = self.config
        a, L, W, acc = c.act_bits, c.lanes, c.weight_bits, c.acc_bits
        groups = c.columns // c.group
        lay = plane_layout(L, c.columns, c.rows, a, W, c.group)
        lw = index_bits(a - 1)
        n = c.rows * c.columns
        lines = []
        for t, s in enumerate(steps, 1):
            events = []
            pl = s.get("plane")
            if pl and s.get("valid") == "1" and s.get("en") == "1":
                def fld(name, i=0, width=1):
                    return field(pl, lay[name].offset + i * width, width)
                bits = [format(fld("bits", col, L), f"0{L}b") for col in range(c.columns)]
                grp = [f"g{g}:{'A' if fld('active', g) else '-'}{'N' if fld('neg', g) else ''}"
                       f" low {fld('low', g, lw)}" for g in range(groups)]
                wts = [[signed_value(fld("weights", r * L + ln, W), W) for ln in range(L)] for r in range(c.rows)]
                tag = ("first " if fld("first") else "") + ("last " if fld("last") else "")
                events.append(f"plane {tag}bits {bits} {' '.join(grp)} weights {wts}")
            if s.get("check") == "1":
                got = [signed_value(field(s["results"], i * acc, acc), acc) for i in range(n)]
                want = [signed_value(field(s["expected"], i * acc, acc), acc) for i in range(n)]
                events.append(f"add{' (clear)' if s.get('clear') == '1' else ''}: SIP results {got}, "
                              f"expected {want}" + ("  <- differs" if got != want else ""))
            if s.get("invariant") == "0":
                events.append("invariant fails")
            lines.append(f"  cycle {t:2d} en={s.get('en', '?')}: " + ("; ".join(events) if events else "-"))
        return "\n".join(lines + ["  (results in [column][row] order)"])


class Lemma(Harness):
    """A combinational lemma of the serial proof (every input) at the operand widths of one
    configuration: one property, :attr:`name`, that the output :attr:`output` of the harness
    :attr:`harness` (built with the configuration's :attr:`operands`) is 1. Subclasses set the
    class attributes and :meth:`shown` (what a counterexample prints)."""

    block = "serial"
    name = output = statement = tag = ""
    harness: type
    #: The :class:`TileConfig` fields the harness is built with, and how a label names them.
    operands: tuple = ()
    SHORT = {"lanes": "L", "act_bits": "A", "weight_bits": "W"}

    def __init__(self, config: TileConfig):
        self.config = config

    def shown(self) -> tuple:
        """``({signed input: width}, unsigned inputs, one-bit inputs)`` of a counterexample."""
        raise NotImplementedError

    def label(self) -> str:
        return f"{self.tag} " + " ".join(f"{self.SHORT[k]}={getattr(self.config, k)}" for k in self.operands)

    def component(self):
        return self.harness(**{k: getattr(self.config, k) for k in self.operands})

    def properties(self) -> list[Property]:
        return [Property(self.name, (self.output,), statement=self.statement)]

    def render(self, prop: Property, steps) -> str:
        s = steps[0]
        signed_inputs, unsigned_inputs, flags = self.shown()
        values = [f"{n}={signed_value(int(s[n], 2), w)}" for n, w in signed_inputs.items()]
        values += [f"{n}={int(s[n], 2)}" for n in unsigned_inputs]
        return "  " + " ".join(values) + " " + " ".join(f for f in flags if s.get(f) == "1")


class LaneProof(Lemma):
    """``serial.lane_product`` for one ``A``, ``W``."""

    name, output, tag, harness = "serial.lane_product", "product", "lane", LaneHarness
    operands = ("act_bits", "weight_bits")
    statement = ("every weight, value and transfer: c = w*v before it gives c' = w*v' and c' << low = "
                 "w*(v' << low) after it")

    def shown(self) -> tuple:
        c = self.config
        return {"w": c.weight_bits, "v": c.act_bits + 1}, ("low",), ("bit", "first", "active", "neg")


class LinearityProof(Lemma):
    """``serial.linearity`` for one ``L``, ``A``, ``W`` (the widths of its operands)."""

    name, output, tag, harness = "serial.linearity", "linear", "rule", LinearityHarness
    operands = ("lanes", "act_bits", "weight_bits")
    statement = ("every two values and terms and every transfer: the SIP's rule on their sums is the sum of the "
                 "rule on each")

    def shown(self) -> tuple:
        c = self.config
        cw, xw = sum_bits(c.lanes, c.act_bits, c.weight_bits), c.weight_bits + index_bits(c.lanes)
        return {"c1": cw, "c2": cw, "x1": xw, "x2": xw}, (), ("first", "active", "neg")
