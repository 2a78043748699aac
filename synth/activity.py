"""Switching activity of a tile's blocks, measured in RTL simulation on real data.

The tile of a kind is simulated (cocotb testbench :mod:`tb.bench.tile_bench`, checked bit-exact and
cycle-exact against the golden model as every RTL run is) on slices of the bundled real layers
(:mod:`sim.samples`), with a :class:`tb.bench.toggles.ToggleMonitor` counting, every cycle, which bits
changed and which were 1 on

* every **input port** of a sample of each block's instances (the signals the neighbouring
  blocks drive), and
* every **register** of those instances: the nets the flip-flops of the block's mapped netlist
  drive (``partial``, ``acc``, ``next.acts``, ...), looked up by the same name in the RTL.

Per block, the counts are averaged over the sampled instances (an array of 256 SIPs is sampled
on up to :data:`MAX_INSTANCES` spread so that every row and column appears when the array is
square), giving per bit a **toggle rate** (transitions per cycle) and a **duty** (fraction of
cycles at 1): the ``activity`` and ``duty`` OpenSTA's power analysis takes (:mod:`synth.power`).
Registers and inputs are annotated; OpenSTA propagates the rest through the combinational logic.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from dstripes.hw.design import TileDesign
from dstripes.sim import samples as bundled
from dstripes.sim.errors import ConfigError, ToolError
from dstripes.sim.fixed import Window
from dstripes.tb.host.cycle_path import simulate_tile, tile_verilog
from dstripes.tb.host.runs import layer_run

from .netlist import Netlist
from .timing import block_instances

#: Instances sampled per block (all of them when a block has fewer).
MAX_INSTANCES = 8
#: Window-sets of each real layer simulated (windows x columns on the bit-parallel tile).
WINDOW_SETS = 2


@dataclass(frozen=True)
class SignalActivity:
    """Per-bit toggle rate (transitions per cycle) and duty (fraction of cycles at 1)."""

    toggle: np.ndarray
    duty: np.ndarray

    @property
    def width(self) -> int:
        return len(self.toggle)


@dataclass(frozen=True)
class BlockActivity:
    """Activity of one block's inputs and registers, averaged over sampled instances.

    Members
    -------
    block : str
    instances : tuple of str
        The sampled instance names.
    signals : dict
        ``{name: SignalActivity}``; ``name`` is a port or a register of the block's netlist.
    missing : tuple of str
        Signals the simulator did not expose (left to OpenSTA's propagation).
    """

    block: str
    instances: tuple
    signals: dict
    missing: tuple = ()

    def mean_toggle(self, names=None) -> float:
        sel = [s for n, s in self.signals.items() if names is None or n in names]
        bits = sum(s.width for s in sel)
        return float(sum(s.toggle.sum() for s in sel) / bits) if bits else 0.0


@dataclass(frozen=True)
class BlockActivitySummary:
    """What a report keeps of a block's activity (:class:`BlockActivity`).

    Members
    -------
    instances : tuple of str
        The sampled instances.
    signals : int
        Signals measured.
    missing : tuple of str
        Signals the simulator did not expose.
    mean_toggle : float
        Mean toggle rate over the measured bits.
    """

    instances: tuple
    signals: int
    missing: tuple
    mean_toggle: float

    def as_dict(self) -> dict:
        return {"instances": list(self.instances), "signals": self.signals, "missing": list(self.missing),
                "mean_toggle": self.mean_toggle}

    @classmethod
    def from_dict(cls, d: Mapping) -> "BlockActivitySummary":
        return cls(tuple(d["instances"]), int(d["signals"]), tuple(d["missing"]), float(d["mean_toggle"]))


@dataclass(frozen=True)
class ActivitySummary:
    """What a report keeps of a tile's measured activity (:meth:`TileActivity.summary`).

    Members
    -------
    scheme : str
    cycles : int
        Cycles simulated.
    runs : tuple of str
        The runs simulated, described.
    blocks : mapping
        ``{block: BlockActivitySummary}``.
    """

    scheme: str
    cycles: int
    runs: tuple
    blocks: Mapping[str, BlockActivitySummary] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"scheme": self.scheme, "cycles": self.cycles, "runs": list(self.runs),
                "blocks": {n: b.as_dict() for n, b in self.blocks.items()}}

    @classmethod
    def from_dict(cls, d: Mapping) -> "ActivitySummary":
        return cls(d["scheme"], int(d["cycles"]), tuple(d["runs"]),
                   {n: BlockActivitySummary.from_dict(b) for n, b in d["blocks"].items()})


@dataclass(frozen=True)
class TileActivity:
    """Measured activity of every counted block of one tile kind."""

    scheme: str
    cycles: int
    runs: tuple
    blocks: Mapping[str, BlockActivity] = field(default_factory=dict)

    def summary(self) -> ActivitySummary:
        """The figures a report keeps (no per-bit arrays)."""
        return ActivitySummary(self.scheme, self.cycles, self.runs,
                               {n: BlockActivitySummary(b.instances, len(b.signals), b.missing, b.mean_toggle())
                                for n, b in self.blocks.items()})


def sample_instances(names: list, n: int = MAX_INSTANCES) -> list:
    """Up to ``n`` of ``names`` spread over the list with a stride coprime to a square array's
    side, so a ``k x k`` array in row-major order is sampled on its diagonal."""
    count = len(names)
    if count <= n:
        return list(names)
    stride = count // n + 1
    picked = []
    for i in range(count):
        j = (i * stride) % count
        if names[j] not in picked:
            picked.append(names[j])
        if len(picked) == n:
            break
    return picked


_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


def split_bit(net: str) -> tuple:
    """``"partial[18]"`` -> ``("partial", 18)``; a scalar net -> ``(net, 0)``."""
    m = _INDEX.match(net)
    return (m.group(1), int(m.group(2))) if m else (net, 0)


def monitored_signals(netlist: Netlist) -> list:
    """Names whose activity is measured for a block: its input ports (not the clock) and the
    registers of its netlist (:class:`synth.netlist.Netlist`), internal names only (``$``-names
    have no RTL counterpart)."""
    names = [p for p, (d, _) in netlist.ports.items() if d == "input" and p != "clk"]
    regs = set()
    for outs in netlist.registers.values():
        for net in outs.values():
            base, _ = split_bit(net)
            if "$" not in base and base not in names:
                regs.add(base)
    return names + sorted(regs)


def at_widths(acts: np.ndarray, weights: np.ndarray, window: Window, act_bits: int, weight_bits: int, *,
              sample_weight_bits: int = 16) -> tuple:
    """A bundled sample's real codes on a narrower tile (e.g. the 8-bit tiles of int8 models):
    the activations' top ``act_bits`` bits of their window and the 16-bit weights' top
    ``weight_bits`` bits, each rounded half to even and saturated; returns ``(acts, weights,
    window)``, the window ``[act_bits-1:0]`` (codes that already fit are kept).

    Parameters
    ----------
    acts : ndarray
        Codes in ``window`` (``load_sample``: shifted by its ``lsb``).
    weights : ndarray
        ``sample_weight_bits``-bit two's-complement codes (the bundled samples': 16).
    window : Window
    act_bits, weight_bits : int
        The tile's widths.
    """
    a_shift = max(0, window.msb + 1 - act_bits)
    w_shift = max(0, sample_weight_bits - weight_bits)
    lo = -(1 << (act_bits - 1)) if window.signed else 0
    hi = (1 << (act_bits - 1)) - 1 if window.signed else (1 << act_bits) - 1
    a = np.clip(np.rint(acts / float(1 << a_shift)), lo, hi).astype(np.int64)
    w = np.clip(np.rint(weights / float(1 << w_shift)), -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1)
    return a, w.astype(np.int64), Window(act_bits - 1, 0, window.signed)


def sample_runs(design: TileDesign, window_sets: int = WINDOW_SETS, names=None, *,
                columns: int | None = None) -> tuple:
    """The tile runs of the activity simulation: the first ``window_sets`` window-sets of
    filter-set 0 of every bundled real sample that fits the tile (or of the samples ``names``),
    input 0; returns ``(runs, descriptions)``.

    The bit-parallel tile runs windows, not window-sets: the windows of ``window_sets``
    window-sets of a serial tile of ``columns`` columns (default its configuration's), so that
    it sees the same windows as the serial tiles it is compared with.
    """
    if isinstance(window_sets, bool) or not isinstance(window_sets, int) or window_sets < 1:
        raise ConfigError(f"window-sets per sample must be a positive integer, not {window_sets!r}")
    config = design.config
    chosen = bundled.sample_names() if names is None else list(names)
    units = window_sets if design.scheme.serial else window_sets * (columns or config.columns)
    runs, described = [], []
    for narrow in (False, True):   # the samples that fit the tile; if none does, all at its widths
        for name in chosen if not runs else ():
            acts, weights, layer, window = bundled.load_sample(name)
            how = ""
            if narrow:
                acts, weights, window = at_widths(acts, weights, window, config.act_bits, config.weight_bits,
                                                  sample_weight_bits=bundled.sample_info(name).weight_bits)
                how = f", re-quantised to {config.act_bits}-bit activations and {config.weight_bits}-bit weights"
            elif window.msb >= config.act_bits or bundled.sample_info(name).weight_bits > config.weight_bits:
                continue
            try:
                runs.append(layer_run(design, layer, window, acts[0], weights, window_sets=units))
            except ConfigError:
                if names is not None:
                    raise
                continue  # a layer this tile cannot run
            described.append(f"{name} ({layer.describe()}, {window_sets} window-set(s){how})")
    if not runs:
        raise ConfigError(f"no bundled real sample fits {config.act_bits}-bit activations and "
                          f"{config.weight_bits}-bit weights: activity cannot be measured on real data")
    return runs, described


def measure_activity(design: TileDesign, netlists: Mapping[str, Netlist], *, simulator: str = "verilator",
                     window_sets: int = WINDOW_SETS, max_instances: int = MAX_INSTANCES,
                     quick: bool = True, build_root=None, samples=None, columns: int | None = None) -> TileActivity:
    """Simulate the tile ``design`` on real samples and measure its blocks' activity.

    Parameters
    ----------
    netlists : mapping
        ``{block name: synth.netlist.Netlist}`` of the tile's counted blocks (their ports and
        registers name what is measured).
    simulator : {"verilator", "icarus"}
        Verilator is the one that keeps the RTL hierarchy (Icarus runs a flattened netlist,
        whose internal names differ).
    quick : bool
        Verilator ``-O0`` build (see :func:`tb.host.runner.build`).
    samples : sequence of str, optional
        Bundled samples to run (default: every one that fits the tile).
    window_sets, columns
        How much of each sample runs (:func:`sample_runs`).

    Raises
    ------
    ToolError
        The simulation failed or its results differ from the golden model.
    """
    inst = block_instances(design, design.synth_blocks())
    by_block: dict = {}
    for name, b in inst.items():
        by_block.setdefault(b, []).append(name)
    paths = {}
    for b, names in by_block.items():
        if b not in netlists:
            raise ToolError(f"no netlist of block {b} to name its signals")
        for i in sample_instances(names, max_instances):
            for sig in monitored_signals(netlists[b]):
                paths[f"{i}.{sig}"] = (b, i, sig)
    verilog = tile_verilog(design, internals=True)  # the monitor reads internal nets
    runs, described = sample_runs(design, window_sets, samples, columns=columns)
    res = simulate_tile(design, verilog, runs, simulator=simulator, quick=quick, toggles=list(paths),
                        build_root=build_root)
    if not res.passed:
        raise ToolError(f"{simulator} simulation of the {design.name} tile for activity did not pass "
                        f"its checks; log: {res.log}")
    t = res.results.get("toggles")
    if not t or not t.get("cycles"):
        raise ToolError(f"the {design.name} tile simulation recorded no activity; log: {res.log}")
    cycles = int(t["cycles"])
    acc: dict = {}
    for p, rec in t["signals"].items():
        b, i, sig = paths[p]
        tg = np.asarray(rec["toggles"], float) / max(cycles - 1, 1)
        du = np.asarray(rec["ones"], float) / cycles
        acc.setdefault(b, {}).setdefault(sig, []).append((i, tg, du))
    missing: dict = {}
    for p in t.get("missing", []):
        b, _, sig = paths[p]
        missing.setdefault(b, set()).add(sig)
    out = {}
    for b, names in by_block.items():
        sigs = {}
        seen = set()
        for sig, recs in acc.get(b, {}).items():
            widths = {len(r[1]) for r in recs}
            if len(widths) != 1:
                continue  # the same name with different widths in two instances: not averaged
            sigs[sig] = SignalActivity(np.mean([r[1] for r in recs], axis=0), np.mean([r[2] for r in recs], axis=0))
            seen.update(r[0] for r in recs)
        out[b] = BlockActivity(b, tuple(sorted(seen)), sigs, tuple(sorted(missing.get(b, ()))))
    return TileActivity(design.name, cycles, tuple(described), out)
