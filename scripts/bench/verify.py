"""Benchmark (not a test): a whole real network through each generated tile.

VGG-16 (HED), one held-out photo at 224x224, all 13 conv layers, the first filter-set of each,
every window: ``dstripes verify`` on the Dynamic Stripes, Stripes and bit-parallel tiles
(published configuration, Verilator, local Dask workers), each timed from a cold start
(Verilog generation and the Verilator build included: the build root is a fresh folder unless
``--warm``). Target: 10 minutes per tile on the 2-core machine.

Usage (from the checkout)::

    .venv/bin/python scripts/bench/verify.py [--model NAME] [--schemes dstripes,stripes,dadn] [--images N]
                                             [--jobs N] [--warm] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from dstripes.hw.design import TileDesign
from dstripes.hw.kinds import KINDS
from dstripes.sim.nets.images import load_images
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.profile import Profile, builtin_profile_path
from dstripes.tb.host.verify import verify_network

from common import machine


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vgg16-hed")
    ap.add_argument("--schemes", default=",".join(reversed(list(KINDS))), help="tile kinds (%(default)s)")
    ap.add_argument("--images", type=int, default=1)
    ap.add_argument("--layers", default="all")
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--warm", action="store_true", help="reuse the build cache (default: a cold build per tile)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    net = load_network(args.model)
    prof = Profile.load(builtin_profile_path(args.model, "100"))
    images = load_images("heldout", args.images, net.size)
    out = {"network": args.model, "images": args.images, "machine": machine(),
           "tiles": {}}
    for scheme in args.schemes.split(","):
        root = None if args.warm else tempfile.mkdtemp(prefix="dstripes-bench-verify-")
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        try:
            v = verify_network(net, prof, images, tile=TileDesign.of(scheme), simulator="verilator",
                               layers=args.layers, jobs=args.jobs, build_root=root, progress=not args.json,
                               note=lambda m: print(m, file=sys.stderr))
        finally:
            if root is not None:
                shutil.rmtree(root, ignore_errors=True)
        wall = time.perf_counter() - t
        tot = v.total().as_dict()
        out["tiles"][scheme] = {"passed": v.passed, "wall_seconds": round(wall, 1),
                                "generate_and_build_seconds": round(v.seconds.get("generate_and_build", 0.0), 1),
                                "layers": len(v.layers), "runs": tot["runs"], "cycles_rtl": tot["cycles_rtl"],
                                "cycles_model": tot["cycles_model"], "results_checked": tot["results_checked"],
                                "result_transfers": tot["result_transfers"], "mismatches": tot["mismatches"], "sim_seconds": tot["sim_seconds"],
                                "cycles_per_second": round(tot["cycles_per_second"]),
                                "load_at_start": round(load0, 1),
                                "per_layer": [{k: getattr(l, k) for k in ("name", "cycles_rtl", "wall_seconds",
                                                                          "cycles_per_second")}
                                              for l in v.layers]}
        if not args.json:
            r = out["tiles"][scheme]
            print(f"{scheme:>9}: {'PASSED' if r['passed'] else 'FAILED'} in {r['wall_seconds']:.0f} s wall "
                  f"(generation + build {r['generate_and_build_seconds']:.0f} s; load {r['load_at_start']} at start): "
                  f"{r['layers']} layers, {r['cycles_rtl']:,} RTL cycles = model, {r['results_checked']:,} results (in {r['result_transfers']:,} result transfers), "
                  f"{r['cycles_per_second']:,} cycles/s of simulation over {r['sim_seconds']:.0f} s on the workers",
                  flush=True)
    if args.json:
        print(json.dumps(out, indent=2))
    return 0 if all(t["passed"] for t in out["tiles"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
