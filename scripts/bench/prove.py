"""Benchmark: the published-size detector proof (16 lanes x 16 columns, 16-bit, G = 1) with
yosys 0.23 ``sat``: Amaranth emission, yosys flattening, and each property's solver time.

Usage (from the checkout)::

    .venv/bin/python scripts/bench/prove.py [--trim leading|both] [--group G] [--jobs N] [--json]

No target is set by the issue; the figure is what ``dstripes prove --block detector`` costs.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

from dstripes.scripts.output import print_json
from dstripes.sim.config import TRIMS
from dstripes.sim.table import render
from dstripes.tb.formal import PROVEN
from dstripes.tb.formal.detector import DetectorProof
from dstripes.tb.formal.engine import prove
from dstripes.tb.tools import yosys_version

from common import load_average


def bench(*, lanes=16, columns=16, act_bits=16, group=1, trim="leading", jobs=None) -> dict:
    proof = DetectorProof(lanes=lanes, columns=columns, act_bits=act_bits, group=group,
                          trailing=trim == "both")
    load = load_average()
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats: list = []
    t0 = time.perf_counter()
    outcomes = prove([proof], jobs=jobs, stats=stats)
    wall = time.perf_counter() - t0
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"config": proof.label(), "yosys": yosys_version(), "cpus": os.cpu_count(),
            "jobs": jobs or os.cpu_count(), "wall_seconds": wall,
            "emit_seconds": stats[0]["emit_seconds"], "prep_seconds": stats[0]["prep_seconds"],
            "child_cpu_seconds": (kids.ru_utime + kids.ru_stime) - (kids0.ru_utime + kids0.ru_stime),
            "properties": [{"name": o.name, "status": o.status, "seconds": o.seconds} for o in outcomes],
            "all_proven": all(o.status == PROVEN for o in outcomes),
            "load_average_before": load, "load_average_after": load_average()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trim", choices=TRIMS, default="leading")
    p.add_argument("--group", type=int, default=1)
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    d = bench(group=args.group, trim=args.trim, jobs=args.jobs)
    if args.json:
        print_json(d)
    else:
        rows = [[r["name"], r["status"], r["seconds"]] for r in d["properties"]]
        print(render(["property", "status", "seconds"], rows, f"Detector proof, {d['config']} (yosys {d['yosys']})"))
        print(f"\nemission {d['emit_seconds']:.1f} s, yosys flattening {d['prep_seconds']:.1f} s, "
              f"wall {d['wall_seconds']:.1f} s with {d['jobs']} parallel runs on {d['cpus']} CPUs; "
              f"yosys CPU {d['child_cpu_seconds']:.1f} s; load average before {d['load_average_before']}, "
              f"after {d['load_average_after']}")
    return 0 if d["all_proven"] else 1


if __name__ == "__main__":
    sys.exit(main())
