"""``dstripes evaluate``: how much faster Dynamic Stripes runs a real network."""
from __future__ import annotations

import os
import sys

from dstripes.sim.errors import ConfigError

from .cmd_profile import add_network_options, load, photos
from .options import add_tile_options, print_json, tile_config
from .table import render


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="cycles and speedups of a real network on real photos",
                       description="Capture a real network's activations on real photos, quantise "
                                   "them with a precision profile and count cycles of DaDN, Stripes, "
                                   "Dynamic Stripes variants and two bounds, per layer and in total.")
    add_network_options(p, many=True)
    p.add_argument("--profile", default=None, metavar="PROFILE.json",
                   help="precision profile (default: the shipped profile of a built-in network, "
                        "otherwise profile first)")
    p.add_argument("--target", default="100", choices=("100", "99"),
                   help="which shipped profile, or the target when profiling first (%(default)s)")
    p.add_argument("--images", type=int, default=16, help="photos to evaluate (%(default)s)")
    add_tile_options(p, hardware=False)
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: CPU count)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for reports and plots")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def models(args) -> list:
    from dstripes.sim.nets.models import BUILTIN
    names = []
    for m in args.model:
        names += list(BUILTIN) if m == "all" else [m]
    if args.profile and len(names) > 1:
        raise ConfigError(f"--profile holds one network's profile but {len(names)} networks were given")
    return names


def get_profile(args, net, note):
    """The ``--profile`` file, the shipped profile of a built-in network, or a fresh profile."""
    from dstripes.sim.nets.profile import network_profile
    return network_profile(net, args.model, args.target, args.profile, progress=not args.no_progress,
                           photos=lambda n: photos(args, n, "profile"), note=note)


def run(args) -> int:
    from dstripes.sim.nets.evaluate import evaluate_network
    from dstripes.sim.nets.paper import comparison
    from dstripes.sim.nets.report import LAYER_HEADERS, layer_rows, scheme_rows, write_all

    if args.images < 1:
        raise ConfigError(f"--images must be positive, not {args.images}")
    cfg = tile_config(args)
    names = models(args)
    note = (lambda m: print(m, file=sys.stderr)) if args.json else print
    evaluations = []
    for name in names:
        args.model = name
        net = load(args)
        prof = get_profile(args, net, note)
        images = photos(args, args.images, "heldout")
        evaluations.append(evaluate_network(net, prof, images, cfg, jobs=args.jobs,
                                            progress=not args.no_progress))
    try:
        files = write_all(evaluations, args.out)
    except OSError as e:
        raise ConfigError(f"cannot write reports to {args.out} ({e.strerror})") from None
    if args.json:
        if len(evaluations) == 1:
            print_json(evaluations[0].as_dict())
        else:
            print_json({"networks": [ev.as_dict() for ev in evaluations], "paper": comparison(evaluations)})
        return 0
    for ev in evaluations:
        print(render(["scheme", "cycles", "x DaDN", "x Stripes"], scheme_rows(ev),
                     title=f"{ev.network}: {len(ev.images)} images, profile target {ev.profile.target}"))
        print()
        print(render(LAYER_HEADERS, layer_rows(ev), title=f"{ev.network}: per layer"))
        print()
    cmp = comparison(evaluations)
    rows = [[n] + [r[k] for k in ("stripes_over_dadn", "dstripes_over_stripes", "dstripes_over_dadn")]
            for n, r in cmp["networks"].items()]
    if len(rows) > 1:
        rows.append(["geometric mean"] + [cmp["geomean"][k] for k in
                                          ("stripes_over_dadn", "dstripes_over_stripes", "dstripes_over_dadn")])
    rows.append(["published", cmp["published"]["stripes_over_dadn"], cmp["published"]["dstripes_over_stripes"],
                 cmp["published"]["stripes_over_dadn"] * cmp["published"]["dstripes_over_stripes"]])
    print(render(["conv layers", "STR/DaDN", "DStr/STR", "DStr/DaDN"], rows, title="Compared with the papers"))
    print(f"\nwrote {len(files)} files to {args.out} (report.md, summary.json, layers.csv, plots)")
    return 0
