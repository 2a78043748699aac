"""Runner side of a whole network on the generated accelerator (``dstripes verify --chip --chain``):
the integer chain's conv layers (:mod:`dstripes.sim.nets.chain`) run back to back, each layer's
output staying in NM as the next layer's input, checked against the integer pipeline and the
golden model (``docs/design.md`` §11).

Typical use::

    plan = chain_plan(chip, chain, x, dram=dram)     # every check, before any build
    result = simulate_chain(design, plan)            # a ChainSimResult
    result.passed, [l.cycles_rtl == l.cycles_model for l in result.layers]

The plan is one off-chip image and one command list:

* the image holds the input codes (the host's quantisation of the photo) and every layer's
  weights (and biases) in pass order, nothing else — no tensor is re-quantised or re-arranged
  between layers;
* the commands: ``LOAD`` the input into NM once; then per layer ``LAYER`` (its input is the
  source layer's output where that layer left it in NM, its residual the residual source's) and,
  with a max-pool, ``POOL``; at the end one ``STORE`` of the final feature map to off-chip
  memory, where the host takes it.
* NM addresses by liveness (:class:`NmAllocator`): a tensor lives from the command that writes it
  to the last command that reads it (the next layers, a later residual add, its ``POOL``); each
  new tensor takes the lowest free span (first fit), which makes the plain chain ping-pong and
  keeps a residual's source until its add. When NM cannot hold what is live, the plan is refused
  in one line naming the layer and the sizes.

Per layer the ``LAYER`` (and ``POOL``) command's RTL cycles are compared with the model's
(:func:`model_layer` / :func:`model_pool` on the codes the model's own chain produced) and its
output code for code with the integer pipeline (:meth:`Chain.run`), read in NM by the harness's
observer the cycle after the command ends (``tb/gateware/observer.v``): no cycle of the chip's,
where a ``STORE`` copy of every output cost a fifth of the published chain's simulated cycles.
The final feature map is compared as the ``STORE`` left it off chip, through the chip's own port.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dstripes.hw.chip.design import ChipDesign
from dstripes.sim.chip.config import ChipConfig
from dstripes.sim.chip.descriptor import LayerDescriptor
from dstripes.sim.chip.dram import DramConfig
from dstripes.sim.chip.images import bricks_tensor, tensor_bricks, weight_beats
from dstripes.sim.chip.model import ChipLayerRun, model_layer
from dstripes.sim.chip.plan import LayerPlan
from dstripes.sim.chip.pool import ChipPoolRun, PoolDescriptor, model_pool
from dstripes.sim.errors import ConfigError
from dstripes.sim.nets.chain import INPUT, Chain, ChainLayer

from ..verdict import Check, FAILED, PASSED, Verdict
from .chip_path import play


def _bricks(shape: tuple, chip: ChipConfig) -> int:
    """NM bricks of a ``(C, H, W)`` tensor."""
    c, h, w = shape
    return -(-c // chip.tile.lanes) * h * w


class NmAllocator:
    """NM addresses of live tensors, first fit (:func:`allocate`).

    Parameters
    ----------
    words : int
        NM's bricks.
    """

    def __init__(self, words: int):
        self.words = words
        self.live: dict = {}   # tensor -> (base, bricks)
        self.peak = 0

    def place(self, tensor: str, bricks: int, what: str) -> int:
        """The lowest address where ``bricks`` fit beside the live tensors; ``what`` names the
        command in the refusal."""
        addr = 0
        for base, n in sorted(self.live.values()):
            if addr + bricks <= base:
                break
            addr = max(addr, base + n)
        if addr + bricks > self.words:
            held = ", ".join(f"{t} {n:,}" for t, (_, n) in self.live.items())
            raise ConfigError(f"{what}: NM ({self.words:,} bricks) cannot hold its output of {bricks:,} bricks beside "
                              f"the live tensors ({held or 'none'}; {sum(n for _, n in self.live.values()):,} bricks)"
                              f" - give a larger --nm-kib")
        self.live[tensor] = (addr, bricks)
        self.peak = max(self.peak, addr + bricks)
        return addr

    def base(self, tensor: str) -> int:
        return self.live[tensor][0]

    def free(self, tensor: str) -> None:
        self.live.pop(tensor, None)


def check_chain(chain: Chain, chip: ChipConfig) -> None:
    """What the accelerator cannot run of ``chain``, refused in one line naming the layer: an
    asymmetric input padding (the host would have to re-arrange the tensor). A max-pool the
    ``POOL`` command cannot run was refused when the chain was made (:meth:`Pool.descriptor`)."""
    for l in chain.layers:
        if any(l.extra_pad):
            raise ConfigError(f"layer {l.name}: asymmetric input padding {l.extra_pad} (top, bottom, left, right); "
                              f"the accelerator pads symmetrically")


@dataclass(frozen=True)
class ChainStep:
    """One layer of a :class:`ChainPlan`.

    Members
    -------
    name : str
    descriptor : LayerDescriptor
        Its ``LAYER`` command (NM addresses by liveness, weights at ``w_base`` off chip).
    model : ChipLayerRun
        The model on the codes the model's chain produced: the expected cycles.
    expected : ndarray (K, Ho, Wo)
        The integer pipeline's codes of the layer (before its pool).
    layer_command : int
        Index of the ``LAYER`` command.
    observed : (int, int)
        NM words ``(first, count)`` of its output, read after the command.
    pool, pool_model, pool_expected, pool_command, pool_observed :
        The same for its ``POOL`` command (``None`` without a max-pool).
    """

    name: str
    descriptor: LayerDescriptor
    model: ChipLayerRun
    expected: np.ndarray = field(repr=False)
    layer_command: int
    observed: tuple
    pool: PoolDescriptor | None = None
    pool_model: ChipPoolRun | None = None
    pool_expected: np.ndarray | None = field(default=None, repr=False)
    pool_command: int | None = None
    pool_observed: tuple | None = None


@dataclass(frozen=True)
class ChainPlan:
    """A whole chain on one chip (:func:`chain_plan`).

    Members
    -------
    chip : ChipConfig
    dram : DramConfig
    steps : tuple of ChainStep
    image : ndarray
        The off-chip image ``(words, chunks)``: input codes, then every layer's weights.
    commands : tuple of (str, dict)
    stored : (int, int)
        Off-chip words the final ``STORE`` fills (first, last), after the image.
    final : ndarray
        The integer pipeline's final feature map (the last layer's output, pooled if it pools).
    nm_peak : int
        The highest NM brick address used, plus one.
    """

    chip: ChipConfig
    dram: DramConfig
    steps: tuple
    image: np.ndarray = field(repr=False)
    commands: tuple
    stored: tuple
    final: np.ndarray = field(repr=False)
    nm_peak: int

    @property
    def cycles_model(self) -> int:
        """The model's cycles of every ``LAYER`` and ``POOL`` command."""
        return sum(s.model.cycles + (s.pool_model.cycles if s.pool_model else 0) for s in self.steps)


def _last_reads(chain: Chain) -> dict:
    """Tensor -> index of the last layer that reads it (as input or residual)."""
    last = {}
    for i, l in enumerate(chain.layers):
        last[l.source] = i
        if l.residual is not None:
            last[l.residual.source] = i
    return last


def chain_plan(chip: ChipConfig, chain: Chain, x: np.ndarray, *, dram: DramConfig, mode: str | None = None
               ) -> ChainPlan:
    """Plan ``chain`` on ``chip`` for one prepared photo ``x`` (``(3, H, W)`` float): the integer
    pipeline's codes (:meth:`Chain.run`), the model's run of every command on the codes the
    model produced, NM addresses by liveness, the off-chip image and the commands. Every check
    of every descriptor is made here (a :class:`ConfigError` naming the layer), before any build.

    Parameters
    ----------
    chip : ChipConfig
        The accelerator (``design.chip`` of the :class:`ChipDesign` that will play the plan).
    chain : Chain
        :func:`dstripes.sim.nets.chain.integer_chain` of the network (weights of ``chip``'s width).
    x : ndarray (3, H, W)
        The prepared photo (:meth:`Network.prepare`).
    dram : DramConfig
        The off-chip memory the weights stream from.
    mode : str, optional
        Precision mode of every ``LAYER`` command (default: the tile kind's).

    Returns
    -------
    ChainPlan

    Raises
    ------
    ConfigError
        A layer the accelerator cannot run (:func:`check_chain`, a descriptor's rules), or NM too
        small for what is live at some layer (naming it and the sizes).
    """
    check_chain(chain, chip)
    mode = chip.kind.check_mode(mode, chip.tile)
    pipeline = chain.run(x)
    inputs = chain.input.codes(x)
    nm = NmAllocator(chip.nm_words)
    last = _last_reads(chain)
    in_bricks = _bricks(inputs.shape, chip)
    nm.place(INPUT, in_bricks, "the network input")
    commands = [("load", {"dram": 0, "nm": nm.base(INPUT), "count": in_bricks})]
    chunks = [tensor_bricks(inputs, chip)]
    w_next = in_bricks
    codes = {INPUT: inputs}           # the model's output tensors
    steps = []
    for i, l in enumerate(chain.layers):
        what = f"layer {l.name}"
        d, model, beats = _layer(chip, chain, l, codes, nm, w_next, mode, dram)
        chunks.append(beats)
        w_next += len(beats)
        commands.append(("layer", {"layer": d.values(chip)}))
        layer_command = len(commands) - 1
        observed = (d.resolved_out_base(chip), d.out_bricks(chip))
        for t in {l.source, *([l.residual.source] if l.residual else [])}:
            if last.get(t) == i:
                nm.free(t)
        pool = pool_model = pool_command = pool_observed = None
        codes[l.name] = model.outputs
        if l.pool is not None:
            shape = (l.layer.k, l.layer.oh, l.layer.ow)
            pooled = (shape[0], *l.pool.out_size(*shape[1:]))
            out = nm.place(l.name + "/pool", _bricks(pooled, chip), f"{what} (its max-pool)")
            try:
                pool = l.pool_descriptor(in_base=d.resolved_out_base(chip), out_base=out)
                pool_model = model_pool(model.outputs, pool, chip)
            except ConfigError as e:
                raise ConfigError(f"{what}: its max-pool: {e}") from None
            commands.append(("pool", {"layer": pool.values(chip)}))
            pool_command = len(commands) - 1
            pool_observed = (out, _bricks(pool.out_shape, chip))
            nm.free(l.name)
            nm.live[l.name] = nm.live.pop(l.name + "/pool")
            codes[l.name] = pool_model.outputs
        if l.name not in last:       # read by no later layer (the last one: until the final STORE)
            nm.free(l.name)
        steps.append(ChainStep(
            name=l.name, descriptor=d, model=model,
            expected=pipeline.unpooled[l.name] if l.pool is not None else pipeline.outputs[l.name],
            layer_command=layer_command, observed=observed, pool=pool, pool_model=pool_model,
            pool_expected=pipeline.outputs[l.name] if l.pool is not None else None, pool_command=pool_command,
            pool_observed=pool_observed))
    image = np.concatenate(chunks)
    # the final feature map leaves through the off-chip port, to the words after the image
    nm_first, count = steps[-1].pool_observed or steps[-1].observed
    commands.append(("store", {"dram": len(image), "nm": nm_first, "count": count}))
    return ChainPlan(chip, dram, tuple(steps), image, tuple(commands), (len(image), len(image) + count - 1),
                     pipeline.final, nm.peak)


def _layer(chip: ChipConfig, chain: Chain, l: ChainLayer, codes: dict, nm: NmAllocator, w_base: int, mode: str,
           dram: DramConfig) -> tuple:
    """One layer's descriptor (its output placed in NM), its model run and its weight beats."""
    what = f"layer {l.name}"
    weights = chain.weights[l.name]
    bias = l.bias if np.any(l.bias) else None
    res = l.residual
    try:
        out = nm.place(l.name, _bricks((l.layer.k, l.layer.oh, l.layer.ow), chip), what)
        d = LayerDescriptor(l.layer, l.in_window, l.out_window, shift=l.shift, bias=bias is not None, mode=mode,
                            in_base=nm.base(l.source), out_base=out, w_base=w_base,
                            residual=res.window if res else None, res_shift=res.shift if res else 0,
                            res_base=nm.base(res.source) if res else None, clamp=l.clamp)
        model = model_layer(codes[l.source], weights, d, chip, dram, bias=bias,
                            residual=codes[res.source] if res else None)
        beats = weight_beats(weights, LayerPlan(l.layer, chip), bias)
    except ConfigError as e:
        msg = str(e)
        raise ConfigError(msg if msg.startswith(what) else f"{what}: {msg}") from None
    return d, model, beats


@dataclass(frozen=True)
class ChainLayerResult:
    """One layer of the chain on the generated chip.

    Members
    -------
    name : str
    cycles_rtl, cycles_model : int or None
        The ``LAYER`` command's cycles (harness, model).
    pool_cycles_rtl, pool_cycles_model : int or None
        Its ``POOL`` command's (``None`` without a max-pool).
    checked, mismatches : int
        Output codes compared with the integer pipeline (the layer's and the pooled ones), and
        how many differed (all of them when nothing was read back).
    first_mismatch : dict or None
        ``tensor`` (``output`` or ``pooled``), ``filter``, ``y``, ``x``, ``got``, ``expected``.
    model_mismatches : int
        Codes where the model's own outputs differ from the integer pipeline's.
    verdict : Verdict
    """

    name: str
    cycles_rtl: int | None
    cycles_model: int
    pool_cycles_rtl: int | None
    pool_cycles_model: int | None
    checked: int
    mismatches: int
    first_mismatch: dict | None
    model_mismatches: int
    verdict: Verdict

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    def as_dict(self) -> dict:
        return {"name": self.name, "cycles_rtl": self.cycles_rtl, "cycles_model": self.cycles_model,
                "mismatches": self.mismatches, "checked": self.checked,
                "pool_cycles_rtl": self.pool_cycles_rtl, "pool_cycles_model": self.pool_cycles_model,
                "model_mismatches": self.model_mismatches, "first_mismatch": self.first_mismatch,
                "passed": self.passed, "checks": [c.as_dict() for c in self.verdict.checks]}


@dataclass
class ChainSimResult:
    """A whole chain on the generated chip (:func:`simulate_chain`).

    Members
    -------
    passed : bool
    layers : list of ChainLayerResult
    final_mismatches : int
        Codes of the final feature map (as the final ``STORE`` left it off chip) that differ from
        :meth:`Chain.run`'s.
    commands_done, commands : int
    sim_cycles : int
        Simulated clock cycles of all commands (the ``LOAD`` and the final ``STORE`` included).
    sim_seconds, build_seconds, wall_seconds : float
    messages : str or None
        The testbench's failure messages.
    log : str or None
        The simulator's log file when the run failed.
    verilog_seconds : float
        Making the harness's Verilog (generated, or from the Verilog cache); ``build_seconds`` is
        the simulator's build after it.
    """

    passed: bool
    layers: list
    final_mismatches: int
    commands_done: int
    commands: int
    sim_cycles: int
    sim_seconds: float
    build_seconds: float
    wall_seconds: float
    messages: str | None = None
    log: str | None = None
    verilog_seconds: float = 0.0

    @property
    def cycles_rtl(self) -> int:
        """Every ``LAYER`` and ``POOL`` command's RTL cycles."""
        return sum((l.cycles_rtl or 0) + (l.pool_cycles_rtl or 0) for l in self.layers)

    @property
    def cycles_model(self) -> int:
        return sum(l.cycles_model + (l.pool_cycles_model or 0) for l in self.layers)

    @property
    def first_failure(self) -> ChainLayerResult | None:
        return next((l for l in self.layers if not l.passed), None)

    def as_dict(self) -> dict:
        return {"passed": self.passed, "layers": [l.as_dict() for l in self.layers],
                "total": {"cycles_rtl": self.cycles_rtl, "cycles_model": self.cycles_model,
                          "mismatches": sum(l.mismatches for l in self.layers),
                          "checked": sum(l.checked for l in self.layers)},
                "final": {"mismatches": self.final_mismatches},
                "commands": {"done": self.commands_done, "planned": self.commands},
                "simulated_cycles": self.sim_cycles,
                "simulated_cycles_per_s": self.sim_cycles / self.sim_seconds if self.sim_seconds else 0.0,
                "seconds": {"verilog": self.verilog_seconds, "build": self.build_seconds,
                             "simulation": self.sim_seconds, "wall": self.wall_seconds},
                "testbench": self.messages, "log": self.log}


def _compare(expected: np.ndarray, got: np.ndarray | None, tensor: str) -> tuple[int, dict | None]:
    """``(mismatches, first)`` of ``got`` against ``expected`` (all of them when nothing came back)."""
    if got is None or got.shape != expected.shape:
        return expected.size, None
    diff = got != expected
    bad = int(diff.sum())
    if not bad:
        return 0, None
    k, y, x = (int(v) for v in np.argwhere(diff)[0])
    return bad, {"tensor": tensor, "filter": k, "y": y, "x": x, "got": int(got[k, y, x]),
                 "expected": int(expected[k, y, x])}


@dataclass(frozen=True)
class Expected:
    """What each layer must give (:func:`apply_tamper`): name -> the ``LAYER`` output codes,
    the pooled codes, the ``LAYER`` cycles, the ``POOL`` cycles (``None`` without a pool)."""

    outputs: dict
    pooled: dict
    cycles: dict
    pool_cycles: dict


def apply_tamper(plan: ChainPlan, tamper: dict | None) -> tuple[ChainPlan, Expected]:
    """The plan to play and what to expect, with faults for the checks' own tests. ``tamper``:
    ``{"layer": NAME, ...}`` with any of ``"output": (k, y, x)`` / ``"pooled": (k, y, x)`` (one
    added to that expected code of the layer's output / pooled output), ``"cycles": d`` /
    ``"pool_cycles": d`` (added to its expected ``LAYER`` / ``POOL`` cycles), ``"command": {field:
    delta}`` / ``"pool_command": {field: delta}`` (added to descriptor fields of its ``LAYER`` /
    ``POOL`` command, e.g. ``{"in_base": 72}``: the RTL reads the wrong NM bricks)."""
    exp = Expected({s.name: s.expected.copy() for s in plan.steps},
                   {s.name: s.pool_expected.copy() for s in plan.steps if s.pool is not None},
                   {s.name: s.model.cycles for s in plan.steps},
                   {s.name: s.pool_model.cycles for s in plan.steps if s.pool is not None})
    if not tamper:
        return plan, exp
    name = tamper["layer"]
    step = next((s for s in plan.steps if s.name == name), None)
    if step is None:
        raise ConfigError(f"tamper: the chain has no layer {name!r}")
    if ("pooled" in tamper or "pool_cycles" in tamper or "pool_command" in tamper) and step.pool is None:
        raise ConfigError(f"tamper: layer {name} has no max-pool")
    for key, codes in (("output", exp.outputs), ("pooled", exp.pooled)):
        if key in tamper:
            codes[name][tuple(tamper[key])] += 1
    for key, counts in (("cycles", exp.cycles), ("pool_cycles", exp.pool_cycles)):
        if key in tamper:
            counts[name] += int(tamper[key])
    cmds = list(plan.commands)
    for key, index in (("command", step.layer_command), ("pool_command", step.pool_command)):
        if key in tamper:
            op, f = cmds[index]
            values = dict(f["layer"])
            for field_name, delta in tamper[key].items():
                values[field_name] += int(delta)
            cmds[index] = (op, {"layer": values})
    if cmds != list(plan.commands):
        plan = ChainPlan(plan.chip, plan.dram, plan.steps, plan.image, tuple(cmds), plan.stored, plan.final,
                         plan.nm_peak)
    return plan, exp


def simulate_chain(design: ChipDesign, plan: ChainPlan, *, build_root=None, quick: bool = False,
                   run_dir=None, tamper: dict | None = None, progress=None,
                   hierarchical: bool = False, threads: int = 1) -> ChainSimResult:
    """Play ``plan`` on the generated chip (one harness build, one simulator run) and judge every
    layer: ``LAYER`` and ``POOL`` cycles equal to the model's, every stored code equal to the
    integer pipeline's, the final feature map equal to :meth:`Chain.run`'s.

    Parameters
    ----------
    design : ChipDesign
        The accelerator (its ``chip`` the plan's).
    plan : ChainPlan
    build_root, quick :
        As for :func:`.chip_path.simulate_chip`.
    run_dir : path, optional
        Where the simulator runs (kept); by default a temporary folder, removed when passed.
    tamper : dict, optional
        :func:`apply_tamper` (tests of the checks themselves).
    progress : callable, optional
        ``progress(line)`` once per layer whose ``LAYER`` (and ``POOL``) command has finished,
        while the simulator runs.
    hierarchical : bool
        Build the tile once as a hierarchical block (:func:`.chip_path.play`).
    threads : int
        Verilator's model evaluated by that many threads (:func:`.chip_path.thread_args`: faster
        only while the machine has an idle core).
    """
    t0 = time.perf_counter()
    if design.chip != plan.chip:
        raise ConfigError("the plan was made for another chip than the design's (plan on design.chip: the kind "
                          "normalises the tile configuration)")
    played_plan, exp = apply_tamper(plan, tamper)
    directory = Path(run_dir) if run_dir is not None else Path(tempfile.mkdtemp(prefix="dstripes-chain-"))
    watch = None
    if progress is not None:
        told = set()
        last_of = {(s.pool_command if s.pool_command is not None else s.layer_command): s for s in plan.steps}

        def watch(log):
            got = {r["command"]: r["cycles"] for r in log}
            for index, s in last_of.items():
                if index in got and s.name not in told:
                    told.add(s.name)
                    pool = (f", POOL {got[s.pool_command]:,}" if s.pool_command is not None else "")
                    progress(f"{s.name}: LAYER {got[s.layer_command]:,} cycles (model {s.model.cycles:,}){pool}")
    observe = {s.layer_command: s.observed for s in plan.steps}
    observe.update({s.pool_command: s.pool_observed for s in plan.steps if s.pool is not None})
    p = play(design, played_plan.commands, plan.image, plan.dram, plan.stored,
             expected_cycles=plan.cycles_model + (plan.stored[1] - plan.stored[0] + 1), build_root=build_root,
             quick=quick, directory=directory, watch=watch, hierarchical=hierarchical, threads=threads,
             observe=observe)
    rtl = {r["command"]: r["cycles"] for r in p.log}
    chip = plan.chip

    def seen(command, shape, signed):
        words = p.observed.get(command)
        return None if words is None else bricks_tensor(words, shape, chip, signed=signed)

    layers = []
    for s in plan.steps:
        signed = s.descriptor.out_window.signed
        got = seen(s.layer_command, s.expected.shape, signed)
        bad, first = _compare(exp.outputs[s.name], got, "output")
        checked = s.expected.size
        model_bad = int((s.model.outputs != s.expected).sum())
        checks = [Check("outputs bit-exact", FAILED if bad else PASSED,
                        f"{bad:,} of {s.expected.size:,} output codes differ from the integer pipeline"
                        + (f"; first {first}" if first else "")),
                  Check("cycles exact", PASSED if rtl.get(s.layer_command) == exp.cycles[s.name] else FAILED,
                        f"LAYER: RTL {rtl.get(s.layer_command)}, model {exp.cycles[s.name]}"),
                  Check("model equals the integer pipeline", FAILED if model_bad else PASSED,
                        f"{model_bad:,} codes differ")]
        pool_rtl = pool_model = None
        if s.pool is not None:
            pgot = seen(s.pool_command, s.pool_expected.shape, signed)
            pbad, pfirst = _compare(exp.pooled[s.name], pgot, "pooled")
            pool_rtl, pool_model = rtl.get(s.pool_command), exp.pool_cycles[s.name]
            model_bad += int((s.pool_model.outputs != s.pool_expected).sum())
            bad += pbad
            first = first or pfirst
            checked += s.pool_expected.size
            checks += [Check("pooled outputs bit-exact", FAILED if pbad else PASSED,
                             f"{pbad:,} of {s.pool_expected.size:,} pooled codes differ"
                             + (f"; first {pfirst}" if pfirst else "")),
                       Check("pool cycles exact", PASSED if pool_rtl == pool_model else FAILED,
                             f"POOL: RTL {pool_rtl}, model {pool_model}")]
        layers.append(ChainLayerResult(s.name, rtl.get(s.layer_command), exp.cycles[s.name], pool_rtl, pool_model,
                                       checked, bad, first, model_bad, Verdict(tuple(checks))))
    final_got = (None if p.dump is None else
                 bricks_tensor(p.dump, plan.final.shape, chip, signed=plan.steps[-1].descriptor.out_window.signed))
    final_bad, _ = _compare(plan.final, final_got, "final")
    res = p.result
    passed = (res.passed and all(l.passed for l in layers) and final_bad == 0
              and len(p.log) == len(plan.commands))
    if passed and run_dir is None:
        shutil.rmtree(directory, ignore_errors=True)
    return ChainSimResult(passed, layers, final_bad, len(p.log), len(plan.commands), p.sim_cycles, res.seconds,
                          p.build_seconds, time.perf_counter() - t0,
                          None if res.passed else "; ".join(res.messages.values())[:2000],
                          None if passed else str(res.log), p.verilog_seconds)


__all__ = ["ChainPlan", "ChainStep", "ChainSimResult", "ChainLayerResult", "Expected", "NmAllocator", "chain_plan",
           "check_chain", "simulate_chain", "apply_tamper"]
