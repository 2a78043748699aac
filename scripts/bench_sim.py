"""Benchmark (not a test): simulated cycles per second of the published Dynamic Stripes tile
(16 lanes x 16 columns x 16 rows, 16-bit) on Verilator and on Icarus, on the same layer slice.

The slice: the first window-sets of a 3x3, 64-channel conv layer on 56x56 ReLU-like 8-bit
activations (half zeros), one filter-set. Build time is reported apart from simulation time;
the figure of merit is simulated cycles per second of simulation (the cocotb testbench touches
every cycle, as in the test suite).

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

from sim.config import TileConfig  # noqa: E402
from sim.fixed import Window  # noqa: E402
from sim.layer import Layer  # noqa: E402
from tb.simulate import simulate_layer  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window-sets", type=int, default=1)
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
        t0 = time.perf_counter()
        r = simulate_layer("dstripes", sim, cfg, layer, Window(7, 0), acts, weights,
                           window_sets=args.window_sets)
        out["sims"][sim] = {"cycles": r["cycles_rtl"], "exact": r["cycles_match"] and r["results_match"],
                            "sim_seconds": r["sim_seconds"], "cycles_per_second": r["cycles_per_second"],
                            "build_and_run_seconds": time.perf_counter() - t0}
    v, i = out["sims"]["verilator"], out["sims"]["icarus"]
    out["ratio_verilator_over_icarus"] = (v["cycles_per_second"] / i["cycles_per_second"]
                                          if i["cycles_per_second"] else float("inf"))
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"published Dynamic Stripes tile; {out['slice']} ({out['machine']})")
    for name, s in out["sims"].items():
        print(f"  {name:>9}: {s['cycles']:,} cycles in {s['sim_seconds']:.1f} s of simulation = "
              f"{s['cycles_per_second']:,.0f} cycles/s (build + run {s['build_and_run_seconds']:.0f} s, "
              f"exact: {s['exact']})")
    print(f"  Verilator / Icarus: {out['ratio_verilator_over_icarus']:.1f}x")


if __name__ == "__main__":
    main()
