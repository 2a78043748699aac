"""The serial datapath end to end (at A = W = 2; larger sizes are proven in parts,
:mod:`.dispatch` and :mod:`.sip`): the dispatcher (``hw/dispatcher.py``) feeding an
``Nr x Nc`` array of SIPs (``hw/sip.py``), wired as in the tile (``hw/tile.py``).

The environment is free: pallets and weight bricks arrive whenever it likes (``valid`` and the
payloads are arbitrary in every cycle; the enables too), the array advances or stalls at will
(``en``, which is also the plane stream's ``ready``), and each add may close the window-set or
not (``clear``). Assumed: a valid window held for the whole trace, and activation codes inside
it (docs/design.md §4).

A shadow of the environment keeps the pallets and bricks in the order they were transferred;
the step being serialised is the oldest one. When a step's last bit plane transfers, the
harness computes the exact dot products ``sum_l a[c][l] * w[r][l]`` of that step with
multipliers (no bit planes, no alignment); when the add takes effect, every SIP's ``result`` must equal
its own running sum of those products since the last ``clear``.

``serial.dot_product(<signedness>, <mode>)`` — one property per signedness and mode (the
Stripes dispatcher, which has no modes: per signedness), bounded: every trace of at most
``depth`` cycles from reset (default ``2 + 2A + 2``: the dispatcher's latency, two steps of the
full window and the add). It also checks the order of the transfers: no step without a pallet
and brick of its own, and never a third pallet in flight.
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.dispatcher import Dispatcher
from dstripes.hw.params import MODE_CODES, pallet_layout, result_layout, weight_layout
from dstripes.hw.sip import SIP, connect_array
from dstripes.sim.config import TileConfig

from .common import MODE_NAMES, env_ports, environment, field, signed_value
from .engine import Harness, Property
from .planes import Queue


class SerialHarness(wiring.Component):
    """Dispatcher + SIP array beside a shadow of the environment and exact dot products.

    Members
    -------
    act, weight : ``In(stream.Signature(...))``
        The dispatcher's input streams (free).
    msb, lsb, signed, mode, act_enable, weight_enable, en, clear : ``In``
        Free; ``en`` is the array's advance (and the plane stream's ready).
    results, expected : ``Out(result_layout)``
        Every SIP's ``result`` and the harness's running sum, ``[column][row]``.
    check : ``Out(1)``
        An add takes effect this cycle (the property is checked).
    dot, in_order : ``Out(1)``
        The properties; ``env`` (window valid and held, codes inside it) and ``is_signed`` /
        ``is_unsigned`` / ``mode_<name>`` are assumptions.
    """

    def __init__(self, config: TileConfig, *, detect=True, stalls=True, dispatcher=Dispatcher, sip=SIP):
        c = self._cfg = config
        self._stalls = bool(stalls)
        self._detect = detect
        self._dispatcher, self._sip = dispatcher, sip
        ports = env_ports(c)
        ports.update({
            "en": In(1), "clear": In(1),
            "results": Out(result_layout(c.rows, c.columns, c.acc_bits)),
            "expected": Out(result_layout(c.rows, c.columns, c.acc_bits)),
            "check": Out(1), "dot": Out(1), "in_order": Out(1),
        })
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        c = self._cfg
        a, L = c.act_bits, c.lanes
        m.submodules.dispatcher = disp = self._dispatcher(
            lanes=L, columns=c.columns, rows=c.rows, act_bits=a, weight_bits=c.weight_bits, group=c.group,
            detect=self._detect, trailing=c.trim == "both")
        sips = [[self._sip(lanes=L, act_bits=a, weight_bits=c.weight_bits, acc_bits=c.acc_bits)
                 for _ in range(c.columns)] for _ in range(c.rows)]
        wiring.connect(m, wiring.flipped(self.act), disp.act)
        wiring.connect(m, wiring.flipped(self.weight), disp.weight)
        m.d.comb += [disp.msb.eq(self.msb), disp.lsb.eq(self.lsb), disp.signed.eq(self.signed),
                     disp.mode.eq(self.mode), disp.act_enable.eq(self.act_enable),
                     disp.weight_enable.eq(self.weight_enable), disp.plane.ready.eq(self.en if self._stalls else 1)]
        plane = disp.plane
        en = self.en if self._stalls else 1
        last_out = plane.valid & plane.ready & plane.payload.last

        # the add stage of the tile (hw/tile.py, hw/controller.py): the cycle after a step's
        # last plane, held while the array stalls
        pending = Signal()
        groups = c.columns // c.group
        add_low = Signal(data.ArrayLayout(range(a), groups))
        with m.If(en):
            m.d.sync += pending.eq(plane.valid & plane.payload.last)
        with m.If(last_out):
            m.d.sync += add_low.eq(plane.payload.low)
        add = pending & en
        connect_array(m, sips, c.group, plane.payload, plane.valid, en=en, add=pending, clear=self.clear,
                      low=add_low)
        m.d.comb += [self.results[col][r].eq(sip.result) for r, row in enumerate(sips) for col, sip in enumerate(row)]

        environment(m, self, c)
        # shadow queues of the transferred pallets and bricks (at most two steps in flight)
        q = Queue(m, act=self.act, weight=self.weight, pop=last_out, act_layout=pallet_layout(L, c.columns, a),
                  weight_layout=weight_layout(L, c.rows, c.weight_bits))
        qa, qw = q.act, q.weight

        # exact dot products of the oldest step, captured when its last plane leaves
        acc_w = c.acc_bits
        step = Signal(result_layout(c.rows, c.columns, acc_w))
        run = Signal(result_layout(c.rows, c.columns, acc_w))
        for r in range(c.rows):
            for col in range(c.columns):
                terms = []
                for ln in range(L):
                    x = qa[0][col][ln]
                    value = Mux(self.signed, x.as_signed(), x.as_unsigned())
                    terms.append(value * qw[0][r][ln])
                dot = Signal(signed(acc_w), name=f"dot_r{r}_c{col}")
                m.d.comb += dot.eq(sum(terms))
                with m.If(last_out):
                    m.d.sync += step[col][r].eq(dot)
                total = Signal(signed(acc_w), name=f"sum_r{r}_c{col}")
                m.d.comb += [total.eq(run[col][r] + step[col][r]), self.expected[col][r].eq(total)]
                with m.If(add):
                    m.d.sync += run[col][r].eq(Mux(self.clear, 0, total))
        m.d.comb += [
            self.check.eq(add),
            self.dot.eq(~add | (self.results.as_value() == self.expected.as_value())),
            self.in_order.eq(q.order_ok),
        ]
        return m


class SerialProof(Harness):
    """The serial datapath's property at one configuration."""

    block = "serial"

    def __init__(self, config: TileConfig, *, detect=True, depth=None, dispatcher=Dispatcher, sip=SIP):
        self.config = config
        self.detect = bool(detect)
        self.depth = depth or (2 + 2 * config.act_bits + 2)
        self.dispatcher, self.sip = dispatcher, sip

    def label(self) -> str:
        c = self.config
        kind = (f"G={c.group} trim={c.trim}" if self.detect else "Stripes")
        return (f"L={c.lanes} Nc={c.columns} Nr={c.rows} A={c.act_bits} W={c.weight_bits} "
                f"{kind} depth={self.depth}")

    def component(self):
        return SerialHarness(self.config, detect=self.detect, dispatcher=self.dispatcher, sip=self.sip)

    def properties(self) -> list[Property]:
        out = []
        modes = list(MODE_CODES) if self.detect else [None]
        for sgn in ("unsigned", "signed"):
            for mode in modes:
                case = sgn if mode is None else f"{sgn}, {mode}"
                assume = ("env", f"is_{sgn}") + (() if mode is None else (f"mode_{mode}",))
                out.append(Property(
                    f"serial.dot_product({case})", ("dot", "in_order"), assume, depth=self.depth,
                    statement=f"{case} layers: after each step every SIP holds the exact running "
                              f"sum of the steps' dot products (bounded)"))
        return out

    def render(self, prop: Property, steps) -> str:
        c = self.config
        a, L, W, acc = c.act_bits, c.lanes, c.weight_bits, c.acc_bits
        first = steps[0]
        sgn = first.get("signed", "0") == "1"
        lines = [f"window [{int(first['msb'], 2)}:{int(first['lsb'], 2)}] "
                 f"{'signed' if sgn else 'unsigned'}, mode {MODE_NAMES[int(first['mode'], 2)]}"]
        rows = []
        for t, s in enumerate(steps, 1):
            events = []
            if s.get("act__valid") == "1" and s.get("act__ready") == "1":
                pal = s["act__payload"]
                codes = [[field(pal, (col * L + ln) * a, a) for ln in range(L)] for col in range(c.columns)]
                if sgn:
                    codes = [[signed_value(v, a) for v in col] for col in codes]
                events.append(f"pallet {codes}")
            if s.get("weight__valid") == "1" and s.get("weight__ready") == "1":
                wp = s["weight__payload"]
                events.append("weights " + str([[signed_value(field(wp, (r * L + ln) * W, W), W) for ln in range(L)]
                                                 for r in range(c.rows)]))
            if s.get("check") == "1":
                got = [signed_value(field(s["results"], i * acc, acc), acc) for i in range(c.rows * c.columns)]
                want = [signed_value(field(s["expected"], i * acc, acc), acc) for i in range(c.rows * c.columns)]
                events.append(f"add{' (clear)' if s.get('clear') == '1' else ''}: SIP results {got}, "
                              f"exact {want}" + ("  <- differs" if got != want else ""))
            if s.get("in_order") == "0":
                events.append("transfer order broken")
            flags = f"en={s.get('en', '?')}"
            rows.append(f"  cycle {t:2d} {flags}: " + ("; ".join(events) if events else "-"))
        return "\n".join(lines + rows + ["  (results in [column][row] order)"])
