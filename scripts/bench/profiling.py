"""Time profiling a real network on many photos on local Dask workers, with the run cache cold
and warm, and print the figures.

Usage (from the checkout)::

    .venv/bin/python scripts/bench/profiling.py                       # VGG-16 (HED), 64 photos, 224x224
    .venv/bin/python scripts/bench/profiling.py --model mobilenet-v2 --images 32 --jobs 2

(``profiling``, not ``profile``: a script's folder comes first on the import path, and a
``profile.py`` there would stand in for the standard library's, which cProfile imports).

Cold: a fresh, empty cache file: every capture and quantised run is computed. Warm: the same
search again on the same cache file: every run is read back (nothing is recaptured). The held-out
check is left out (it is the same cost on both sides). Other load on the machine counts against
the figures: the load average is printed with them.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

from dstripes.sim.nets.cache import RunCache
from dstripes.sim.nets.cluster import dask_client
from dstripes.sim.nets.images import take
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.profile import profile_network

from common import network_parser


def main(argv=None) -> int:
    p = network_parser(__doc__, images=64, jobs="local Dask workers (default: CPU count)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    t0 = time.time()
    net = load_network(args.model, size=args.size)
    net.layers()
    t_load = time.time() - t0
    photos = take("profile", args.images)
    res = {"model": args.model, "images": args.images, "size": args.size, "load_s": round(t_load, 1)}
    with tempfile.TemporaryDirectory() as tmp, dask_client(jobs=args.jobs) as client:
        res["workers"] = len(client.scheduler_info()["workers"])
        path = os.path.join(tmp, "runs.sqlite")
        for label in ("cold", "warm"):
            cache = RunCache(path)
            t = time.time()
            out = profile_network(net, photos, targets=("100", "99"), client=client, cache=cache, progress=False)
            res[f"{label}_s"] = round(time.time() - t, 1)
            res[f"{label}_computed"] = cache.misses
            res[f"{label}_from_cache"] = cache.hits
            res["runs"] = out["100"].fidelity["runs"]
            res["bits"] = [l.bits for l in out["100"].layers]
            cache.close()
    res["cpus"] = os.cpu_count()
    res["load_average"] = [round(x, 1) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"model              {args.model}, {args.size}x{args.size}, {args.images} profiling photos, "
          f"targets 100 and 99, {res['workers']} local Dask workers")
    print(f"load network       {t_load:6.1f} s")
    print(f"profile, cold      {res['cold_s']:6.1f} s  ({res['cold_computed']} photo runs computed, "
          f"{res['runs']} network runs per photo set)")
    print(f"profile, warm      {res['warm_s']:6.1f} s  ({res['warm_from_cache']} photo runs from the cache, "
          f"{res['warm_computed']} computed)")
    print(f"cold / warm        {res['cold_s'] / max(res['warm_s'], 1e-3):6.1f} x")
    print(f"cpus {res['cpus']}, load average {' '.join(str(x) for x in res['load_average'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
