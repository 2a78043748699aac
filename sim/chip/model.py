"""The accelerator's golden model of one layer: the output codes it writes to NM and its exact
cycle count with the breakdown (``docs/design.md`` §10)."""
from __future__ import annotations

from dataclasses import asdict, astuple, dataclass

import numpy as np

from ..errors import ConfigError
from ..fixed import Window
from ..functional import conv_int
from ..layer import Layer
from .config import ChipConfig
from .descriptor import LayerDescriptor, check_descriptor
from .dram import DramConfig
from .plan import LayerPlan, Pass
from .requant import requantize
from .timing import Breakdown, LayerTiming, PassWork, breakdown, layer_timing, prefetch_cycles


def pass_beats(plan: LayerPlan, bias: bool) -> int:
    """Beats one pass loads over the off-chip port: its weight bricks, then its biases."""
    chip, t = plan.chip, plan.chip.tile
    beats = plan.steps * chip.tiles * chip.beats_per_brick
    if bias:
        beats += -(-(t.rows * chip.tiles) // chip.bias_per_beat)
    return beats


@dataclass(frozen=True)
class Accesses:
    """Every memory access of one input through a layer on the accelerator (exact counts of the
    walk, ``docs/design.md`` §10.8).

    Members
    -------
    nm_reads : int
        Bricks the fetch unit reads from NM (the reused bricks not counted: they are copied).
    nm_writes : int
        Output bricks the writer writes into NM.
    sb_reads : int
        Weight bricks read from the tiles' weight buffers (one per step and tile: every tile's
        SB is read in lock step).
    sb_fills : int
        Off-chip beats written into the weight buffers (weights; 0 with every pass's weights
        already in SB).
    offchip_beats : int
        Beats read over the off-chip port (weights and biases; 0 with weights on chip).
    nm_residual_reads : int
        Bricks the writer reads from NM as the residual (one per output brick written; 0
        without a residual).
    """

    nm_reads: int = 0
    nm_writes: int = 0
    sb_reads: int = 0
    sb_fills: int = 0
    offchip_beats: int = 0
    nm_residual_reads: int = 0

    def __add__(self, other: "Accesses") -> "Accesses":
        return Accesses(*(a + b for a, b in zip(astuple(self), astuple(other))))

    def times(self, n: int) -> "Accesses":
        """The accesses of ``n`` inputs."""
        return Accesses(*(a * n for a in astuple(self)))

    def as_dict(self) -> dict:
        return asdict(self)


def layer_accesses(plan: LayerPlan, *, bias: bool = False, offchip: bool = True,
                   residual: bool = False) -> Accesses:
    """The memory accesses of one input through ``plan``'s layer (:class:`Accesses`).
    ``offchip``: the weights come over the off-chip port (``False``: already in SB);
    ``residual``: the writer reads a residual brick for every output brick."""
    chip = plan.chip
    passes = len(plan.passes)
    nm_reads = passes * plan.channel_blocks * int(plan.reads.sum())
    nm_writes = int(plan.valid_windows.sum()) * sum(p.out_bricks for p in plan.passes)
    sb_reads = passes * plan.window_sets * plan.steps * chip.tiles
    fills = passes * plan.steps * chip.tiles * chip.beats_per_brick if offchip else 0
    beats = passes * pass_beats(plan, bias) if offchip else 0
    return Accesses(nm_reads, nm_writes, sb_reads, fills, beats, nm_writes if residual else 0)


def pass_work(plan: LayerPlan, costs: np.ndarray, bias: bool = False) -> list:
    """Every pass as :class:`PassWork` from the step costs of every convolution group
    (:meth:`LayerPlan.step_costs`)."""
    f = plan.fetch_cycles()
    beats = pass_beats(plan, bias)
    add = add_offset(plan.chip)
    ahead = run_ahead(plan.chip)
    return [PassWork(costs[p.group], f, plan.write_cycles(p), plan.steps, beats, add, ahead) for p in plan.passes]


def run_ahead(chip: ChipConfig) -> int:
    """``R`` of a run-ahead Dynamic Stripes tile, 0 for the lock-step tile kinds (the other
    kinds have no precision groups to run apart)."""
    return chip.tile.run_ahead if chip.kind.detects else 0


def add_offset(chip: ChipConfig) -> int:
    """Cycles from a step's last plane to its add: 1 on the bit-serial tiles (the SIPs' add
    stage), 0 on the bit-parallel tile (whose step is its one plane, §10.6)."""
    return 1 if chip.kind.serial else 0


def layer_breakdown(plan: LayerPlan, costs: np.ndarray, dram: DramConfig | None, *, bias: bool = False,
                    w0_loaded: bool = False) -> Breakdown:
    """Cycles of one input through the layer on the accelerator, split (:func:`timing.breakdown`).
    Passes with the same costs and write-back share one evaluation."""
    work = pass_work(plan, costs, bias)
    return breakdown(work, dram, plan.chip.beat_bytes, w0_loaded=w0_loaded)


@dataclass(frozen=True)
class NmTraffic:
    """NM accesses of one command, in bricks (a masked brick write counts as one).

    Members
    -------
    reads : int
        The fetch unit's reads (``LAYER``) or the pool unit's (``POOL``).
    residual_reads : int
        The writer's reads of the residual tensor (one per output brick written).
    writes : int
        Output bricks written.
    """

    reads: int
    residual_reads: int
    writes: int

    def as_dict(self) -> dict:
        return {"reads": self.reads, "residual_reads": self.residual_reads, "writes": self.writes}


def layer_traffic(plan: LayerPlan, residual: bool) -> NmTraffic:
    """The NM traffic of a ``LAYER`` command: its NM part of :func:`layer_accesses` (every step's
    reads, one write per window and output brick of every pass, as many residual reads when there
    is a residual)."""
    a = layer_accesses(plan, residual=residual)
    return NmTraffic(a.nm_reads, a.nm_residual_reads, a.nm_writes)


@dataclass(frozen=True)
class ChipLayerRun:
    """What the accelerator does with one layer.

    Members
    -------
    outputs : ndarray (K, oh, ow) int64
        The output codes it writes to NM.
    cycles : int
        The ``LAYER`` command's cycles.
    breakdown : Breakdown
    timing : LayerTiming
    passes : tuple of Pass
    prefetch : int or None
        Cycles of the ``prefetch`` command that loaded pass 0's weights first (``w0_loaded``).
    traffic : NmTraffic
        The ``LAYER`` command's NM reads and writes.
    """

    descriptor: LayerDescriptor
    chip: ChipConfig
    dram: DramConfig | None
    outputs: np.ndarray
    cycles: int
    breakdown: Breakdown
    timing: LayerTiming
    passes: tuple
    prefetch: int | None
    traffic: NmTraffic | None = None


def check_weights(weights, layer: Layer, weight_bits: int) -> np.ndarray:
    w = np.asarray(weights)
    want = (layer.k, layer.cg, layer.kh, layer.kw)
    if w.shape != want:
        raise ConfigError(f"weights have shape {w.shape}, the layer needs {want}")
    if w.dtype.kind not in "iu":
        raise ConfigError(f"weights must be integers, not dtype {w.dtype}")
    lo, hi = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    if w.size and (int(w.min()) < lo or int(w.max()) > hi):
        bad = w[(w < lo) | (w > hi)].flat[0]
        raise ConfigError(f"weight {int(bad)} does not fit {weight_bits}-bit two's complement")
    return w.astype(np.int64)


def check_bias(bias, layer: Layer, acc_bits: int) -> np.ndarray | None:
    if bias is None:
        return None
    b = np.asarray(bias)
    if b.shape != (layer.k,):
        raise ConfigError(f"bias has shape {b.shape}, the layer needs ({layer.k},)")
    if b.dtype.kind not in "iu":
        raise ConfigError(f"bias must be integers (accumulator units), not dtype {b.dtype}")
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    if b.size and (int(b.min()) < lo or int(b.max()) > hi):
        raise ConfigError(f"bias values must fit the {acc_bits}-bit accumulators")
    return b.astype(np.int64)


def check_residual_codes(residual, descriptor: LayerDescriptor, chip: ChipConfig) -> np.ndarray | None:
    """The residual tensor's codes, checked: given exactly when the descriptor has a residual
    window, shape ``(K, Ho, Wo)``, every code inside that window."""
    l = descriptor.layer
    if (residual is not None) != (descriptor.residual is not None):
        raise ConfigError("a residual array must be given exactly when the descriptor has a residual window")
    if residual is None:
        return None
    r = np.asarray(residual)
    if r.shape != (l.k, l.oh, l.ow):
        raise ConfigError(f"the residual has shape {r.shape}, the layer's output is {(l.k, l.oh, l.ow)}")
    return descriptor.residual.check(r, chip.tile.act_bits, "residual").astype(np.int64)


def model_layer(acts: np.ndarray, weights: np.ndarray, descriptor: LayerDescriptor, chip: ChipConfig,
                dram: DramConfig | None = None, bias: np.ndarray | None = None,
                residual: np.ndarray | None = None) -> ChipLayerRun:
    """One layer on the accelerator: the exact outputs and cycles.

    Parameters
    ----------
    acts : array (C, H, W)
        Input codes inside ``descriptor.window``.
    weights : array (K, C/groups, kh, kw)
        ``W``-bit two's-complement weights.
    descriptor : LayerDescriptor
    chip : ChipConfig
    dram : DramConfig, optional
        The off-chip memory the weights come from (``None``: every pass's weights in SB).
    bias : array (K,), optional
        Per-filter bias in accumulator units (``descriptor.bias`` must say so).
    residual : array (K, Ho, Wo), optional
        The residual tensor's codes inside ``descriptor.residual`` (given exactly when it is set);
        its reads have their own NM ports and never change the cycles (§10.5, §10.6).
    """
    check_descriptor(descriptor, chip)
    layer, t = descriptor.layer, chip.tile
    if (bias is not None) != bool(descriptor.bias):
        raise ConfigError("a bias array must be given exactly when the descriptor has bias set")
    if dram is not None:
        dram.check_beat(chip.beat_bytes)
    chip.kind.check_mode(descriptor.mode, t)
    a = np.asarray(acts)
    if a.shape != (layer.c, layer.h, layer.w):
        raise ConfigError(f"activations have shape {a.shape}, the layer needs {(layer.c, layer.h, layer.w)}")
    w = check_weights(weights, layer, t.weight_bits)
    b = check_bias(bias, layer, t.acc_bits)
    r = check_residual_codes(residual, descriptor, chip)
    plan = LayerPlan(layer, chip)
    costs = plan.step_costs(a, descriptor.window, descriptor.mode)
    work = pass_work(plan, costs, descriptor.bias)
    bd = breakdown(work, dram, chip.beat_bytes, w0_loaded=descriptor.w0_loaded)
    timing = layer_timing(work, dram, chip.beat_bytes, w0_loaded=descriptor.w0_loaded)
    assert timing.cycles == bd.cycles
    pre = prefetch_cycles(work[0].beats, dram, chip.beat_bytes) if (descriptor.w0_loaded and dram is not None) else None
    outputs = requantize(conv_int(a, w, layer), descriptor.shift, descriptor.out_window, b, r,
                         descriptor.res_shift, descriptor.clamp)
    return ChipLayerRun(descriptor, chip, dram, outputs, bd.cycles, bd, timing, plan.passes, pre,
                        layer_traffic(plan, r is not None))
