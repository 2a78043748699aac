"""Benchmark (not a test): the soak of the fast path on the published Dynamic Stripes tile.

At least 10**6 simulated cycles of random conv runs (:mod:`dstripes.tb.host.soak`) with seeded random
idle cycles on the config, activation and weight streams, back-pressure on the results and a
reset in the middle of the first run: zero mismatches, every stream's transfers exactly the
expected ones (nothing lost or repeated), the tile's cycle counter equal to the harness's own
count in every run.

Usage (from the checkout)::

    .venv/bin/python scripts/bench/soak.py [--cycles N] [--idle P] [--stall P] [--seed S] [--sim icarus] [--small]
                                           [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from dstripes.hw.design import TileDesign
from dstripes.sim.config import TileConfig
from dstripes.sim.schemes import DSTRIPES
from dstripes.tb.host.soak import soak

from common import machine


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=1_000_000, help="model cycles of the runs (%(default)s)")
    ap.add_argument("--idle", type=float, default=0.2, help="idle probability of each source (%(default)s)")
    ap.add_argument("--stall", type=float, default=0.3, help="back-pressure probability (%(default)s)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--small", action="store_true", help="a 4x4x4 tile instead of the published one")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    cfg = TileConfig(lanes=4, columns=4, rows=4) if args.small else TileConfig()
    out = soak(TileDesign.of(DSTRIPES.name, cfg), args.sim, args.cycles, idle=args.idle, stall=args.stall,
               seed=args.seed).as_dict()
    out["machine"] = f"{machine()}, load {os.getloadavg()[0]:.1f}"
    if args.json:
        print(json.dumps(out, indent=2))
        return 0 if out["passed"] else 1
    t = out["transfers"] or {}
    print(f"soak of the {'small' if args.small else 'published'} Dynamic Stripes tile on {args.sim} "
          f"({out['machine']}): {out['runs_played']} runs, idle {args.idle}, stall {args.stall}, seed {args.seed}, "
          f"reset {out['reset_at']:,} cycles into the first run")
    print(f"  simulated cycles: {out['sim_cycles']:,} (model, always-ready streams: {out['cycles_model']:,})")
    print("  transfers (got / expected): "
          + ", ".join(f"{k.replace('_count', '')} {a:,}/{b:,}" for k, (a, b) in t.items()))
    print(f"  results checked: {out['results_checked']:,}; mismatching transfers: {out['mismatches']}")
    for c in out["checks"]:
        print(f"  {c['name']}: {c['status']} ({c['detail']})")
    print(f"  {out['sim_cycles'] / out['sim_seconds']:,.0f} simulated cycles/s, build {out['build_seconds']:.0f} s, "
          f"wall {out['wall_seconds']:.0f} s")
    print("SOAK PASSED" if out["passed"] else f"SOAK FAILED: {out['failure']}")
    return 0 if out["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
