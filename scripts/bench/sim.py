"""Benchmark (not a test): simulated cycles per second of the published Dynamic Stripes tile
(16 lanes x 16 columns x 16 rows, 16-bit) on both testbench paths and both simulators.

* **per-cycle path** (``tb/bench/tile_bench.py``): cocotb drives and monitors every stream every cycle;
* **fast path** (``tb/gateware/tile_harness.py``): the tile inside its memory-backed verification harness,
  no Python per cycle; with random idle and back-pressure off and on.

The layer: a 3x3, 64-channel conv on 112x112 ReLU-like 8-bit activations (half zeros), one
filter-set. Both paths run the same N-window-set slice (``--window-sets``), checked bit- and
cycle-exactly; the fast path also runs the whole layer (``--fast-window-sets``). A rate is the
difference between a 1-window-set run and a longer one on the same build, so start-up
(simulator launch, imports, loading) is excluded; it is given per second of wall time and per
second of the simulator's CPU time (the machine may be shared). Builds are made first and
reported apart.

Usage (from the checkout)::

    .venv/bin/python scripts/bench/sim.py [--window-sets N] [--fast-window-sets M] [--icarus-window-sets K]
                                          [--no-icarus] [--quick] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np

from dstripes.hw.design import TileDesign
from dstripes.sim.config import TileConfig
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer
from dstripes.sim.schemes import DSTRIPES
from dstripes.tb.host.runner import build
from dstripes.tb.host.runs import layer_run
from dstripes.tb.host.simulate import path_verilog, play

from common import description, machine

STALLS = {"idle": 0.2, "stall": 0.3}


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(sim: str, path: str, designed, runs_by_len: dict, quick: bool, **kw) -> dict:
    """Play each slice length once on one build; the rate from the shortest and the longest."""
    out = {"slices": {}}
    for n, run in runs_by_len.items():
        c0 = child_cpu()
        res = play(TileDesign.of(DSTRIPES.name), sim, [run], path=path, designed=designed, quick=quick, **kw)
        cycles = res.sim_cycles if res.sim_cycles else res.cycles_rtl
        out["slices"][n] = {"cycles": cycles, "cycles_rtl": res.cycles_rtl, "cycles_model": res.cycles_model,
                            "sim_seconds": res.sim_seconds, "cpu_seconds": child_cpu() - c0,
                            "passed": res.passed, "results_checked": res.results_checked}
    (_, sa), (_, sb) = sorted(out["slices"].items())[0], sorted(out["slices"].items())[-1]
    dc = sb["cycles"] - sa["cycles"]
    for key, secs in (("cycles_per_second", "sim_seconds"), ("cycles_per_cpu_second", "cpu_seconds")):
        out[key] = dc / (sb[secs] - sa[secs]) if sb[secs] > sa[secs] else None
    out["exact"] = all(s["passed"] for s in out["slices"].values())
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=description(__doc__))
    ap.add_argument("--window-sets", type=int, default=40, help="the slice both paths run (%(default)s)")
    ap.add_argument("--fast-window-sets", type=int, default=784, help="the fast path's long run (%(default)s: all)")
    ap.add_argument("--icarus-window-sets", type=int, default=3, help="the slice on Icarus (%(default)s)")
    ap.add_argument("--no-icarus", action="store_true", help="Verilator only")
    ap.add_argument("--quick", action="store_true", help="-O0 Verilator models (the tests' builds) instead of -O3")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    layer = Layer(64, 112, 112, 16, 3, 3, 1, 1, 1, 1, name="conv 64x112x112 k3")
    mag = np.minimum(np.rint(rng.exponential(20, (64, 112, 112))), 255).astype(np.int64)
    acts = np.where(rng.random((64, 112, 112)) < 0.5, 0, mag)
    weights = rng.integers(-(1 << 15), 1 << 15, (16, 64, 3, 3))
    cfg, window = TileConfig(), Window(7, 0)
    out = {"machine": f"{machine()}, load {os.getloadavg()[0]:.1f} at start",
           "layer": layer.describe(), "tile": "published Dynamic Stripes (16x16x16, 16-bit)",
           "model": "-O0" if args.quick else "-O3", "builds": {}, "paths": {}}
    sims = ["verilator"] + ([] if args.no_icarus else ["icarus"])
    for sim in sims:
        for path in ("cycle", "fast"):
            t = time.perf_counter()
            tile = TileDesign.of(DSTRIPES.name, cfg)
            designed = path_verilog(tile, path)
            generate = time.perf_counter() - t
            b = build(designed.dut if path == "fast" else designed, sim, quick=args.quick and sim == "verilator",
                      optimise=not args.quick and sim == "verilator")
            out["builds"][f"{sim} {path}"] = {"generate_seconds": round(generate, 1),
                                              "build_seconds": round(b.seconds, 1), "reused": b.cached}
            if sim == "icarus":
                lengths = (1, args.icarus_window_sets)
            else:
                lengths = (1, args.window_sets) + ((args.fast_window_sets,) if path == "fast" else ())
            runs = {n: layer_run(tile, layer, window, acts, weights, window_sets=n) for n in lengths}
            out["paths"][f"{sim} {path}"] = measure(sim, path, designed, runs, args.quick)
            if path == "fast" and sim == "verilator":
                out["paths"][f"{sim} fast, idle {STALLS['idle']} / stall {STALLS['stall']}"] = measure(
                    sim, path, designed, runs, args.quick, seed=3, **STALLS)
    v = out["paths"]
    same = {k: p["slices"][max(n for n in p["slices"] if n <= args.window_sets)] for k, p in v.items()
            if k.startswith("verilator")}
    out["same_slice"] = {k: {"window_sets": args.window_sets, "cycles": s["cycles"],
                             "sim_seconds": round(s["sim_seconds"], 2)}
                         for k, s in same.items()}
    fast, slow = v["verilator fast"]["cycles_per_second"], v["verilator cycle"]["cycles_per_second"]
    out["fast_over_per_cycle"] = fast / slow if fast and slow else None
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return
    print(f"{out['tile']}, {out['layer']}, one filter-set; Verilator models {out['model']} ({out['machine']})")
    print("builds (apart from the rates):")
    for k, b in out["builds"].items():
        print(f"  {k:>16}: Verilog {b['generate_seconds']:.0f} s, build {b['build_seconds']:.0f} s"
              f"{' (reused)' if b['reused'] else ''}")
    print("simulated cycles per second (start-up excluded):")
    for k, p in v.items():
        sl = ", ".join(f"{n} ws: {s['cycles']:,} cycles in {s['sim_seconds']:.1f} s" for n, s in p["slices"].items())
        rate = f"{p['cycles_per_second']:,.0f}" if p["cycles_per_second"] else "n/a"
        cpu = f"{p['cycles_per_cpu_second']:,.0f}" if p["cycles_per_cpu_second"] else "n/a"
        print(f"  {k:>36}: {rate} cycles/s ({cpu} per CPU second); {sl}; bit- and cycle-exact: {p['exact']}")
    if out["fast_over_per_cycle"]:
        print(f"  Verilator fast / per-cycle: {out['fast_over_per_cycle']:.1f}x")


if __name__ == "__main__":
    main()
