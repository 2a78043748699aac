"""Performance per area: golden-model cycles on a workload over synthesised tile area.

For a scheme ``s`` and the bit-parallel tile ``dadn``, both with the same configuration::

    speedup(s)        = cycles(dadn) / cycles(s)
    area_ratio(s)     = area(s) / area(dadn)
    perf_per_area(s)  = speedup(s) / area_ratio(s)

so ``perf_per_area > 1`` means the scheme does more work per unit of compute area than the
bit-parallel tile. Cycles come from :func:`sim.cycles.layer_cycles` with the tile's own
configuration (same ``tiles`` for every scheme, so the ratio is tile-for-tile), summed over the
workload's layers.

Workload (:func:`select_workloads`): the bundled real-activation samples of :mod:`sim.samples`
when that data is installed and fits the tile's activation width, otherwise the synthetic
reference layer below.

Synthetic reference workload (:func:`reference_workload`)
---------------------------------------------------------
A VGG-16 conv3_x-shaped layer: input 256 x 56 x 56, 256 filters of 3 x 3, stride 1, padding 1.
Its activations are synthetic and ReLU-like, drawn with a fixed seed:

* ``x[c, y, x] = s_c * max(0, z)``, ``z ~ N(0, 1)`` independent, so about half the values are
  exact zeros as after a ReLU;
* ``s_c = exp(N(0, 1))`` per channel: real feature maps have channels whose magnitudes differ
  by an order of magnitude, and a brick mixes 16 of them;
* quantised (:func:`sim.fixed.quantize`) into the 8-bit window ``[7:0]`` (``[A-1:0]`` if the
  tile has fewer activation bits) with the layer's largest value on the top code, as a
  profiled window covering the layer would place it.

The Dynamic Stripes gain depends strongly on that distribution: with equal channel scales
(``s_c = 1``) the same layer gains only ~2 % over Stripes, because the maximum of a brick of
half-normal values nearly always reaches the top bits. Treat the Dynamic Stripes figures as
valid for this documented workload, not as a property of the hardware alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import numpy as np

from dstripes.sim import samples
from dstripes.sim.config import TileConfig
from dstripes.sim.cycles import layer_cycles, LayerCycles
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window, quantize
from dstripes.sim.layer import Layer
from dstripes.sim.schemes import DADN, DSTRIPES, STRIPES

if TYPE_CHECKING:  # annotations only: the workload choices load without the hardware (dstripes --help)
    from .tile import TileArea

#: Shape of the reference layer (VGG-16 conv3_2 / conv3_3).
REFERENCE_SHAPE = dict(c=256, h=56, w=56, k=256, kh=3, kw=3, sy=1, sx=1, py=1, px=1)
#: Width of the reference activation window.
REFERENCE_BITS = 8


@dataclass(frozen=True)
class Workload:
    """A layer with its activation codes and window, and a sentence saying where they come from."""

    name: str
    description: str
    acts: np.ndarray
    layer: Layer
    window: Window

    def as_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "layer": self.layer.describe(),
                "window": [self.window.msb, self.window.lsb],
                "zero_fraction": float(np.mean(self.acts == 0))}


def reference_workload(config: TileConfig = TileConfig(), seed: int = 0, channel_spread: float = 1.0,
                       shape: dict | None = None) -> Workload:
    """The documented reference layer and activations (see the module docstring).

    Parameters
    ----------
    config : TileConfig
        Only ``act_bits`` is used (the window is ``[min(8, A) - 1 : 0]``).
    seed : int
        Random seed of the activations.
    channel_spread : float
        Standard deviation of ``log s_c`` (``0``: every channel alike).
    shape : dict, optional
        Override of :data:`REFERENCE_SHAPE` keys (e.g. a smaller layer for tests).
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"workload seed must be a non-negative integer, not {seed!r}")
    if not (isinstance(channel_spread, (int, float)) and channel_spread >= 0):
        raise ConfigError(f"channel spread must be a non-negative number, not {channel_spread!r}")
    dims = dict(REFERENCE_SHAPE)
    if shape:
        unknown = set(shape) - set(dims)
        if unknown:
            raise ConfigError(f"unknown workload shape key {sorted(unknown)[0]!r}")
        dims.update(shape)
    layer = Layer(**dims, name="conv3_x")
    bits = min(REFERENCE_BITS, config.act_bits)
    window = Window(bits - 1, 0)
    rng = np.random.default_rng(seed)
    scale_c = np.exp(channel_spread * rng.standard_normal((layer.c, 1, 1)))
    x = np.maximum(0.0, rng.standard_normal((layer.c, layer.h, layer.w))) * scale_c
    top = float(x.max())
    acts = quantize(x, top / window.hi if top > 0 else 1.0, window)
    desc = (f"VGG-16 conv3_x-shaped layer {layer.describe()}; ReLU-like activations "
            f"s_c*max(0,N(0,1)), log s_c ~ N(0,{channel_spread:g}), seed {seed}, "
            f"{bits}-bit window [{window.msb}:{window.lsb}] with the layer maximum on the top code")
    return Workload("reference", desc, acts, layer, window)


def sample_workloads(config: TileConfig) -> list[Workload]:
    """The bundled real-activation samples (:mod:`sim.samples`) whose window fits the tile's
    activation width; an empty list when the sample data is not installed."""
    try:
        names = samples.sample_names()
    except ConfigError:
        return []  # sample data not generated yet
    out = []
    for name in names:
        info = samples.sample_info(name)
        if info.window.msb >= config.act_bits:
            continue
        acts, _, layer, window = samples.load_sample(name)
        where = f"network {info.network}, photos {list(info.photos)}"
        desc = (f"bundled real sample {name}: {layer.describe()}, {acts.shape[0]} input(s), "
                f"window [{window.msb}:{window.lsb}]{' signed' if window.signed else ''}"
                + (f" ({where})" if where else ""))
        out.append(Workload(name, desc, acts, layer, window))
    return out


#: Workload choices of :func:`select_workloads`.
WORKLOAD_KINDS = ("auto", "samples", "synthetic")


def select_workloads(config: TileConfig, kind: str = "auto") -> list[Workload]:
    """``"samples"``: the bundled real samples that fit the tile; ``"synthetic"``: the
    reference layer; ``"auto"``: the samples when any fit, else the reference layer."""
    if kind not in WORKLOAD_KINDS:
        raise ConfigError(f"workload must be one of {', '.join(WORKLOAD_KINDS)}, not {kind!r}")
    if kind in ("auto", "samples"):
        found = sample_workloads(config)
        if found:
            return found
        if kind == "samples":
            raise ConfigError(f"no bundled activation sample fits {config.act_bits}-bit activations "
                              f"(or sim/data/samples.json is missing)")
    return [reference_workload(config)]


def workload_cycles(workload: Workload, config: TileConfig) -> LayerCycles:
    """Golden-model cycles of ``workload`` on ``config`` (every scheme)."""
    return layer_cycles(workload.acts, workload.layer, workload.window, config, name=workload.name)


def total_cycles(workloads, config: TileConfig) -> Mapping[str, int]:
    """``{scheme: cycles}`` summed over ``workloads`` (DaDN, Stripes, Dynamic Stripes)."""
    total = {DADN.name: 0, STRIPES.name: 0, DSTRIPES.name: 0}
    for w in workloads:
        c = workload_cycles(w, config).cycles
        for s in total:
            total[s] += int(c[s])
    return total


@dataclass(frozen=True)
class PerfArea:
    """One scheme's performance, area and performance per area relative to the bit-parallel tile."""

    scheme: str
    cycles: int
    speedup: float
    area_ratio_ge: float
    area_ratio_transistors: float
    area_ratio_um2: float | None = None
    clock_ratio: float | None = None

    @property
    def perf_per_area_ge(self) -> float:
        return self.speedup / self.area_ratio_ge

    @property
    def perf_per_area_transistors(self) -> float:
        return self.speedup / self.area_ratio_transistors

    @property
    def perf_per_area_um2(self) -> float | None:
        """Performance per µm² at the same clock, relative to the bit-parallel tile."""
        return None if self.area_ratio_um2 is None else self.speedup / self.area_ratio_um2

    @property
    def speedup_at_fmax(self) -> float | None:
        """Speed-up when each tile runs at its own fmax: cycles ratio x fmax ratio."""
        return None if self.clock_ratio is None else self.speedup * self.clock_ratio

    def as_dict(self) -> dict:
        d = {"cycles": self.cycles, "speedup": self.speedup, "area_ratio_ge": self.area_ratio_ge,
             "area_ratio_transistors": self.area_ratio_transistors,
             "perf_per_area_ge": self.perf_per_area_ge,
             "perf_per_area_transistors": self.perf_per_area_transistors}
        if self.area_ratio_um2 is not None:
            d.update(area_ratio_um2=self.area_ratio_um2, perf_per_area_um2=self.perf_per_area_um2)
        if self.clock_ratio is not None:
            d.update(fmax_ratio=self.clock_ratio, speedup_at_fmax=self.speedup_at_fmax)
        return d


def perf_per_area(tiles: Mapping[str, TileArea], cycles: Mapping[str, int]) -> Mapping[str, PerfArea]:
    """``{scheme: PerfArea}`` for every scheme in ``tiles`` (the bit-parallel one included).

    Parameters
    ----------
    tiles : mapping
        ``{scheme: TileArea}``; must hold ``DADN.name``.
    cycles : mapping
        ``{scheme: cycles}`` of the same workload (e.g. ``LayerCycles.cycles``).
    """
    if DADN.name not in tiles:
        raise ConfigError("performance per area needs the bit-parallel (dadn) tile as reference")
    base = tiles[DADN.name]
    out = {}
    for s, t in tiles.items():
        c = cycles.get(s)
        if not c or c <= 0:
            raise ConfigError(f"no positive cycle count for scheme {s!r}")
        um2 = t.area_um2 / base.area_um2 if t.area_um2 and base.area_um2 else None
        tt, bt = t.timing, base.timing
        clock = (bt.critical_path_ns / tt.critical_path_ns
                 if tt is not None and bt is not None and tt.critical_path_ns > 0 else None)
        out[s] = PerfArea(s, int(c), cycles[DADN.name] / c, t.ge / base.ge,
                          t.transistors / base.transistors, um2, clock)
    return out


@dataclass(frozen=True)
class Overhead:
    """Extra cost of the Dynamic Stripes tile over the Stripes tile, as fractions of the Stripes
    tile's (:func:`dstripes_overhead`).

    Members
    -------
    ge, transistors : float
    area_um2 : float or None
        With a user liberty.
    critical_path : float or None
        With a timed liberty: > 0 when the Dynamic Stripes tile needs a longer clock period.
    """

    ge: float
    transistors: float
    area_um2: float | None = None
    critical_path: float | None = None

    def as_dict(self) -> dict:
        d = {"ge": self.ge, "transistors": self.transistors}
        if self.area_um2 is not None:
            d["area_um2"] = self.area_um2
        if self.critical_path is not None:
            d["critical_path"] = self.critical_path
        return d


def dstripes_overhead(tiles: Mapping[str, TileArea]) -> Overhead | None:
    """The Dynamic Stripes tile's :class:`Overhead` over the Stripes tile, or ``None`` unless
    both were synthesised."""
    if STRIPES.name not in tiles or DSTRIPES.name not in tiles:
        return None
    s, d = tiles[STRIPES.name], tiles[DSTRIPES.name]
    area = d.area_um2 / s.area_um2 - 1.0 if s.area_um2 and d.area_um2 else None
    st, dt = s.timing, d.timing
    clock = (dt.critical_path_ns / st.critical_path_ns - 1.0
             if st is not None and dt is not None and st.critical_path_ns > 0 else None)
    return Overhead(d.ge / s.ge - 1.0, d.transistors / s.transistors - 1.0, area, clock)
