"""Regenerate the shipped profiles of the built-in networks (``sim/data/profiles/*.json``).

Usage (from the repository root, networks installed with ``scripts/setup.sh --nets``)::

    .venv/bin/python -m sim.nets.make_profiles                     # every built-in network
    .venv/bin/python -m sim.nets.make_profiles --networks vgg16-hed

Each network is profiled once for both targets ("100" and "99", searched together) on the
first ``PROFILE_IMAGES[network]`` photos of the profiling split and checked on the first
``--heldout`` photos of the held-out split. MobileNet-v2 gets more profiling photos because
top-1 agreement on a handful of photos is a weak test and the network is cheap to run;
VGG-16 and the imgsim ResNet-50 get fewer because each run of them costs the most.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from .images import load_images
from .models import BUILTIN, load_network
from .profile import builtin_profile_path, profile_network

# Profiling photos per network. Each search step runs the whole network on all of them (a few
# hundred runs per network), which is what bounds these counts on a 2-core machine; the
# held-out fidelity stored in each profile shows how well the result carries over.
PROFILE_IMAGES = {"vgg16-hed": 4, "resnet50-imgsim": 4, "mobilenet-v2": 32, "resnet50-nsfw": 16}
HELDOUT_IMAGES = 16


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dstripes.sim.nets.make_profiles", description=__doc__.splitlines()[0])
    p.add_argument("--networks", nargs="+", default=list(BUILTIN), choices=BUILTIN)
    p.add_argument("--heldout", type=int, default=HELDOUT_IMAGES, help="held-out photos (%(default)s)")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    args = p.parse_args(argv)
    for name in args.networks:
        t0 = time.time()
        net = load_network(name)
        n = PROFILE_IMAGES[name]
        cmd = f"python -m sim.nets.make_profiles --networks {name}"
        profiles = profile_network(net, load_images("profile", n), targets=("100", "99"),
                                   heldout=load_images("heldout", args.heldout), progress=args.progress,
                                   command=cmd)
        for t, prof in profiles.items():
            path = builtin_profile_path(name, t)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            prof.save(path)
            f = prof.fidelity
            print(f"{name} target {t}: bits {[l.bits for l in prof.layers]} "
                  f"fidelity profile {f['profile']:.4f} held-out {f.get('heldout', float('nan')):.4f} "
                  f"({'pass' if f.get('heldout_pass') else 'FAIL'}) -> {path}", flush=True)
        print(f"{name}: {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
