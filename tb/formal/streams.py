"""Formal properties of the streams: the input register, the result buffer, the controller's
hand-offs and the tile's ``result`` stream, under any behaviour of the environment.

Every harness leaves the environment free — ``valid``, ``ready``, payloads and enables may take
any value in any cycle — and assumes only what the block's neighbour guarantees by
construction (named in each property's statement). A shadow of the environment counts the
transfers and keeps the last payload, so that "no transfer lost or duplicated" becomes a check
on counts and contents. Each property is proven by temporal induction when it closes
(every reachable state), otherwise within its bound (every trace of at most ``depth`` cycles
from reset).
"""
from __future__ import annotations

import functools

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.controller import Controller
from dstripes.hw.input_register import InputRegister
from dstripes.hw.params import pallet_layout, result_layout, run_layout, serial_streams, weight_layout
from dstripes.hw.result_buffer import ResultBuffer
from dstripes.hw.tile import SerialTile
from dstripes.sim.config import TileConfig

from .engine import Harness, Property


def _past(m: Module, *values):
    """Registered copies of ``values`` (their value in the previous cycle) and a flag that is
    high from the second cycle on."""
    started = Signal()
    m.d.sync += started.eq(1)
    out = []
    for v in values:
        q = Signal.like(v) if isinstance(v, Signal) else Signal(len(v))
        m.d.sync += q.eq(v)
        out.append(q)
    return started, out


class InputRegisterHarness(wiring.Component):
    """:class:`~dstripes.hw.input_register.InputRegister` with a free producer on both streams
    and a consumer that takes whenever it likes (``take`` only while ``item``: assumed)."""

    def __init__(self, act_layout, weight_layout, *, block=InputRegister):
        self._make_dut = functools.partial(block, act_layout=act_layout, weight_layout=weight_layout)
        super().__init__({
            "act": In(stream.Signature(act_layout)), "weight": In(stream.Signature(weight_layout)),
            "act_enable": In(1), "weight_enable": In(1), "take": In(1),
            "item": Out(1), "acts": Out(act_layout), "weights": Out(weight_layout),
            "consumer": Out(1), "no_loss": Out(1), "no_duplicate": Out(1), "payload": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self._make_dut()
        wiring.connect(m, wiring.flipped(self.act), dut.act)
        wiring.connect(m, wiring.flipped(self.weight), dut.weight)
        m.d.comb += [dut.act_enable.eq(self.act_enable), dut.weight_enable.eq(self.weight_enable),
                     dut.take.eq(self.take), self.item.eq(dut.item), self.acts.eq(dut.acts),
                     self.weights.eq(dut.weights), self.consumer.eq(~self.take | dut.item)]
        lost, held = [], []
        for name, port, out in (("a", self.act, dut.acts), ("w", self.weight, dut.weights)):
            # transfers in, not yet taken, and the last payload transferred
            pending = Signal(name=f"pending_{name}")
            last = Signal.like(out, name=f"last_{name}")
            push = port.valid & port.ready
            with m.If(self.take):
                m.d.sync += pending.eq(0)
            with m.If(push):
                m.d.sync += [pending.eq(1), last.eq(port.payload)]
            # a transfer while an untaken one is held would overwrite it
            lost.append(~(push & pending & ~self.take))
            held.append((pending, out == last))
        (pa, sa), (pw, sw) = held
        m.d.comb += [
            self.no_loss.eq(lost[0] & lost[1]),
            # offered exactly while both a pallet and a brick are held and not yet taken
            self.no_duplicate.eq(dut.item == (pa & pw)),
            self.payload.eq(~dut.item | (sa & sw)),
        ]
        return m


class ResultBufferHarness(wiring.Component):
    """:class:`~dstripes.hw.result_buffer.ResultBuffer` with a free consumer and a producer that
    loads whenever it likes while ``can_load`` (assumed: the controller loads only then)."""

    def __init__(self, layout, *, block=ResultBuffer):
        self._make_dut = functools.partial(block, layout)
        super().__init__({
            "data": In(layout), "load": In(1), "ready": In(1),
            "result": Out(stream.Signature(layout)),
            "producer": Out(1), "stable": Out(1), "no_loss": Out(1), "no_duplicate": Out(1),
            "payload": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self._make_dut()
        res = dut.result
        m.d.comb += [dut.data.eq(self.data), dut.load.eq(self.load), res.ready.eq(self.ready),
                     self.result.valid.eq(res.valid), self.result.payload.eq(res.payload),
                     self.producer.eq(~self.load | dut.can_load)]
        pending = Signal()
        last = Signal.like(res.payload)
        pop = res.valid & res.ready
        with m.If(pop):
            m.d.sync += pending.eq(0)
        with m.If(self.load):
            m.d.sync += [pending.eq(1), last.eq(self.data)]
        started, (was_valid, was_ready, was_payload) = _past(m, res.valid, res.ready, res.payload.as_value())
        waiting = started & was_valid & ~was_ready
        m.d.comb += [
            self.stable.eq(~waiting | (res.valid & (res.payload.as_value() == was_payload))),
            self.no_loss.eq(~(self.load & pending & ~pop)),
            self.no_duplicate.eq(res.valid == pending),
            self.payload.eq(~res.valid | (res.payload.as_value() == last.as_value())),
        ]
        return m


class ControllerHarness(wiring.Component):
    """:class:`~dstripes.hw.controller.Controller` with a free ``config`` producer, input
    transfers whenever enabled, a free work-item stream and a result buffer whose consumer is
    free (modelled here: one entry, ``can_load`` while empty or being emptied)."""

    def __init__(self, *, act_bits=4, count_bits=2, block=Controller):
        self._make_dut = functools.partial(block, act_bits=act_bits, count_bits=count_bits)
        self._cb = count_bits
        super().__init__({
            "config": In(stream.Signature(run_layout(act_bits, count_bits))),
            "act_done": In(1), "weight_done": In(1), "item_valid": In(1), "item_last": In(1),
            "result_ready": In(1),
            "busy": Out(1), "act_enable": Out(1), "weight_enable": Out(1), "buffer_load": Out(1),
            "neighbours": Out(1), "config_ready": Out(1), "inputs": Out(1), "results": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cb = self._cb
        m.submodules.dut = ctrl = self._make_dut()
        wiring.connect(m, wiring.flipped(self.config), ctrl.config)
        full = Signal()  # the result buffer
        result_done = full & self.result_ready
        m.d.comb += [
            ctrl.act_done.eq(self.act_done), ctrl.weight_done.eq(self.weight_done),
            ctrl.item_valid.eq(self.item_valid), ctrl.item_last.eq(self.item_last),
            ctrl.buffer_can_load.eq(~full | self.result_ready), ctrl.result_done.eq(result_done),
            self.busy.eq(ctrl.busy), self.act_enable.eq(ctrl.act_enable),
            self.weight_enable.eq(ctrl.weight_enable), self.buffer_load.eq(ctrl.buffer_load),
        ]
        with m.If(self.result_ready):
            m.d.sync += full.eq(0)
        with m.If(ctrl.buffer_load):
            m.d.sync += full.eq(1)

        # the run as the environment saw it: its configuration and what was transferred since
        start = self.config.valid & self.config.ready
        steps = Signal(cb)
        sets = Signal(cb)
        total = Signal(2 * cb)
        acts = Signal(2 * cb + 1)
        weights = Signal(2 * cb + 1)
        loads = Signal(cb + 1)
        done = Signal(cb + 1)
        items = Signal(2 * cb + 1)   # steps that have left the array's input stage
        m.d.comb += total.eq(steps * sets)
        with m.If(start):
            cfg = self.config.payload
            m.d.sync += [steps.eq(cfg.steps), sets.eq(cfg.window_sets), acts.eq(0), weights.eq(0),
                         loads.eq(0), done.eq(0), items.eq(0)]
        with m.Else():
            with m.If(self.act_done):
                m.d.sync += acts.eq(acts + 1)
            with m.If(self.weight_done):
                m.d.sync += weights.eq(weights + 1)
            with m.If(ctrl.buffer_load):
                m.d.sync += loads.eq(loads + 1)
            with m.If(result_done):
                m.d.sync += done.eq(done + 1)
            with m.If(self.item_valid & self.item_last & ctrl.advance):
                m.d.sync += items.eq(items + 1)
        started, (was_busy,) = _past(m, ctrl.busy)
        m.d.comb += [
            # a transfer only while enabled; a step ends only after its pallet and brick came in
            self.neighbours.eq((~self.act_done | ctrl.act_enable) & (~self.weight_done | ctrl.weight_enable)
                               & (~(self.item_valid & self.item_last) | ((items < acts) & (items < weights)))),
            self.config_ready.eq(self.config.ready == ~ctrl.busy),
            # exactly steps x window_sets inputs per stream: enabled while fewer came in
            self.inputs.eq((ctrl.act_enable == (ctrl.busy & (acts < total)))
                           & (ctrl.weight_enable == (ctrl.busy & (weights < total)))),
            # the buffer is never overwritten, at most one load per window-set, and the run
            # ends exactly when the last window-set's results have been taken
            self.results.eq((~ctrl.buffer_load | ~full | self.result_ready)
                            & (loads <= sets) & (done <= loads)
                            & (~(started & was_busy & ~ctrl.busy) | (done == sets))),
        ]
        return m


class TileStreamHarness(wiring.Component):
    """The bit-serial tile with every stream free: any ``valid``, payload and ``ready`` in any
    cycle, no assumption at all."""

    def __init__(self, config: TileConfig, *, count_bits=2, detect=True, tile=SerialTile):
        self._make_dut = functools.partial(tile, config, detect=detect, count_bits=count_bits)
        c = config
        self._cb = count_bits
        super().__init__({
            **serial_streams(c, count_bits),
            "busy": Out(1),
            "stable": Out(1), "transfers": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cb = self._cb
        m.submodules.tile = tile = self._make_dut()
        wiring.connect(m, wiring.flipped(self.config), tile.config)
        wiring.connect(m, wiring.flipped(self.act), tile.act)
        wiring.connect(m, wiring.flipped(self.weight), tile.weight)
        wiring.connect(m, tile.result, wiring.flipped(self.result))
        m.d.comb += self.busy.eq(tile.busy)
        res = tile.result
        started, (was_valid, was_ready, was_payload, was_busy) = _past(
            m, res.valid, res.ready, res.payload.as_value(), tile.busy)
        waiting = started & was_valid & ~was_ready
        start = self.config.valid & self.config.ready
        steps, sets = Signal(cb), Signal(cb)
        acts, weights, results = Signal(2 * cb + 1), Signal(2 * cb + 1), Signal(cb + 1)
        total = Signal(2 * cb)
        m.d.comb += total.eq(steps * sets)
        with m.If(start):
            m.d.sync += [steps.eq(self.config.payload.steps), sets.eq(self.config.payload.window_sets),
                         acts.eq(0), weights.eq(0), results.eq(0)]
        with m.Else():
            with m.If(self.act.valid & self.act.ready):
                m.d.sync += acts.eq(acts + 1)
            with m.If(self.weight.valid & self.weight.ready):
                m.d.sync += weights.eq(weights + 1)
            with m.If(res.valid & res.ready):
                m.d.sync += results.eq(results + 1)
        ended = started & was_busy & ~tile.busy
        m.d.comb += [
            # amaranth.lib.stream: once offered, a result stays offered and unchanged until taken
            self.stable.eq(~waiting | (res.valid & (res.payload.as_value() == was_payload))),
            # per run: never more inputs than steps x window_sets or results than window-sets,
            # and exactly those counts when the run ends
            self.transfers.eq((acts <= total) & (weights <= total) & (results <= sets)
                              & (~ended | ((acts == total) & (weights == total) & (results == sets)))),
        ]
        return m


# depth: long enough for two transfers through a block / two window-sets of a small run
_DEPTH = {"input_register": 8, "result_buffer": 8, "controller": 12, "tile": 14}

_STATEMENTS = {
    "input_register.no_loss": "no pallet or brick is transferred while an untaken one is held",
    "input_register.no_duplicate": "an item is offered exactly while a pallet and a brick are held and not yet taken",
    "input_register.payload": "the offered item is the last pallet and brick transferred",
    "result_buffer.stable": "once offered, the results stay offered and unchanged until taken (loads only while can_load)",
    "result_buffer.no_loss": "no results are loaded over untaken ones",
    "result_buffer.no_duplicate": "results are offered exactly while loaded and not yet taken",
    "result_buffer.payload": "the offered results are the last ones loaded",
    "controller.config_ready": "a configuration is accepted exactly while idle",
    "controller.inputs": "per stream exactly steps x window_sets transfers are enabled per run",
    "controller.results": "the result buffer is never overwritten, one load per window-set, the run "
                          "ends when the last results are taken",
    "tile.stable": "the tile's result stream keeps valid and payload until ready (any environment)",
    "tile.transfers": "per run, steps x window_sets pallets and bricks and window_sets results, "
                      "no more, all of them when busy falls (any environment)",
}
#: Properties whose induction closes (the others are bounded: their counters make the
#: simple-path length of the harness far longer than any useful bound).
_INDUCTIVE = {"input_register.no_loss", "input_register.no_duplicate", "input_register.payload",
              "result_buffer.stable", "result_buffer.no_loss", "result_buffer.no_duplicate",
              "result_buffer.payload", "controller.config_ready", "tile.stable"}
_ASSUME = {"input_register": ("consumer",), "result_buffer": ("producer",),
           "controller": ("neighbours",), "tile": ()}


PARTS = tuple(_DEPTH)


class StreamsProof(Harness):
    """The stream properties of one block (``part``: one of :data:`PARTS`) at a small
    configuration (the payload layouts of ``config``'s tile).

    Parameters
    ----------
    config : TileConfig
    part : str
    depth : int, optional
        Bound (default per part: :data:`_DEPTH`).
    count_bits : int
        Width of the run counters of the controller and the tile (steps, window-sets).
    detect : bool
        Dynamic Stripes tile (else Stripes), for the tile part.
    block : type, optional
        The block's class (a test passes a deliberately broken one).
    """

    block = "streams"

    def __init__(self, config: TileConfig, part: str, *, depth=None, count_bits=2, detect=True,
                 block=None):
        if part not in _DEPTH:
            raise ValueError(f"unknown stream part {part!r} (one of {', '.join(_DEPTH)})")
        self.config, self.part = config, part
        self.depth = depth or _DEPTH[part]
        self.count_bits, self.detect = count_bits, bool(detect)
        self.dut = block or {"input_register": InputRegister, "result_buffer": ResultBuffer,
                             "controller": Controller, "tile": SerialTile}[part]

    def label(self) -> str:
        c = self.config
        if self.part == "controller":
            return f"{self.part}: A={c.act_bits} count_bits={self.count_bits} depth={self.depth}"
        text = f"{self.part}: L={c.lanes} Nc={c.columns} Nr={c.rows} A={c.act_bits} W={c.weight_bits}"
        if self.part == "tile":
            kind = f"G={c.group} trim={c.trim}" if self.detect else "Stripes"
            text += f" {kind} count_bits={self.count_bits}"
        return text + f" depth={self.depth}"

    def component(self):
        c, b = self.config, self.dut
        if self.part == "input_register":
            return InputRegisterHarness(pallet_layout(c.lanes, c.columns, c.act_bits),
                                        weight_layout(c.lanes, c.rows, c.weight_bits), block=b)
        if self.part == "result_buffer":
            return ResultBufferHarness(result_layout(c.rows, c.columns, c.acc_bits), block=b)
        if self.part == "controller":
            return ControllerHarness(act_bits=c.act_bits, count_bits=self.count_bits, block=b)
        return TileStreamHarness(c, count_bits=self.count_bits, detect=self.detect, tile=b)

    def properties(self) -> list[Property]:
        return [Property(f"streams.{key}", (key.split(".", 1)[1],), _ASSUME[self.part], depth=self.depth,
                         induction=key in _INDUCTIVE, statement=text)
                for key, text in _STATEMENTS.items() if key.startswith(self.part + ".")]

    def render(self, prop: Property, steps) -> str:
        # one row per cycle: the handshake bits and which check failed; payloads in hex
        keys = sorted({k for s in steps for k in s if k.endswith(("valid", "ready")) or k in (
            "take", "item", "load", "act_enable", "weight_enable", "act_done", "weight_done",
            "item_valid", "item_last", "result_ready", "busy", "buffer_load", "clear")})
        checks = prop.prove
        lines = []
        for t, s in enumerate(steps, 1):
            flags = " ".join(f"{k}={s[k]}" for k in keys if k in s)
            pay = " ".join(f"{k}=0x{int(v.replace('x', '0'), 2):x}" for k, v in sorted(s.items())
                           if k.endswith("payload") or k in ("acts", "weights", "data"))
            bad = [c for c in checks if s.get(c) == "0"]
            lines.append(f"  cycle {t:2d}: {flags}" + (f" | {pay}" if pay else "")
                         + (f"  <- {', '.join(bad)} fails" if bad else ""))
        return "\n".join(lines)
