"""Benchmark (not a test): simulated cycles per second of the published Dynamic Stripes tile
(16 lanes x 16 columns x 16 rows, 16-bit) on Verilator and on Icarus, on the same layer slice.

The slice: the first window-sets of a 3x3, 64-channel conv layer on 56x56 ReLU-like 8-bit
activations (half zeros), one filter-set. The figure of merit is simulated cycles per second
with the cocotb testbench touching every cycle (as in the test suite), measured as the
difference between a 1-window-set and an N-window-set run on the same build, so start-up is
excluded. Build time is reported apart.

Usage: python scripts/bench_sim.py [--window-sets N] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dstripes.sim.config import TileConfig  # noqa: E402
from dstripes.sim.fixed import Window  # noqa: E402
from dstripes.sim.layer import Layer  # noqa: E402
from dstripes.sim.schemes import DSTRIPES  # noqa: E402
from dstripes.tb.simulate import simulate_layer  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--window-sets", type=int, default=4,
                    help="window-sets of the long slice (the short one has 1)")
    ap.add_argument("--optimised", action="store_true",
                    help="build Verilator's model with optimisation (slower build; the tests use -O0)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    layer = Layer(64, 56, 56, 16, 3, 3, 1, 1, 1, 1, name="conv 64x56x56 k3")
    mag = np.minimum(np.rint(rng.exponential(20, (64, 56, 56))), 255).astype(np.int64)
    acts = np.where(rng.random((64, 56, 56)) < 0.5, 0, mag)
    weights = rng.integers(-(1 << 15), 1 << 15, (16, 64, 3, 3))
    cfg = TileConfig()
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
           "slice": f"{layer.describe()}, {args.window_sets} window-sets", "sims": {}}
    for sim in ("verilator", "icarus"):
        # Two slice lengths on the same build: the difference cancels start-up (simulator
        # launch, cocotb and numpy import, loading the streams) and leaves the per-cycle cost.
        t0 = time.perf_counter()
        runs = [simulate_layer(DSTRIPES.name, sim, cfg, layer, Window(7, 0), acts, weights, window_sets=n,
                               quick=not args.optimised)
                for n in (1, args.window_sets)]
        (c1, s1), (c2, s2) = [(r["cycles_rtl"], r["sim_seconds"]) for r in runs]
        out["sims"][sim] = {"cycles": [c1, c2], "sim_seconds": [s1, s2],
                            "exact": all(r["cycles_match"] and r["results_match"] for r in runs),
                            "cycles_per_second": (c2 - c1) / (s2 - s1) if s2 > s1 else float("inf"),
                            "build_and_runs_seconds": time.perf_counter() - t0}
    v, i = out["sims"]["verilator"], out["sims"]["icarus"]
    out["ratio_verilator_over_icarus"] = v["cycles_per_second"] / i["cycles_per_second"]
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"published Dynamic Stripes tile; {out['slice']} ({out['machine']})")
    for name, s in out["sims"].items():
        print(f"  {name:>9}: {s['cycles'][0]:,} and {s['cycles'][1]:,} cycles in {s['sim_seconds'][0]:.1f} and "
              f"{s['sim_seconds'][1]:.1f} s of simulation: {s['cycles_per_second']:,.0f} cycles/s "
              f"(build + runs {s['build_and_runs_seconds']:.0f} s; bit- and cycle-exact: {s['exact']})")
    print(f"  Verilator / Icarus: {out['ratio_verilator_over_icarus']:.1f}x")


if __name__ == "__main__":
    main()
