"""Regenerate the shipped profiles of the built-in networks (``sim/data/profiles/*.json``), and
compare the levers that make a profile hold on photos it never saw.

Usage, from the checkout (networks installed with ``scripts/setup.sh --nets``)::

    .venv/bin/python scripts/make/profiles.py                          # every built-in network
    .venv/bin/python scripts/make/profiles.py --networks vgg16-hed
    .venv/bin/python scripts/make/profiles.py --levers --networks mobilenet-v2   # compare levers

Each network is profiled once for both targets ("100" and "99", searched together) on the first
``PROFILE_IMAGES[network]`` photos of the profiling split (interleaved across every photo
source) and judged on *every* photo of the held-out split, which shares none with it. The
search keeps a criterion margin (``--margin`` dB of error energy) and per-layer headroom above
the largest value seen (``--headroom``, ``auto`` by default); see :mod:`dstripes.sim.nets.profile`. Runs go to
local Dask workers (``--jobs``) or a cluster (``--scheduler``) and through the run cache, so a
second run with the same settings reruns nothing.

``--levers`` profiles each network under several combinations of headroom, margin and
augmented profiling photos, writes nothing into the package and prints, per combination and
target, the MAC-weighted mean precision (what Stripes' cycles follow) and the held-out result.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from dstripes.scripts.options import headroom_value
from dstripes.sim.nets.cluster import dask_client
from dstripes.sim.nets.images import augment, photos
from dstripes.sim.nets.models import BUILTIN, TEXT_BUILTIN, load_network
from dstripes.sim.nets.headroom import DEFAULT_HEADROOM, DEFAULT_MARGIN_DB
from dstripes.sim.nets.profile import builtin_profile_path, profile_network
from dstripes.sim.nets.texts import sentences

#: How a network's profiles are made again (recorded in each profile).
COMMAND = ".venv/bin/python scripts/make/profiles.py"

# Profiling photos per network: the search runs the network about (layers + 10) times on every
# one of them, which is what bounds these counts on a 2-core machine.
PROFILE_IMAGES = {"vgg16-hed": 24, "resnet50-imgsim": 32, "mobilenet-v2": 48, "resnet50-nsfw": 153,
                  "minilm": 48}  # minilm: sentences (of 73 in the profiling split)
# Search margins that differ from the criterion's default (headroom.DEFAULT_MARGIN_DB): open_nsfw's
# two-class softmax is steep near its decision boundary, and on 48 profiling photos with 3 dB the
# worst held-out photo came out 12 dB below the worst profiling one (43.97 dB against 50 dB).
MARGINS = {"resnet50-nsfw": 6.0}
# More room than the default "auto" headroom: on 32 profiling photos, one held-out photo drove
# 19 of the imgsim ResNet-50's 54 layers above their "auto" windows, by up to 1.95x (its cosine
# fell to 0.852); one more bit covers it.
# Applied after the search as one more integer bit at the same step (profile_network's widen):
# the profiling photos' outputs do not change, so the search's runs are reused from the cache.
WIDEN = {"resnet50-imgsim": 1}
HEADROOM: dict = {}

# (label, headroom, margin dB, augmentations) compared by --levers
LEVERS = (("max, no margin", 0.0, 0.0, ()),
          ("max, 3 dB", 0.0, 3.0, ()),
          ("auto, no margin", "auto", 0.0, ()),
          ("auto, 3 dB", "auto", 3.0, ()),
          ("+1 bit, 3 dB", 1.0, 3.0, ()),
          ("auto, 3 dB, flip", "auto", 3.0, ("flip",)),
          ("auto, 10 dB", "auto", 10.0, ()))


def profile_one(name, n, held, client, headroom, margin, aug, progress, command, widen=0):
    net = load_network(name)
    prof = samples(name, "profile")[:n]
    if aug:
        prof = prof + augment(prof, aug)
    return profile_network(net, prof, targets=("100", "99"), heldout=held, client=client,
                           headroom=headroom, margin_db=margin, progress=progress, command=command, widen=widen)


def samples(name: str, split: str) -> list:
    """The shipped photos of ``split``, or for a text network its sentences."""
    return sentences(split) if name in TEXT_BUILTIN else photos(split)


def describe(name, t, prof) -> str:
    f = prof.fidelity
    w = f["heldout_worst"]
    return (f"{name} target {t}: weighted bits {prof.search['mean_bits_mac_weighted']:.2f} "
            f"profile {f['profile']:.4f} held-out {f['heldout']:.4f} on {f['heldout_images']} "
            f"({'pass' if f['heldout_pass'] else 'FAIL'}; worst {w['photo']} {w['value']:.4g}, "
            f"{f['heldout_saturated_layers']} layers saturate, up to {f['heldout_saturation_max']:.2f}x)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    p.add_argument("--networks", nargs="+", default=list(BUILTIN + TEXT_BUILTIN), choices=BUILTIN + TEXT_BUILTIN)
    p.add_argument("--images", type=int, default=None, help="profiling photos (default: PROFILE_IMAGES)")
    p.add_argument("--heldout", type=int, default=None, help="held-out photos (default: all)")
    p.add_argument("--headroom", type=headroom_value, default=None,
                   help=f"bits, 'auto' or 'auto+BITS' (default {DEFAULT_HEADROOM!r}, HEADROOM per network)")
    p.add_argument("--margin", type=float, default=None,
                   help=f"criterion margin, dB (default per criterion: {DEFAULT_MARGIN_DB})")
    p.add_argument("--augment", nargs="*", default=[], help="augment the profiling photos (flip zoom shift)")
    p.add_argument("--levers", action="store_true", help="compare the levers; write nothing")
    p.add_argument("--jobs", type=int, default=None, help="local Dask workers (default: CPU count)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address")
    p.add_argument("--json", default=None, metavar="FILE", help="with --levers: write the table as JSON")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    args = p.parse_args(argv)
    table = []
    with dask_client(args.scheduler, args.jobs) as client:
        for name in args.networks:
            held_all = samples(name, "heldout")
            held = held_all[:args.heldout] if args.heldout else held_all
            n = args.images or PROFILE_IMAGES[name]
            margin = args.margin if args.margin is not None else MARGINS.get(name)
            room = args.headroom if args.headroom is not None else HEADROOM.get(name, DEFAULT_HEADROOM)
            combos = LEVERS if args.levers else (("chosen", room, margin, tuple(args.augment)),)
            for label, headroom, margin, aug in combos:
                t0 = time.time()
                cmd = f"{COMMAND} --networks {name}"
                profiles = profile_one(name, n, held, client, headroom, margin, aug, args.progress, cmd,
                                       0 if args.levers else WIDEN.get(name, 0))
                for t, prof in profiles.items():
                    print(f"[{label}] " + describe(name, t, prof), flush=True)
                    table.append({"network": name, "levers": label, "headroom": headroom, "margin_db": margin,
                                  "augment": list(aug), "target": t, "profile_images": prof.fidelity["profile_images"],
                                  "weighted_bits": prof.search["mean_bits_mac_weighted"],
                                  "bits": [l.bits for l in prof.layers], "fidelity": prof.fidelity,
                                  "seconds": round(time.time() - t0, 1)})
                    if not args.levers:
                        path = builtin_profile_path(name, t)
                        os.makedirs(os.path.dirname(path), exist_ok=True)
                        prof.save(path)
                        print(f"  -> {path}", flush=True)
                print(f"{name} [{label}]: {time.time() - t0:.0f} s", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
