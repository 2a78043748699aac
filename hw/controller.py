"""Tile controller: run configuration, step / window-set counting, output hand-off, cycles."""
from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.config import check_width

from .params import COUNT_BITS, CYCLE_BITS, check_count_bits, run_layout, run_members


class Controller(wiring.Component):
    """Sequences one run of a tile.

    A run starts when the configuration is accepted (only while idle). The controller then
    (1) lets exactly ``steps * window_sets`` activation and weight transfers in, (2) counts the
    work items leaving the array's input stage (bit-plane cycles on the bit-serial tile, bricks on
    the bit-parallel one) to tell the accumulators when a step's value is added and when a
    window-set closes, (3) hands each closed window-set to the output buffer, stalling the array
    only when the buffer is still full, and (4) ends the run when the last results have been
    taken. ``cycles`` counts the cycles of the run: from the cycle after the configuration was
    accepted to the cycle the last results are transferred, inclusive.

    Without the add stage (``add_stage=False``, the run-ahead tile, whose precision groups each
    have their own, :class:`hw.run_ahead.GroupAddStages`), (2) and (3) are left to the tile: the
    controller marks instead the activation transfer that is the last step of its window-set
    (``act_last``).

    Parameters
    ----------
    act_bits : int
        Activation width (sizes the window fields).
    count_bits : int
        Width of the step and window-set counters.
    add_stage : bool
        Build the add stage and the output hand-off (members ``item_valid`` ... ``buffer_load``);
        otherwise build ``act_last``.
    fc_final : bool
        Only with the add stage (else a ``ValueError``): the tile has the fully-connected dispatch
        (:attr:`~dstripes.sim.config.TileConfig.fc_dispatch`): the ``config`` payload has its
        ``fc`` field, and members ``fc`` and ``fc_final`` are built; in a fully-connected run the
        buffer loads on ``fc_final`` instead of on a closing add. The choice is made here, not in
        the tile's top level, so that ``buffer_load`` stays one block output.

    Members
    -------
    config : ``In(stream.Signature(run_layout))``
        Run configuration; accepted only while idle.
    msb, lsb, signed, mode : ``Out``
        The accepted configuration, held for the whole run.
    fc : ``Out(1)``
        Only with ``fc_final=True``: the run is fully-connected (held for the whole run).
    act_enable, weight_enable : ``Out(1)``
        Activations / weights still to be accepted in this run.
    act_done, weight_done : ``In(1)``
        An activation / weight transfer happened this cycle.
    item_valid, item_last : ``In(1)``
        The array's input stage offers a work item; it ends a step.
    advance : ``Out(1)``
        The array advances this cycle (the work item, if any, is consumed).
    add, clear : ``Out(1)``
        The previous step's value is added into the accumulators; that add closes a window-set.
    buffer_can_load : ``In(1)``, ``buffer_load`` : ``Out(1)``, ``result_done`` : ``In(1)``
        Output buffer hand-off.
    fc_final : ``In(1)``
        Only with ``fc_final=True``: the fully-connected run's column sum is ready (the
        dispatcher's ``fc_final``); ``buffer_load`` follows it while ``fc`` is high.
    act_last : ``Out(1)``
        Only without the add stage: an activation transferred in this cycle is the last step of
        its window-set.
    busy : ``Out(1)``
    cycles : ``Out(CYCLE_BITS)``

    Latency: the add of a step happens in the cycle after its last work item (:data:`LATENCY`).
    Throughput: one work item, one activation and one weight transfer per cycle; one run at a
    time (a configuration is accepted only while idle).
    """

    #: Cycles from a step's last work item to its add.
    LATENCY = 1

    def __init__(self, *, act_bits: int = 16, count_bits: int = COUNT_BITS, add_stage: bool = True,
                 fc_final: bool = False):
        self._act_bits = check_width("act_bits", act_bits)
        self._count_bits = check_count_bits(count_bits)
        self._add_stage = bool(add_stage)
        self._fc_final = bool(fc_final)
        if self._fc_final and not self._add_stage:
            raise ValueError("a controller with fc_final needs the add stage (add_stage=True)")
        members = {
            "config": In(stream.Signature(run_layout(act_bits, count_bits, self._fc_final))),
            **run_members(act_bits, Out),
            "act_done": In(1),
            "weight_done": In(1),
        }
        if self._add_stage:
            members.update({
                "item_valid": In(1),
                "item_last": In(1),
                "advance": Out(1),
                "add": Out(1),
                "clear": Out(1),
                "buffer_can_load": In(1),
                "buffer_load": Out(1),
            })
            if self._fc_final:
                members.update({"fc": Out(1), "fc_final": In(1)})
        else:
            members["act_last"] = Out(1)
        members.update({"result_done": In(1), "busy": Out(1), "cycles": Out(CYCLE_BITS)})
        super().__init__(members)

    count_bits = property(lambda self: self._count_bits)

    def elaborate(self, platform):
        m = Module()
        cb = self._count_bits
        steps = Signal(cb)
        window_sets = Signal(cb)

        def counter(name):
            # (step inside the window-set, window-sets completed) of one event stream
            return Signal(cb, name=f"{name}_step"), Signal(cb + 1, name=f"{name}_ws")

        def count(event, pair):
            step, ws = pair
            with m.If(event):
                m.d.sync += step.eq(step + 1)
                with m.If(step == steps - 1):
                    m.d.sync += [step.eq(0), ws.eq(ws + 1)]

        acts, weights = counter("act"), counter("weight")
        item_step = Signal(cb) if self._add_stage else None  # step of the array's input stage
        results = Signal(cb + 1)

        m.d.comb += self.config.ready.eq(~self.busy)
        with m.If(self.config.valid & self.config.ready):
            cfg = self.config.payload
            m.d.sync += [
                self.msb.eq(cfg.msb), self.lsb.eq(cfg.lsb), self.signed.eq(cfg.signed),
                self.mode.eq(cfg.mode), steps.eq(cfg.steps), window_sets.eq(cfg.window_sets),
                self.busy.eq((cfg.steps != 0) & (cfg.window_sets != 0)),
                self.cycles.eq(0), results.eq(0),
            ]
            if self._fc_final:
                m.d.sync += self.fc.eq(cfg.fc)
            for step, ws in (acts, weights):
                m.d.sync += [step.eq(0), ws.eq(0)]
            if self._add_stage:
                m.d.sync += item_step.eq(0)
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)

        # Both input streams stop at the run's end on their own count, so a producer that runs
        # ahead into the next run is held back rather than mixed in.
        m.d.comb += [
            self.act_enable.eq(self.busy & (acts[1] != window_sets)),
            self.weight_enable.eq(self.busy & (weights[1] != window_sets)),
        ]
        count(self.act_done, acts)
        count(self.weight_done, weights)

        with m.If(self.result_done):
            m.d.sync += results.eq(results + 1)
            with m.If(results + 1 == window_sets):
                m.d.sync += self.busy.eq(0)
        if not self._add_stage:
            m.d.comb += self.act_last.eq(acts[0] == steps - 1)
            return m

        # Add stage: a step's value enters the accumulators the cycle after its last item.
        pending = Signal()
        closes = Signal()
        load = self.advance & pending & closes
        m.d.comb += [
            self.add.eq(pending),
            self.clear.eq(pending & closes),
            self.advance.eq(~(pending & closes & ~self.buffer_can_load)),
            self.buffer_load.eq(Mux(self.fc, self.fc_final, load) if self._fc_final else load),
        ]
        with m.If(self.advance):
            m.d.sync += pending.eq(0)
            with m.If(self.item_valid & self.item_last):
                m.d.sync += [pending.eq(1), closes.eq(item_step == steps - 1),
                             item_step.eq(Mux(item_step == steps - 1, 0, item_step + 1))]
        return m
