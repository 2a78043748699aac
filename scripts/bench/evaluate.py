"""Time an end-to-end network evaluation (load, capture, every scheme) and print the figures.

Usage (from the checkout)::

    .venv/bin/python scripts/bench/evaluate.py                      # VGG-16 (HED), 16 photos, 224x224
    .venv/bin/python scripts/bench/evaluate.py --model mobilenet-v2 --images 8

The budget is 2 minutes for VGG-16 (HED) on 16 photos at 224x224 on a 2-core machine. Other
load on the machine counts against it: the load average is printed with the figures.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time

from dstripes.sim.config import TileConfig
from dstripes.sim.nets.cluster import dask_client
from dstripes.sim.nets.evaluate import evaluate_network
from dstripes.sim.nets.fidelity import TARGETS
from dstripes.sim.nets.images import load_images
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.profile import Profile, builtin_profile_path

from common import load_average, network_parser

BUDGET_S = 120.0


def main(argv=None) -> int:
    p = network_parser(__doc__, images=16, jobs="local Dask workers (default: CPU count; 0: in this process)")
    p.add_argument("--target", default=TARGETS[0], choices=TARGETS)
    args = p.parse_args(argv)
    t0 = time.time()
    net = load_network(args.model, size=args.size)
    layers = net.layers()
    t_load = time.time() - t0
    images = load_images("heldout", args.images, net.size)
    t_images = time.time() - t0 - t_load
    prof = Profile.load(builtin_profile_path(args.model, args.target))
    with (contextlib.nullcontext() if args.jobs == 0 else dask_client(jobs=args.jobs)) as client:
        ev = evaluate_network(net, prof, images, TileConfig(), client=client, progress=False)
    total = time.time() - t0
    s = ev.speedups()
    macs = sum(l.macs for l in layers) * len(images)
    print(f"model               {args.model}, {len(layers)} layers, {args.size}x{args.size}, {len(images)} photos")
    print(f"configurations      {', '.join(ev.keys)} (+ DaDN, Stripes, ideal, Pragmatic-style)")
    print(f"load network        {t_load:6.1f} s")
    print(f"load photos         {t_images:6.1f} s")
    print(f"evaluate (total)    {ev.seconds['total']:6.1f} s  ({len(images) / ev.seconds['total']:.2f} photos/s, "
          f"{macs / ev.seconds['total'] / 1e9:.1f} GMAC/s of layers counted)")
    print(f"end to end          {total:6.1f} s  (budget {BUDGET_S:.0f} s: {'OK' if total <= BUDGET_S else 'OVER'})")
    print(f"cpus {os.cpu_count()}, load average {load_average()}")
    print(f"speedups            Stripes {s['stripes_over_dadn']:.2f}x, Dynamic Stripes {s['dstripes_over_dadn']:.2f}x "
          f"over DaDN ({s['dstripes_over_stripes']:.2f}x over Stripes)")
    return 0 if total <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
