"""What ``dstripes synth`` reports: the synthesised tiles with their performance per area, as
one typed result (:class:`SynthReport`, JSON by ``as_dict()``) and as text tables."""
from __future__ import annotations

from dataclasses import dataclass

from dstripes.hw.kinds import KINDS
from dstripes.sim.config import TileConfig
from dstripes.sim.schemes import DADN
from dstripes.sim.table import render
from dstripes.synth.perf_area import dstripes_overhead, perf_per_area, total_cycles

#: What the clock figures are, printed with them.
TIMING_SCOPE = ("OpenSTA static timing of the mapped netlists: ideal clock, no wires (no "
                "placement), wires between blocks ideal, fan-out buffered by ABC; a tile is timed "
                "whole, across its block boundaries")

#: Block order of the breakdown tables (others follow in the order the tile lists them).
BLOCK_ORDER = ("sip_array", "ip_array", "dispatcher", "detector", "controller", "buffers")


@dataclass(frozen=True)
class SynthReport:
    """The synthesised tiles of one configuration and how they compare.

    Members
    -------
    tiles : dict
        ``{kind: TileArea}`` (:func:`dstripes.synth.tile.synth_tiles`), in the registry's order.
    config : TileConfig
    yosys : str
        Version of the yosys that synthesised them.
    liberty : str or None
        ``--liberty``.
    sta : str or None
        ``"OpenSTA <version>"`` when the tiles were timed.
    workloads : list or None
        The layers whose cycles give the speed-ups, when the bit-parallel tile is among
        ``tiles`` (the reference of performance per area); else ``None``.
    cycles : dict or None
        ``{kind: cycles}`` summed over ``workloads``.
    perf : dict or None
        ``{kind: PerfArea}`` relative to the bit-parallel tile.
    overhead : dict or None
        Dynamic Stripes' extra area (and clock) over Stripes, when both were synthesised.
    """
    tiles: dict
    config: TileConfig
    yosys: str
    liberty: str | None
    sta: str | None
    workloads: list | None
    cycles: dict | None
    perf: dict | None
    overhead: dict | None

    @classmethod
    def of(cls, tiles: dict, config: TileConfig, *, workloads=None, yosys: str, liberty=None,
           sta=None) -> SynthReport:
        """The report of ``tiles``; ``workloads`` are needed when the bit-parallel tile is among
        them."""
        cycles = perf = None
        if DADN.name in tiles:
            cycles = total_cycles(workloads, config)
            perf = perf_per_area(tiles, cycles)
        return cls(tiles, config, yosys, liberty, sta, workloads if perf else None, cycles, perf,
                   dstripes_overhead(tiles))

    @property
    def timed(self) -> bool:
        """Whether OpenSTA timed the tiles (``--liberty`` with timing)."""
        return any(t.timing is not None for t in self.tiles.values())

    def as_dict(self) -> dict:
        d = {"tiles": {s: t.as_dict() for s, t in self.tiles.items()}, "config": self.config.as_dict()}
        if self.perf is not None:
            for s in self.tiles:
                d["tiles"][s]["vs_dadn"] = self.perf[s].as_dict()
            d["workload"] = {"layers": [w.as_dict() for w in self.workloads], "cycles": self.cycles}
        if self.overhead is not None:
            d["dstripes_over_stripes"] = self.overhead
        if self.timed:
            d["timing_scope"] = TIMING_SCOPE
        d["yosys"] = self.yosys
        d["liberty"] = self.liberty
        if self.sta is not None:
            d["sta"] = self.sta
        return d


def _ordered(blocks):
    rank = {n: i for i, n in enumerate(BLOCK_ORDER)}
    return sorted(blocks, key=lambda b: rank.get(b.name, len(rank)))


def _um2(x) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _ns(t) -> str:
    return "-" if t is None or t.critical_path_ns <= 0 else f"{t.critical_path_ns:.2f}"


def _mhz(t) -> str:
    return "-" if t is None or t.critical_path_ns <= 0 else f"{t.fmax_mhz:.1f}"


def _or_dash(x):
    return "-" if x is None else x


def render_tables(r: SynthReport) -> str:
    """The tiles, their silicon figures (when timed), each tile's blocks, and notes."""
    lib, timed, perf = r.liberty is not None, r.timed, r.perf
    kinds = [s for s in KINDS if s in r.tiles]
    headers = ["tile", "transistors", "GE", "cells", "depth"] + (["lib area"] if lib and not timed else [])
    if perf is not None:
        headers += ["GE x DaDN", "tr. x DaDN", "speedup", "perf/GE", "perf/tr."]
    rows = []
    for s in kinds:
        t = r.tiles[s]
        row = [KINDS[s].title, t.transistors, round(t.ge), t.cells, t.depth]
        if lib and not timed:
            row.append(t.liberty_area)
        if perf is not None:
            v = perf[s]
            row += [v.area_ratio_ge, v.area_ratio_transistors, v.speedup, v.perf_per_area_ge,
                    v.perf_per_area_transistors]
        rows.append(row)
    c = r.config
    cfg = (f"L={c.lanes} Nc={c.columns} Nr={c.rows} A={c.act_bits} W={c.weight_bits} G={c.group} "
           f"trim={c.trim}")
    parts = [render(headers, rows, f"Tile area ({cfg}; yosys {r.yosys})")]
    if timed:
        parts.append(_silicon_table(r, kinds))
    for s in kinds:
        t = r.tiles[s]
        bh = ["block", "count", "GE each", "GE", "% of GE", "transistors", "depth"]
        if timed:
            bh += ["µm² each", "µm²", "FF %", "path ns", "MHz"]
        brows = []
        for b in _ordered(t.blocks):
            row = [b.name if b.part_of is None else f"  ({b.name}, in {b.part_of})", b.count,
                   round(b.area.ge, 1), round(b.ge), 100.0 * b.ge / t.ge, b.transistors, b.area.depth]
            if timed:
                a = b.area
                ff = 100.0 * a.liberty_ff_area / a.liberty_area if a.liberty_area else 0.0
                row += [_um2(a.liberty_area), _um2(b.area_um2), f"{ff:.0f}", _ns(b.timing), _mhz(b.timing)]
            brows.append(row)
        title = f"{KINDS[s].title}: blocks"
        if timed and t.glue_area is not None:
            title += f" (tile top level: {_um2(t.glue_area)} µm² more)"
        parts.append(render(bh, brows, title))
    return "\n\n".join(parts) + "\n\n" + "\n".join(_notes(r))


def _notes(r: SynthReport) -> list[str]:
    notes = []
    over = r.overhead
    if over is not None:
        notes.append(f"Dynamic Stripes over Stripes: {100 * over['ge']:+.1f} % GE, "
                     f"{100 * over['transistors']:+.1f} % transistors"
                     + (f", {100 * over['area_um2']:+.1f} % µm²" if "area_um2" in over else "")
                     + " (goal: at most +5 %)"
                     + (f"; critical path {100 * over['critical_path']:+.1f} % (goal: within 2 %)"
                        if "critical_path" in over else ""))
    if r.perf is not None:
        works = r.workloads
        if len(works) == 1:
            notes.append(f"speedup: golden-model cycles on {works[0].description}")
        else:  # full provenance of each layer is in --json
            notes.append("speedup: golden-model cycles summed over " + ", ".join(
                f"{w.name} ({w.layer.describe()})" for w in works))
    else:
        notes.append("ratios to the bit-parallel tile need --scheme all (or dadn)")
    if r.timed:
        notes.append("clock: " + TIMING_SCOPE + f" ({r.sta or 'OpenSTA'})")
    return notes


def _silicon_table(r: SynthReport, kinds) -> str:
    headers = ["tile", "µm²", "FF %", "path ns", "MHz", "critical path"]
    if r.perf is not None:
        headers += ["µm² x DaDN", "perf/µm²", "speedup at fmax"]
    rows = []
    for s in kinds:
        t = r.tiles[s]
        tm = t.timing
        path = "-" if tm is None else f"{tm.startpoint} -> {tm.endpoint}"
        row = [KINDS[s].title, _um2(t.area_um2), f"{100 * (t.ff_share or 0):.0f}", _ns(tm), _mhz(tm), path]
        if r.perf is not None:
            v = r.perf[s]
            row += [_or_dash(v.area_ratio_um2), _or_dash(v.perf_per_area_um2), _or_dash(v.speedup_at_fmax)]
        rows.append(row)
    return render(headers, rows, f"Silicon ({r.liberty}): area, critical path and clock")
