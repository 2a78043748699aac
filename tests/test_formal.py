"""Formal proofs (tb/formal): the blocks are proven at small sizes, and deliberately broken
blocks — built here, never in hw/ — are caught with a counterexample, so no proof passes for
want of being able to fail."""
from __future__ import annotations

import json

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.detector import PrecisionDetector
from dstripes.hw.dispatcher import Dispatcher
from dstripes.hw.input_register import InputRegister
from dstripes.hw.params import result_layout
from dstripes.hw.result_buffer import ResultBuffer
from dstripes.hw.sip import SIP
from dstripes.hw.tile import SerialTile
from dstripes.scripts.cli import main
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ToolError
from dstripes.tb.formal import STREAMS, COUNTEREXAMPLE, INCONCLUSIVE, PROVEN
from dstripes.tb.formal.detector import DetectorProof, serialised, window_value
from dstripes.tb.formal.engine import Harness, Property, parse_model, prove, verdict
from dstripes.tb.formal.dispatch import DispatchProof
from dstripes.tb.formal.serial import SerialProof
from dstripes.tb.formal.sip import LaneProof, LinearityProof, SipProof
from dstripes.tb.formal.streams import PARTS, StreamsProof


# --- deliberately broken blocks --------------------------------------------------------------

class LeadingOffByOne(PrecisionDetector):
    """The leading-one encoder's loop stops one position short: bit A-1 is never seen."""

    def _leading_one(self, m, v, name):
        lead = Signal(range(self._act_bits + 1), name=name)
        for i in range(self._act_bits - 1):
            with m.If(v[i]):
                m.d.comb += lead.eq(i + 1)
        return lead


class TrailingOffByOne(PrecisionDetector):
    """The trailing-zero encoder reports one position too high for an odd OR."""

    def _trailing_zero(self, m, t, name):
        trail = Signal(range(self._act_bits), name=name)
        for i in reversed(range(self._act_bits)):
            with m.If(t[i]):
                m.d.comb += trail.eq(i + 1 if i == 0 else i)
        return trail


class AlignByWindow(Dispatcher):
    """Group 0's partial is aligned by the window's lsb instead of its detected lowest bit:
    right in static and leading modes, wrong once trailing zeros are trimmed."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.plane.payload.low[0].eq(self.lsb)
        return m


class NoSignCycle(Dispatcher):
    """The sign cycle is never flagged: signed layers add their sign bit."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.plane.payload.neg.eq(0)
        return m


class UnalignedSIP(SIP):
    """Adds a step's partial into the accumulator without shifting it by the group's ``low``:
    right whenever the lowest processed bit is bit 0, wrong otherwise."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.result.eq(self.acc + self.partial)
        return m


class OverwritingRegister(InputRegister):
    """Accepts a pallet even while it still holds an untaken one."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.act.ready.eq(self.act_enable)
        return m


class OverwritingBuffer(ResultBuffer):
    """Says it can load while it still offers untaken results."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.can_load.eq(1)
        return m


class TileWithOverwritingBuffer(SerialTile):
    @staticmethod
    def _buffer(c):
        return OverwritingBuffer(result_layout(c.rows, c.columns, c.acc_bits))


def by_name(outcomes):
    return {o.name: o for o in outcomes}


# --- the detector ----------------------------------------------------------------------------

@pytest.mark.parametrize("lanes, columns, act_bits, group, trailing", [
    (2, 4, 6, 1, True), (2, 4, 6, 2, False), (3, 2, 5, 2, True), (2, 4, 4, 4, True),
])
def test_detector_proven(lanes, columns, act_bits, group, trailing):
    out = prove([DetectorProof(lanes=lanes, columns=columns, act_bits=act_bits, group=group,
                               trailing=trailing)])
    assert [o.name for o in out] == ["detector.equivalence", "detector.exact", "detector.raw",
                                     "detector.any_window"]
    for o in out:
        assert o.status == PROVEN and o.method == "sat", (o.name, o.detail, o.trace)


def test_leading_one_mutant_caught():
    out = by_name(prove([DetectorProof(lanes=2, columns=4, act_bits=6, group=2, trailing=True,
                                       detector=LeadingOffByOne)]))
    for name in ("detector.equivalence", "detector.exact", "detector.raw"):
        o = out[name]
        assert o.status == COUNTEREXAMPLE, name
        # the trace names the window, the offending group and both descriptions' answers
        assert "window [" in o.trace and "<- differs" in o.trace, o.trace
    # the cycles relation holds for this mutant too: the proof is not a blanket failure
    assert out["detector.any_window"].status == PROVEN
    # the counterexample is real: some code of the trace uses bit A-1 (the one the mutant misses)
    assert "should be" in out["detector.exact"].trace


def test_trailing_zero_mutant_caught_only_with_trailing():
    both = by_name(prove([DetectorProof(lanes=2, columns=2, act_bits=5, group=1, trailing=True,
                                        detector=TrailingOffByOne)]))
    assert both["detector.equivalence"].status == COUNTEREXAMPLE
    assert "mode both" in both["detector.equivalence"].trace
    # without trailing-zero encoders the mutated method is never built: everything holds
    lead = prove([DetectorProof(lanes=2, columns=2, act_bits=5, group=1, trailing=False,
                                detector=TrailingOffByOne)])
    assert all(o.status == PROVEN for o in lead)


def test_serialised_reads_back():
    # the renderer's reading of docs/design.md §5 on known cases: window [7:0]
    assert serialised(12, 3, 2, False) == 12          # {4, 8} with trailing zeros: bits 3..2
    assert serialised((-3) & 0xFF, 2, 3, True) == -3  # signed {-3, 2}: top 2, 3 bits
    assert serialised(0xFF, 0, 1, True) == -1         # signed -1: the sign bit alone
    assert window_value(0x1F3, 7, 2, False) == 0xF0   # bits above msb and below lsb dropped


# --- the serial datapath ---------------------------------------------------------------------

SMALL_SERIAL = TileConfig(lanes=2, columns=1, rows=1, act_bits=2, weight_bits=2, group=1,
                          trim="both", max_reduction=4)


def test_serial_proven_small():
    # one signed case with every trim active; the CLI proves all six (tb/formal SERIAL)
    out = prove([SerialProof(SMALL_SERIAL)], names={"serial.dot_product(signed, both)"})
    assert len(out) == 1
    o = out[0]
    assert o.status == PROVEN and o.method == "bmc" and o.bound == 2 + 2 * 2 + 2, (o.detail, o.trace)


def test_serial_alignment_mutant_caught():
    out = prove([SerialProof(SMALL_SERIAL, dispatcher=AlignByWindow)],
                names={"serial.dot_product(unsigned, both)"})
    assert out[0].status == COUNTEREXAMPLE
    assert "<- differs" in out[0].trace and "pallet" in out[0].trace, out[0].trace


def test_serial_sign_mutant_caught():
    out = prove([SerialProof(SMALL_SERIAL, detect=False, dispatcher=NoSignCycle)],
                names={"serial.dot_product(signed)"})
    assert out[0].status == COUNTEREXAMPLE, out[0].detail
    assert "add" in out[0].trace and "<- differs" in out[0].trace, out[0].trace


# the serial datapath in parts (tb/formal/dispatch.py, sip.py): sizes the CLI runs for the SIPs
# and the lemmas, one step smaller for the dispatcher's bounded proof (A = 3: seconds, not minutes)
PARTS_DISPATCH = TileConfig(lanes=2, columns=1, rows=1, act_bits=3, weight_bits=3, group=1,
                            trim="both", max_reduction=4)
PARTS_SIP = TileConfig(lanes=4, columns=4, rows=1, act_bits=4, weight_bits=4, group=2,
                       trim="leading", max_reduction=4)


def test_serial_parts_proven_small():
    names = {"serial.planes(signed, both)", "serial.sip", "serial.linearity", "serial.lane_product"}
    out = prove([DispatchProof(PARTS_DISPATCH), SipProof(PARTS_SIP), LinearityProof(PARTS_SIP),
                 LaneProof(PARTS_SIP)], names=names, jobs=1)
    o = by_name(out)
    assert set(o) == names
    planes = o["serial.planes(signed, both)"]
    assert planes.status == PROVEN and planes.method == "bmc" and planes.bound == 2 + 2 * 3 + 1, planes.detail
    # the SIP array is proven for every reachable state, not within a bound
    assert o["serial.sip"].status == PROVEN and o["serial.sip"].method == "induction", o["serial.sip"].detail
    for lemma in ("serial.linearity", "serial.lane_product"):
        assert o[lemma].status == PROVEN and o[lemma].method == "sat", o[lemma].detail


def test_serial_parts_name_every_mode():
    # one dispatcher property per signedness and mode the configuration can run
    both = [p.name for p in DispatchProof(PARTS_DISPATCH).properties()]
    assert both == [f"serial.planes({s}, {m})" for s in ("unsigned", "signed")
                    for m in ("static", "leading", "both")]
    assert [p.name for p in DispatchProof(PARTS_SIP).properties()] == \
        [f"serial.planes({s}, {m})" for s in ("unsigned", "signed") for m in ("static", "leading")]
    assert [p.name for p in DispatchProof(PARTS_DISPATCH, detect=False).properties()] == \
        ["serial.planes(unsigned)", "serial.planes(signed)"]


def test_unaligned_sip_caught():
    o = prove([SipProof(SMALL_SERIAL, sip=UnalignedSIP)], jobs=1)[0]
    assert o.status == COUNTEREXAMPLE, o.detail
    assert "<- differs" in o.trace and "low 1" in o.trace, o.trace


def test_dispatcher_mutants_caught_by_planes():
    align = prove([DispatchProof(SMALL_SERIAL, dispatcher=AlignByWindow)],
                  names={"serial.planes(unsigned, both)", "serial.planes(unsigned, leading)"}, jobs=1)
    o = by_name(align)
    assert o["serial.planes(unsigned, both)"].status == COUNTEREXAMPLE
    trace = o["serial.planes(unsigned, both)"].trace
    assert "values fails" in trace and "<- differs" in trace, trace
    # in leading mode the window's lsb is the lowest processed bit: the mutant is right there
    assert o["serial.planes(unsigned, leading)"].status == PROVEN
    sign = prove([DispatchProof(SMALL_SERIAL, detect=False, dispatcher=NoSignCycle)],
                 names={"serial.planes(signed)"}, jobs=1)[0]
    assert sign.status == COUNTEREXAMPLE and "values fails" in sign.trace, sign.trace


# --- the streams ------------------------------------------------------------------------------

def test_streams_proven():
    # the tile's run accounting is bounded: 10 cycles here (a run of 1 x 1 and more), 14 in the CLI
    out = prove([StreamsProof(STREAMS, part, depth=10 if part == "tile" else None) for part in PARTS])
    assert {o.name.split(".")[1] for o in out} == set(PARTS)
    for o in out:
        assert o.status == PROVEN, (o.name, o.detail, o.trace)
    methods = {o.name: o.method for o in out}
    # the single-entry blocks are proven for every reachable state, not just within the bound
    assert methods["streams.result_buffer.stable"] == "induction"
    assert methods["streams.input_register.no_loss"] == "induction"
    assert methods["streams.tile.stable"] == "induction"


def test_stream_mutants_caught():
    reg = by_name(prove([StreamsProof(STREAMS, "input_register", block=OverwritingRegister)],
                        names={"streams.input_register.no_loss"}))
    assert reg["streams.input_register.no_loss"].status == COUNTEREXAMPLE
    assert "no_loss fails" in reg["streams.input_register.no_loss"].trace
    tile = by_name(prove([StreamsProof(STREAMS, "tile", block=TileWithOverwritingBuffer)],
                         names={"streams.tile.stable"}))
    assert tile["streams.tile.stable"].status == COUNTEREXAMPLE
    trace = tile["streams.tile.stable"].trace
    assert "result__valid=1" in trace and "result__ready=0" in trace, trace


# --- the engine --------------------------------------------------------------------------------

def test_verdicts_from_yosys_text():
    comb, seq = Property("x.a", ("a",)), Property("x.b", ("b",), depth=5, induction=True)
    assert verdict("SAT proof finished - no model found: SUCCESS!", comb)[:2] == (PROVEN, "sat")
    assert verdict("SAT proof finished - model found: FAIL!", comb)[0] == COUNTEREXAMPLE
    assert verdict("Interrupted SAT solver: TIMEOUT!", comb)[0] == INCONCLUSIVE
    assert verdict("", comb)[0] == INCONCLUSIVE
    assert verdict("** Trying induction with length 2 **\nInduction step proven: SUCCESS!", seq)[:2] == \
        (PROVEN, "induction")
    assert verdict("Reached maximum number of time steps -> proof failed.", seq)[:3] == (PROVEN, "bmc", 5)
    assert verdict("SAT temporal induction proof finished - model found for base case: FAIL!", seq)[0] == \
        COUNTEREXAMPLE
    table = ("  Time Signal Name   Dec  Hex  Bin\n  ---- ----------- --- ---- ---\n"
             "  init \\q            1    1    01\n     1 \\a   --  --  1010\n     2 \\a  0  0  0000\n\n")
    assert parse_model(table) == [{"q": "01", "a": "1010"}, {"a": "0000"}]


def test_yosys_failure_is_a_tool_error(monkeypatch):
    # a property on an output the harness does not have: yosys stops with an error
    class Broken(DetectorProof):
        def properties(self):
            return [Property("detector.nothing", ("no_such_output",))]

        def outputs(self):
            return ()

    with pytest.raises(ToolError, match="yosys"):
        prove([Broken(lanes=1, columns=1, act_bits=2)])


class _Toy(wiring.Component):
    def __init__(self):
        super().__init__({"a": In(2), "p": Out(1), "never": Out(1), "sometimes": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.p.eq(1), self.never.eq(self.a[0] & ~self.a[0]), self.sometimes.eq(self.a[0])]
        return m


class _ToyProof(Harness):
    block = "toy"

    def label(self):
        return "toy"

    def component(self):
        return _Toy()

    def properties(self):
        return [Property("toy.vacuous", ("p",), ("never",)), Property("toy.fine", ("p",), ("sometimes",))]

    def render(self, prop, steps):
        return ""


def test_contradictory_assumptions_are_not_a_proof():
    out = by_name(prove([_ToyProof()]))
    assert out["toy.vacuous"].status == INCONCLUSIVE and "vacuous" in out["toy.vacuous"].detail
    assert out["toy.fine"].status == PROVEN


# --- the command -------------------------------------------------------------------------------

def test_cli_prove_streams_json(capsys):
    assert main(["prove", "--block", "streams", "--json", "--depth", "6"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["proven"] is True
    for p in d["properties"]:
        assert {"name", "block", "config", "status", "seconds"} <= set(p)
        assert p["block"] == "streams" and p["status"] == PROVEN


@pytest.mark.parametrize("argv, text", [
    (["prove", "--depth", "0"], "--depth"),
    (["prove", "--timeout", "-1"], "--timeout"),
    (["prove", "--block", "detector", "--group", "3"], "group size 3"),
    (["prove", "--block", "nothing"], "invalid choice"),
])
def test_cli_prove_bad_input(argv, text, capsys):
    with pytest.raises(SystemExit) if "nothing" in argv else _nothing():
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("dstripes: error:") and text in err, err


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
