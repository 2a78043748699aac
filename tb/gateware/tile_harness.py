"""The memory-backed verification harness: any tile of the registry, driven and checked by
hardware, so the simulator runs the clock with no Python work per cycle.

Verification hardware, not the accelerator (which lives in ``hw/``). :class:`TileHarness` wraps
one tile (:attr:`dstripes.hw.design.TileDesign.component`) and uses only the ports every kind
has: the ``config``, ``act``, ``weight`` and ``result`` streams, ``busy`` and ``cycles``. Around
it:

* **memories** (behavioural models in ``tb/gateware/mem_models.v``, loaded from files the
  testbench writes; their map is a :class:`dstripes.tb.memfile.MemoryMap`): the run table (each
  run's ``config`` payload and the address of its weight bricks), the weight bricks of every run
  (one window-set's worth, replayed per window-set), and two *ring* memories streamed half by
  half: the activation transfers and the expected result transfers of the whole batch, in order;
* **three sources** (``config``, ``act``, ``weight``) that present the next item with seeded
  pseudo-random idle cycles: before presenting an item a source draws from its own xorshift32
  generator and stays idle (``valid`` low, random bits on the payload) with probability
  ``idle / 65536``; a presented item is held until it is taken (as
  :class:`dstripes.tb.bench.streams.StreamDriver`);
* **a sink** with seeded back-pressure (``ready`` low with probability ``stall / 65536`` in each
  cycle, as :class:`dstripes.tb.bench.streams.StreamMonitor`) that compares every result transfer
  bit for bit with the expected memory, counts the mismatches and records the first one (its
  index, what came out and what was expected); a transfer beyond the expected ones is a mismatch
  too;
* **counters**: per run, the cycles from the edge the configuration was accepted to the edge of
  the run's last result transfer (the testbench's own count, as ``tb_cycles`` of
  :mod:`dstripes.tb.bench.tile_bench`), and, one cycle later, the tile's own ``cycles`` counter;
  both go to the run log (``dstripes_log`` of ``tb/gateware/mem_models.v``) with the run's result
  and mismatch counts; and the transfers of every stream over the batch.

A batch starts when ``start`` changes value (so the testbench never waits for an edge to lower
it) and ends with ``done`` once every run was logged, the tile is idle and two more cycles have
passed (a result beyond the last would be counted in them). ``rst`` resets the harness and the
tile, not the memories. Every input is registered before use (``rst`` included), so a change
takes effect one rising edge later than on a plain synchronous input.

The testbench (``tb/bench/harness_bench.py``) touches only ``clk``, ``rst``, the ports of this
component and the memory files, so a Verilator model exposes only those
(:attr:`dstripes.tb.host.verilog.DutVerilog.public`).
"""
from __future__ import annotations

from amaranth.hdl import (Cat, ClockDomain, ClockSignal, Const, DomainRenamer, Instance, Module, Mux, ResetSignal,
                          Shape, Signal, Value)
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.checks import check_integer

from ..memfile import COUNT, FILES, LINE_BITS, LOG_FIELDS, MemoryMap, lane_bits, parts

#: Memory depths (words) of a harness: ring memories stream any length; a batch of runs holds at
#: most ``run_depth`` runs and ``weight_depth`` weight bricks (one window-set's per run).
DEPTHS = {"act_depth": 1 << 13, "result_depth": 1 << 11, "weight_depth": 1 << 12, "run_depth": 1 << 10}
#: The tile ports the harness uses.
TILE_PORTS = ("config", "act", "weight", "result", "busy", "cycles")
#: Seeds of the four generators are ``seed ^ SALT[i]`` (a zero state would stay zero).
SALT = (0x9E3779B9, 0x85EBCA6B, 0xC2B2AE35, 0x27D4EB2F)


def _log2(name: str, depth: int, minimum: int) -> int:
    check_integer(name, depth, minimum)
    if depth & (depth - 1):
        raise ValueError(f"{name} must be a power of two, not {depth}")
    return depth.bit_length() - 1


def _width(shape) -> int:
    return data.Layout.cast(shape).size if isinstance(shape, data.Layout) else Shape.cast(shape).width


def _leaf_bits(shape) -> int:
    """Width of the elements of a (nested) array payload; the whole payload otherwise."""
    while isinstance(shape, data.ArrayLayout):
        shape = shape.elem_shape
    return _width(shape)


def memory_map(signature: wiring.Signature, *, act_depth: int = DEPTHS["act_depth"],
               result_depth: int = DEPTHS["result_depth"], weight_depth: int = DEPTHS["weight_depth"],
               run_depth: int = DEPTHS["run_depth"]) -> MemoryMap:
    """The memories of a harness around a tile of ``signature`` (without building the harness).

    Parameters
    ----------
    signature : wiring.Signature
        The tile's; it needs the ports :data:`TILE_PORTS`.
    act_depth, result_depth, weight_depth, run_depth : int
        As :class:`TileHarness`.

    Raises
    ------
    ValueError
        A port is missing, or a depth is not a power of two of at least 4 (rings) or 2.
    """
    members = signature.members
    for name in TILE_PORTS:
        if name not in members:
            raise ValueError(f"a tile needs a {name!r} port; this one has {', '.join(members)}")
    depths = {"act": 1 << _log2("act_depth", act_depth, 2), "result": 1 << _log2("result_depth", result_depth, 2),
              "weight": 1 << _log2("weight_depth", weight_depth, 1), "run": 1 << _log2("run_depth", run_depth, 1)}
    shapes = {name: members[name].signature.members["payload"].shape for name in ("config", "act", "weight", "result")}
    widths = {name: _width(shape) for name, shape in shapes.items()}
    elem_bits = {name: _leaf_bits(shapes[name]) for name in ("act", "weight", "result")}
    table_width = widths["config"] + depths["weight"].bit_length() - 1
    lanes = {"table": min(table_width, LINE_BITS), **{name: lane_bits(elem_bits[name]) for name in elem_bits}}
    return MemoryMap(depths, widths, elem_bits, lanes, table_width)


def _xorshift(x: Value) -> Value:
    """One step of Marsaglia's xorshift32."""
    a = x ^ (x << 13)[:32]
    b = a ^ (a >> 17)
    return b ^ (b << 5)[:32]


class TileHarness(wiring.Component):
    """A tile inside memories, stimulus generators and checkers (see the module docstring).

    Parameters
    ----------
    tile : wiring.Component
        A tile of the registry (:attr:`dstripes.hw.design.TileDesign.component`).
    act_depth, result_depth : int
        Words of the activation and expected-result ring memories (powers of two; a batch of
        any length streams through them half by half).
    weight_depth : int
        Weight bricks a batch can hold (a run needs one window-set's bricks, ``steps``).
    run_depth : int
        Runs a batch can hold.

    Members
    -------
    start : ``In(8)``
        A new value starts a batch of ``runs`` runs.
    runs : ``In(COUNT)``, acts : ``In(COUNT)``
        Runs of the batch, and activation transfers of all of them.
    seed : ``In(32)``
        Seed of the idle and back-pressure generators (taken at the start).
    idle, stall : ``In(16)``
        Probability (in 1/65536) of an idle source cycle before each item and of a cycle
        without ``ready`` on the result stream.
    table_load : ``In(1)``, act_load, result_load : ``In(2)``
        Load the run table and the weight bricks / a half of a ring memory from its file at
        the next rising edge.
    act_half, result_half : ``Out(1)``
        Which half of a ring the next transfer reads: when it changes, the other half is free.
    done : ``Out(1)``
        The batch is over (see the module docstring).
    busy : ``Out(1)``
        The tile's ``busy``.
    logged, act_count, weight_count, result_count, mismatches, first_index : ``Out(COUNT)``
        Runs logged, transfers of each stream, result transfers that differed from the
        expected memory (or had none) and the index of the first of them in the batch.
    first_got, first_want : ``Out(result width)``
        That transfer's payload and the expected one.
    memory_map : MemoryMap
        The memories, their files and the run log's fields (:func:`memory_map`).

    Latency and throughput: the harness adds nothing to the tile's; every stream can transfer
    in every cycle.
    """

    def __init__(self, tile: wiring.Component, *, act_depth: int = DEPTHS["act_depth"],
                 result_depth: int = DEPTHS["result_depth"], weight_depth: int = DEPTHS["weight_depth"],
                 run_depth: int = DEPTHS["run_depth"]):
        self._tile = tile
        self._map = memory_map(tile.signature, act_depth=act_depth, result_depth=result_depth,
                               weight_depth=weight_depth, run_depth=run_depth)
        self._abits, self._rbits, self._wbits, self._tbits = (
            self._map.depths[name].bit_length() - 1 for name in ("act", "result", "weight", "run"))
        self._cfg_layout = tile.signature.members["config"].signature.members["payload"].shape
        result = self._map.widths["result"]
        super().__init__({
            "start": In(8),
            "runs": In(COUNT),
            "acts": In(COUNT),
            "seed": In(32),
            "idle": In(16),
            "stall": In(16),
            "table_load": In(1),
            "act_load": In(2),
            "result_load": In(2),
            "act_half": Out(1),
            "result_half": Out(1),
            "done": Out(1),
            "busy": Out(1),
            "logged": Out(COUNT),
            "act_count": Out(COUNT),
            "weight_count": Out(COUNT),
            "result_count": Out(COUNT),
            "mismatches": Out(COUNT),
            "first_index": Out(COUNT),
            "first_got": Out(result),
            "first_want": Out(result),
        })

    tile = property(lambda self: self._tile)
    memory_map = property(lambda self: self._map, doc="The harness's memories (:class:`MemoryMap`).")

    @property
    def log_width(self) -> int:
        return sum(w for _, w in LOG_FIELDS)

    def _rom(self, m, name: str, memory: str, load, addr):
        """An instance of ``dstripes_rom`` holding ``memory`` (``table``, ``act``, ``weight``,
        ``result``), read at ``addr`` (its low bits); returns the word read."""
        mm = self._map
        width, abits, files = {
            "table": (mm.table_width, self._tbits, FILES["table"]),
            "act": (mm.widths["act"], self._abits, FILES["acts"]),
            "weight": (mm.widths["weight"], self._wbits, FILES["weights"]),
            "result": (mm.widths["result"], self._rbits, FILES["expected"]),
        }[memory]
        lane = mm.lanes[memory]
        data_ = Signal(width, name=f"{name}_data")
        f0, f1 = (files, "") if isinstance(files, str) else files
        m.submodules[f"{name}_mem"] = Instance(
            "dstripes_rom", p_WIDTH=width, p_ABITS=abits, p_LANE=lane, p_PARTS=parts(width, lane),
            p_FILE0=f0, p_FILE1=f1, i_clk=ClockSignal(), i_load=load, i_addr=addr[:abits], o_data=data_)
        return data_

    def elaborate(self, platform):
        m = Module()
        tile = self._tile
        m.submodules.tile = DomainRenamer("dut")(tile)
        w = self._map.widths

        # Every top-level input is registered before use, the reset included (the harness and
        # the tile run in domain ``dut``, reset by the registered ``rst``). Logic fed by a
        # top-level input is re-evaluated whenever the simulator is entered (twice a cycle on
        # Verilator); logic fed by registers only once per clock edge. Amaranth computes every
        # register's next value through its synchronous reset, so an unregistered ``rst``
        # would put the whole design in the first group.
        m.domains.dut = ClockDomain("dut", local=True)
        rst = Signal(reset_less=True)
        m.d.sync += rst.eq(ResetSignal())
        m.d.comb += [ClockSignal("dut").eq(ClockSignal()), ResetSignal("dut").eq(rst)]
        start = Signal(8, reset_less=True)
        ins = {name: Signal(len(getattr(self, name)), name=f"{name}_q", reset_less=True)
               for name in ("runs", "acts", "seed", "idle", "stall")}
        m.d.sync += [start.eq(self.start)] + [q.eq(getattr(self, name)) for name, q in ins.items()]

        # -- batch control -------------------------------------------------------------
        last_start = Signal(8, reset_less=True)  # a reset must not look like a new start
        running = Signal()
        new = Signal()
        m.d.dut += last_start.eq(start)
        m.d.comb += new.eq(start != last_start)
        # the batch's parameters, taken at its start
        n_runs, n_acts = Signal(COUNT), Signal(COUNT)
        idle, stall = Signal(16), Signal(16)
        with m.If(new):
            m.d.dut += [n_runs.eq(ins["runs"]), n_acts.eq(ins["acts"]), idle.eq(ins["idle"]), stall.eq(ins["stall"])]

        # -- pseudo-random generators: config, act, weight sources and the result sink --
        gens = [Signal(32, name=f"rng_{n}", init=SALT[i]) for i, n in enumerate(("config", "act", "weight", "result"))]
        for i, g in enumerate(gens):
            seeded = ins["seed"] ^ SALT[i]
            with m.If(new):
                m.d.dut += g.eq(Mux(seeded == 0, SALT[i], seeded))
            with m.Else():
                m.d.dut += g.eq(_xorshift(g))

        def garbage(g, width):
            return Cat(*([g] * -(-width // 32)))[:width]

        def source(stream, gen, have, payload, width, name):
            """Present ``payload`` while ``have``, after seeded idle cycles; returns the transfer."""
            held = Signal(name=f"{name}_held")
            valid = Signal(name=f"{name}_valid")
            fire = Signal(name=f"{name}_fire")
            m.d.comb += [
                valid.eq(have & (held | (gen[:16] >= idle))),
                stream.valid.eq(valid),
                stream.payload.eq(Mux(valid, payload, garbage(gen, width))),
                fire.eq(valid & stream.ready),
            ]
            m.d.dut += held.eq(valid & ~stream.ready)
            return fire

        # -- run table (one copy per reader) ---------------------------------------------
        cfg_w = w["config"]
        whole = Cat(self.table_load, Const(0, 1))  # loads the run table and the weights

        def table(name, index):
            word = self._rom(m, f"{name}_table", "table", whole, index)
            return data.View(self._cfg_layout, word[:cfg_w]), word[cfg_w:]

        # -- config source ---------------------------------------------------------------
        crun = Signal(COUNT)
        cfg, _ = table("config", crun)
        c_fire = source(tile.config, gens[0], running & (crun < n_runs), Value.cast(cfg), cfg_w, "config")
        with m.If(c_fire):
            m.d.dut += crun.eq(crun + 1)

        # -- activation source: the ring memory, in order ----------------------------------
        aptr = Signal(COUNT)
        acts = self._rom(m, "act", "act", self.act_load, aptr)
        a_fire = source(tile.act, gens[1], running & (aptr < n_acts), acts, w["act"], "act")
        with m.If(a_fire):
            m.d.dut += aptr.eq(aptr + 1)
        m.d.comb += [self.act_half.eq(aptr[self._abits - 1]), self.act_count.eq(aptr)]

        # -- weight source: each run's bricks, replayed per window-set ---------------------
        wrun, wstep, wset = Signal(COUNT), Signal(COUNT), Signal(COUNT)
        wcfg, wbase = table("weight", wrun)
        weights = self._rom(m, "weight", "weight", whole, wbase + wstep)
        w_fire = source(tile.weight, gens[2], running & (wrun < n_runs), weights, w["weight"], "weight")
        with m.If(w_fire):
            m.d.dut += [self.weight_count.eq(self.weight_count + 1), wstep.eq(wstep + 1)]
            with m.If(wstep == wcfg.steps - 1):
                m.d.dut += [wstep.eq(0), wset.eq(wset + 1)]
                with m.If(wset == wcfg.window_sets - 1):
                    m.d.dut += [wset.eq(0), wrun.eq(wrun + 1)]

        # -- result sink and scoreboard ----------------------------------------------------
        rptr, rrun, rres, rbad = Signal(COUNT), Signal(COUNT), Signal(COUNT), Signal(COUNT)
        rcfg, _ = table("result", rrun)
        want = self._rom(m, "expected", "result", self.result_load, rptr)
        got = Value.cast(tile.result.payload)
        m.d.comb += [tile.result.ready.eq(gens[3][:16] >= stall),
                     self.result_half.eq(rptr[self._rbits - 1]), self.result_count.eq(rptr)]
        r_fire = tile.result.valid & tile.result.ready
        expected = rrun < n_runs
        bad = Signal()
        m.d.comb += bad.eq(~expected | (got != want))

        # the testbench's own count of a run: from the config transfer to the last result
        count = Signal(COUNT)
        m.d.dut += count.eq(Mux(tile.config.valid & tile.config.ready, 0, count + 1))
        closing = Signal()
        log = Signal(self.log_width)
        m.d.dut += closing.eq(0)
        with m.If(r_fire):
            m.d.dut += rptr.eq(rptr + 1)
            with m.If(bad):
                m.d.dut += self.mismatches.eq(self.mismatches + 1)
                with m.If(self.mismatches == 0):
                    m.d.dut += [self.first_index.eq(rptr), self.first_got.eq(got),
                                 self.first_want.eq(Mux(expected, want, 0))]
            with m.If(expected):
                m.d.dut += [rres.eq(rres + 1), rbad.eq(rbad + bad)]
                with m.If(rres + 1 == rcfg.window_sets):
                    m.d.dut += [rres.eq(0), rbad.eq(0), rrun.eq(rrun + 1), closing.eq(1),
                                 log[:16].eq(rrun), log[16:48].eq(rres + 1), log[48:80].eq(rbad + bad),
                                 log[80:112].eq(count + 1)]
        # one cycle after its last result transfer, the tile's counter holds the run's cycles
        log_word = Cat(log[:112], tile.cycles.as_unsigned())[:self.log_width]
        # kept: a cell without outputs would be removed by yosys (Icarus netlists)
        m.submodules.log = Instance("dstripes_log", a_keep=1, p_WIDTH=self.log_width, p_FILE=FILES["log"],
                                    i_clk=ClockSignal(), i_we=closing & running, i_data=log_word)
        with m.If(closing & running):
            m.d.dut += self.logged.eq(self.logged + 1)

        # -- end of a batch: every run logged, the tile idle, two cycles of grace ----------
        grace = Signal(2)
        m.d.comb += self.busy.eq(tile.busy)
        with m.If(running & (self.logged == n_runs) & ~closing & ~tile.busy):
            m.d.dut += grace.eq(grace + 1)
            with m.If(grace == 2):
                m.d.dut += [running.eq(0), self.done.eq(1)]

        with m.If(new):
            m.d.dut += [running.eq(1), self.done.eq(0), grace.eq(0), crun.eq(0), aptr.eq(0),
                         wrun.eq(0), wstep.eq(0), wset.eq(0), self.weight_count.eq(0),
                         rptr.eq(0), rrun.eq(0), rres.eq(0), rbad.eq(0), self.logged.eq(0),
                         self.mismatches.eq(0), self.first_index.eq(0), self.first_got.eq(0),
                         self.first_want.eq(0)]
        return m

