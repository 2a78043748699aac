"""The accelerator schemes the golden model counts, and the model of one tile run of each.

This is the model half of the registry of tile kinds (``dstripes.hw.kinds`` adds each kind's
hardware: builder, parameters, synthesis blocks). A scheme's name is written here and nowhere
else; everything else refers to these objects.

=============  ==========================================================================
scheme         one run of one tile (``docs/design.md`` §5)
=============  ==========================================================================
``dadn``       bit-parallel: one brick of one window per cycle, ``windows x steps`` cycles
``stripes``    bit-serial: every step costs the layer precision ``p_L``
``dstripes``   bit-serial with run-time detection: a step costs the slowest precision
               group's bits (lock-step), or each group its own (run-ahead ``R > 0``)
=============  ==========================================================================
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import check_choice
from .config import TileConfig
from .errors import ConfigError
from .fixed import Window
from .layer import Layer
from .precision import MODES
from .tile_run import check_layer, run_cycles, step_group_bits


@dataclass(frozen=True)
class Scheme:
    """One accelerator scheme.

    Parameters
    ----------
    name : str
        Identifier (command-line choice, JSON key, file names).
    title : str
        Name in reports.
    serial : bool
        Bit-serial: a step is one pallet of ``Nc`` windows. Otherwise one brick of one window
        per cycle (the run's units are windows, not window-sets).
    detects : bool
        Detects each group's precision at run time (otherwise every step costs ``p_L``).
    """

    name: str
    title: str
    serial: bool
    detects: bool

    def modes(self, trim: str = "leading") -> tuple:
        """Precision modes a tile of this scheme can run (``trim`` of its configuration)."""
        if not self.detects:
            return ("static",)
        return MODES if trim == "both" else MODES[:2]

    def default_mode(self, config: TileConfig) -> str:
        return config.trim if self.detects else "static"

    def columns(self, config: TileConfig) -> int:
        """Windows processed together: ``Nc`` (bit-serial) or one (bit-parallel)."""
        return config.columns if self.serial else 1

    def run_bits(self, acts: np.ndarray, layer: Layer, window: Window, config: TileConfig, *,
                 mode: str | None = None, conv_group: int = 0, units: int | None = None) -> np.ndarray:
        """Per-step precision-group bits of one run, ``(units, steps, groups)``.

        A run is one filter-set of one convolution group of one input; ``units`` keeps only its
        first window-sets (bit-parallel: windows). Bit-parallel runs are ``1`` per brick, Stripes
        runs ``p_L`` per step, Dynamic Stripes runs the detected bits of ``mode``.
        """
        mode = self.check_mode(mode, config)
        check_layer(layer, config)
        if not isinstance(conv_group, (int, np.integer)) or not 0 <= conv_group < layer.conv_groups:
            raise ConfigError(f"convolution group {conv_group!r} is outside the layer's "
                              f"{layer.conv_groups} group(s)")
        total = layer.window_sets(self.columns(config))
        n = total if units is None else units
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= total:
            what = "window_sets" if self.serial else "windows"
            raise ConfigError(f"{what} must be between 1 and {total} for this layer, not {units!r}")
        steps = layer.steps(config.lanes)
        if not self.serial:
            window.check(acts, config.act_bits)
            return np.ones((int(n), steps, 1), dtype=np.int8)
        if not self.detects:
            window.check(acts, config.act_bits)
            return np.full((int(n), steps, 1), window.bits, dtype=np.int8)
        return step_group_bits(acts, layer, window, config, mode, conv_group)[:n]

    def run_cycles(self, bits: np.ndarray, config: TileConfig, latency: int = 0) -> int:
        """Cycles of a run with per-step group bits ``bits`` (from :meth:`run_bits`): the
        ideal count, plus ``latency`` for the RTL-exact count (:func:`.tile_run.run_cycles`)."""
        b = np.asarray(bits)
        run_ahead = config.run_ahead if self.detects else 0
        return run_cycles(b.reshape((-1,) + b.shape[-2:]), run_ahead=run_ahead, latency=latency)

    def check_mode(self, mode: str | None, config: TileConfig) -> str:
        """``mode`` (default: the scheme's) if a tile of ``config`` can run it; else a
        :class:`ConfigError` naming the mode and what the tile supports."""
        if mode is None:
            return self.default_mode(config)
        check_choice("mode", mode, MODES)
        allowed = self.modes(config.trim)
        if mode not in allowed:
            if self.detects:
                raise ConfigError(f"mode {mode!r} needs a tile generated with trim 'both'; this "
                                  f"{self.name} tile has trim {config.trim!r} (modes: {', '.join(allowed)})")
            raise ConfigError(f"the {self.name} tile has no run-time precision; mode must be "
                              f"static, not {mode!r}")
        return mode


DADN = Scheme("dadn", "DaDN (bit-parallel)", serial=False, detects=False)
STRIPES = Scheme("stripes", "Stripes", serial=True, detects=False)
DSTRIPES = Scheme("dstripes", "Dynamic Stripes", serial=True, detects=True)

#: Every scheme by name, the bit-parallel reference first (report order).
SCHEMES = {s.name: s for s in (DADN, STRIPES, DSTRIPES)}


def scheme(name: str) -> Scheme:
    """The scheme called ``name``; a :class:`ConfigError` naming it otherwise."""
    return SCHEMES[check_choice("scheme", name, SCHEMES)]
