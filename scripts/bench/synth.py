"""Benchmark: wall time to synthesise the three published-size tiles (DaDN, Stripes, Dynamic
Stripes; 16 lanes x 16 columns x 16 rows, 16-bit) with the per-block yosys flow.

Targets on a 2-core machine: at most 2 minutes for the three together with the generic figures,
at most 3 minutes with ``--liberty sky130`` (the same runs also map onto sky130, then OpenSTA
times every block and every whole tile). Prints the wall time of block emission (Amaranth) and
of the whole run, each yosys run's time, and the tile figures. ``--compare`` runs the generic
flow and then the sky130 flow back to back and prints their ratio: on a shared machine the
ratio of two runs made under the same load says more than either wall time.

Usage (from the checkout)::

    .venv/bin/python scripts/bench/synth.py [--jobs N] [--small] [--liberty sky130 [--compare]] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

from dstripes.hw.kinds import KINDS
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError, ToolError
from dstripes.hw.design import designs
from dstripes.sim.table import render
from dstripes.synth.tile import synth_tiles
from dstripes.tb.tools import yosys_version

from common import description, load_average

TARGET_SECONDS = 120.0
TARGET_SECONDS_LIBERTY = 180.0
SMALL = TileConfig(lanes=4, columns=2, rows=2, act_bits=8, weight_bits=8)


def _cpu() -> dict:
    """CPU seconds of this process (block construction, elaboration) and of its finished child
    processes (Amaranth's Verilog backend, synthesis yosys, ABC)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"python": me.ru_utime + me.ru_stime, "yosys": kids.ru_utime + kids.ru_stime}


def bench(config: TileConfig, jobs: int | None, liberty: str | None = None) -> dict:
    """Time one run of :func:`synth.tile.synth_tiles` over every scheme (with ``liberty``: also
    mapped onto it, every block and tile timed)."""
    emitted = {}

    def timed_blocks(design):
        # block construction is part of the cost a user sees; time it separately
        t0 = time.perf_counter()
        blocks = design.synth_blocks()
        emitted[design.name] = time.perf_counter() - t0
        return blocks

    load_before = load_average()
    cpu0 = _cpu()
    t0 = time.perf_counter()
    if liberty is None:
        run = synth_tiles(designs(KINDS, config), jobs=jobs, blocks=timed_blocks, progress=True)
    else:  # the registry's own tiles (a block source would have no tile to time whole)
        run = synth_tiles(designs(KINDS, config), jobs=jobs, liberty=liberty, progress=True)
    tiles, stats = run.tiles, run.stats
    wall = time.perf_counter() - t0
    cpu = {k: v - cpu0[k] for k, v in _cpu().items()}
    # a block shared by several schemes was synthesised once: list each yosys run once
    seen = {}
    for s, t in tiles.items():
        for b in t.blocks:
            seen.setdefault(id(b.area), [[], b.area])[0].append(f"{s}/{b.name}")
    runs = sorted(((" = ".join(names), {"seconds": a.seconds, "cpu_seconds": a.cpu_seconds})
                   for names, a in seen.values()), key=lambda r: -r[1]["cpu_seconds"])
    figures = {}
    for s, t in tiles.items():
        figures[s] = {"transistors": t.transistors, "ge": t.ge, "cells": t.cells, "depth": t.depth}
        if t.timing is not None:
            figures[s].update(area_um2=t.area_um2, ff_share=t.ff_share,
                              critical_path_ns=t.timing.critical_path_ns, fmax_mhz=t.timing.fmax_mhz)
    return {"config": config.as_dict(), "jobs": jobs or os.cpu_count(), "cpus": os.cpu_count(),
            "yosys": yosys_version(), "liberty": liberty, "wall_seconds": wall,
            "target_seconds": TARGET_SECONDS if liberty is None else TARGET_SECONDS_LIBERTY,
            "timing_seconds": stats.timing_seconds,
            "build_seconds": emitted, "emit_seconds": stats.emit_seconds,
            "blocks": stats.blocks,
            "unique_blocks": stats.unique, "yosys_runs": dict(runs),
            "cpu_seconds": cpu, "load_average_before": load_before, "load_average_after": load_average(),
            "tiles": figures}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=description(__doc__))
    p.add_argument("--jobs", type=int, default=None, help="parallel yosys runs (default: CPUs)")
    p.add_argument("--small", action="store_true", help="the small test tile instead (L=4 Nc=2 Nr=2, 8-bit)")
    p.add_argument("--liberty", default=None, metavar="FILE|sky130",
                   help="also map onto this library and time blocks and tiles (target 3 minutes)")
    p.add_argument("--compare", action="store_true",
                   help="with --liberty: run the generic flow first and print the ratio")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.compare and args.liberty is None:
        p.error("--compare needs --liberty")
    config = SMALL if args.small else TileConfig()
    try:
        base = bench(config, args.jobs) if args.compare else None
        r = bench(config, args.jobs, args.liberty)
    except (ConfigError, ToolError) as e:
        print(f"{p.prog}: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, ConfigError) else 3
    if base is not None:
        r["generic"] = {"wall_seconds": base["wall_seconds"], "cpu_seconds": base["cpu_seconds"],
                        "load_average_before": base["load_average_before"]}
        r["ratio_to_generic"] = r["wall_seconds"] / base["wall_seconds"]
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    c = r["config"]
    print(f"synthesis of DaDN + Stripes + Dynamic Stripes tiles, L={c['lanes']} Nc={c['columns']} "
          f"Nr={c['rows']} A={c['act_bits']} W={c['weight_bits']}; yosys {r['yosys']}, "
          f"{r['jobs']} parallel runs on {r['cpus']} CPUs; load average before "
          f"{r['load_average_before']}, after {r['load_average_after']}")
    print(render(["yosys run", "wall s", "CPU s"],
                 [[k, v["seconds"], v["cpu_seconds"]] for k, v in r["yosys_runs"].items()]))
    timed = r["liberty"] is not None
    print(render(["tile", "transistors", "GE", "cells", "depth"] + (["µm²", "path ns", "MHz"] if timed else []),
                 [[KINDS[s].title, t["transistors"], round(t["ge"]), t["cells"], t["depth"]]
                  + ([round(t["area_um2"]), t["critical_path_ns"], t["fmax_mhz"]] if timed else [])
                  for s, t in r["tiles"].items()]))
    build = sum(r["build_seconds"].values())
    target = r["target_seconds"]
    verdict = "within" if r["wall_seconds"] <= target else "OVER"
    cpu = r["cpu_seconds"]
    built = f"construction {build:.1f} s; " if r["build_seconds"] else ""
    print(f"{r['blocks']} blocks, {r['unique_blocks']} distinct; {built}"
          f"last Verilog emitted after {r['emit_seconds']:.1f} s (synthesis overlaps it)")
    print(f"CPU: {cpu['python']:.1f} s Python (construction, elaboration), {cpu['yosys']:.1f} s "
          f"child processes (Verilog backend, yosys, ABC); total {cpu['python'] + cpu['yosys']:.1f} s "
          f"= {(cpu['python'] + cpu['yosys']) / r['cpus']:.1f} s per CPU")
    if timed:
        print(f"timing of the whole tiles (glue synthesis + OpenSTA): {r['timing_seconds']:.1f} s wall")
    print(f"total wall time {r['wall_seconds']:.1f} s ({verdict} the {target:.0f} s target)")
    if "ratio_to_generic" in r:
        print(f"generic flow in the same session: {r['generic']['wall_seconds']:.1f} s wall (load average "
              f"before {r['generic']['load_average_before']}); {r['liberty']} run / generic run = "
              f"{r['ratio_to_generic']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
