"""The runs of a tile, derived from the golden model: what both testbench paths play.

A :class:`TileRun` is one run of one tile: its configuration, its input streams and what must
come out. Everything the testbenches check comes from the golden model here: the pallet and
weight streams (:func:`dstripes.sim.pallets.pallets`, :func:`dstripes.sim.pallets.weight_bricks`), the
exact results (:func:`dstripes.sim.functional.window_set_results`) and the RTL-exact cycle count
(the model of one run of the tile kind's scheme, :meth:`dstripes.sim.schemes.Scheme.run_cycles`,
with the tile's latency). :func:`check_run` checks a run without deriving it (a command calls it
before anything is built), :func:`check_stimulus` the options of playing runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dstripes.hw.design import TileDesign
from dstripes.hw.params import COUNT_BITS, MODE_CODES
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.functional import INT64_MAX, result_bound, results_from_pallets
from dstripes.sim.layer import Layer
from dstripes.sim.limits import check_memory
from dstripes.sim.pallets import pallets, weight_bricks
from dstripes.sim.tile_run import fc_cycles


@dataclass(frozen=True)
class TileRun:
    """One run of a tile: its configuration, its input streams and what must come out.

    Members
    -------
    config : dict
        The ``config`` payload: ``msb``, ``lsb``, ``signed``, ``mode`` (the tile's code),
        ``steps``, ``window_sets``, and on a tile with the fully-connected dispatch
        (:attr:`~dstripes.sim.config.TileConfig.fc_dispatch`) ``fc`` (a fully-connected run: one
        window of ``steps`` bricks, :func:`as_conv`, its cycles
        :func:`dstripes.sim.tile_run.fc_cycles` plus the tile's latency).
    acts : ndarray
        Activation transfers, ``(n, Nc, L)`` (``(n, L)`` on the bit-parallel tile), as the
        unsigned ``A``-bit fields the port carries (two's complement for signed layers), in
        the smallest unsigned dtype that holds them.
    bricks : ndarray
        The weight bricks of one window-set (bit-parallel: of one window), ``(steps, Nr, L)``;
        the weight stream repeats them for every window-set (:attr:`weights`).
    expected : ndarray
        Result transfers ``(n, Nc, Nr)`` (``(n, Nr)`` on the bit-parallel tile), exact. Columns
        past the layer's last window and rows past the filter-set's last filter are padding:
        zero-weight filters or zero windows the tile computes too.
    cycles : int
        RTL-exact cycle count of the run with always-ready streams.
    windows, filters : int
        The layer's windows that exist among the run's ``n * Nc`` columns (``n`` on the
        bit-parallel tile), and its filters that exist among the ``Nr`` rows.
    """

    config: dict
    acts: np.ndarray
    bricks: np.ndarray
    expected: np.ndarray
    cycles: int
    windows: int
    filters: int

    @property
    def outputs(self) -> int:
        """The layer's real results in :attr:`expected`: ``windows * filters``, each a result the
        layer has (the padding columns of a partial window-set and the padding rows of a partial
        filter-set are not counted)."""
        return self.windows * self.filters

    @property
    def weights(self) -> np.ndarray:
        """Weight transfers ``(n, Nr, L)``: :attr:`bricks` once per window-set."""
        return np.tile(self.bricks, (self.config["window_sets"], 1, 1))


def check_filter_set(layer: Layer, config, filter_set) -> None:
    """``filter_set`` must be one of the layer's filter-sets of ``config.rows`` filters."""
    sets = layer.filter_sets(config.rows)
    if isinstance(filter_set, bool) or not isinstance(filter_set, (int, np.integer)) or not 0 <= filter_set < sets:
        raise ConfigError(f"filter set {filter_set!r} is outside the {sets} filter-set(s) of {config.rows} "
                          f"filters of this layer (0..{sets - 1})")


def runs_fc(tile: TileDesign) -> bool:
    """Whether ``tile`` runs fully-connected layers: a bit-serial tile built with the round-robin
    dispatch (``fc_dispatch``, lock-step only), the bit-parallel tile as any one-window run."""
    return not tile.scheme.serial or tile.config.fc_dispatch


def fc_tile(tile: TileDesign) -> TileDesign:
    """The tile that runs ``tile``'s fully-connected layers: ``tile`` itself when it can
    (:func:`runs_fc`), else the same bit-serial tile in lock-step (``run_ahead`` 0; the model
    counts fully-connected layers the same at any ``run_ahead``) with ``fc_dispatch`` on."""
    if runs_fc(tile):
        return tile
    return tile.replace(run_ahead=0, fc_dispatch=True)


def as_conv(layer: Layer, weights):
    """A fully-connected layer as the tile's streams carry it: a 1x1 convolution of one window on
    a ``C x 1 x 1`` input (its bricks in column 0 of the pallets, its results in column 0 of the
    one result transfer), and its weights ``(K, C, 1, 1)``; a conv layer as it is."""
    if not layer.fc:
        return layer, weights
    w = np.asarray(weights)
    if w.size == layer.k * layer.c:
        w = w.reshape(layer.k, layer.c, 1, 1)
    return Layer(layer.c, 1, 1, layer.k, name=layer.name), w


def check_run(tile: TileDesign, layer: Layer, window: Window, acts: np.ndarray,
              weights: np.ndarray, *, mode: str | None = None, filter_set: int = 0,
              window_sets: int | None = None, conv_group: int = 0) -> tuple:
    """Every check of :func:`layer_run` (the run's mode, filter-set, window-sets, convolution
    group, codes, weights, counter widths and memory), without building anything: a command
    calls it before it generates the tile. Returns ``(mode, codes, weights)``."""
    s = tile.scheme
    config = tile.config
    mode = s.check_mode(mode, config)
    if layer.fc and not runs_fc(tile):
        raise ConfigError(f"fully-connected layer {layer.name or layer.describe()}: the {tile.name} tile "
                          f"without fc_dispatch has no round-robin dispatch (build it with fc_dispatch, "
                          f"lock-step only)")
    layer, weights = as_conv(layer, weights)
    check_filter_set(layer, config, filter_set)
    columns = s.columns(config)
    total = layer.window_sets(columns)
    if window_sets is not None and (isinstance(window_sets, bool) or not isinstance(window_sets, (int, np.integer))
                                    or not 1 <= window_sets <= total):
        what = "window_sets" if s.serial else "windows"
        raise ConfigError(f"{what} must be between 1 and {total} for this layer, not {window_sets!r}")
    units = total if window_sets is None else int(window_sets)
    steps = layer.steps(config.lanes)
    for what, value in (("steps per window-set" if s.serial else "steps per window", steps),
                        ("window-sets" if s.serial else "windows", units)):
        if value >= 1 << COUNT_BITS:
            raise ConfigError(f"the run's {value:,} {what} do not fit the tile's {COUNT_BITS}-bit "
                              f"counters (at most {(1 << COUNT_BITS) - 1:,}); simulate fewer --window-sets")
    # the whole layer's pallets (int64), and the run's weight and result streams
    full = total * steps * columns * config.lanes
    run_len = units * steps * (config.rows * config.lanes + columns * config.rows)
    check_memory(8 * (3 * full + 2 * run_len), f"the streams of a run of {layer.describe()}")
    a = window.check(acts, config.act_bits).reshape(layer.c, layer.h, layer.w)
    w = np.asarray(weights)
    lo, hi = -(1 << (config.weight_bits - 1)), (1 << (config.weight_bits - 1)) - 1
    if w.size and (w.min() < lo or w.max() > hi):
        bad = int(w[(w < lo) | (w > hi)].flat[0])
        raise ConfigError(f"weight {bad} does not fit {config.weight_bits}-bit two's complement")
    want = (layer.k, layer.cg, layer.kh, layer.kw)
    if w.shape != want and w.size != layer.k * layer.cg * layer.kh * layer.kw:
        raise ConfigError(f"weights have shape {w.shape}, the layer needs {want}")
    bound = result_bound(a, w, layer.reduction)
    if bound > INT64_MAX:  # the model is exact beyond; the testbenches' expected results are int64
        raise ConfigError(f"results of this layer may reach {bound:,} (largest code x largest weight x "
                          f"{layer.reduction} products), beyond the 64-bit integers the testbenches carry "
                          f"expected results in; use narrower codes or weights")
    if not isinstance(conv_group, (int, np.integer)) or isinstance(conv_group, bool) or \
            not 0 <= conv_group < layer.conv_groups:
        raise ConfigError(f"convolution group {conv_group!r} is outside the layer's "
                          f"{layer.conv_groups} group(s)")
    return mode, a, w


def layer_run(tile: TileDesign, layer: Layer, window: Window,
              acts: np.ndarray, weights: np.ndarray, *, mode: str | None = None,
              filter_set: int = 0, window_sets: int | None = None, conv_group: int = 0) -> TileRun:
    """The run of one filter-set of a layer (or its first ``window_sets``) on one tile.

    Parameters
    ----------
    tile : TileDesign
        The tile (its kind's model scheme, configuration and latency).
    layer, window : Layer, Window
    acts : array
        Integer codes ``(C, H, W)`` inside ``window``.
    weights : array
        ``(K, C/groups, kh, kw)`` signed ``W``-bit weights.
    mode : {"static", "leading", "both"}, optional
        Precision mode of the run; default ``config.trim`` on Dynamic Stripes and ``static``
        on the others (the only mode they have). A mode the tile was not generated for is an
        error.
    filter_set : int
        Which ``Nr`` filters of the convolution group the tile computes.
    window_sets : int, optional
        Only the first ``window_sets`` window-sets (windows on the bit-parallel tile).
    conv_group : int
        Convolution group.
    """
    return layer_runs(tile, layer, window, acts, weights, mode=mode,
                      filter_sets=(filter_set,), window_sets=window_sets, conv_group=conv_group)[0]


def layer_runs(tile: TileDesign, layer: Layer, window: Window,
               acts: np.ndarray, weights: np.ndarray, *, mode: str | None = None,
               filter_sets: Sequence[int] = (0,), window_sets: int | None = None,
               conv_group: int = 0) -> list[TileRun]:
    """The runs of several filter-sets of one convolution group (:func:`layer_run` each): the
    activation stream and its cycle count are derived once and shared by every run."""
    s, config, latency = tile.scheme, tile.config, tile.latency
    filter_sets = list(filter_sets)
    if not filter_sets:
        raise ConfigError("a run needs at least one filter set")
    mode, a, w = check_run(tile, layer, window, acts, weights, mode=mode, filter_set=filter_sets[0],
                           window_sets=window_sets, conv_group=conv_group)
    for filter_set in filter_sets[1:]:
        check_filter_set(layer, config, filter_set)

    fc = layer.fc
    layer, w = as_conv(layer, w)
    bits = s.run_bits(a, layer, window, config, mode=mode, conv_group=conv_group, units=window_sets)
    n = bits.shape[0]
    if fc:
        # round-robin: each brick alone in column 0 of its pallet, so the slowest group is its own bits
        cycles = fc_cycles(np.maximum(1, bits.max(axis=-1)).ravel(), columns=s.columns(config)) + latency
    else:
        cycles = s.run_cycles(bits, config, latency)
    columns = s.columns(config)
    pal = pallets(a, layer, config.lanes, columns, conv_group)[:n]  # (n, S, Nc, L)
    steps = pal.shape[1]
    if s.serial:
        act_stream = pal.reshape(-1, config.columns, config.lanes)
    else:
        act_stream = pal[:, :, 0, :].reshape(-1, config.lanes)
    # The act port carries unsigned A-bit fields; a signed layer's codes are their two's complement.
    dtype = next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if np.iinfo(t).bits >= config.act_bits)
    act_stream = (act_stream & ((1 << config.act_bits) - 1)).astype(dtype)
    run_config = {"msb": window.msb, "lsb": window.lsb, "signed": int(window.signed),
                  "mode": MODE_CODES[mode], "steps": steps, "window_sets": n}
    if config.fc_dispatch:
        run_config["fc"] = int(fc)
    windows = min(n * columns, layer.windows)  # the last window-set may be partial
    runs = []
    for filter_set in filter_sets:
        wb = weight_bricks(w, layer, config.lanes, config.rows, filter_set, conv_group)  # (S, Nr, L)
        exp = results_from_pallets(pal, wb)  # (n, Nc, Nr): sim.functional.window_set_results
        runs.append(TileRun(config=dict(run_config), acts=act_stream, bricks=wb,
                            expected=exp if s.serial else exp[:, 0, :], cycles=cycles, windows=windows,
                            filters=min(config.rows, layer.kg - filter_set * config.rows)))
    return runs


def check_stimulus(runs: Sequence[TileRun], *, idle: float, stall: float, reset_at: int | None) -> None:
    """:class:`ConfigError` unless there is a run to play, ``idle`` and ``stall`` are
    probabilities in ``[0, 1)`` and ``reset_at`` is ``None`` or a positive number of cycles."""
    if not runs:
        raise ConfigError("nothing to simulate: at least one run is needed")
    for name, p in (("idle", idle), ("stall", stall)):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ConfigError(f"{name} probability must be in [0, 1), not {p!r}")
    if reset_at is not None and (isinstance(reset_at, bool) or not isinstance(reset_at, int) or reset_at < 1):
        raise ConfigError(f"reset_at must be a positive number of cycles, not {reset_at!r}")
