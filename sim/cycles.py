"""Cycle models of DaDN, Stripes and Dynamic Stripes (docs/design.md §5), plus two bounds.

All counts are per *one tile-set* (``T`` tiles sharing activations), i.e. the accelerator of
the papers: a filter-set is ``Nr * T`` filters and the activation stream is repeated per
filter-set.

* **DaDN**: one brick per cycle, ``windows * kh*kw*CB * filter_sets`` per group.
* **Stripes**: ``p_L`` cycles per step, ``window_sets * kh*kw*CB * filter_sets * p_L``
  (padding steps included).
* **Dynamic Stripes**: a step costs ``max(1, max_g bits_g)`` (lock-step); with run-ahead
  ``R > 0`` a group may start step ``s`` once every group finished step ``s - R - 1``, a
  step costs the group ``max(1, bits_g)``, and a group closes a window-set only after every
  group closed the previous one (one window-set of results staged per group).
* **Fully-connected layers** (``Layer.fc``): bricks of the single window are issued one per
  cycle round-robin to the columns, in order; a column is busy for ``max(1, bits)`` cycles of
  its brick (Stripes: ``p_L``; each brick is its own detection group). DaDN takes one brick
  per cycle.
* **Per-value ideal** bound: every activation slot of every pallet costs its own bits
  (``precision.value_bits``), perfectly balanced over ``L * Nc`` lanes: ``sum / (L * Nc)``.
* **Pragmatic-style** count: a step costs ``max(1, most non-zero bits of any activation of
  the pallet)`` (lanes and columns synchronised per pallet, as the bit-serial units are).

The RTL-exact count of a run on one tile is the sum of its step costs plus the tile's
pipeline latency (:func:`rtl_cycles`); the latency is a number the testbench reads from the
generated hardware.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import TileConfig
from .errors import ConfigError
from .fixed import Window
from .layer import Layer
from .limits import check_memory
from .pallets import BrickGrid, group_inputs
from .precision import bits_from_or, group_or, value_bits, essential_bits
from .schemes import DADN, DSTRIPES, STRIPES

_D, _S, _DS = DADN.name, STRIPES.name, DSTRIPES.name
#: Keys of :attr:`LayerCycles.cycles`: the three schemes and the two bounds.
SCHEME_NAMES = (_D, _S, _DS, "ideal", "pragmatic")


@dataclass
class LayerCycles:
    """Cycle counts of one layer over ``images`` inputs.

    Members
    -------
    cycles : dict
        ``dadn``, ``stripes``, ``dstripes`` (ints), ``ideal`` (float), ``pragmatic`` (int).
    hist : ndarray
        How many (group, step) pairs detected ``b`` bits, ``b = 0 .. p_L`` (int64; exact Python
        integers in an object array when a huge layer's counts do not fit 64 bits).
    """

    layer: Layer
    window: Window
    config: TileConfig
    images: int
    cycles: dict
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
        return self.cycles[over] / self.cycles[of] if self.cycles[of] else float("inf")

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
            "speedup": speedups(c),
            "group_precision_hist": [int(x) for x in self.hist],
        }


def speedups(c: dict) -> dict:
    def r(a, b):
        return float(c[a] / c[b]) if c[b] else float("inf")
    return {
        f"{_S}_over_{_D}": r(_D, _S),
        f"{_DS}_over_{_D}": r(_D, _DS),
        f"{_DS}_over_{_S}": r(_S, _DS),
        f"ideal_over_{_D}": r(_D, "ideal"),
        f"pragmatic_over_{_D}": r(_D, "pragmatic"),
    }


def check_layer(layer: Layer, config: TileConfig) -> None:
    """Reject a layer whose reduction could overflow the configured accumulators."""
    red = layer.kh * layer.kw * layer.channel_blocks(config.lanes) * config.lanes
    if red > config.max_reduction:
        raise ConfigError(
            f"layer reduction length {red} (kh*kw*ceil(C/L)*L) exceeds max_reduction "
            f"{config.max_reduction} of the {config.acc_bits}-bit accumulators")


def pass_bytes(layer: Layer, config: TileConfig, conv_groups: int = 1) -> int:
    """Estimated peak memory of counting one pass (one input, ``conv_groups`` convolution groups
    stacked): the padded brick grid, its per-position statistics, one kernel position's view of
    every window-set, and the run's per-step group bits."""
    cb = conv_groups * layer.channel_blocks(config.lanes)
    positions = cb * (layer.h + 2 * layer.py) * (layer.w + 2 * layer.px)
    # codes of at most 16 bits: their 16-bit pattern and look-ups; wider: int64 temporaries
    per_code = 4 if config.act_bits <= 16 else 64
    slots = cb * layer.window_sets(config.columns) * config.columns
    steps = layer.steps(config.lanes) * conv_groups * layer.window_sets(config.columns) * config.precision_groups
    return positions * config.lanes * per_code + positions * 32 + slots * 32 + steps * 3


def check_pass_memory(layer: Layer, config: TileConfig, conv_groups: int = 1) -> None:
    """Refuse a layer whose one-input pass needs more memory than is available."""
    check_memory(pass_bytes(layer, config, conv_groups),
                 f"counting one input of {layer.describe()} (padded {layer.h + 2 * layer.py}x"
                 f"{layer.w + 2 * layer.px}, {config.lanes} lanes, {config.columns} columns)")


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


def fc_cycles(costs: np.ndarray, columns: int) -> int:
    """Round-robin FC dispatch: brick ``i`` issues at ``max(issue[i-1] + 1, free[i % Nc])``
    and keeps its column busy for ``max(1, costs[i])`` cycles; returns the last finish."""
    free = [0] * columns
    issue = -1
    end = 0
    for i, c in enumerate(np.maximum(1, np.asarray(costs, dtype=np.int64)).tolist()):
        col = i % columns
        issue = max(issue + 1, free[col])
        free[col] = issue + c
        end = max(end, free[col])
    return end


def run_cycles(group_bits: np.ndarray, *, run_ahead: int = 0, latency: int = 0) -> int:
    """Cycles of one run of one tile: **the** golden model of a run, shared by the testbench
    (``latency`` = the generated tile's) and the evaluation (``latency = 0``: the ideal count).

    Parameters
    ----------
    group_bits : array (window_sets, steps, groups) or (steps, groups)
        Bits each precision group processes in each step, in pallet order (bit-parallel tile:
        one column of ones, one per brick). A 2-D array is one window-set of ``steps`` steps.
    run_ahead : int
        Steps a group may run ahead (``docs/design.md`` §5): it may start step ``s`` once every
        group has finished step ``s - run_ahead - 1``; a step costs the group ``max(1, bits)``.
        Each group stages the results of one closed window-set until every group has closed it
        and they leave, so a group closes window-set ``w`` no earlier than the cycle after the
        last group closed ``w - 1``, and its next step waits for that close. ``0`` is
        lock-step: a step costs ``max(1, max_g bits_g)``.
    latency : int
        The tile's constant pipeline latency, added once per run.
    """
    if isinstance(run_ahead, bool) or not isinstance(run_ahead, (int, np.integer)) or run_ahead < 0:
        raise ConfigError(f"run_ahead must be a non-negative integer, not {run_ahead!r}")
    if isinstance(latency, bool) or not isinstance(latency, (int, np.integer)) or latency < 0:
        raise ConfigError(f"latency must be a non-negative integer, not {latency!r}")
    bits = np.asarray(group_bits)
    if bits.ndim == 2:
        bits = bits[None]
    if bits.ndim != 3:
        raise ConfigError(f"group bits must be (window_sets, steps, groups) or (steps, groups), "
                          f"not shape {np.asarray(group_bits).shape}")
    if run_ahead == 0 or bits.shape[2] == 1 or bits.size == 0:
        # lock-step: the slowest group sets each step's cost (int8 maxima, int64 sum)
        return int(np.maximum(1, bits.max(axis=2, initial=0)).sum(dtype=np.int64)) + int(latency)
    return _run_ahead(np.maximum(1, bits.astype(np.int64)), int(run_ahead)) + int(latency)


def _run_ahead(cost: np.ndarray, run_ahead: int) -> int:
    """Cycle of the last window-set close when each group may run ``run_ahead`` steps ahead,
    ``cost`` ``(window_sets, steps, groups)`` (each ``>= 1``).

    Times count from the first bit plane of the run. ``end`` is the cycle after a group's last
    plane of a step (the step's add cycle); a closing add waits until the group's result stage
    is free, which is the cycle after the last group closed the previous window-set (``out``).
    """
    nws, steps, groups = cost.shape
    flat = cost.reshape(-1, groups).tolist()
    r1 = run_ahead + 1
    slowest = [0] * (len(flat) + 1)  # slowest[s + 1]: last group's end of step s
    ready = [0] * groups              # when each group may start its next step
    out = 0                           # cycle the previous window-set's results leave
    s = 0
    for _ in range(nws):
        for _ in range(steps):
            gate = slowest[s + 1 - r1] if s + 1 >= r1 else 0
            row = flat[s]
            ready = [(r if r > gate else gate) + c for r, c in zip(ready, row)]
            s += 1
            slowest[s] = max(ready)
        ready = [r if r > out else out for r in ready]   # the close (add) of this window-set
        out = max(ready) + 1
    return out - 1


class _BrickStats:
    """Everything the models need from each brick position, computed once per position.

    Members (each ``(CB, Hp, Wp)``): ``v`` / ``t`` (the brick's ORs, see
    :func:`precision.group_or`), ``bits`` (the brick's own detected bits), ``value_bits`` (sum
    over lanes of each value's own bits) and ``essential`` (most non-zero bits of any lane).
    Codes of at most 16 bits go through 64 K-entry look-up tables.
    """

    def __init__(self, grid: BrickGrid, window: Window, mode: str, bounds: bool = True):
        b = grid.bricks
        if b.dtype == np.uint16:
            raw = b  # see _compact
            if window.signed:
                s16 = raw.view(np.int16)
                self.v = np.bitwise_or.reduce(s16 ^ (s16 >> 15), axis=1).astype(np.int64)
            else:
                self.v = np.bitwise_or.reduce(raw, axis=1).astype(np.int64)
            self.t = self.v if not window.signed else np.bitwise_or.reduce(raw, axis=1).astype(np.int64)
            if bounds:
                vb_lut, ess_lut = _luts(window, mode)
                self.value_bits = vb_lut[raw].sum(axis=1, dtype=np.int32)
                self.essential = ess_lut[raw].max(axis=1)
        else:
            self.v, self.t, _ = group_or(b, window.signed, axis=1)
            if bounds:
                self.value_bits = value_bits(b, window, mode).sum(axis=1)
                self.essential = essential_bits(b, window.signed).max(axis=1)
        self.bits = bits_from_or(self.v, self.t, window, mode)[0].astype(np.int8)


def _compact(codes: np.ndarray, act_bits: int) -> np.ndarray:
    """Validated codes of at most 16 bits as their 16-bit two's-complement pattern (a quarter of
    the memory traffic of int64, and an index into the look-up tables); wider codes stay int64."""
    return codes.astype(np.uint16) if act_bits <= 16 else codes


_LUT_CACHE: dict = {}


def _luts(window: Window, mode: str):
    """Per-code look-up tables (indexed by the 16-bit pattern): own bits, non-zero bits."""
    key = (window, mode)
    if key not in _LUT_CACHE:
        codes = np.arange(1 << 16, dtype=np.int64)
        if window.signed:
            codes = np.where(codes >= 1 << 15, codes - (1 << 16), codes)
        _LUT_CACHE[key] = (value_bits(codes, window, mode).astype(np.uint8),
                           essential_bits(codes, window.signed).astype(np.uint8))
    return _LUT_CACHE[key]


def _group_bits(grid: BrickGrid, stats: _BrickStats, window: Window, config: TileConfig, mode: str):
    """Yield ``(ky, kx, bits)`` with ``bits`` ``(CB, nws, groups)``: each group's detected bits
    for every step at kernel position ``(ky, kx)``."""
    g = config.group
    for ky, kx in grid.kernel_positions():
        if mode == "both" and g > 1:
            vv = np.bitwise_or.reduce(grid.at(stats.v, ky, kx).reshape(grid.cb, -1, config.precision_groups, g), axis=-1)
            tt = np.bitwise_or.reduce(grid.at(stats.t, ky, kx).reshape(grid.cb, -1, config.precision_groups, g), axis=-1)
            yield ky, kx, bits_from_or(vv, tt, window, mode)[0].astype(np.int8)
        else:
            # Leading-only bits are monotone in the group's OR, so a group's bits are the
            # maximum of its columns' bits; with G == 1 the column is the group.
            cols = grid.at(stats.bits, ky, kx)
            yield ky, kx, cols if g == 1 else cols.reshape(grid.cb, -1, config.precision_groups, g).max(axis=-1)


def step_group_bits(acts: np.ndarray, layer: Layer, window: Window, config: TileConfig,
                    mode: str = "leading", conv_group: int = 0) -> np.ndarray:
    """Bits each precision group processes in every step of one convolution group,
    ``(window_sets, steps, precision_groups)`` int8, in pallet order.

    ``mode`` is ``static`` (Stripes), ``leading`` or ``both``.
    """
    check_pass_memory(layer, config)
    acts = window.check(acts, config.act_bits).reshape(layer.c, layer.h, layer.w)
    acts = _compact(group_inputs(acts, layer)[conv_group], config.act_bits)
    grid = BrickGrid(acts, layer, config.lanes, config.columns)
    stats = _BrickStats(grid, window, mode, bounds=False)
    out = np.empty((grid.window_sets, layer.kh, layer.kw, grid.cb, config.precision_groups), dtype=np.int8)
    for ky, kx, bits in _group_bits(grid, stats, window, config, mode):
        out[:, ky, kx] = bits.transpose(1, 0, 2)
    return out.reshape(grid.window_sets, -1, config.precision_groups)


def step_costs(acts: np.ndarray, layer: Layer, window: Window, config: TileConfig,
               mode: str = "leading", conv_group: int = 0) -> np.ndarray:
    """Lock-step cycles of every step of one convolution group, ``(window_sets, steps)``:
    ``max(1, max_g bits_g)`` of :func:`step_group_bits`."""
    bits = step_group_bits(acts, layer, window, config, mode, conv_group)
    return np.maximum(1, bits.max(axis=-1)).astype(np.int64)


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
            grid = BrickGrid(_compact(acts_g, config.act_bits), layer, config.lanes, config.columns,
                             conv_groups=per_pass)
            stats = _BrickStats(grid, window, mode)
            if layer.fc:
                # one window: brick position (cb, 0, 0); each brick is its own detection group
                bits = stats.bits[:, 0, 0].astype(np.int64)
                dst += fc_cycles(bits, config.columns)
                pra += fc_cycles(stats.essential[:, 0, 0], config.columns)
                ideal_bits += int(stats.value_bits[:, 0, 0].sum())
                hist += np.bincount(bits, minlength=window.bits + 1)
                continue
            seq = []
            for ky, kx, bits in _group_bits(grid, stats, window, config, mode):
                hist += np.bincount(bits.ravel(), minlength=window.bits + 1)
                seq.append(bits)
                ideal_bits += int(grid.at(stats.value_bits, ky, kx).sum())
                pra += int(np.maximum(1, grid.at(stats.essential, ky, kx).max(axis=-1)).sum())
            # (kh*kw, CB, nws, groups) -> pallet order (nws, kh*kw*CB, groups): the run of one
            # tile pass (in lock-step the stacked convolution groups sum the same either way)
            order = np.stack(seq).transpose(2, 0, 1, 3).reshape(grid.window_sets, -1, config.precision_groups)
            dst += run_cycles(order, run_ahead=config.run_ahead)
    cycles = {
        _D: dadn_closed(layer, config, n),
        _S: stripes_closed(layer, window, config, n),
        _DS: dst * fsets,
        "ideal": ideal_bits / (config.lanes * config.columns) * fsets,
        "pragmatic": pra * fsets,
    }
    if layer.fc:
        steps = n * layer.channel_blocks(config.lanes) * fsets
    else:
        steps = n * layer.conv_groups * layer.window_sets(config.columns) * layer.steps(config.lanes) * fsets
    return LayerCycles(layer, window, config, n, cycles, _scaled(hist, fsets), steps, name or layer.name)


@dataclass
class NetworkCycles:
    """Per-layer results and their aggregation."""

    name: str
    layers: list = field(default_factory=list)

    def total(self) -> dict:
        keys = SCHEME_NAMES
        return {k: sum(l.cycles[k] for l in self.layers) for k in keys}

    def mac_weighted(self) -> dict:
        """MAC-weighted averages of the per-layer speedups."""
        macs = np.array([l.macs for l in self.layers], dtype=np.float64)
        out = {}
        for key in speedups(self.layers[0].cycles):
            vals = np.array([speedups(l.cycles)[key] for l in self.layers])
            out[key] = float((vals * macs).sum() / macs.sum())
        return out

    def as_dict(self) -> dict:
        t = self.total()
        return {
            "network": self.name,
            "layers": [l.as_dict() for l in self.layers],
            "total": {k: (float(v) if k == "ideal" else int(v)) for k, v in t.items()},
            "speedup": speedups(t),
            "speedup_mac_weighted": self.mac_weighted(),
        }
