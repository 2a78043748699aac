"""``dstripes profile``: per-layer activation precision profile of a real network."""
from __future__ import annotations

import shlex
import sys

from dstripes.sim.errors import ConfigError

from .options import check_out_file, print_json
from dstripes.sim.table import render


#: Each built-in network's own preprocessing and fidelity criterion (for ``--help``).
_OWN = "vgg16-hed: hed, psnr; resnet50-imgsim: imagenet, cosine; mobilenet-v2: imagenet, top1; " \
       "resnet50-nsfw: caffe, psnr"


def add_network_options(p, many: bool = False) -> None:
    """``--model --size --preprocess --criterion --engine --image-dir --labels --jobs --scheduler
    --no-progress``."""
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
                   help="your own photos from DIR instead of the shipped ones (every .jpg, .png, ...): "
                        "even-numbered files (in name order) profile, odd-numbered ones are held out")
    p.add_argument("--labels", default=None, metavar="FILE",
                   help="ImageNet class of photos, one 'NAME CLASS' per line: top-1 accuracy is "
                        "reported beside the agreement (the shipped photos carry no labels)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="local Dask worker processes (default: CPU count)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a Dask cluster (tcp://host:8786) instead of local workers")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_search_options(p) -> None:
    """``--headroom --margin --augment`` of the profile search."""
    from dstripes.sim.nets.profile import DEFAULT_HEADROOM, DEFAULT_MARGIN_DB
    p.add_argument("--headroom", default=DEFAULT_HEADROOM, metavar="BITS|auto[+BITS]",
                   help="room above the largest activation seen while profiling: a number of bits, "
                        "'auto' per layer from the spread across photos, or 'auto+BITS' (%(default)s)")
    p.add_argument("--margin", type=float, default=None, metavar="DB",
                   help="the search keeps this much error energy below the target (default per criterion: "
                        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_MARGIN_DB.items()) + " dB)"),
    p.add_argument("--augment", nargs="*", default=[], metavar="KIND",
                   help="add augmented copies of the profiling photos: flip, zoom, shift")


def load(args):
    from dstripes.sim.nets.models import load_network
    return load_network(args.model, size=args.size, preprocess=args.preprocess,
                        criterion=args.criterion, engine=args.engine)


def headroom(args):
    if args.headroom.startswith("auto"):
        from dstripes.sim.nets.profile import headroom_bits
        import numpy as np
        headroom_bits(np.ones((2, 1)), args.headroom)  # checks the form
        return args.headroom
    try:
        return float(args.headroom)
    except ValueError:
        raise ConfigError(f"--headroom must be a number of bits or 'auto', not {args.headroom!r}") from None


def photo_sets(args, profile: int, heldout: int) -> tuple[list, list]:
    """Disjoint profiling and held-out photos, counts checked before anything is read: the
    shipped splits, or the two halves of the user's ``--image-dir``."""
    from dstripes.sim.nets.images import augment, check_readable, photos_in_dir, split_photos, take
    if profile < 0 or heldout < 0:
        raise ConfigError(f"photo counts must not be negative ({profile}, {heldout})")
    if args.image_dir:
        where = f"image folder {args.image_dir}"
        ps = check_readable(photos_in_dir(args.image_dir), where)
        prof, held = split_photos(ps, profile, heldout, where)
    else:
        prof = take("profile", profile) if profile else []
        held = take("heldout", heldout) if heldout else []
    if profile and getattr(args, "augment", None):
        prof = prof + augment(prof, args.augment)
    return prof, held


def read_labels(path: str | None) -> dict | None:
    """``NAME CLASS`` lines (``#`` comments) -> ``{name: class}``."""
    if not path:
        return None
    out = {}
    try:
        with open(path) as f:
            for i, line in enumerate(f, 1):
                line = line.split("#")[0].strip()
                if not line:
                    continue
                parts = line.replace(",", " ").split()
                if len(parts) != 2 or not parts[1].isdigit():
                    raise ConfigError(f"labels file {path} line {i}: expected 'NAME CLASS', not {line!r}")
                out[parts[0]] = int(parts[1])
    except OSError as e:
        raise ConfigError(f"cannot read labels file {path} ({e.strerror})") from None
    return out


def client_for(args):
    from dstripes.sim.nets.cluster import dask_client
    return dask_client(args.scheduler, args.jobs)


def fidelity_line(prof) -> str:
    """Criterion, fidelity on profiling and held-out photos, the worst held-out photo."""
    f = prof.fidelity
    line = (f"{prof.network} target {prof.target} ({prof.criterion} >= {prof.threshold:g}): "
            f"{f['unit']} {f['profile']:.4g} on {f['profile_images']} profiling photos")
    if "heldout" in f:
        w = f.get("heldout_worst", {})
        line += (f", {f['heldout']:.4g} on {f['heldout_images']} held-out photos "
                 f"({'meets' if f['heldout_pass'] else 'MISSES'} the target"
                 + (f"; worst {w['photo']}: {w['measure']} {w['value']:.4g}" if w else "") + ")")
    else:
        line += ", no held-out photos (not checked on photos it never saw)"
    for k, what in (("profile_accuracy", "profiling"), ("heldout_accuracy", "held-out")):
        if k in f:
            a = f[k]
            line += f"; top-1 accuracy on {a['photos']} labelled {what} photos: float {a['float']:.1%}, quantised {a['quantised']:.1%}"
    return line


def register(sub) -> None:
    p = sub.add_parser("profile", help="per-layer activation precision profile of a real network",
                       description="Stripes-style profile: for each layer, the smallest window of "
                                   "activation bits that keeps the network output faithful to the "
                                   "float network on profiling photos; fidelity is then reported on "
                                   "held-out photos the search never saw.")
    add_network_options(p)
    add_search_options(p)
    p.add_argument("--images", type=int, default=16, help="profiling photos (%(default)s)")
    p.add_argument("--heldout", type=int, default=16,
                   help="held-out photos for the fidelity report, disjoint from the profiling photos "
                        "(%(default)s; 0: none)")
    p.add_argument("--target", default="100", choices=("100", "99"), help=TARGET_HELP)
    p.add_argument("--act-bits", type=int, default=16, help="activation container width A (%(default)s)")
    p.add_argument("--out", required=True, metavar="PROFILE.json", help="profile file to write")
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    p.set_defaults(func=run)


#: ``--target`` of profile and evaluate (the thresholds of sim/nets/fidelity.py).
TARGET_HELP = ("fidelity target, after the papers' 100 %% / 99 %% accuracy: 100 keeps every photo's "
               "top-1 class (cosine >= 0.999, PSNR >= 50 dB), 99 allows 1 %% of photos to differ "
               "(cosine >= 0.99, PSNR >= 40 dB) (default %(default)s)")


def run(args) -> int:
    from dstripes.sim.nets.models import check_model
    from dstripes.sim.nets.profile import profile_network

    # every input checked before the network loads and the minutes of profiling
    check_model(args.model, args.engine)
    if args.images < 1:
        raise ConfigError(f"--images must be positive, not {args.images}")
    if args.heldout < 0:
        raise ConfigError(f"--heldout must be non-negative, not {args.heldout}")
    if not 2 <= args.act_bits <= 32:
        raise ConfigError(f"--act-bits must be between 2 and 32, not {args.act_bits}")
    check_out_file(args.out, "--out")
    room = headroom(args)
    labels = read_labels(args.labels)
    images, held = photo_sets(args, args.images, args.heldout)
    net = load(args)
    command = "dstripes " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["profile"] else ""
    with client_for(args) as client:
        prof = profile_network(net, images, targets=(args.target,), heldout=held, act_bits=args.act_bits,
                               progress=not args.no_progress, command=command, client=client,
                               headroom=room, margin_db=args.margin, labels=labels)[args.target]
    try:
        prof.save(args.out)
    except OSError as e:
        raise ConfigError(f"cannot write profile {args.out} ({e.strerror})") from None
    if args.json:
        print_json(prof.as_dict())
        return 0
    rows = [[l.name, "signed" if l.signed else "", l.msb, l.lsb, l.bits, l.solo_bits, f"{l.max:.4g}",
             f"{l.headroom:.2f}", f"{l.scale:.4g}"] for l in prof.layers]
    print(render(["layer", "sign", "msb", "lsb", "p", "alone", "max", "room", "scale"], rows,
                 title=f"{net.name}: profile target {prof.target} ({prof.criterion} >= {prof.threshold:g}, "
                       f"search margin {prof.search['margin_db']:g} dB, headroom {room})"))
    print(fidelity_line(prof))
    print(f"wrote {args.out}")
    return 0
