"""Energy per cycle of each tile kind in a real process, and energy per layer of a network.

:func:`energy_model` is the whole measurement, for the tiles of several kinds with one
configuration:

1. synthesise and time every tile on the library (:func:`synth.tile.synth_tiles`);
2. pick **one clock for all tiles**: the slowest tile's critical path (or a period given), so
   every tile meets timing and the comparison is at the same clock, as in the papers;
3. measure each kind's switching activity in RTL simulation on the bundled real layers
   (:func:`synth.activity.measure_activity`);
4. power of each counted block with OpenSTA at that clock (:func:`synth.power.block_power`),
   times its instance count: the tile's power ``P``, its energy per cycle ``E = P x T``.

Energy of a layer on a chip of ``n`` tiles that takes ``c`` cycles: ``n x c x E`` (every tile is
clocked for the whole layer, as the cycle model's tiles work in lock-step). Efficiency over the
bit-parallel tile: ``E_layer(dadn) / E_layer(s)``.

What is *not* in it (and is in the papers' 1.57x / 1.84x): on-chip memories (eDRAM/SRAM,
whose accesses dominate a DaDianNao chip's energy and are the same per layer for every
scheme), the interconnect, wires, the clock tree and the tile's top-level glue (a few hundred
µm²). Process: 130 nm (sky130) here against 65 nm there.
"""
from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from dstripes.hw.design import TileDesign
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.files import write_atomic
from dstripes.sim.schemes import DADN, DSTRIPES, STRIPES
from dstripes.tb.tools import yosys_version

from .activity import MAX_INSTANCES, WINDOW_SETS, ActivitySummary, measure_activity
from .liberty import liberty_info, resolve_liberty
from .netlist import read_netlist
from .power import BlockPower, block_power
from .sta import Power, sta_version
from .tile import TileArea, synth_tiles

#: What the energy figures leave out, for reports.
SCOPE = ("compute only (SIP / inner-product arrays, dispatcher with its double buffers, "
         "controller, result buffers); no on-chip memories, no interconnect, no wires, ideal "
         "clock (no clock tree); the tile's top-level glue is not in the power")

#: Format of a saved energy model (``energy_model.json``).
FORMAT = "dstripes-energy-model/1"

#: Published energy efficiencies over DaDianNao (whole chip with memories, 65 nm).
PUBLISHED = {
    STRIPES.name: {"value": 1.57, "source": "Stripes, Judd et al., MICRO 2016 (docs/references.md)"},
    DSTRIPES.name: {"value": 1.84, "source": "DPRed, the journal form of Dynamic Stripes, "
                                          "arXiv 1804.06732 (docs/references.md)"},
}


@dataclass(frozen=True)
class BlockEnergy:
    """A counted block of a tile at the common clock: its instance count and one instance's
    power (:class:`synth.power.BlockPower`)."""

    count: int
    power: BlockPower

    def as_dict(self) -> dict:
        return {"count": self.count, **self.power.as_dict()}

    @classmethod
    def from_dict(cls, d: Mapping) -> "BlockEnergy":
        groups = {g.capitalize(): (v["internal_w"], v["switching_w"], v["leakage_w"], v["total_w"])
                  for g, v in d["groups"].items()}
        return cls(int(d["count"]), BlockPower(Power(groups), float(d["period_ns"]), float(d["annotated_inputs"]),
                                               float(d["annotated_registers"]), bool(d["measured_activity"])))


@dataclass(frozen=True)
class TileEnergy:
    """One tile kind at the common clock.

    Members
    -------
    scheme : str
        The tile kind.
    clock_ns : float
        The common clock period.
    power_w : float
        Tile power: sum over counted blocks of count x block power.
    leakage_w : float
        Its leakage part.
    blocks : mapping
        ``{block: BlockEnergy}`` of the counted blocks.
    area_um2, critical_path_ns : float
        The tile's silicon figures (for the report).
    activity : ActivitySummary
        The simulation the power was computed from.
    """

    scheme: str
    clock_ns: float
    power_w: float
    leakage_w: float
    blocks: Mapping[str, BlockEnergy]
    area_um2: float
    critical_path_ns: float
    activity: ActivitySummary

    @property
    def energy_per_cycle_pj(self) -> float:
        return self.power_w * self.clock_ns * 1e3

    def as_dict(self) -> dict:
        return {"scheme": self.scheme, "clock_ns": self.clock_ns, "power_w": self.power_w,
                "leakage_w": self.leakage_w, "energy_per_cycle_pj": self.energy_per_cycle_pj,
                "area_um2": self.area_um2, "critical_path_ns": self.critical_path_ns,
                "blocks": {n: b.as_dict() for n, b in self.blocks.items()}, "activity": self.activity.as_dict()}

    @classmethod
    def from_dict(cls, d: Mapping) -> "TileEnergy":
        return cls(d["scheme"], float(d["clock_ns"]), float(d["power_w"]), float(d["leakage_w"]),
                   {n: BlockEnergy.from_dict(b) for n, b in d["blocks"].items()}, float(d["area_um2"]),
                   float(d["critical_path_ns"]), ActivitySummary.from_dict(d["activity"]))


@dataclass(frozen=True)
class EnergyModel:
    """Energy per cycle of each tile kind at one clock (:func:`energy_model`), saved as a
    :data:`FORMAT` file.

    Members
    -------
    tiles : mapping
        ``{kind: TileEnergy}``.
    config : TileConfig
        The configuration the tiles were made for (its ``tiles`` is the default tile count).
    liberty : str
        The library, as the user named it.
    clock_ns : float
        The common clock period.
    tools : mapping
        Versions of the tools: ``{"yosys", "opensta"}``.
    """

    config: TileConfig
    liberty: str
    clock_ns: float
    tiles: Mapping[str, TileEnergy]
    tools: Mapping[str, str] = field(default_factory=dict)

    def energy_pj(self, scheme: str, cycles: int, tiles: int | None = None) -> float:
        """Energy of ``cycles`` cycles of ``tiles`` tiles (default: the configuration's)."""
        if scheme not in self.tiles:
            raise ConfigError(f"the energy model has no {scheme} tile")
        n = self.config.tiles if tiles is None else tiles
        return n * cycles * self.tiles[scheme].energy_per_cycle_pj

    def as_dict(self) -> dict:
        return {"format": FORMAT, "config": self.config.as_dict(), "liberty": self.liberty,
                "clock_ns": self.clock_ns, "clock_mhz": 1000.0 / self.clock_ns, "scope": SCOPE,
                "tools": dict(self.tools), "tiles": {s: t.as_dict() for s, t in self.tiles.items()}}

    def save(self, path) -> None:
        write_atomic(path, json.dumps(self.as_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path) -> "EnergyModel":
        try:
            d = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"energy model not found: {path}") from None
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read energy model {path}: {e}") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ConfigError(f"{path} is not a {FORMAT} file")
        try:
            cfg = TileConfig(**d["config"])
            return cls(cfg, d["liberty"], float(d["clock_ns"]),
                       {s: TileEnergy.from_dict(t) for s, t in d["tiles"].items()}, d.get("tools", {}))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ConfigError(f"energy model {path} is incomplete or malformed ({e})") from None


def energy_model(designs, *, config: TileConfig, liberty="sky130", clock_ns: float | None = None,
                 out=None, jobs: int | None = None, simulator: str = "verilator", progress: bool = False,
                 window_sets: int | None = None, max_instances: int | None = None,
                 tiles: Mapping[str, TileArea] | None = None, note=None, samples=None) -> EnergyModel:
    """Synthesise, time, simulate and power the tiles ``designs`` (module docstring).

    Parameters
    ----------
    designs : iterable of TileDesign
        The tiles, one per kind; the bit-parallel one is needed for efficiencies over DaDN.
    config : TileConfig
        The configuration they were made for (:func:`dstripes.hw.design.designs`), recorded in
        the model: its tile count, and what a reused model is checked against.
    liberty : str or path
        A timed library with power tables (default the built-in ``sky130``).
    clock_ns : float, optional
        The common clock period; default the slowest tile's critical path.
    out : path, optional
        Keep the synthesis work folders (netlists, STA and power reports) here.
    tiles : mapping, optional
        ``{kind: TileArea}`` of an earlier timed :func:`synth_tiles` run whose work folders
        still exist (skips synthesis).
    note : callable, optional
        Called with a line of progress text.
    window_sets, max_instances, samples
        Of the activity simulation (:func:`synth.activity.measure_activity`).

    Raises
    ------
    ConfigError
        A design that is not its kind's for ``config``, a library without power tables, a
        tile that was not timed, a bad clock.
    """
    designs = list(designs)
    for d in designs:
        if not isinstance(d, TileDesign) or TileDesign.of(d.kind, config) != d:
            raise ConfigError(f"{d!r} is not the tile of its kind for {config!r}")
    note = note or (lambda s: None)
    if clock_ns is not None and not (isinstance(clock_ns, (int, float)) and clock_ns > 0):
        raise ConfigError(f"clock period must be a positive number of ns, not {clock_ns!r}")
    lib = resolve_liberty(liberty)
    tmp = tempfile.TemporaryDirectory(prefix="energy-") if out is None and tiles is None else None
    try:
        if tiles is None:
            note(f"synthesising and timing {', '.join(d.name for d in designs)} on {liberty}")
            tiles = synth_tiles(designs, liberty=lib, jobs=jobs, progress=progress,
                                out=out if out is not None else tmp.name).tiles
        info = liberty_info(lib)
        if not info.power:
            raise ConfigError(f"liberty {liberty} has no power tables: no energy")
        for d in designs:
            if tiles[d.name].timing is None:
                raise ConfigError(f"the {d.name} tile was not timed; energy needs a timed synthesis")
        clock = clock_ns if clock_ns is not None else max(tiles[d.name].timing.critical_path_ns for d in designs)
        result = {}
        for d in designs:
            t = tiles[d.name]
            nets = {b.name: read_netlist(b.area.netlist, info) for b in t.counted}
            note(f"measuring the {d.name} tile's switching activity in RTL simulation ({simulator})")
            t0 = time.perf_counter()
            # the bit-parallel tile runs the windows of the serial tiles' window-sets
            act = measure_activity(d, nets, simulator=simulator, window_sets=window_sets or WINDOW_SETS,
                                   max_instances=max_instances or MAX_INSTANCES, samples=samples,
                                   columns=config.columns)
            note(f"  {act.cycles} cycles simulated in {time.perf_counter() - t0:.0f} s")
            blocks = {b.name: BlockEnergy(b.count, block_power(b.area, info, act.blocks.get(b.name), clock))
                      for b in t.counted}
            power = sum(b.count * b.power.total_w for b in blocks.values())
            leak = sum(b.count * b.power.power.leakage for b in blocks.values())
            result[d.name] = TileEnergy(d.name, clock, power, leak, blocks, t.area_um2, t.timing.critical_path_ns,
                                        act.summary())
        return EnergyModel(config, str(liberty), clock, result,
                           {"yosys": yosys_version(), "opensta": sta_version()})
    finally:
        if tmp is not None:
            tmp.cleanup()


# ---------------------------------------------------------------------------------------------
# Energy of a network

SCHEMES = (DADN.name, STRIPES.name, DSTRIPES.name)


@dataclass(frozen=True)
class EnergyTotal:
    """Energy of some layers, ``{kind: pJ}``, and each kind's efficiency over the bit-parallel
    tile (its energy over the kind's)."""

    energy_pj: Mapping[str, float]

    @property
    def efficiency_over_dadn(self) -> Mapping[str, float]:
        """``{kind: E(dadn) / E(kind)}``."""
        if DADN.name not in self.energy_pj:
            raise ConfigError("energy efficiency over DaDN needs the bit-parallel (dadn) tile")
        base = self.energy_pj[DADN.name]
        return {s: (base / e if e > 0 else float("inf")) for s, e in self.energy_pj.items()}


@dataclass(frozen=True)
class LayerEnergy:
    """One layer: its cycles and energy per kind (:func:`layers_energy`)."""

    name: str
    fc: bool
    cycles: Mapping[str, int]
    energy_pj: Mapping[str, float]

    def as_dict(self) -> dict:
        return {"name": self.name, "fc": self.fc, "cycles": dict(self.cycles), "energy_pj": dict(self.energy_pj)}


@dataclass(frozen=True)
class NetworkEnergy:
    """Energy of a network's layers (:func:`network_energy`).

    Members
    -------
    layers : tuple of LayerEnergy
    total : EnergyTotal
        All layers.
    conv_only : EnergyTotal
        The convolution layers (the published figures' scope).
    """

    layers: tuple
    total: EnergyTotal
    conv_only: EnergyTotal

    def as_dict(self) -> dict:
        return {"layers": [r.as_dict() for r in self.layers], "total": {"energy_pj": dict(self.total.energy_pj)},
                "energy_efficiency_over_dadn": dict(self.total.efficiency_over_dadn),
                "conv_only": {"energy_pj": dict(self.conv_only.energy_pj),
                              "energy_efficiency_over_dadn": dict(self.conv_only.efficiency_over_dadn)}}


def layers_energy(model: EnergyModel, layers, tiles: int | None = None) -> list[LayerEnergy]:
    """Per layer (:class:`sim.cycles.LayerCycles`): its cycles and energy for every kind the
    model has, on ``tiles`` tiles (default the model's configuration)."""
    out = []
    for lc in layers:
        cyc = {s: int(lc.cycles[s]) for s in model.tiles if s in lc.cycles}
        out.append(LayerEnergy(lc.name or lc.layer.name, bool(lc.layer.fc), cyc,
                               {s: model.energy_pj(s, c, tiles) for s, c in cyc.items()}))
    return out


def network_energy(model: EnergyModel, layers, tiles: int | None = None) -> NetworkEnergy:
    """Energy of every layer and the totals (all layers, and conv layers only) with the
    efficiency over the bit-parallel tile.

    Raises
    ------
    ConfigError
        If the model has no bit-parallel tile.
    """
    if DADN.name not in model.tiles:
        raise ConfigError("energy efficiency over DaDN needs the bit-parallel (dadn) tile")
    per = layers_energy(model, layers, tiles)

    def total(rows) -> EnergyTotal:
        return EnergyTotal({s: sum(r.energy_pj[s] for r in rows) for s in model.tiles})
    return NetworkEnergy(tuple(per), total(per), total([r for r in per if not r.fc]))


def energy_markdown(model: EnergyModel, networks: Mapping[str, NetworkEnergy]) -> str:
    """``energy.md``: the model (clock, power per tile), each network's energy and efficiency,
    the published figures and how this measurement differs from them."""
    lines = ["# Energy per layer (compute only)", "",
             f"Library {model.liberty}; all tiles at one clock of {model.clock_ns:.2f} ns "
             f"({1000 / model.clock_ns:.1f} MHz, the slowest tile's critical path); "
             f"{model.config.tiles} tiles; activity measured in RTL simulation on the bundled real "
             f"layers (OpenSTA {model.tools.get('opensta', '?')} power, yosys {model.tools.get('yosys', '?')}).", "",
             "| tile | area µm² | critical path ns | power mW | energy / cycle pJ |", "|---|---:|---:|---:|---:|"]
    for s, t in model.tiles.items():
        lines.append(f"| {s} | {t.area_um2:,.0f} | {t.critical_path_ns:.2f} | {1e3 * t.power_w:.2f} | "
                     f"{t.energy_per_cycle_pj:.1f} |")
    lines += ["", "| network | DaDN mJ | Stripes mJ | Dynamic Stripes mJ | Stripes / DaDN | "
                  "Dynamic Stripes / DaDN |", "|---|---:|---:|---:|---:|---:|"]
    for net, e in networks.items():
        t, eff = e.conv_only.energy_pj, e.conv_only.efficiency_over_dadn
        lines.append(f"| {net} (conv layers) | " + " | ".join(f"{t.get(s, float('nan')) / 1e9:,.1f}" for s in SCHEMES)
                     + f" | {eff.get(STRIPES.name, float('nan')):.2f}x | {eff.get(DSTRIPES.name, float('nan')):.2f}x |")
    lines.append("| *published (65 nm, whole chip)* | | | | "
                 f"{PUBLISHED[STRIPES.name]['value']:.2f}x | {PUBLISHED[DSTRIPES.name]['value']:.2f}x |")
    mean = geomean_efficiency(networks)
    share = {s: implied_memory_share(mean[s], PUBLISHED[s]["value"]) for s in (STRIPES.name, DSTRIPES.name)}
    lines += ["", f"Geometric mean over these networks (conv layers): Stripes {mean[STRIPES.name]:.2f}x, "
                  f"Dynamic Stripes {mean[DSTRIPES.name]:.2f}x. A whole chip adds memories whose energy "
                  f"per layer is the same for every scheme; the published whole-chip figures follow "
                  f"from these compute-only ones if that memory energy is "
                  f"{100 * share[STRIPES.name]:.0f} % (Stripes) / {100 * share[DSTRIPES.name]:.0f} % "
                  f"(Dynamic Stripes) of a DaDN chip's energy (`implied_memory_share`)."]
    lines += ["", "Energies are for all the evaluated images together. Energy efficiency over DaDN = "
                  "energy of the bit-parallel tiles / energy of the scheme's tiles for the same layers.",
              "", "How this differs from the papers:", ""]
    lines += [f"- {d}" for d in DIFFERENCES]
    return "\n".join(lines) + "\n"


DIFFERENCES = [
    "Compute only: SIP or inner-product arrays, dispatcher with its double buffers, controller "
    "and result buffers. The papers' figures are whole chips with their eDRAM/SRAM; a layer makes "
    "the same memory accesses in every scheme, so that energy pulls every ratio toward 1 (the "
    "implied memory share above says how much of it turns these ratios into the published ones; "
    "time-proportional memory energy - leakage, refresh - would pull toward the speed-up instead).",
    "130 nm (sky130, typical corner, 1.8 V) against 65 nm; no wires, no clock tree, ideal clock; "
    "activity measured on slices of the bundled real layers and applied to every layer of a "
    "network.",
    "No glitches: OpenSTA propagates one transition per cycle at most through the logic. Array "
    "multipliers glitch far more than bit-serial adders, so the bit-parallel tile's energy is the "
    "more underestimated one and these efficiencies are, if anything, low.",
    "Same clock for the three tiles (the slowest one's): a bit-serial tile does many cheap cycles "
    "where the bit-parallel tile does few expensive ones, so the ratio is energy per cycle against "
    "cycles. Dynamic Stripes gains less energy than time over Stripes: the cycles it removes are "
    "all-zero high bit-planes, the cheapest ones, and its SIPs switch more per cycle.",
    "The published Stripes 1.57x is Judd et al., MICRO 2016; the 1.84x is DPRed (the journal form "
    "of Dynamic Stripes, arXiv 1804.06732); both over DaDianNao on their own networks "
    "(docs/references.md).",
]


def geomean_efficiency(networks: Mapping[str, NetworkEnergy]) -> Mapping[str, float]:
    """``{kind: geometric mean over networks of the conv-layer energy efficiency over DaDN}``."""
    out = {}
    for s in SCHEMES:
        vals = [e.conv_only.efficiency_over_dadn.get(s) for e in networks.values()]
        vals = [v for v in vals if v and math.isfinite(v)]
        out[s] = math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else float("nan")
    return out


def implied_memory_share(compute_ratio: float, chip_ratio: float) -> float:
    """The share ``m`` of a bit-parallel chip's energy in memories (the same for every scheme)
    that turns a compute-only efficiency ``r`` into a whole-chip one ``R``:
    ``R = 1 / (m + (1 - m) / r)``, so ``m = (1 / R - 1 / r) / (1 - 1 / r)``."""
    if not (compute_ratio > 1 and chip_ratio >= 1):
        return float("nan")
    return (1 / chip_ratio - 1 / compute_ratio) / (1 - 1 / compute_ratio)


def energy_plot(networks: Mapping[str, NetworkEnergy], path) -> str:
    """Per network: conv-layer energy efficiency over DaDN of Stripes and Dynamic Stripes, with
    the published figures as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(networks)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(names) + 2), 4))
    for i, (s, label) in enumerate(((STRIPES.name, "Stripes"), (DSTRIPES.name, "Dynamic Stripes"))):
        vals = [networks[n].conv_only.efficiency_over_dadn.get(s, float("nan")) for n in names]
        ax.bar(x + (i - 0.5) * 0.38, vals, 0.38, label=f"{label} (measured, compute only)")
        ax.axhline(PUBLISHED[s]["value"], ls="--", lw=1, color=f"C{i}",
                   label=f"{label} published ({PUBLISHED[s]['value']}x, whole chip)")
    ax.axhline(1.0, color="k", lw=0.6)
    ax.set_xticks(x)
    ax.set_xticklabels(names, fontsize=8)
    ax.set_ylabel("energy efficiency over DaDN")
    ax.set_title("Energy efficiency over the bit-parallel tile (conv layers)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def layer_energy_plot(name: str, energy: NetworkEnergy, path) -> str:
    """Per layer energy of each scheme (mJ, log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = energy.layers
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(8, 0.35 * len(rows) * 3), 4.5))
    for i, s in enumerate(SCHEMES):
        vals = [r.energy_pj.get(s, float("nan")) / 1e9 for r in rows]
        ax.bar(x + (i - 1) * 0.27, vals, 0.27, label=s)
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels([r.name for r in rows], rotation=90, fontsize=7)
    ax.set_ylabel("energy per layer (mJ, all images)")
    ax.set_title(f"{name}: energy per layer (compute only)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
