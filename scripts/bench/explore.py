"""Time ``dstripes explore`` cold (empty synthesis and model cache) and warm (the same sweep again).

Usage (from the checkout)::

    .venv/bin/python scripts/bench/explore.py                 # VGG-16 (HED), 4 photos, G=1,4,16 x R=0,1,2
    .venv/bin/python scripts/bench/explore.py --sweep group=1,4 run_ahead=0,1 --json
    .venv/bin/python scripts/bench/explore.py --cache build/synth --warm-only

Budgets (on this project's 2-core machine): a 9-point sweep of VGG-16 on 4 photos in at most
15 minutes with a cold cache and 2 minutes warm. The cold run uses a fresh cache folder (so
nothing earlier helps it) unless ``--cache`` names one; the warm run repeats the sweep on the
cache the cold run filled. Other load on the machine counts against the budgets: the load
average is printed with the figures, and the CPU seconds of the emission and synthesis tasks
(yosys and ABC included), which do not depend on the load.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from dstripes.synth.explore import explore, parse_sweep

COLD_BUDGET_S = 15 * 60.0
WARM_BUDGET_S = 120.0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="vgg16-hed")
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--sweep", nargs="+", default=["group=1,4,16", "run_ahead=0,1,2"])
    p.add_argument("--jobs", type=int, default=None, help="local Dask workers (default: CPUs)")
    p.add_argument("--cache", default=None, help="cache folder (default: a fresh temporary one)")
    p.add_argument("--warm-only", action="store_true", help="only the warm run (needs a filled --cache)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    sweep = parse_sweep(args.sweep)
    tmp = tempfile.TemporaryDirectory(prefix="bench-explore-") if args.cache is None else None
    cache = args.cache or tmp.name
    runs = {}
    load = {}
    try:
        for name in (["warm"] if args.warm_only else ["cold", "warm"]):
            load[name] = os.getloadavg()
            t0 = time.perf_counter()
            res = explore(args.model, sweep, images=args.images, jobs=args.jobs, cache_root=cache,
                          progress=False).as_dict()
            runs[name] = {"seconds": time.perf_counter() - t0, "phases": res["seconds"], "blocks": res["blocks"],
                          "task_cpu_seconds": res["cpu_seconds"],
                          "points": len(res["points"]), "load_before": load[name],
                          "load_after": os.getloadavg()}
    finally:
        if tmp is not None:
            tmp.cleanup()
    budgets = {"cold": COLD_BUDGET_S, "warm": WARM_BUDGET_S}
    ok = all(r["seconds"] <= budgets[n] for n, r in runs.items())
    if args.json:
        print(json.dumps({"model": args.model, "images": args.images, "sweep": sweep.as_dict(), "cpus": os.cpu_count(),
                          "runs": runs, "budgets": budgets, "ok": ok}, indent=2))
    else:
        print(f"sweep               {' '.join(args.sweep)} on {args.model}, {args.images} photos")
        for name, r in runs.items():
            b = r["blocks"]
            print(f"{name:<6} {r['seconds']:8.1f} s  (budget {budgets[name]:.0f} s: "
                  f"{'OK' if r['seconds'] <= budgets[name] else 'OVER'}); {r['points']} points, "
                  f"{b['distinct']} distinct blocks, {b['synthesised']} synthesised; phases {r['phases']}; "
                  f"CPU of the emission and synthesis tasks {r['task_cpu_seconds']}")
            print(f"       load average before {' '.join(f'{x:.1f}' for x in r['load_before'])}, "
                  f"after {' '.join(f'{x:.1f}' for x in r['load_after'])}")
        print(f"cpus {os.cpu_count()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
