"""Formal properties of the precision detector (``hw/detector.py``), every input at once.

The harness instantiates the detector and a second description of docs/design.md §5 written
differently: where the detector strips the sign (``x ^ sign``), ORs whole codes and runs
priority encoders, the reference works one bit position at a time — does any code of the group
have a set bit at position ``p`` (unsigned), do two adjacent bits ``p`` and ``p − 1`` of some
code differ (signed: the code needs bit ``p`` as its sign) — and *counts* the positions that
need more bits, a thermometer sum instead of an encoder. Its cycle count is a linear chain of
maxima, not the detector's tree.

Properties (harness outputs, proven with yosys ``sat``; see ``docs/formal.md``):

``equivalence``
    Valid window (``lsb <= msb < A``), every pallet, signedness and mode (the reserved mode 3
    behaves as leading): each group's ``bits`` and the pallet's ``cycles`` equal the
    reference's, and so does each group's ``top`` wherever ``bits > 0`` (a group that processes
    no bits never uses its ``top``).
``exact``
    Valid window, every code inside it (the quantised codes of docs/design.md §4): each code equals the
    value of its bits ``[top, top − bits + 1]`` (bit ``top`` weighs ``−2**top`` on signed
    layers; ``bits == 0`` only for an all-zero group) — nothing is lost by the trimming.
``raw``
    Valid window, *any* codes: each code's serialised bits give its window value — the code
    with the bits above ``msb`` and below ``lsb`` dropped (signed: bit ``msb`` weighs
    ``−2**msb``, so larger codes wrap) — with one exception: on a signed layer, a group whose
    every code lies in ``[−2**(lsb−1), 2**(lsb−1))`` (below the window's resolution) is given
    0 bits, so its codes in ``[−2**(lsb−1), −1]`` become 0 where the window value is
    ``−2**lsb``.
``any_window``
    No assumption at all (``msb``/``lsb`` anywhere in their fields, ``lsb > msb`` included):
    ``cycles == max(1, max_g bits_g)`` — a step always takes at least one cycle and as many as
    its slowest group, so the dispatcher serialises it and moves on whatever the window.
"""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.detector import PrecisionDetector, group_detection_layout
from dstripes.hw.params import MODE_BOTH, MODE_STATIC, index_bits
from dstripes.sim.config import check_group

from .common import MODE_NAMES, all_of, any_of, field, signed_value
from .engine import Harness, Property


class DetectorHarness(wiring.Component):
    """The detector beside its reference, with one output per property and assumption.

    Parameters
    ----------
    lanes, columns, act_bits, group, trailing
        As :class:`~dstripes.hw.detector.PrecisionDetector`.
    detector : type
        The detector class (a test passes a deliberately broken subclass).

    Members
    -------
    pallet, msb, lsb, signed, mode : ``In``
        The detector's inputs, free for the solver.
    dut, ref : ``Out(group_detection_layout)``; dut_cycles, ref_cycles : ``Out``
        Both descriptions' outputs (shown in a counterexample).
    valid_window, codes_in_window : ``Out(1)``
        Assumptions: ``lsb <= msb < A``; every code inside the window.
    equivalence, exact, raw, any_window : ``Out(1)``
        The properties (module docstring).
    """

    def __init__(self, *, lanes=16, columns=16, act_bits=16, group=1, trailing=False,
                 detector=PrecisionDetector):
        self.dut_block = detector(lanes=lanes, columns=columns, act_bits=act_bits, group=group,
                                  trailing=trailing)
        self._l, self._c, self._a, self._g = lanes, columns, act_bits, group
        self._trailing = bool(trailing)
        groups = columns // group
        # the detector's inputs, free for the solver
        inputs = {name: member for name, member in self.dut_block.signature.members.items() if member.flow == In}
        super().__init__({
            **inputs,
            "dut": Out(group_detection_layout(act_bits, groups)),
            "ref": Out(group_detection_layout(act_bits, groups)),
            "dut_cycles": Out(range(act_bits + 1)),
            "ref_cycles": Out(range(act_bits + 1)),
            "valid_window": Out(1),
            "codes_in_window": Out(1),
            "equivalence": Out(1),
            "exact": Out(1),
            "raw": Out(1),
            "any_window": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        a = self._a
        groups = self._c // self._g
        m.submodules.dut = det = self.dut_block
        m.d.comb += [det.pallet.eq(self.pallet), det.msb.eq(self.msb), det.lsb.eq(self.lsb),
                     det.signed.eq(self.signed), det.mode.eq(self.mode),
                     self.dut.eq(det.groups), self.dut_cycles.eq(det.cycles)]
        msb, lsb, sgn = self.msb, self.lsb, self.signed
        both = (self.mode == MODE_BOTH) if self._trailing else 0
        static = self.mode == MODE_STATIC
        m.d.comb += self.valid_window.eq((lsb <= msb) & (msb < a))

        def mask(name, predicate):
            """An ``A``-bit mask, bit ``i`` = ``predicate(i)``."""
            sig = Signal(a, name=name)
            m.d.comb += [sig[i].eq(predicate(i)) for i in range(a)]
            return sig

        # shared masks: positions below lsb, above msb, inside the window, from lsb - 1 upwards
        under = mask("under", lambda i: i < lsb)
        over = mask("over", lambda i: i > msb)
        win = mask("win", lambda i: (i >= lsb) & (i <= msb))
        from_half = mask("from_half", lambda i: i + 1 >= lsb)

        codes_ok, equiv, exact, raw = [], [], [], []
        for g in range(groups):
            codes = [self.pallet[c][l] for c in range(g * self._g, (g + 1) * self._g)
                     for l in range(self._l)]
            # bit i of diff(x): unsigned, bit i itself; signed, bits i and i - 1 differ (the code
            # needs bit i to hold its sign); a code fits in k + 1 bits iff diff(x) >> (k + 1) == 0
            diffs = []
            for n, x in enumerate(codes):
                d = Signal(a, name=f"diff{g}_{n}")
                m.d.comb += d.eq(Mux(sgn, x ^ (x << 1)[:a], x))
                diffs.append(d)
            set_at = Signal(a, name=f"set{g}")     # some code has bit p set
            need_at = Signal(a, name=f"need{g}")   # some code needs bit p
            m.d.comb += [set_at.eq(any_of(codes)), need_at.eq(any_of(diffs))]
            # count the positions k that some code needs more than k + 1 bits for, and the
            # positions j that every code is a multiple of 2**j for
            need = Signal(range(a + 1), name=f"need{g}_count")
            zeros = Signal(range(a + 1), name=f"zeros{g}_count")
            m.d.comb += [need.eq(sum(need_at[k + 1:].any() for k in range(a - 1))),
                         zeros.eq(sum(~set_at[:j].any() for j in range(1, a)))]

            ref = self.ref[g]
            top = Signal(range(a + 1), name=f"ref_top{g}")
            low = Signal(range(a + 1), name=f"ref_low{g}")
            m.d.comb += [
                top.eq(Mux(need > msb, msb, need)),
                low.eq(Mux(both & (zeros > lsb), zeros, lsb)),
            ]
            with m.If(static):
                m.d.comb += [ref.top.eq(msb), ref.bits.eq(msb - lsb + 1)]
            with m.Elif((set_at == 0) | (top < low)):
                m.d.comb += [ref.top.eq(top), ref.bits.eq(0)]
            with m.Else():
                m.d.comb += [ref.top.eq(top), ref.bits.eq(top - low + 1)]
            dut = self.dut[g]
            equiv.append((dut.bits == ref.bits) & ((ref.bits == 0) | (dut.top == ref.top)))

            # what the dispatcher sends of each code: bits top .. lo (docs/design.md §5)
            lo = Signal(signed(index_bits(a) + 2), name=f"lo{g}")
            m.d.comb += lo.eq(dut.top - dut.bits + 1)
            below = mask(f"below{g}", lambda i: lo > i)
            above = mask(f"above{g}", lambda i: dut.top < i)
            kept = dut.bits != 0
            for x, d in zip(codes, diffs):
                # read back from bits [top, lo], x is itself: nothing set below lo and nothing
                # needed above top (unsigned: no set bit; signed: only copies of the sign)
                lost = (x & below) | (d & above)
                exact.append(Mux(kept, lost == 0, x == 0))
                # raw codes: only the window's positions count
                raw.append(Mux(kept, (lost & win) == 0,
                               ((x & win) == 0) | (sgn & (lsb != 0) & ((~x & from_half) == 0))))
                codes_ok.append(((x & under) == 0) & ((d & over) == 0))

        cycles = 1  # a linear chain of maxima (the detector uses a tree); named links, because
        for g in range(groups):  # each is used twice and unnamed copies would double per link
            b = self.ref[g].bits
            link = Signal(range(a + 1), name=f"ref_max{g}")
            m.d.comb += link.eq(Mux(b > cycles, b, cycles))
            cycles = link
        m.d.comb += self.ref_cycles.eq(cycles)
        # the relation alone: at least 1, at least every group's bits, equal to 1 or to one of them
        bits = [self.dut[g].bits for g in range(groups)]
        c = self.dut_cycles
        relation = (c >= 1) & all_of(c >= b for b in bits) & ((c == 1) | any_of(c == b for b in bits))
        m.d.comb += [
            self.codes_in_window.eq(all_of(codes_ok)),
            self.equivalence.eq(all_of(equiv) & (self.dut_cycles == self.ref_cycles)),
            self.exact.eq(all_of(exact)),
            self.raw.eq(all_of(raw)),
            self.any_window.eq(relation),
        ]
        return m


def serialised(code: int, top: int, bits: int, is_signed: bool) -> int:
    """The value the dispatcher sends for ``code``: its bits ``[top, top - bits + 1]``, bit
    ``top`` negative on a signed layer (docs/design.md §5)."""
    value = 0
    for i in range(top - bits + 1, top + 1):
        if (code >> i) & 1:
            value += -(1 << i) if (is_signed and i == top) else (1 << i)
    return value


def window_value(code: int, msb: int, lsb: int, is_signed: bool) -> int:
    """The code with the bits outside ``[msb, lsb]`` dropped (bit ``msb`` negative if signed)."""
    return serialised(code, msb, msb - lsb + 1, is_signed)


class DetectorProof(Harness):
    """The detector's properties at one configuration (see the module docstring)."""

    block = "detector"

    def __init__(self, *, lanes=16, columns=16, act_bits=16, group=1, trailing=False,
                 detector=PrecisionDetector):
        self.lanes, self.columns, self.act_bits, self.group = lanes, columns, act_bits, group
        self.trailing = bool(trailing)
        self.detector = detector
        check_group(group, columns)

    def label(self) -> str:
        return (f"L={self.lanes} Nc={self.columns} A={self.act_bits} G={self.group} "
                f"trim={'both' if self.trailing else 'leading'}")

    def component(self):
        return DetectorHarness(lanes=self.lanes, columns=self.columns, act_bits=self.act_bits,
                               group=self.group, trailing=self.trailing, detector=self.detector)

    def properties(self) -> list[Property]:
        return [
            Property("detector.equivalence", ("equivalence",), ("valid_window",),
                     statement="every pallet, signedness and mode, valid window: top/bits/cycles "
                               "equal the bit-position reference (top where bits > 0)"),
            Property("detector.exact", ("exact",), ("valid_window", "codes_in_window"),
                     statement="codes inside the window: each equals its bits [top, top-bits+1]"),
            Property("detector.raw", ("raw",), ("valid_window",),
                     statement="any codes: each is sent as its window value, except signed codes "
                               "in [-2^(lsb-1), -1] of a group below the window's resolution (sent as 0)"),
            Property("detector.any_window", ("any_window",), (),
                     statement="every input, any msb/lsb: cycles = max(1, max_g bits_g)"),
        ]

    def render(self, prop: Property, steps) -> str:
        s = steps[0]
        a, L, C, G = self.act_bits, self.lanes, self.columns, self.group
        msb, lsb = int(s["msb"], 2), int(s["lsb"], 2)
        sgn, mode = s["signed"] == "1", int(s["mode"], 2)
        tw, bw = index_bits(a - 1), index_bits(a)
        pal = s["pallet"]
        lines = [f"window [{msb}:{lsb}] {'signed' if sgn else 'unsigned'}, mode {MODE_NAMES[mode]}"
                 + ("" if s.get("valid_window", "1") == "1" else " (not a valid window)")]
        rows = []
        for g in range(C // G):
            dt, db = field(s["dut"], g * (tw + bw), tw), field(s["dut"], g * (tw + bw) + tw, bw)
            rt, rb = field(s["ref"], g * (tw + bw), tw), field(s["ref"], g * (tw + bw) + tw, bw)
            codes, bad = [], []
            for c in range(g * G, (g + 1) * G):
                for ln in range(L):
                    raw = field(pal, (c * L + ln) * a, a)
                    x = signed_value(raw, a) if sgn else raw
                    codes.append(x)
                    sent = serialised(raw, dt, db, sgn)
                    want = x if prop.name.endswith("exact") else window_value(raw, msb, lsb, sgn)
                    if prop.name.endswith(("exact", "raw")) and sent != want:
                        bad.append(f"col {c} lane {ln}: {x} sent as {sent}, should be {want}")
            differs = db != rb or (rb and dt != rt)
            if differs or bad or prop.name.endswith("any_window"):
                mark = " <- differs" if differs else ""
                rows.append(f"  group {g}: codes {codes}; detector top {dt} bits {db}, "
                            f"reference top {rt} bits {rb}{mark}")
                rows += [f"    {b}" for b in bad[:8]]
        lines += rows or ["  (all groups agree)"]
        lines.append(f"cycles: detector {int(s['dut_cycles'], 2)}, reference {int(s['ref_cycles'], 2)}")
        return "\n".join(lines)
