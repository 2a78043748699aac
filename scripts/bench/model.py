"""Benchmark of the golden model (not a test): all 13 conv layers of a VGG-16-shaped network at
224x224, one input of ReLU-like 8-bit data, every scheme and bound.

Target (issue "golden model"): <= 0.25 s wall and <= 1 GB peak memory for the model itself on a
2-core machine. Data generation is excluded from the timing; peak memory is the process's
maximum resident set size after the run (it includes the interpreter and numpy, ~30-40 MB).

Usage (from the checkout)::

    .venv/bin/python scripts/bench/model.py [--repeat N] [--trim leading|both] [--group G] [--json]
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from dstripes.sim.config import TileConfig
from dstripes.sim.cycles import NetworkCycles, layer_cycles
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer

from common import description, machine

VGG16 = [  # (name, C, H, K)
    ("conv1_1", 3, 224, 64), ("conv1_2", 64, 224, 64),
    ("conv2_1", 64, 112, 128), ("conv2_2", 128, 112, 128),
    ("conv3_1", 128, 56, 256), ("conv3_2", 256, 56, 256), ("conv3_3", 256, 56, 256),
    ("conv4_1", 256, 28, 512), ("conv4_2", 512, 28, 512), ("conv4_3", 512, 28, 512),
    ("conv5_1", 512, 14, 512), ("conv5_2", 512, 14, 512), ("conv5_3", 512, 14, 512),
]


def relu_like(rng, shape, bits=8):
    """Half zeros; the rest geometric-ish magnitudes filling an unsigned ``bits``-bit window."""
    mag = rng.exponential(scale=(1 << bits) / 12, size=shape)
    codes = np.minimum(np.rint(mag), (1 << bits) - 1).astype(np.int64)
    return np.where(rng.random(shape) < 0.5, 0, codes)


def main(argv=None):
    ap = argparse.ArgumentParser(description=description(__doc__))
    ap.add_argument("--repeat", type=int, default=7, help="timed runs; the best is reported (%(default)s)")
    ap.add_argument("--trim", choices=("leading", "both"), default="leading")
    ap.add_argument("--group", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    layers = [Layer(c, h, h, k, 3, 3, 1, 1, 1, 1, name=n) for n, c, h, k in VGG16]
    acts = [relu_like(rng, (l.c, l.h, l.w)) for l in layers]
    window = Window(7, 0)
    cfg = TileConfig(trim=args.trim, group=args.group)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        net = NetworkCycles("vgg16-shaped", [layer_cycles(a, l, window, cfg, name=l.name)
                                             for a, l in zip(acts, layers)])
        times.append(time.perf_counter() - t0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tot = net.total()
    out = {
        "machine": f"{machine()}, numpy {np.__version__}",
        "config": {"trim": args.trim, "group": args.group},
        "seconds_best": min(times), "seconds_median": float(np.median(times)),
        "peak_rss_mb": peak_mb,
        "cycles": {k: (float(v) if k == "ideal" else int(v)) for k, v in tot.items()},
        "speedup": net.as_dict()["speedup"],
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"VGG-16 shaped, 13 conv layers, 224x224, one ReLU-like 8-bit input ({out['machine']})")
        print(f"  model time: best {out['seconds_best']:.3f} s, median {out['seconds_median']:.3f} s "
              f"over {args.repeat} runs (target <= 0.25 s)")
        print(f"  peak memory (max RSS of the process): {peak_mb:.0f} MB (target <= 1024 MB)")
        for k, v in out["cycles"].items():
            print(f"  {k:>10}: {v:,.0f} cycles")
        s = out["speedup"]
        print(f"  Stripes x{s['stripes_over_dadn']:.2f} over DaDN, Dynamic Stripes x{s['dstripes_over_dadn']:.2f} "
              f"over DaDN, x{s['dstripes_over_stripes']:.2f} over Stripes")


if __name__ == "__main__":
    main()
