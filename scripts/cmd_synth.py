"""``dstripes synth``: tile area (transistors, gate equivalents, a user liberty), logic depth,
per-block breakdown and performance per area relative to the bit-parallel tile."""
from __future__ import annotations

from dstripes.synth.perf_area import (WORKLOAD_KINDS, dstripes_overhead, perf_per_area, select_workloads,
                             total_cycles)
from dstripes.hw.kinds import KINDS, kind
from dstripes.sim.schemes import DADN
from dstripes.synth.tile import synth_tiles
from dstripes.synth.yosys import yosys_version

from .options import add_kind_option, add_tile_options, check_out_dir, print_json, tile_config
from .table import render

#: Block order of the breakdown tables (others follow in the order the tile lists them).
BLOCK_ORDER = ("sip_array", "ip_array", "dispatcher", "detector", "controller", "buffers")


def register(sub) -> None:
    p = sub.add_parser("synth", help="synthesise the tiles with yosys: area, depth, perf/area",
                       description="Synthesise each distinct block of the tile once with yosys "
                                   "(Debian yosys + ABC) and report transistors, NAND2 gate "
                                   "equivalents, cells and logic depth per block and per tile, "
                                   "with performance per area relative to the bit-parallel tile.")
    add_kind_option(p, allow_all=True)
    add_tile_options(p, tiles=False)
    p.add_argument("--liberty", metavar="FILE", help="also report area in this liberty's units")
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


def summary(tiles: dict, config, works=None) -> dict:
    """Everything the command reports, as a JSON-ready dict (``works``: the workloads of the
    performance-per-area columns, needed when the bit-parallel tile is among ``tiles``)."""
    d = {"tiles": {s: t.as_dict() for s, t in tiles.items()}, "config": config.as_dict()}
    if DADN.name in tiles:
        works = select_workloads(config) if works is None else works
        cycles = total_cycles(works, config)
        pa = perf_per_area(tiles, cycles)
        for s in tiles:
            d["tiles"][s]["vs_dadn"] = pa[s].as_dict()
        d["workload"] = {"layers": [w.as_dict() for w in works], "cycles": cycles}
    over = dstripes_overhead(tiles)
    if over is not None:
        d["dstripes_over_stripes"] = over
    return d


def render_tables(tiles: dict, d: dict, config, liberty: str | None) -> str:
    has_ref = DADN.name in tiles
    lib = liberty is not None
    headers = ["tile", "transistors", "GE", "cells", "depth"] + (["lib area"] if lib else [])
    if has_ref:
        headers += ["GE x DaDN", "tr. x DaDN", "speedup", "perf/GE", "perf/tr."]
    rows = []
    for s in KINDS:
        if s not in tiles:
            continue
        t = tiles[s]
        row = [KINDS[s].title, t.transistors, round(t.ge), t.cells, t.depth]
        if lib:
            row.append(t.liberty_area)
        if has_ref:
            v = d["tiles"][s]["vs_dadn"]
            row += [v["area_ratio_ge"], v["area_ratio_transistors"], v["speedup"],
                    v["perf_per_area_ge"], v["perf_per_area_transistors"]]
        rows.append(row)
    cfg = (f"L={config.lanes} Nc={config.columns} Nr={config.rows} A={config.act_bits} "
           f"W={config.weight_bits} G={config.group} trim={config.trim}")
    parts = [render(headers, rows, f"Tile area ({cfg}; yosys {d['yosys']})")]
    for s in KINDS:
        if s not in tiles:
            continue
        t = tiles[s]
        brows = [[b.name if b.part_of is None else f"  ({b.name}, in {b.part_of})", b.count,
                  round(b.area.ge, 1), round(b.ge), 100.0 * b.ge / t.ge, b.transistors, b.area.depth]
                 for b in _ordered(t.blocks)]
        parts.append(render(["block", "count", "GE each", "GE", "% of GE", "transistors", "depth"],
                            brows, f"{KINDS[s].title}: blocks"))
    notes = []
    over = d.get("dstripes_over_stripes")
    if over is not None:
        notes.append(f"Dynamic Stripes over Stripes: {100 * over['ge']:+.1f} % GE, "
                     f"{100 * over['transistors']:+.1f} % transistors (goal: at most +5 %)")
    if has_ref:
        layers = d["workload"]["layers"]
        if len(layers) == 1:
            notes.append(f"speedup: golden-model cycles on {layers[0]['description']}")
        else:  # full provenance of each layer is in --json
            notes.append("speedup: golden-model cycles summed over " + ", ".join(
                f"{w['name']} ({w['layer']})" for w in layers))
    else:
        notes.append("ratios to the bit-parallel tile need --scheme all (or dadn)")
    return "\n\n".join(parts) + "\n\n" + "\n".join(notes)


def run(args) -> int:
    # with all kinds, each option applies to the kinds that use it
    config = tile_config(args, KINDS.values() if args.scheme == "all" else kind(args.scheme))
    schemes = tuple(KINDS) if args.scheme == "all" else (args.scheme,)
    if args.out is not None:
        check_out_dir(args.out, "--out")
    # chosen before synthesis so that a missing workload fails at once
    works = select_workloads(config, args.workload) if DADN.name in schemes else None
    version = yosys_version()
    tiles = synth_tiles(schemes, config, liberty=args.liberty, jobs=args.jobs, out=args.out,
                        progress=True)
    d = summary(tiles, config, works)
    d["yosys"] = version
    d["liberty"] = args.liberty
    if args.out is not None:
        import json
        from pathlib import Path

        Path(args.out, "synth.json").write_text(json.dumps(d, indent=2) + "\n")
    if args.json:
        print_json(d)
    else:
        print(render_tables(tiles, d, config, args.liberty))
    return 0
