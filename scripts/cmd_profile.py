"""``dstripes profile``: per-layer activation precision profile of a real network."""
from __future__ import annotations

import os
import shlex
import sys

from dstripes.sim.errors import ConfigError

from .options import check_out_file, print_json
from .table import render


#: Each built-in network's own preprocessing and fidelity criterion (for ``--help``).
_OWN = "vgg16-hed: hed, psnr; resnet50-imgsim: imagenet, cosine; mobilenet-v2: imagenet, top1; " \
       "resnet50-nsfw: caffe, psnr"


def add_network_options(p, many: bool = False) -> None:
    """``--model --size --preprocess --criterion --engine --image-dir --no-progress``."""
    from dstripes.sim.nets.fidelity import CRITERIA
    from dstripes.sim.nets.images import PREPROCESS

    builtins = "vgg16-hed, resnet50-imgsim, mobilenet-v2, resnet50-nsfw"
    if many:
        p.add_argument("--model", required=True, nargs="+", metavar="NAME|PATH.onnx",
                       help=f"{builtins}, ONNX files, or 'all' for every built-in network")
    else:
        p.add_argument("--model", required=True, metavar="NAME|PATH.onnx", help=f"{builtins}, or an ONNX file")
    p.add_argument("--size", type=int, default=None, metavar="PIXELS",
                   help="input height and width (default 224; an ONNX model that fixes its input "
                        "size runs at that size, and another --size is an error)")
    p.add_argument("--preprocess", default=None, choices=tuple(PREPROCESS), metavar="NAME",
                   help="input normalisation: " + "; ".join(f"{k}: {v}" for k, v in PREPROCESS.items())
                        + f". Default: the network's own ({_OWN}); ONNX files: imagenet")
    p.add_argument("--criterion", default=None, choices=CRITERIA,
                   help="output fidelity criterion: top1 (same top-1 class as the float network), "
                        "cosine (cosine similarity of the outputs), psnr (PSNR of outputs in 0..1). "
                        f"Default: the network's own ({_OWN}); ONNX files: top1 for a 1000- or "
                        "1001-class output, cosine otherwise")
    p.add_argument("--engine", default="onnx", choices=("onnx", "torch"),
                   help="how the PyTorch built-ins run: onnx exports them to ONNX and runs them on "
                        "onnxruntime (fast, the default); torch runs them eagerly in PyTorch with "
                        "forward hooks. ONNX models always run on onnxruntime")
    p.add_argument("--image-dir", default=None, metavar="DIR",
                   help="your own photos from DIR instead of the shipped ones (every .jpg, .png, "
                        "... in name order)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def load(args):
    from dstripes.sim.nets.models import load_network
    return load_network(args.model, size=args.size, preprocess=args.preprocess,
                        criterion=args.criterion, engine=args.engine)


def check_counts(args, **counts) -> None:
    """Up front, before any network is loaded: each ``--option N`` of ``counts`` (option ->
    (N, split, minimum)) is at least its minimum and at most the photos there are."""
    from dstripes.sim.nets.images import IMAGE_SUFFIXES, image_names

    for opt, (n, split, least) in counts.items():
        if n < least:
            raise ConfigError(f"--{opt} must be {'positive' if least else 'non-negative'}, not {n}")
        if not n:
            continue
        if args.image_dir:
            if not os.path.isdir(args.image_dir):
                raise ConfigError(f"image folder not found: {args.image_dir}")
            # the files load_image_dir reads
            have = sum(f.lower().endswith(IMAGE_SUFFIXES) for f in os.listdir(args.image_dir))
            where = f"image folder {args.image_dir}"
        else:
            have, where = len(image_names(split)), f"the {split} split"
        if n > have:
            raise ConfigError(f"{n} images requested but {where} has only {have} (--{opt})")


def register(sub) -> None:
    p = sub.add_parser("profile", help="per-layer activation precision profile of a real network",
                       description="Stripes-style profile: for each layer, the smallest window of "
                                   "activation bits that keeps the network output faithful to the "
                                   "float network on profiling photos; fidelity is then reported on "
                                   "held-out photos.")
    add_network_options(p)
    p.add_argument("--images", type=int, default=16, help="profiling photos (%(default)s)")
    p.add_argument("--heldout", type=int, default=16,
                   help="held-out photos for the fidelity report (%(default)s; 0: none)")
    p.add_argument("--target", default="100", choices=("100", "99"), help=TARGET_HELP)
    p.add_argument("--act-bits", type=int, default=16, help="activation container width A (%(default)s)")
    p.add_argument("--out", required=True, metavar="PROFILE.json", help="profile file to write")
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    p.set_defaults(func=run)


#: ``--target`` of profile and evaluate (the thresholds of sim/nets/fidelity.py).
TARGET_HELP = ("fidelity target, after the papers' 100 %% / 99 %% accuracy: 100 keeps every photo's "
               "top-1 class (cosine >= 0.999, PSNR >= 50 dB), 99 allows 1 %% of photos to differ "
               "(cosine >= 0.99, PSNR >= 40 dB) (default %(default)s)")


def photos(args, count: int, split: str):
    """``count`` photos of a split of the shipped photos, or of the user's ``--image-dir``."""
    from dstripes.sim.nets.images import load_image_dir, load_images
    if args.image_dir:
        return load_image_dir(args.image_dir, count)
    return load_images(split, count)


def run(args) -> int:
    from dstripes.sim.nets.models import check_model
    from dstripes.sim.nets.profile import profile_network

    # every input checked before the network loads and the minutes of profiling
    check_model(args.model, args.engine)
    out = check_out_file(args.out, "--out")
    if not 2 <= args.act_bits <= 32:
        raise ConfigError(f"--act-bits must be between 2 and 32, not {args.act_bits}")
    if args.heldout < 0:
        raise ConfigError(f"--heldout must be non-negative, not {args.heldout}")
    check_counts(args, images=(args.images, "profile", 1),
                 heldout=(0 if args.image_dir else args.heldout, "heldout", 0))
    net = load(args)
    images = photos(args, args.images, "profile")
    # a user's folder has no held-out split: its photos are all used for profiling
    held = photos(args, args.heldout, "heldout") if args.heldout and not args.image_dir else []
    command = "dstripes " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["profile"] else ""
    prof = profile_network(net, images, targets=(args.target,), heldout=held, act_bits=args.act_bits,
                           progress=not args.no_progress, command=command)[args.target]
    try:
        prof.save(str(out))
    except OSError as e:
        raise ConfigError(f"cannot write profile {args.out} ({e.strerror})") from None
    if args.json:
        print_json(prof.as_dict())
        return 0
    rows = [[l.name, "signed" if l.signed else "", l.msb, l.lsb, l.bits, l.solo_bits, f"{l.max:.4g}",
             f"{l.scale:.4g}"] for l in prof.layers]
    print(render(["layer", "sign", "msb", "lsb", "p", "alone", "max", "scale"], rows,
                 title=f"{net.name}: profile target {prof.target} ({prof.criterion} >= {prof.threshold})"))
    f = prof.fidelity
    line = f"fidelity ({f['unit']}): {f['profile']:.4g} on {f['profile_images']} profiling photos"
    if "heldout" in f:
        line += (f", {f['heldout']:.4g} on {f['heldout_images']} held-out photos "
                 f"({'meets' if f['heldout_pass'] else 'misses'} the target)")
    print(line)
    print(f"wrote {args.out}")
    return 0
