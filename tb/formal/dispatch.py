"""The serial proof's first half: the dispatcher's bit planes rebuild every step exactly.

The dispatcher (``hw/dispatcher.py``) runs in a free environment: pallets and weight bricks
arrive whenever it likes (``valid``, payloads and the enables arbitrary in every cycle) and the
array takes planes or stalls at will (``ready``). Assumed: a valid window held for the whole
trace and codes inside it (docs/design.md §4), and one signedness and mode per property.

A shadow (:class:`.planes.Queue`) keeps the transferred pallets and bricks in order; the step
being serialised is the oldest. Each lane's *rebuilt value* ``v`` follows the SIP's
shift-accumulate rule on the lane's activation bit (:func:`.planes.serial_value`), so it
involves no multiplication. ``serial.planes(<signedness>, <mode>)`` proves, in every cycle of
every trace of at most ``depth`` cycles from reset:

* ``values`` — on a step's last transfer, every column's and lane's ``v << low_g`` equals the
  step's code (signed: the sign cycle weighs negatively);
* ``weights`` — every transfer carries the step's weight brick;
* ``cycles`` — ``first`` marks exactly a step's first transfer, the step takes
  ``max(1, max_g bits_g)`` transfers and group ``g`` is active in ``bits_g`` of them, ``bits_g``
  being what a precision detector finds on the step's own pallet (Stripes: the window's width);
* ``contract`` — no group is active in more than ``A`` transfers of a step (what the SIPs'
  proof assumes, :mod:`.sip`);
* ``order`` — no step without a pallet and brick of its own, never a third one in flight.
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.detector import PrecisionDetector
from dstripes.hw.dispatcher import Dispatcher, plane_layout
from dstripes.hw.params import index_bits, pallet_layout, weight_layout
from dstripes.sim.config import TileConfig
from dstripes.sim.schemes import DSTRIPES

from .common import MODE_NAMES, all_of, env_ports, environment, field, signed_value
from .engine import Harness, Property
from .planes import Queue, serial_value, step_counters

PARTS = ("values", "weights", "cycles", "contract", "order")


class DispatchHarness(wiring.Component):
    """The dispatcher beside a shadow of its environment and the lanes' rebuilt values.

    Members
    -------
    act, weight, msb, lsb, signed, mode, act_enable, weight_enable, ready : ``In``
        Free (``ready``: the array takes the plane).
    plane : ``Out(plane_layout)``; plane_valid : ``Out(1)``
        The dispatcher's plane (shown in a counterexample).
    codes : ``Out(pallet_layout)``
        The step being serialised (the oldest queued pallet).
    rebuilt : ``Out``
        ``[column][lane]``: ``v << low`` after this cycle's transfer.
    values, weights, cycles, contract, order : ``Out(1)``
        The properties (module docstring); ``env``, ``is_signed`` / ``is_unsigned`` and
        ``mode_<name>`` are assumptions.
    """

    def __init__(self, config: TileConfig, *, detect=True, dispatcher=Dispatcher):
        c = self._cfg = config
        self._detect = bool(detect)
        self._dispatcher = dispatcher
        a = c.act_bits
        ports = env_ports(c)
        ports.update({
            "ready": In(1),
            "plane": Out(plane_layout(c.lanes, c.columns, c.rows, a, c.weight_bits, c.group)),
            "plane_valid": Out(1),
            "codes": Out(pallet_layout(c.lanes, c.columns, a)),
            "rebuilt": Out(data.ArrayLayout(data.ArrayLayout(signed(rebuilt_bits(a)), c.lanes), c.columns)),
            "step_cycles": Out(range(a + 2)), "want_cycles": Out(range(a + 2)),
        })
        ports.update({p: Out(1) for p in PARTS})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        c = self._cfg
        a, L, groups = c.act_bits, c.lanes, c.columns // c.group
        m.submodules.dispatcher = disp = self._dispatcher(
            lanes=L, columns=c.columns, rows=c.rows, act_bits=a, weight_bits=c.weight_bits, group=c.group,
            detect=self._detect, trailing=c.trim == "both")
        wiring.connect(m, wiring.flipped(self.act), disp.act)
        wiring.connect(m, wiring.flipped(self.weight), disp.weight)
        m.d.comb += [disp.msb.eq(self.msb), disp.lsb.eq(self.lsb), disp.signed.eq(self.signed),
                     disp.mode.eq(self.mode), disp.act_enable.eq(self.act_enable),
                     disp.weight_enable.eq(self.weight_enable), disp.plane.ready.eq(self.ready),
                     self.plane.eq(disp.plane.payload), self.plane_valid.eq(disp.plane.valid)]
        environment(m, self, c)
        p = disp.plane.payload
        go = disp.plane.valid & disp.plane.ready
        done = go & p.last

        q = Queue(m, act=self.act, weight=self.weight, pop=done,
                  act_layout=pallet_layout(L, c.columns, a), weight_layout=weight_layout(L, c.rows, c.weight_bits))
        m.d.comb += self.codes.eq(q.act[0])

        # what a precision detector finds on the step's own pallet (the model's cycles)
        if self._detect:
            m.submodules.reference = det = PrecisionDetector(lanes=L, columns=c.columns, act_bits=a,
                                                             group=c.group, trailing=c.trim == "both")
            m.d.comb += [det.pallet.eq(q.act[0]), det.msb.eq(self.msb), det.lsb.eq(self.lsb),
                         det.signed.eq(self.signed), det.mode.eq(self.mode)]
            want_bits = [det.groups[g].bits for g in range(groups)]
            m.d.comb += self.want_cycles.eq(det.cycles)
        else:
            width = Signal(range(a + 1))
            m.d.comb += [width.eq(self.msb - self.lsb + 1), self.want_cycles.eq(width)]
            want_bits = [width] * groups

        # transfers of the current step; `first` exactly on its first one
        count = Signal(range(a + 2))
        count_next = Signal(range(a + 2))
        m.d.comb += count_next.eq(Mux(go, count + 1, count))
        m.d.sync += count.eq(Mux(done, 0, count_next))
        m.d.comb += self.step_cycles.eq(count_next)
        k, contract = step_counters(m, go, p.first, [p.active[g] for g in range(groups)], a)

        values = []
        for col in range(c.columns):
            g = col // c.group
            for ln in range(L):
                _, v = serial_value(m, go, p.first, p.active[g], p.neg[g], p.bits[col][ln],
                                    a + 2, f"v_c{col}_l{ln}")
                x = q.act[0][col][ln]
                code = Mux(self.signed, x.as_signed(), x.as_unsigned())
                rebuilt = self.rebuilt[col][ln]
                m.d.comb += rebuilt.eq(v << p.low[g])
                values.append((v << p.low[g]) == code)   # not truncated
        m.d.comb += [
            self.values.eq(~done | all_of(values)),
            self.weights.eq(~go | (p.weights.as_value() == q.weight[0].as_value())),
            self.cycles.eq(~go | ((p.first == (count == 0)) & (
                ~p.last | ((count_next == self.want_cycles)
                           & all_of(k[g][1] == want_bits[g] for g in range(groups)))))),
            self.contract.eq(contract),
            self.order.eq(q.order_ok),
        ]
        return m


def rebuilt_bits(act_bits: int) -> int:
    """Width of a rebuilt value ``v << low``: ``v`` has ``A + 2`` signed bits, ``low < A``."""
    return 2 * act_bits + 2


class DispatchProof(Harness):
    """``serial.planes(...)`` at one configuration, per signedness and mode."""

    block = "serial"

    def __init__(self, config: TileConfig, *, detect=True, depth=None, dispatcher=Dispatcher):
        self.config = config
        self.detect = bool(detect)
        self.depth = depth or default_depth(config)
        self.dispatcher = dispatcher

    def label(self) -> str:
        c = self.config
        kind = f"G={c.group} trim={c.trim}" if self.detect else "Stripes"
        return (f"dispatcher L={c.lanes} Nc={c.columns} Nr={c.rows} A={c.act_bits} W={c.weight_bits} "
                f"{kind} depth={self.depth}")

    def component(self):
        return DispatchHarness(self.config, detect=self.detect, dispatcher=self.dispatcher)

    def properties(self) -> list[Property]:
        out = []
        modes = DSTRIPES.modes(self.config.trim) if self.detect else (None,)
        for sgn in ("unsigned", "signed"):
            for mode in modes:
                case = sgn if mode is None else f"{sgn}, {mode}"
                assume = ("env", f"is_{sgn}") + (() if mode is None else (f"mode_{mode}",))
                out.append(Property(
                    f"serial.planes({case})", PARTS, assume, depth=self.depth,
                    statement=f"{case} layers: each step's planes rebuild its codes exactly, carry "
                              f"its weights, take its cycles, in order (bounded)"))
        return out

    def render(self, prop: Property, steps) -> str:
        c = self.config
        a, L, W = c.act_bits, c.lanes, c.weight_bits
        groups = c.columns // c.group
        first = steps[0]
        sgn = first.get("signed", "0") == "1"
        lines = [f"window [{int(first['msb'], 2)}:{int(first['lsb'], 2)}] "
                 f"{'signed' if sgn else 'unsigned'}, mode {MODE_NAMES[int(first['mode'], 2)]}"]
        lay = plane_layout(L, c.columns, c.rows, a, W, c.group)
        rw = rebuilt_bits(a)

        def code(bits, col, ln):
            v = field(bits, (col * L + ln) * a, a)
            return signed_value(v, a) if sgn else v

        for t, s in enumerate(steps, 1):
            events = []
            if s.get("act__valid") == "1" and s.get("act__ready") == "1":
                events.append(f"pallet {[[code(s['act__payload'], col, ln) for ln in range(L)] for col in range(c.columns)]}")
            if s.get("weight__valid") == "1" and s.get("weight__ready") == "1":
                wp = s["weight__payload"]
                events.append("weights " + str([[signed_value(field(wp, (r * L + ln) * W, W), W) for ln in range(L)]
                                                 for r in range(c.rows)]))
            if s.get("plane_valid") == "1" and s.get("ready") == "1" and "plane" in s:
                pl = s["plane"]

                def fld(name, i=0, width=1):
                    return field(pl, lay[name].offset + i * width, width)
                lw = index_bits(a - 1)
                bits = [format(fld("bits", col, L), f"0{L}b") for col in range(c.columns)]
                grp = [f"g{g}:{'A' if fld('active', g) else '-'}{'N' if fld('neg', g) else ''}"
                       f" low {fld('low', g, lw)}" for g in range(groups)]
                tag = ("first " if fld("first") else "") + ("last " if fld("last") else "")
                events.append(f"plane {tag}bits {bits} {' '.join(grp)} (transfer {int(s['step_cycles'], 2)})")
                if fld("last"):
                    got = [[signed_value(field(s["rebuilt"], (col * L + ln) * rw, rw), rw) for ln in range(L)]
                           for col in range(c.columns)]
                    want = [[code(s["codes"], col, ln) for ln in range(L)] for col in range(c.columns)]
                    events.append(f"step rebuilt {got}, codes {want}" + ("  <- differs" if got != want else "")
                                  + f"; {int(s['step_cycles'], 2)} cycles, model {int(s['want_cycles'], 2)}")
            broken = [p for p in PARTS if s.get(p) == "0"]
            if broken:
                events.append(f"{', '.join(broken)} fails")
            rows_ = f"  cycle {t:2d} ready={s.get('ready', '?')}: " + ("; ".join(events) if events else "-")
            lines.append(rows_)
        return "\n".join(lines)


def default_depth(config: TileConfig) -> int:
    """The dispatcher's latency (2), then two steps of the whole window back to back (the second
    pallet detected while the first is serialised), and one cycle more."""
    return 2 + 2 * config.act_bits + 1
