"""Regenerate the bundled real-activation samples (``sim/data/samples.npz`` + ``samples.json``).

Usage, from the checkout (networks installed with ``scripts/setup.sh --nets``, shipped profiles
present)::

    .venv/bin/python scripts/make/samples.py

What it takes (two photos of the held-out split, ``skimage.coffee`` and ``skimage.rocket``,
resized and centre-cropped to 64x64 so every layer stays small):

=====================  ===========================  =========================================
sample                 layer                        kept
=====================  ===========================  =========================================
``vgg16_conv1_2``      VGG-16 (HED) conv1_2          centre 16x16 of the 64x64 input, 32 of
                                                    64 filters
``vgg16_conv3_1``      VGG-16 (HED) conv3_1          whole 16x16 input, 32 of 256 filters
``vgg16_conv5_1``      VGG-16 (HED) conv5_1          whole 4x4 input, 16 of 512 filters
``mobilenet_v2_dw``    MobileNet-v2 features.3       whole 16x16 input, all 144 channels
                       depthwise 3x3 (144 ch, s1)   (depthwise: one filter per channel)
=====================  ===========================  =========================================

Activations are quantised with the network's shipped "100" profile; weights (BN folded where
the network has BN) become 16-bit codes with scale ``2**(ceil(log2 max|w|) - 15)``.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from dstripes.sim.fixed import weight_codes
from dstripes.sim.layer import Layer
from dstripes.sim.nets.dump import WEIGHT_BITS
from dstripes.sim.nets.images import photos as split_photos
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.profile import Profile, builtin_profile_path
from dstripes.sim.samples import ARRAYS, FORMAT, INDEX

#: How the samples are made again (recorded in the index).
COMMAND = ".venv/bin/python scripts/make/samples.py"

SIZE = 64
PHOTOS = ("skimage.coffee", "skimage.rocket")

# sample name: (network, layer, spatial crop (y0, y1, x0, x1) or None, filters kept)
SAMPLES = {
    "vgg16_conv1_2": ("vgg16-hed", "conv1_2", (24, 40, 24, 40), 32),
    "vgg16_conv3_1": ("vgg16-hed", "conv3_1", None, 32),
    "vgg16_conv5_1": ("vgg16-hed", "conv5_1", None, 16),
    "mobilenet_v2_dw": ("mobilenet-v2", "features.3.conv.1.0", None, None),
}


def main() -> int:
    held = {p.name: p for p in split_photos("heldout")}
    images = [held[n].read() for n in PHOTOS]
    arrays, index = {}, {}
    nets = {}
    for name, (network, lname, crop, keep) in SAMPLES.items():
        if network not in nets:
            net = load_network(network, size=SIZE)
            run = net.forward(net.prepare(images), capture=True)
            nets[network] = (net, run.acts, Profile.load(builtin_profile_path(network, "100")))
        net, acts, prof = nets[network]
        full = next(l for l in net.layers() if l.name == lname)
        lp = prof.layer(lname)
        x = acts[lname]
        if crop:
            y0, y1, x0, x1 = crop
            x = x[:, :, y0:y1, x0:x1]
        codes = lp.quant.codes(x)
        w = net.weights(lname)
        k = keep or full.k
        if full.conv_groups > 1:
            k = full.k  # a depthwise layer needs every channel's filter
        wq, wscale = weight_codes(w[:k], WEIGHT_BITS)
        layer = Layer(full.c, x.shape[2], x.shape[3], k, full.kh, full.kw, full.sy, full.sx,
                      full.py, full.px, conv_groups=full.conv_groups)
        window = lp.window
        window.check(codes, 16)
        shifted = codes >> window.lsb
        arrays[f"{name}.acts"] = shifted.astype(np.int16 if window.signed else np.uint16)
        arrays[f"{name}.weights"] = wq.astype(np.int16)
        index[name] = {
            "network": network, "source_layer": lname, "description": full.describe(),
            "photos": list(PHOTOS), "image_size": SIZE,
            "crop": list(crop) if crop else None, "filters": f"{k} of {full.k}",
            "layer": {f: getattr(layer, f) for f in ("c", "h", "w", "k", "kh", "kw", "sy", "sx", "py", "px", "conv_groups")},
            "window": {"msb": window.msb, "lsb": window.lsb, "signed": window.signed},
            "act_scale": lp.scale, "weight_scale": wscale, "weight_bits": WEIGHT_BITS,
            "zero_fraction": float((codes == 0).mean()),
        }
        print(f"{name}: acts {codes.shape} window [{window.msb}:{window.lsb}]{' signed' if window.signed else ''}, "
              f"weights {wq.shape}, zeros {index[name]['zero_fraction']:.2f}")
    np.savez_compressed(ARRAYS, **arrays)
    with open(INDEX, "w") as f:
        json.dump({"format": FORMAT, "command": COMMAND, "samples": index}, f, indent=1)
        f.write("\n")
    print(f"wrote {ARRAYS} ({os.path.getsize(ARRAYS) / 1024:.0f} KB) and {INDEX}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
