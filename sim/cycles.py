"""Cycle counts of a layer and a network under DaDN, Stripes and Dynamic Stripes, plus two
bounds, keyed by scheme (``docs/design.md`` §5).

All counts are per *one tile-set* (``T`` tiles sharing activations), i.e. the accelerator of
the papers: a filter-set is ``Nr * T`` filters and the activation stream is repeated per
filter-set.

* **DaDN**: one brick per cycle, ``windows * kh*kw*CB * filter_sets`` per group.
* **Stripes**: ``p_L`` cycles per step, ``window_sets * kh*kw*CB * filter_sets * p_L``
  (padding steps included).
* **Dynamic Stripes**: the runs of the layer, each counted by the model of one tile run
  (:func:`.tile_run.run_cycles`: lock-step or run-ahead).
* **Fully-connected layers** (``Layer.fc``): bricks of the single window are issued one per
  cycle round-robin to the columns (:func:`.tile_run.fc_cycles`); each brick is its own
  detection group (Stripes: ``p_L`` per brick). DaDN takes one brick per cycle.
* **Per-value ideal** bound: every activation slot of every pallet costs its own bits
  (``precision.value_bits``), perfectly balanced over ``L * Nc`` lanes: ``sum / (L * Nc)``.
* **Pragmatic-style** count: a step costs ``max(1, most non-zero bits of any activation of
  the pallet)`` (lanes and columns synchronised per pallet, as the bit-serial units are).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bricks import BrickStats, compact_codes, kernel_group_bits
from .config import TileConfig
from .errors import ConfigError
from .fixed import Window
from .frozen import FrozenMap
from .layer import Layer
from .pallets import BrickGrid
from .schemes import DADN, DSTRIPES, STRIPES
from .tile_run import check_layer, check_pass_memory, fc_cycles, run_cycles

_D, _S, _DS = DADN.name, STRIPES.name, DSTRIPES.name
#: Keys of :class:`Cycles`: the three schemes and the two bounds.
SCHEME_NAMES = (_D, _S, _DS, "ideal", "pragmatic")
#: The speedups every count reports, ``(slower, faster)``; each is named ``<faster>_over_<slower>``.
RATIOS = ((_D, _S), (_D, _DS), (_S, _DS), (_D, "ideal"), (_D, "pragmatic"))


def ratio(slower, faster) -> float:
    """``slower / faster`` cycles (infinite when ``faster`` took none)."""
    return float(slower / faster) if faster else float("inf")


class Speedups(FrozenMap[str, float]):
    """Speedups by name, ``<faster>_over_<slower>`` (:data:`RATIOS`; an evaluation adds its
    Dynamic Stripes variants): how many times fewer cycles one count takes than another."""


class Cycles(FrozenMap[str, "int | float"]):
    """Cycles by scheme and bound (:data:`SCHEME_NAMES`): ``ideal`` is a float, the others are
    integers. An evaluation's totals add ``dstripes_<variant>``, one per Dynamic Stripes
    variant."""

    def speedup(self, over: str, of: str) -> float:
        """How many times fewer cycles ``of`` takes than ``over``."""
        return ratio(self[over], self[of])

    def speedups(self) -> Speedups:
        """The speedups of :data:`RATIOS`."""
        return Speedups((f"{faster}_over_{slower}", self.speedup(slower, faster)) for slower, faster in RATIOS)

    @classmethod
    def sum(cls, counts) -> "Cycles":
        """The counts added up, key by key (the keys of the first)."""
        counts = list(counts)
        return cls((k, sum(c[k] for c in counts)) for k in counts[0])

    def as_dict(self) -> dict:
        return {k: float(v) if k == "ideal" else int(v) for k, v in self.items()}


@dataclass(frozen=True)
class LayerCycles:
    """Cycle counts of one layer over ``images`` inputs.

    Members
    -------
    layer, window, config :
        What was counted.
    images : int
        Inputs counted.
    cycles : Cycles
        ``dadn``, ``stripes``, ``dstripes`` (ints), ``ideal`` (float), ``pragmatic`` (int).
    hist : ndarray
        How many (group, step) pairs detected ``b`` bits, ``b = 0 .. p_L`` (int64; exact Python
        integers in an object array when a huge layer's counts do not fit 64 bits).
    steps : int
        Steps of every run of the layer (all inputs and filter-sets).
    name : str
        The layer's name in reports.
    """

    layer: Layer
    window: Window
    config: TileConfig
    images: int
    cycles: Cycles
    hist: np.ndarray
    steps: int
    name: str = ""

    @property
    def macs(self) -> int:
        return self.layer.macs * self.images

    @property
    def windows(self) -> int:
        return self.layer.windows * self.images

    def speedup(self, over: str, of: str) -> float:
        """How many times fewer cycles ``of`` takes than ``over`` (:meth:`Cycles.speedup`)."""
        return self.cycles.speedup(over, of)

    def as_dict(self) -> dict:
        c = self.cycles
        return {
            "name": self.name or self.layer.name,
            "layer": self.layer.describe(),
            "window": [self.window.msb, self.window.lsb],
            "signed": self.window.signed,
            "precision": self.window.bits,
            "images": self.images,
            "windows": self.windows,
            "steps": self.steps,
            "macs": self.macs,
            _D: {"cycles": int(c[_D])},
            _S: {"cycles": int(c[_S])},
            _DS: {"cycles": int(c[_DS])},
            "bounds": {"ideal": float(c["ideal"]), "pragmatic": int(c["pragmatic"])},
            "speedup": c.speedups().as_dict(),
            "group_precision_hist": [int(x) for x in self.hist],
        }


def exact_counts(values) -> np.ndarray:
    """Counts (Python integers of any size) as an int64 array when they fit, otherwise as an
    object array of exact Python integers: reported figures never wrap around."""
    ints = [int(v) for v in values]
    if all(-(1 << 63) <= v < (1 << 63) for v in ints):
        return np.array(ints, dtype=np.int64)
    return np.array(ints, dtype=object)


def _scaled(hist: np.ndarray, factor: int) -> np.ndarray:
    """``hist * factor`` without wrapping around (:func:`exact_counts`)."""
    return exact_counts(int(h) * factor for h in hist)


def dadn_closed(layer: Layer, config: TileConfig, images: int = 1) -> int:
    """DaDN cycles, closed form."""
    return (images * layer.conv_groups * layer.windows * layer.steps(config.lanes)
            * layer.filter_sets(config.filters_per_set))


def stripes_closed(layer: Layer, window: Window, config: TileConfig, images: int = 1) -> int:
    """Stripes cycles, closed form (FC layers: round-robin, see :func:`fc_cycles`)."""
    if layer.fc:
        nb = layer.channel_blocks(config.lanes)
        return images * fc_cycles(np.full(nb, window.bits), config.columns) * layer.filter_sets(config.filters_per_set)
    return (images * layer.conv_groups * layer.window_sets(config.columns) * layer.steps(config.lanes)
            * layer.filter_sets(config.filters_per_set) * window.bits)


def layer_cycles(acts: np.ndarray, layer: Layer, window: Window, config: TileConfig = TileConfig(),
                 name: str = "") -> LayerCycles:
    """Cycle counts of every scheme and both bounds for one layer.

    Parameters
    ----------
    acts : array
        Integer codes, ``(C, H, W)`` or ``(N, C, H, W)`` (cycles summed over the ``N`` inputs);
        for FC layers any shape with ``C`` values per input.
    """
    check_layer(layer, config)
    a = np.asarray(acts)
    per_image = layer.c * layer.h * layer.w
    if a.size == 0 or a.size % per_image:
        raise ConfigError(f"activation shape {a.shape} does not match the layer input "
                          f"{layer.c}x{layer.h}x{layer.w}")
    # In lock-step the cycle counts are sums over steps, so all convolution groups go through
    # one stacked grid (depthwise layers: one pass instead of C); run-ahead keeps each group's
    # own step sequence.
    per_pass = 1 if config.run_ahead else layer.conv_groups
    check_pass_memory(layer, config, per_pass)  # before reading a possibly huge input
    # codes keep their own (narrow) dtype; each pass converts only its own input
    a = window.check(a, config.act_bits).reshape(-1, layer.c, layer.h, layer.w)
    n = a.shape[0]
    fsets = layer.filter_sets(config.filters_per_set)
    mode = config.trim
    hist = np.zeros(window.bits + 1, dtype=np.int64)
    dst = ideal_bits = pra = 0
    for img in a:
        for first in range(0, layer.conv_groups, per_pass):
            acts_g = img[first * layer.cg:(first + per_pass) * layer.cg]
            grid = BrickGrid(compact_codes(acts_g, config.act_bits), layer, config.lanes, config.columns,
                             conv_groups=per_pass)
            stats = BrickStats(grid, window, mode)
            if layer.fc:
                # one window: brick position (cb, 0, 0); each brick is its own detection group
                bits = stats.bits[:, 0, 0].astype(np.int64)
                dst += fc_cycles(bits, config.columns)
                pra += fc_cycles(stats.essential[:, 0, 0], config.columns)
                ideal_bits += int(stats.value_bits[:, 0, 0].sum())
                hist += np.bincount(bits, minlength=window.bits + 1)
                continue
            seq = []
            for ky, kx, bits in kernel_group_bits(grid, stats, window, config, mode):
                hist += np.bincount(bits.ravel(), minlength=window.bits + 1)
                seq.append(bits)
                ideal_bits += int(grid.at(stats.value_bits, ky, kx).sum())
                pra += int(np.maximum(1, grid.at(stats.essential, ky, kx).max(axis=-1)).sum())
            # (kh*kw, CB, nws, groups) -> pallet order (nws, kh*kw*CB, groups): the run of one
            # tile pass (in lock-step the stacked convolution groups sum the same either way)
            order = np.stack(seq).transpose(2, 0, 1, 3).reshape(grid.window_sets, -1, config.precision_groups)
            dst += run_cycles(order, run_ahead=config.run_ahead)
    cycles = Cycles({
        _D: dadn_closed(layer, config, n),
        _S: stripes_closed(layer, window, config, n),
        _DS: dst * fsets,
        "ideal": ideal_bits / (config.lanes * config.columns) * fsets,
        "pragmatic": pra * fsets,
    })
    if layer.fc:
        steps = n * layer.channel_blocks(config.lanes) * fsets
    else:
        steps = n * layer.conv_groups * layer.window_sets(config.columns) * layer.steps(config.lanes) * fsets
    return LayerCycles(layer, window, config, n, cycles, _scaled(hist, fsets), steps, name or layer.name)


@dataclass(frozen=True)
class NetworkCycles:
    """The layers of one network and their aggregation.

    Members
    -------
    name : str
    layers : tuple of LayerCycles
    """

    name: str
    layers: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))

    def total(self) -> Cycles:
        """Every scheme's and bound's cycles summed over the layers."""
        return Cycles.sum(l.cycles for l in self.layers)

    def mac_weighted(self) -> Speedups:
        """MAC-weighted averages of the per-layer speedups."""
        macs = np.array([l.macs for l in self.layers], dtype=np.float64)
        each = [l.cycles.speedups() for l in self.layers]
        return Speedups((key, float((np.array([s[key] for s in each]) * macs).sum() / macs.sum()))
                        for key in each[0])

    def as_dict(self) -> dict:
        t = self.total()
        return {
            "network": self.name,
            "layers": [l.as_dict() for l in self.layers],
            "total": t.as_dict(),
            "speedup": t.speedups().as_dict(),
            "speedup_mac_weighted": self.mac_weighted().as_dict(),
        }
