"""Benchmark: wall time to synthesise the three published-size tiles (DaDN, Stripes, Dynamic
Stripes; 16 lanes x 16 columns x 16 rows, 16-bit) with the per-block yosys flow.

Target: at most 2 minutes for the three together on a 2-core machine. Prints the wall time of
block emission (Amaranth) and of the whole run, each yosys run's time, and the tile figures.

Usage::

    python -m scripts.bench_synth [--jobs N] [--small] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.hw.kinds import KINDS
from dstripes.synth.tile import hw_blocks, synth_tiles
from dstripes.synth.yosys import yosys_version

from .table import render

TARGET_SECONDS = 120.0
SMALL = TileConfig(lanes=4, columns=2, rows=2, act_bits=8, weight_bits=8)


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _cpu() -> dict:
    """CPU seconds of this process (block construction, elaboration) and of its finished child
    processes (Amaranth's Verilog backend, synthesis yosys, ABC)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"python": me.ru_utime + me.ru_stime, "yosys": kids.ru_utime + kids.ru_stime}


def bench(config: TileConfig, jobs: int | None) -> dict:
    """Time one run of :func:`synth.tile.synth_tiles` over every scheme."""
    emitted = {}

    def timed_blocks(scheme, cfg):
        # block construction is part of the cost a user sees; time it separately
        t0 = time.perf_counter()
        blocks = hw_blocks(scheme, cfg)
        emitted[scheme] = time.perf_counter() - t0
        return blocks

    load_before = _load()
    stats = {}
    cpu0 = _cpu()
    t0 = time.perf_counter()
    tiles = synth_tiles(tuple(KINDS), config, jobs=jobs, blocks=timed_blocks, progress=True, stats=stats)
    wall = time.perf_counter() - t0
    cpu = {k: v - cpu0[k] for k, v in _cpu().items()}
    # a block shared by several schemes was synthesised once: list each yosys run once
    seen = {}
    for s, t in tiles.items():
        for b in t.blocks:
            seen.setdefault(id(b.area), [[], b.area])[0].append(f"{s}/{b.name}")
    runs = sorted(((" = ".join(names), {"seconds": a.seconds, "cpu_seconds": a.cpu_seconds})
                   for names, a in seen.values()), key=lambda r: -r[1]["cpu_seconds"])
    return {"config": config.as_dict(), "jobs": jobs or os.cpu_count(), "cpus": os.cpu_count(),
            "yosys": yosys_version(), "wall_seconds": wall, "target_seconds": TARGET_SECONDS,
            "build_seconds": emitted, "emit_seconds": stats["emit_seconds"],
            "blocks": stats["blocks"],
            "unique_blocks": stats["unique"], "yosys_runs": dict(runs),
            "cpu_seconds": cpu, "load_average_before": load_before, "load_average_after": _load(),
            "tiles": {s: {"transistors": t.transistors, "ge": t.ge, "cells": t.cells, "depth": t.depth}
                      for s, t in tiles.items()}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench_synth", description=" ".join(__doc__.split("\n\n")[0].split()))
    p.add_argument("--jobs", type=int, default=None, help="parallel yosys runs (default: CPUs)")
    p.add_argument("--small", action="store_true", help="the small test tile instead (L=4 Nc=2 Nr=2, 8-bit)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    try:
        r = bench(SMALL if args.small else TileConfig(), args.jobs)
    except ConfigError as e:
        print(f"bench_synth: error: {e}", file=sys.stderr)
        return 2
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
    print(render(["tile", "transistors", "GE", "cells", "depth"],
                 [[KINDS[s].title, t["transistors"], round(t["ge"]), t["cells"], t["depth"]]
                  for s, t in r["tiles"].items()]))
    build = sum(r["build_seconds"].values())
    verdict = "within" if r["wall_seconds"] <= TARGET_SECONDS else "OVER"
    cpu = r["cpu_seconds"]
    print(f"{r['blocks']} blocks, {r['unique_blocks']} distinct; construction {build:.1f} s; "
          f"last Verilog emitted after {r['emit_seconds']:.1f} s (synthesis overlaps it)")
    print(f"CPU: {cpu['python']:.1f} s Python (construction, elaboration), {cpu['yosys']:.1f} s "
          f"child processes (Verilog backend, yosys, ABC); total {cpu['python'] + cpu['yosys']:.1f} s "
          f"= {(cpu['python'] + cpu['yosys']) / r['cpus']:.1f} s per CPU")
    print(f"total wall time {r['wall_seconds']:.1f} s ({verdict} the {TARGET_SECONDS:.0f} s target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
