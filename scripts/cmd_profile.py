"""``dstripes profile``: per-layer activation precision profile of a real network."""
from __future__ import annotations

import shlex
import sys

from dstripes.sim.errors import ConfigError

from .options import print_json
from .table import render


def add_network_options(p, many: bool = False) -> None:
    """``--model --size --preprocess --criterion --engine --image-dir --no-progress``."""
    if many:
        p.add_argument("--model", required=True, nargs="+", metavar="NAME|PATH.onnx",
                       help="vgg16-hed, resnet50-imgsim, mobilenet-v2, resnet50-nsfw, ONNX files, "
                            "or 'all' for every built-in network")
    else:
        p.add_argument("--model", required=True, metavar="NAME|PATH.onnx",
                       help="vgg16-hed, resnet50-imgsim, mobilenet-v2, resnet50-nsfw, or an ONNX file")
    p.add_argument("--size", type=int, default=224, help="input height and width (%(default)s)")
    p.add_argument("--preprocess", default=None,
                   help="input normalisation: imagenet, caffe, hed, unit, symmetric "
                        "(default: the network's own; ONNX files: imagenet)")
    p.add_argument("--criterion", default=None, choices=("top1", "cosine", "psnr"),
                   help="output fidelity criterion (default: the network's own)")
    p.add_argument("--engine", default="onnx", choices=("onnx", "torch"),
                   help="run PyTorch built-ins exported to onnxruntime (fast) or eagerly with hooks (%(default)s)")
    p.add_argument("--image-dir", default=None, metavar="DIR", help="use your own photos from DIR")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def load(args):
    from dstripes.sim.nets.models import load_network
    return load_network(args.model, size=args.size, preprocess=args.preprocess,
                        criterion=args.criterion, engine=args.engine)


def register(sub) -> None:
    p = sub.add_parser("profile", help="per-layer activation precision profile of a real network",
                       description="Stripes-style profile: for each layer, the smallest window of "
                                   "activation bits that keeps the network output faithful to the "
                                   "float network on profiling photos; fidelity is then reported on "
                                   "held-out photos.")
    add_network_options(p)
    p.add_argument("--images", type=int, default=16, help="profiling photos (%(default)s)")
    p.add_argument("--heldout", type=int, default=16, help="held-out photos for the fidelity report (%(default)s)")
    p.add_argument("--target", default="100", choices=("100", "99"),
                   help="100: strict fidelity, 99: the looser threshold (%(default)s)")
    p.add_argument("--act-bits", type=int, default=16, help="activation container width A (%(default)s)")
    p.add_argument("--out", required=True, metavar="PROFILE.json", help="profile file to write")
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    p.set_defaults(func=run)


def photos(args, count: int, split: str):
    """``count`` photos of a split of the shipped photos, or of the user's ``--image-dir``."""
    from dstripes.sim.nets.images import load_image_dir, load_images
    if args.image_dir:
        return load_image_dir(args.image_dir, count)
    return load_images(split, count)


def run(args) -> int:
    from dstripes.sim.nets.profile import profile_network
    for opt in ("images", "heldout"):
        v = getattr(args, opt)
        if v < (1 if opt == "images" else 0):
            raise ConfigError(f"--{opt} must be {'positive' if opt == 'images' else 'non-negative'}, not {v}")
    net = load(args)
    images = photos(args, args.images, "profile")
    # a user's folder has no held-out split: its photos are all used for profiling
    held = photos(args, args.heldout, "heldout") if args.heldout and not args.image_dir else []
    command = "dstripes " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["profile"] else ""
    prof = profile_network(net, images, targets=(args.target,), heldout=held, act_bits=args.act_bits,
                           progress=not args.no_progress, command=command)[args.target]
    try:
        prof.save(args.out)
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
