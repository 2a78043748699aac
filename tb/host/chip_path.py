# amaranth: UnusedElaboratable=no
"""Runner side of the accelerator's fast path: one layer on the generated chip, checked against
the golden model (``sim/chip``).

Typical use (``dstripes simulate --chip``)::

    design = ChipDesign(chip, tile)                   # hw.chip.design
    run = chip_run(chip, layer, window, out_window, acts, weights, shift=..., dram=...)
    result = simulate_chip(design, run)              # a ChipSimResult
    result.passed, result.cycles_rtl == result.cycles_model

The run is up to five commands (``LOAD`` the input into NM, ``LOAD`` the residual when there is
one, ``prefetch`` pass 0's weights when they are to be in SB already, ``LAYER``, ``STORE`` the
output), played by the harness (:mod:`tb.gateware.chip_harness`) from memory files; the
``LAYER`` command's cycles must equal the model's exactly and the stored output every code of the
model's. :func:`pool_run` plans a ``POOL`` command the same way (``LOAD``, ``POOL``, ``STORE``);
the harness plays any command the chip takes, so it needs nothing more.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from dstripes.hw.chip.design import ChipDesign
from dstripes.hw.chip.layouts import OPS, command_layout
from dstripes.sim.chip.config import ChipConfig
from dstripes.sim.chip.descriptor import LayerDescriptor
from dstripes.sim.chip.dram import DramConfig
from dstripes.sim.chip.images import bricks_tensor, tensor_bricks, weight_beats
from dstripes.sim.chip.model import ChipLayerRun, model_layer
from dstripes.sim.chip.plan import LayerPlan
from dstripes.sim.chip.pool import ChipPoolRun, PoolDescriptor, model_pool
from dstripes.sim.errors import ConfigError
from dstripes.sim.files import write_atomic

from dstripes.hw.chip.sram import MODEL as SRAM_MODEL
from dstripes.hw.emit import generator_sources, share_modules

from .. import memfile
from ..gateware import chip_harness, tile_harness
from ..gateware.chip_harness import FILES, LOG_FIELDS, OBSERVED, ChipHarness, observe_layout
from ..verdict import Check, FAILED, PASSED, Verdict
from .cycle_path import tile_verilog
from .errors import BuildError
from . import verilator
from .runner import build, run
from .verilog import DutVerilog, cached_verilog

TEST_MODULE = "dstripes.tb.bench.chip_bench"
GATEWARE = Path(chip_harness.__file__).resolve().parent
#: Address bits of the command memory.
COMMAND_BITS = 4


def harness_bits(chip: ChipConfig, *, commands: int = 0, words: int = 0) -> tuple[int, int]:
    """``(command_bits, dram_bits)`` of a harness that holds ``commands`` commands and ``words``
    off-chip words: at least :data:`COMMAND_BITS` and ``nm_addr_bits + 2`` (one layer's runs
    share one build), more when a plan needs it (a whole network, :mod:`.chain_path`)."""
    cbits = max(COMMAND_BITS, (max(commands, 1) - 1).bit_length())
    dbits = max(chip.nm_addr_bits + 2, (max(words, 1) - 1).bit_length())
    return cbits, dbits


def harness_design(design: ChipDesign, build_root: str | os.PathLike | None = None, *,
                   command_bits: int = COMMAND_BITS, dram_bits: int | None = None,
                   hierarchical: bool = False) -> tuple[DutVerilog, dict]:
    """The Verilog the fast path simulates: the chip inside :class:`tb.gateware.chip_harness.ChipHarness`,
    the tile module (emitted once, cached; identical modules written once,
    :func:`dstripes.hw.emit.share_modules`, inlined again by Verilator but for the tile:
    :func:`.verilator.inline_modules`) and the memories' behavioural models; and the
    harness's description (address widths, command word). ``command_bits`` and ``dram_bits``
    size its command and off-chip memories (:func:`harness_bits`; ``dram_bits`` by default
    ``nm_addr_bits + 2``); both key the Verilog cache. ``hierarchical``: the tile marked a
    hierarchical block (:func:`.verilator.hier_block`), to be built with :data:`HIER_ARGS`."""
    chip = design.chip
    if dram_bits is None:
        dram_bits = harness_bits(chip)[1]
    harness = ChipHarness(chip, tile_top=design.tile.top, dram_bits=dram_bits, command_bits=command_bits)
    top = f"{design.top}_harness"
    root = GATEWARE.parents[1]
    sources = (generator_sources() + sorted((root / "hw" / "chip").glob("*.p[yv]")) + sorted((root / "sim" / "chip").glob("*.py"))
               + [Path(chip_harness.__file__), Path(tile_harness.__file__), Path(memfile.__file__)])
    models = "\n".join([SRAM_MODEL.read_text(), (GATEWARE / "mem_models.v").read_text(),
                        (GATEWARE / "chip_models.v").read_text(), (GATEWARE / "observer.v").read_text()])
    outer = cached_verilog(lambda: ChipHarness(chip, tile_top=design.tile.top, dram_bits=dram_bits,
                                             command_bits=command_bits),
                         top, {"chip": chip.as_dict(), "tile": design.tile.manifest.parameters, "scheme": chip.scheme,
                               "dram_bits": dram_bits, "command_bits": command_bits},
                         public="ports", models=models, sources=sources, build_root=build_root)
    tile = tile_verilog(design.tile, build_root=build_root)
    text = verilator.inline_modules(share_modules(outer.verilog + "\n" + tile.verilog, keep=top),
                                    keep=(top, design.tile.top))
    if hierarchical:
        text = verilator.hier_block(text, design.tile.top)
    models = f"`define DSTRIPES_NM {nm_reference(outer.verilog, top)}\n{models}"
    combined = DutVerilog(top, text, outer.config, outer.streams, models, outer.public)
    info = {"dram_bits": dram_bits, "command_bits": command_bits, "command_lane": harness.command_lane}
    return combined, info


_NAME = r"(\\\S+ |[A-Za-z_][A-Za-z0-9_$]*)"


def nm_reference(verilog: str, top: str) -> str:
    """The hierarchical name of NM's array, from harness ``top`` (``tb/gateware/observer.v``):
    ``chip.<NM's instance>.<its macro's instance>.mem``, the instance names as yosys wrote them
    into ``verilog`` (the Sram block may be renamed, e.g. ``\\nm$294``, beside a signal ``nm``).

    Raises
    ------
    BuildError
        ``verilog`` has no NM block holding a ``dstripes_sram``.
    """
    module = r"\\" + re.escape(f"{top}.chip.nm") + r"(?:\$\d+)?"
    inst = re.search(r"^\s*(" + module + r") +" + _NAME + r"\s*\(", verilog, re.M)
    body = inst and re.search(r"^module " + re.escape(inst.group(1)) + r" ?\((.*?)^endmodule", verilog, re.M | re.S)
    macro = body and re.search(r"dstripes_sram\s*#\(.*?\n\s*\)\s*" + _NAME + r"\s*\(", body.group(1), re.S)
    if not macro:
        raise BuildError(f"no NM block (module {top}.chip.nm holding a dstripes_sram) in the harness's Verilog")
    return f"chip.{inst.group(2)}.{macro.group(1)}.mem"


PERIOD_NS = 10
#: Verilator options of a hierarchical harness build: the tile verilated and compiled once, not per
#: instance (Verilator writes every instance's C++: 16 copies of the tile's at the published size).
HIER_ARGS = (verilator.HIERARCHICAL,)


def thread_args(threads: int) -> tuple[str, ...]:
    """Verilator options of a model evaluated by ``threads`` threads (none for one).

    Measured on Stripes, T = 2 tiles of 16x16x16, VGG-16 at 32x32 (``docs/verification.md``):
    with the machine's other core idle (load 1.4), 2 threads simulate the weight-bound layers at
    about 73,000 cycles/s against 55,000 single-threaded (48,367 -> 50,448 cycles/s over the whole
    chain, whose end ran beside other work); with that core busy (load 5) about 40 times slower,
    the worker spinning. So an option (``scripts/bench/chain.py --threads``), not the default.

    Raises
    ------
    ConfigError
        ``threads`` is not a positive integer.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be a positive integer, not {threads!r}")
    return ("--threads", str(threads)) if threads > 1 else ()


BUDGET_FACTOR, BUDGET_SLACK = 4, 100_000


@dataclass(frozen=True)
class ChipRun:
    """One layer's simulation: the model's run and what the harness needs.

    Members
    -------
    model : ChipLayerRun or ChipPoolRun
        The expected outputs and cycles (of the ``LAYER`` or ``POOL`` command).
    image : ndarray
        The off-chip memory image (``(words, chunks)`` uint64): the input, then the weights.
    commands : tuple of (str, dict)
        ``(op, fields)`` in order; ``layer_index`` is the ``LAYER`` command's.
    out_range : (int, int)
        Off-chip words the output is stored to.
    out_shape : (int, int, int)
        The output tensor's shape.
    out_signed : bool
        Its codes are two's complement.
    """

    model: ChipLayerRun | ChipPoolRun
    image: np.ndarray
    commands: tuple
    layer_index: int
    out_range: tuple
    dram: DramConfig
    out_shape: tuple
    out_signed: bool


def chip_run(chip: ChipConfig, descriptor: LayerDescriptor, acts: np.ndarray, weights: np.ndarray, *,
             dram: DramConfig, bias: np.ndarray | None = None, residual: np.ndarray | None = None) -> ChipRun:
    """Plan one layer on ``chip``: the model's run, the memory image and the commands. With a
    ``residual`` (its window in ``descriptor.residual``), the image holds it after the weights and
    a second ``LOAD`` puts it at ``res_base`` before the ``LAYER`` command."""
    model = model_layer(acts, weights, descriptor, chip, dram, bias=bias, residual=residual)
    layer = descriptor.layer
    plan = LayerPlan(layer, chip)
    inputs = tensor_bricks(acts, chip)
    w = weight_beats(weights, plan, bias)
    if descriptor.w_base < len(inputs):
        raise ConfigError(f"w_base {descriptor.w_base} would overlap the input's {len(inputs)} off-chip words")
    res = tensor_bricks(residual, chip) if residual is not None else w[:0]
    res_first = descriptor.w_base + len(w)
    out_first = res_first + len(res)
    n_out = descriptor.out_bricks(chip)
    image = np.zeros((out_first, inputs.shape[1]), dtype=np.uint64)
    image[:len(inputs)] = inputs
    image[descriptor.w_base:res_first] = w
    image[res_first:] = res
    values = descriptor.values(chip)
    commands = [("load", {"dram": 0, "nm": descriptor.in_base, "count": len(inputs)})]
    if residual is not None:
        commands.append(("load", {"dram": res_first, "nm": descriptor.resolved_res_base(chip), "count": len(res)}))
    if descriptor.w0_loaded:
        commands.append(("layer", {"layer": {**values, "prefetch": 1, "w0_loaded": 0}}))
    commands.append(("layer", {"layer": values}))
    layer_index = len(commands) - 1
    commands.append(("store", {"dram": out_first, "nm": descriptor.resolved_out_base(chip), "count": n_out}))
    return ChipRun(model, image, tuple(commands), layer_index, (out_first, out_first + n_out - 1), dram,
                   (layer.k, layer.oh, layer.ow), descriptor.out_window.signed)


def pool_run(chip: ChipConfig, descriptor: PoolDescriptor, codes: np.ndarray, *, dram: DramConfig) -> ChipRun:
    """Plan one ``POOL`` command on ``chip``: ``LOAD`` the input into NM, ``POOL``, ``STORE`` the
    pooled tensor; the model's run and the memory image."""
    model = model_pool(codes, descriptor, chip)
    inputs = tensor_bricks(codes, chip)
    n_out = model.traffic.writes
    out_first = len(inputs)
    commands = (("load", {"dram": 0, "nm": descriptor.in_base, "count": len(inputs)}),
                ("pool", {"layer": descriptor.values(chip)}),
                ("store", {"dram": out_first, "nm": descriptor.resolved_out_base(chip), "count": n_out}))
    return ChipRun(model, inputs, commands, 1, (out_first, out_first + n_out - 1), dram, descriptor.out_shape,
                   descriptor.window.signed)


@dataclass
class ChipSimResult:
    """The outcome of one layer on the generated chip.

    Members
    -------
    passed : bool
    cycles_rtl, cycles_model : int
        The ``LAYER`` (or ``POOL``) command's cycles, counted by the harness and by the model.
    breakdown : dict
        The model's ``compute``, ``nm_stall``, ``weight_stall``, ``offchip_stall``.
    checked, mismatches : int
        Output codes compared, and how many differed.
    first_mismatch : dict or None
        ``filter``, ``y``, ``x``, ``got``, ``expected``.
    outputs : ndarray (K, Ho, Wo)
        The codes the chip stored.
    verdict : Verdict
    sim_seconds, build_seconds, wall_seconds : float
    sim_cycles : int
        Simulated clock cycles of all commands.
    commands : list
        Each command's cycles.
    nm : dict
        The model's NM traffic of the ``LAYER`` or ``POOL`` command (:class:`NmTraffic`).
    """

    passed: bool
    cycles_rtl: int
    cycles_model: int
    breakdown: dict
    checked: int
    mismatches: int
    first_mismatch: dict | None
    outputs: np.ndarray
    verdict: Verdict
    sim_seconds: float
    build_seconds: float
    wall_seconds: float
    sim_cycles: int
    commands: list = field(default_factory=list)
    log: str | None = None
    nm: dict | None = None

    @property
    def cycles_per_second(self) -> float:
        """Simulated cycles per second of simulation (all commands, start-up included)."""
        return self.sim_cycles / self.sim_seconds if self.sim_seconds else 0.0

    def as_dict(self) -> dict:
        """The JSON of ``dstripes simulate --chip``."""
        b = self.breakdown
        return {
            "passed": self.passed,
            "cycles": {"rtl": self.cycles_rtl, "model": self.cycles_model, "compute": b["compute"],
                       "nm_stall": b["nm_stall"], "weight_stall": b["weight_stall"],
                       "offchip_stall": b["offchip_stall"]},
            "results": {"checked": self.checked, "mismatches": self.mismatches},
            "simulated_cycles_per_s": self.cycles_per_second,
            "first_mismatch": self.first_mismatch,
            "checks": [c.as_dict() for c in self.verdict.checks],
            "commands": self.commands,
            "nm": self.nm,
            "seconds": {"build": self.build_seconds, "simulation": self.sim_seconds, "wall": self.wall_seconds},
            "log": self.log,
        }


def judge(expected: np.ndarray, cycles_model: int, got: np.ndarray | None, cycles_rtl: int | None,
          commands_done: int, commands: int) -> tuple:
    """The checks of one layer: ``(verdict, mismatches, first_mismatch)``."""
    checks = [Check("commands completed", PASSED if commands_done == commands else FAILED,
                    f"{commands_done} of {commands}")]
    first, bad = None, expected.size
    if got is not None and got.shape == expected.shape:
        diff = got != expected
        bad = int(diff.sum())
        if bad:
            k, y, x = (int(v) for v in np.argwhere(diff)[0])
            first = {"filter": k, "y": y, "x": x, "got": int(got[k, y, x]), "expected": int(expected[k, y, x])}
            detail = (f"{bad} of {expected.size} output codes differ; first at filter {k}, (y, x) = ({y}, {x}): "
                      f"chip {first['got']}, model {first['expected']}")
        else:
            detail = f"{expected.size} output codes equal the model"
        checks.append(Check("outputs bit-exact", FAILED if bad else PASSED, detail))
    else:
        checks.append(Check("outputs bit-exact", FAILED, "no output read back"))
    checks.append(Check("cycles exact", PASSED if cycles_rtl == cycles_model else FAILED,
                        f"RTL {cycles_rtl}, model {cycles_model}"))
    return Verdict(tuple(checks)), bad, first


@dataclass
class Played:
    """What the harness did with a command list (:func:`play`).

    Members
    -------
    result : SimResult
        The simulator's run.
    log : list of dict
        ``{"command", "cycles"}`` of every command completed, in order.
    dump : ndarray or None
        The dumped off-chip words ``(count, chunks)`` uint64 (``None``: none read back).
    sim_cycles : int
        Simulated clock cycles of all commands.
    build_seconds : float
        The simulator build's (0 when it was reused).
    verilog_seconds : float
        Making the harness's Verilog (from the Verilog cache, or generated).
    observed : dict
        Command index -> the NM words observed after it (``(count, chunks)`` uint64, or ``None``
        when the observer wrote nothing readable).
    """

    result: object
    log: list
    dump: np.ndarray | None
    sim_cycles: int
    build_seconds: float
    verilog_seconds: float = 0.0
    observed: dict = field(default_factory=dict)


def play(design: ChipDesign, commands, image: np.ndarray, dram: DramConfig, dump_range: tuple, *,
         expected_cycles: int, build_root: str | os.PathLike | None = None, quick: bool = False,
         directory: Path, watch=None, hierarchical: bool = False, threads: int = 1,
         observe: Mapping[int, tuple] | None = None) -> Played:
    """Build the harness sized for ``commands`` and ``image`` (or reuse its build), play the
    commands (``(op, fields)``) on the off-chip ``image`` under ``dram``'s timing and read back
    off-chip words ``dump_range`` (first, last) and the command log; with ``observe`` (command
    index -> ``(first, count)`` NM words), those NM words as the command left them
    (:attr:`Played.observed`: the harness's observer, no cycle of the chip's).

    ``expected_cycles`` (the model's cycles of all commands, roughly) sets the time budget;
    ``watch(log)`` is called with the commands completed so far while the simulator runs (once
    a second, when the log has grown). ``hierarchical``: build the tile once as a hierarchical block
    (:func:`harness_design`): on the published chip a build of a quarter of the time, but a
    simulation 2.4 to 2.9 times slower (``docs/verification.md``), so only for short runs.
    ``threads``: Verilator's model evaluated by that many threads (:func:`thread_args`).
    """
    chip = design.chip
    if len(commands) >= 1 << 16:
        raise ConfigError(f"{len(commands):,} commands: the harness counts at most {(1 << 16) - 1:,}")
    extra = (HIER_ARGS if hierarchical else ()) + thread_args(threads)
    n_dump = dump_range[1] - dump_range[0] + 1
    cbits, dbits = harness_bits(chip, commands=len(commands), words=max(len(image), dump_range[1] + 1))
    t0 = time.perf_counter()
    verilog, info = harness_design(design, build_root, command_bits=cbits, dram_bits=dbits, hierarchical=hierarchical)
    verilog_seconds = time.perf_counter() - t0
    b = build(verilog, "verilator", build_root=build_root, build_args=extra, quick=quick,
              optimise=not quick)
    directory.mkdir(parents=True, exist_ok=True)
    lay = command_layout(chip)
    words = [lay.const({"op": OPS[op], **fields}).as_value().value for op, fields in commands]
    write_atomic(directory / FILES["commands"], memfile.hex_ints(words, lay.size, info["command_lane"]))
    observe = dict(observe or {})
    width = observe_layout(chip).size
    write_atomic(directory / FILES["observe"], memfile.hex_ints(
        [_observe_word(observe.get(i), chip) for i in range(len(commands))], width, min(width, memfile.LINE_BITS)))
    for i in observe:
        (directory / f"{OBSERVED}{i}.hex").unlink(missing_ok=True)
    write_atomic(directory / FILES["image"], memfile.hex_words(image, 64))
    budget = BUDGET_FACTOR * (int(np.asarray(image).shape[0]) + n_dump + expected_cycles) + BUDGET_SLACK
    params = {"period_ns": PERIOD_NS, "files": FILES, "log_fields": [list(f) for f in LOG_FIELDS],
              "commands": len(commands), "seed": dram.seed, "stall": dram.threshold,
              "latency": dram.latency, "jitter": dram.jitter, "credit": dram.credit,
              "dump_first": dump_range[0], "dump_last": dump_range[1],
              "budget": int(budget / (1 - dram.stall))}
    log_file = directory / FILES["log"]
    log_file.unlink(missing_ok=True)
    stop = threading.Event()
    watcher = None
    if watch is not None:
        watcher = threading.Thread(target=_watch, args=(log_file, watch, stop), daemon=True)
        watcher.start()
    try:
        res = run(b, TEST_MODULE, params=params, run_dir=directory)
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
    rec = res.results.get("chip") or {}
    log = [r for r in (rec.get("commands") or []) if r["command"] < len(commands)]
    if watch is not None and log:
        watch(log)              # the commands finished since the last poll
    chunks = np.asarray(image).shape[1]

    def read(path: Path, count: int):
        return _read_dump(path, chunks, count) if path.exists() else None

    words_back = read(directory / FILES["dump"], n_dump)
    seen = {i: read(directory / f"{OBSERVED}{i}.hex", count) for i, (_, count) in observe.items()}
    return Played(res, log, words_back, int(rec.get("sim_cycles") or 0),
                  res.build.seconds if res.build is not None else 0.0, verilog_seconds, seen)


def _observe_word(where: tuple | None, chip: ChipConfig) -> int:
    """The observation-memory word of a command (:func:`observe_layout`): 0, or ``fire`` with NM
    words ``first .. first + count - 1``."""
    if where is None:
        return 0
    first, count = (int(v) for v in where)
    if count < 1 or first < 0 or first + count > chip.nm_words:
        raise ConfigError(f"observed NM words {first} + {count} outside NM's {chip.nm_words:,}")
    return observe_layout(chip).const({"fire": 1, "first": first, "last": first + count - 1}).as_value().value


def _watch(path: Path, callback, stop: threading.Event) -> None:
    """Call ``callback(log)`` whenever the harness's command log has grown (polled once a second)."""
    fields = [tuple(f) for f in LOG_FIELDS]
    seen = 0
    while not stop.wait(1.0):
        try:
            log = memfile.read_log(path, fields) if path.exists() else []
        except (OSError, ValueError):
            continue
        if len(log) > seen:
            seen = len(log)
            callback(log)


def simulate_chip(design: ChipDesign, plan: ChipRun, *, build_root: str | os.PathLike | None = None,
                  quick: bool = False, run_dir: str | os.PathLike | None = None,
                  tamper: dict | None = None) -> ChipSimResult:
    """Build the harness around ``design`` (or reuse its build), play ``plan`` and judge it.

    ``tamper`` (tests of the checks themselves): ``{"output": (k, y, x)}`` adds one to that expected
    code, ``{"cycles": d}`` adds ``d`` to the expected cycles; the verdict must then fail, naming it.
    """
    t0 = time.perf_counter()
    chip = design.chip
    model = plan.model
    expected = model.outputs.copy()
    cycles_model = model.cycles
    if tamper:
        if "output" in tamper:
            expected[tuple(tamper["output"])] += 1
        cycles_model += int(tamper.get("cycles", 0))
    directory = Path(run_dir) if run_dir is not None else Path(tempfile.mkdtemp(prefix="dstripes-chip-"))
    p = play(design, plan.commands, plan.image, plan.dram, plan.out_range, expected_cycles=cycles_model,
             build_root=build_root, quick=quick, directory=directory)
    res, log = p.result, p.log
    cycles_rtl = next((r["cycles"] for r in log if r["command"] == plan.layer_index), None)
    got = bricks_tensor(p.dump, plan.out_shape, chip, signed=plan.out_signed) if p.dump is not None else None
    verdict, bad, first = judge(expected, cycles_model, got, cycles_rtl, len(log), len(plan.commands))
    passed = res.passed and verdict.passed
    if passed and run_dir is None:
        shutil.rmtree(directory, ignore_errors=True)
    if not res.passed and "testbench" not in [c.name for c in verdict.checks]:
        verdict = verdict + Verdict((Check("testbench", FAILED, "; ".join(res.messages.values())[:2000]),))
    return ChipSimResult(
        passed=passed, cycles_rtl=cycles_rtl, cycles_model=cycles_model, breakdown=model.breakdown.as_dict(),
        checked=expected.size if got is not None else 0, mismatches=bad, first_mismatch=first,
        outputs=got if got is not None else np.zeros_like(expected), verdict=verdict, sim_seconds=res.seconds,
        build_seconds=p.build_seconds, wall_seconds=time.perf_counter() - t0, sim_cycles=p.sim_cycles,
        commands=[{"command": plan.commands[r["command"]][0], "cycles": r["cycles"]} for r in log],
        log=None if passed else str(res.log), nm=model.traffic.as_dict())


def _read_dump(path: Path, chunks: int, count: int) -> np.ndarray | None:
    """The dumped words (``$writememh``: hexadecimal lines, ``//`` address comments) as 64-bit chunks."""
    rows = []
    for line in path.read_text().split("\n"):
        line = line.strip()
        if not line or line.startswith("//") or line.startswith("@"):
            continue
        if any(ch in line for ch in "xXzZ"):
            return None
        v = int(line, 16)
        rows.append([(v >> (64 * j)) & 0xFFFFFFFFFFFFFFFF for j in range(chunks)])
    if len(rows) < count:
        return None
    return np.array(rows[:count], dtype=np.uint64)
