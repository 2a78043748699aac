"""``dstripes synth``'s text tables of a :class:`dstripes.synth.report.SynthReport` (its JSON is
the report's ``as_dict()``)."""
from __future__ import annotations

from dstripes.hw.kinds import KINDS
from dstripes.sim.table import render
from dstripes.synth.report import TIMING_SCOPE, SynthReport

#: Block order of the breakdown tables (others follow in the order the tile lists them).
BLOCK_ORDER = ("sip_array", "ip_array", "dispatcher", "detector", "controller", "buffers")


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
    lib, timed, perf = r.liberty is not None, r.timed, r.vs_dadn
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
        notes.append(f"Dynamic Stripes over Stripes: {100 * over.ge:+.1f} % GE, "
                     f"{100 * over.transistors:+.1f} % transistors"
                     + (f", {100 * over.area_um2:+.1f} % µm²" if over.area_um2 is not None else "")
                     + " (goal: at most +5 %)"
                     + (f"; critical path {100 * over.critical_path:+.1f} % (goal: within 2 %)"
                        if over.critical_path is not None else ""))
    if r.vs_dadn is not None:
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
    if r.vs_dadn is not None:
        headers += ["µm² x DaDN", "perf/µm²", "speedup at fmax"]
    rows = []
    for s in kinds:
        t = r.tiles[s]
        tm = t.timing
        path = "-" if tm is None else f"{tm.startpoint} -> {tm.endpoint}"
        row = [KINDS[s].title, _um2(t.area_um2), f"{100 * (t.ff_share or 0):.0f}", _ns(tm), _mhz(tm), path]
        if r.vs_dadn is not None:
            v = r.vs_dadn[s]
            row += [_or_dash(v.area_ratio_um2), _or_dash(v.perf_per_area_um2), _or_dash(v.speedup_at_fmax)]
        rows.append(row)
    return render(headers, rows, f"Silicon ({r.liberty}): area, critical path and clock")
