"""``dstripes synth``: tile area (transistors, gate equivalents, a user liberty), logic depth,
per-block breakdown and performance per area relative to the bit-parallel tile; with
``--liberty`` (``sky130`` or a file), area in µm², the critical path and the clock it allows
(OpenSTA) per block and per tile."""
from __future__ import annotations

from dstripes.synth.perf_area import WORKLOAD_KINDS, select_workloads
from dstripes.hw.kinds import KINDS
from dstripes.sim.schemes import DADN
from dstripes.synth.report import TIMING_SCOPE, synth_report
from dstripes.synth.tile import synth_tiles
from dstripes.tb.tools import yosys_version

from .options import add_kind_option, add_tile_options, check_out_dir, print_json, tile_config, tile_designs
from dstripes.sim.table import render

#: Block order of the breakdown tables (others follow in the order the tile lists them).
BLOCK_ORDER = ("sip_array", "ip_array", "dispatcher", "detector", "controller", "buffers")


def register(sub) -> None:
    p = sub.add_parser("synth", help="synthesise the tiles with yosys: area, depth, perf/area; "
                                     "µm² and clock with --liberty sky130",
                       description="Synthesise each distinct block of the tile once with yosys "
                                   "(Debian yosys + ABC) and report transistors, NAND2 gate "
                                   "equivalents, cells and logic depth per block and per tile, "
                                   "with performance per area relative to the bit-parallel tile. "
                                   "With --liberty (the built-in sky130 library or a Liberty file "
                                   "with timing), also area in µm² and the critical path and "
                                   "clock per block and per tile from OpenSTA (ideal clock, no "
                                   "wires; the whole tile is timed across its block boundaries).")
    add_kind_option(p, allow_all=True)
    add_tile_options(p, tiles=False)
    p.add_argument("--liberty", metavar="FILE|sky130",
                   help="also map onto this library (a Liberty file with timing, or 'sky130': "
                        "SkyWater 130 nm HD, shipped) and report µm², critical path and clock")
    p.add_argument("--out", metavar="DIR", help="keep Verilog, scripts, logs and reports here")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="parallel yosys runs (default: number of CPUs)")
    p.add_argument("--workload", choices=WORKLOAD_KINDS, default="auto",
                   help="cycles for perf/area: bundled real samples, the synthetic reference "
                        "layer, or samples when present (%(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _ordered(blocks):
    rank = {n: i for i, n in enumerate(BLOCK_ORDER)}
    return sorted(blocks, key=lambda b: rank.get(b.name, len(rank)))


def _um2(x) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _ns(t) -> str:
    return "-" if t is None or t.critical_path_ns <= 0 else f"{t.critical_path_ns:.2f}"


def _mhz(t) -> str:
    return "-" if t is None or t.critical_path_ns <= 0 else f"{t.fmax_mhz:.1f}"


def render_tables(tiles: dict, d: dict, config, liberty: str | None) -> str:
    has_ref = DADN.name in tiles
    lib = liberty is not None
    timed = any(t.timing is not None for t in tiles.values())
    headers = ["tile", "transistors", "GE", "cells", "depth"] + (["lib area"] if lib and not timed else [])
    if has_ref:
        headers += ["GE x DaDN", "tr. x DaDN", "speedup", "perf/GE", "perf/tr."]
    rows = []
    for s in KINDS:
        if s not in tiles:
            continue
        t = tiles[s]
        row = [KINDS[s].title, t.transistors, round(t.ge), t.cells, t.depth]
        if lib and not timed:
            row.append(t.liberty_area)
        if has_ref:
            v = d["tiles"][s]["vs_dadn"]
            row += [v["area_ratio_ge"], v["area_ratio_transistors"], v["speedup"],
                    v["perf_per_area_ge"], v["perf_per_area_transistors"]]
        rows.append(row)
    cfg = (f"L={config.lanes} Nc={config.columns} Nr={config.rows} A={config.act_bits} "
           f"W={config.weight_bits} G={config.group} trim={config.trim}")
    parts = [render(headers, rows, f"Tile area ({cfg}; yosys {d['yosys']})")]
    if timed:
        parts.append(_silicon_table(tiles, d, has_ref))
    for s in KINDS:
        if s not in tiles:
            continue
        t = tiles[s]
        bh = ["block", "count", "GE each", "GE", "% of GE", "transistors", "depth"]
        if timed:
            bh += ["µm² each", "µm²", "FF %", "path ns", "MHz"]
        brows = []
        for b in _ordered(t.blocks):
            r = [b.name if b.part_of is None else f"  ({b.name}, in {b.part_of})", b.count,
                 round(b.area.ge, 1), round(b.ge), 100.0 * b.ge / t.ge, b.transistors, b.area.depth]
            if timed:
                a = b.area
                ff = 100.0 * a.liberty_ff_area / a.liberty_area if a.liberty_area else 0.0
                r += [_um2(a.liberty_area), _um2(b.area_um2), f"{ff:.0f}", _ns(b.timing), _mhz(b.timing)]
            brows.append(r)
        title = f"{KINDS[s].title}: blocks"
        if timed and t.glue_area is not None:
            title += f" (tile top level: {_um2(t.glue_area)} µm² more)"
        parts.append(render(bh, brows, title))
    notes = []
    over = d.get("dstripes_over_stripes")
    if over is not None:
        notes.append(f"Dynamic Stripes over Stripes: {100 * over['ge']:+.1f} % GE, "
                     f"{100 * over['transistors']:+.1f} % transistors"
                     + (f", {100 * over['area_um2']:+.1f} % µm²" if "area_um2" in over else "")
                     + " (goal: at most +5 %)"
                     + (f"; critical path {100 * over['critical_path']:+.1f} % (goal: within 2 %)"
                        if "critical_path" in over else ""))
    if has_ref:
        layers = d["workload"]["layers"]
        if len(layers) == 1:
            notes.append(f"speedup: golden-model cycles on {layers[0]['description']}")
        else:  # full provenance of each layer is in --json
            notes.append("speedup: golden-model cycles summed over " + ", ".join(
                f"{w['name']} ({w['layer']})" for w in layers))
    else:
        notes.append("ratios to the bit-parallel tile need --scheme all (or dadn)")
    if timed:
        notes.append("clock: " + TIMING_SCOPE + f" ({d.get('sta', 'OpenSTA')})")
    return "\n\n".join(parts) + "\n\n" + "\n".join(notes)


def _silicon_table(tiles: dict, d: dict, has_ref: bool) -> str:
    headers = ["tile", "µm²", "FF %", "path ns", "MHz", "critical path"]
    if has_ref:
        headers += ["µm² x DaDN", "perf/µm²", "speedup at fmax"]
    rows = []
    for s in KINDS:
        if s not in tiles:
            continue
        t = tiles[s]
        tm = t.timing
        path = "-" if tm is None else f"{tm.startpoint} -> {tm.endpoint}"
        row = [KINDS[s].title, _um2(t.area_um2), f"{100 * (t.ff_share or 0):.0f}", _ns(tm), _mhz(tm), path]
        if has_ref:
            v = d["tiles"][s]["vs_dadn"]
            row += [v.get("area_ratio_um2", "-"), v.get("perf_per_area_um2", "-"), v.get("speedup_at_fmax", "-")]
        rows.append(row)
    return render(headers, rows, f"Silicon ({d.get('liberty')}): area, critical path and clock")


def run(args) -> int:
    # with all kinds, each option applies to the kinds that use it
    schemes = tuple(KINDS) if args.scheme == "all" else (args.scheme,)
    designs = tile_designs(args, schemes)
    config = designs[0].config if len(designs) == 1 else tile_config(args)
    if args.out is not None:
        check_out_dir(args.out, "--out")
    # chosen before synthesis so that a missing workload fails at once
    works = select_workloads(config, args.workload) if DADN.name in schemes else None
    version = yosys_version()
    sta = None
    if args.liberty is not None:
        from dstripes.synth.sta import sta_version

        sta = f"OpenSTA {sta_version()}"  # a missing sta fails here, before any synthesis
    tiles = synth_tiles(designs, liberty=args.liberty, jobs=args.jobs, out=args.out, progress=True).tiles
    d = synth_report(tiles, config, works, yosys=version, liberty=args.liberty, sta=sta).as_dict()
    if args.out is not None:
        import json
        from pathlib import Path

        Path(args.out, "synth.json").write_text(json.dumps(d, indent=2) + "\n")
    if args.json:
        print_json(d)
    else:
        print(render_tables(tiles, d, config, args.liberty))
    return 0
