"""``dstripes evaluate``: how much faster Dynamic Stripes runs a real network."""
from __future__ import annotations

import os
import sys

from dstripes.sim.errors import ConfigError

from .cmd_profile import (add_network_options, add_search_options, client_for, fidelity_line, headroom, load,
                          photo_sets, read_labels)
from .options import add_tile_options, check_out_dir, print_json, tile_config
from .table import render


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="cycles and speedups of a real network on real photos",
                       description="Capture a real network's activations on real photos, quantise "
                                   "them with a precision profile and count cycles of DaDN, Stripes, "
                                   "Dynamic Stripes variants and two bounds, per layer, per photo and in "
                                   "total. The evaluated photos are held out: a profile made here is "
                                   "searched on other photos and judged on these.")
    add_network_options(p, many=True)
    add_search_options(p)
    p.add_argument("--profile", default=None, metavar="PROFILE.json",
                   help="precision profile (default: the shipped profile of a built-in network, "
                        "otherwise profile first and write it into --out)")
    p.add_argument("--target", default="100", choices=("100", "99"),
                   help="which shipped profile, or the target when profiling first (%(default)s)")
    p.add_argument("--images", type=int, default=16, help="photos to evaluate, held out (%(default)s)")
    p.add_argument("--profile-images", type=int, default=16,
                   help="photos to profile on when profiling first, disjoint from the evaluated ones "
                        "(%(default)s)")
    p.add_argument("--dump", default=None, metavar="DIR",
                   help="also write each layer's quantised activation codes and weights of the first "
                        "evaluated photo as .npy, with the layer spec and window (for dstripes cycles "
                        "and dstripes simulate)")
    add_tile_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for reports, plots and profiles made here")
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


def shipped(args):
    """The shipped profile of a built-in network at this input size, or None."""
    from dstripes.sim.nets.models import BUILTIN
    from dstripes.sim.nets.profile import Profile, builtin_profile_path
    if args.model in BUILTIN and os.path.isfile(builtin_profile_path(args.model, args.target)):
        prof = Profile.load(builtin_profile_path(args.model, args.target))
        if prof.input.get("size") == args.size:
            return prof
    return None


def run(args) -> int:
    from dstripes.sim.nets.evaluate import evaluate_network
    from dstripes.sim.nets.paper import comparison
    from dstripes.sim.nets.profile import Profile, profile_network
    from dstripes.sim.nets.report import LAYER_HEADERS, layer_rows, scheme_rows, write_all

    if args.images < 1:
        raise ConfigError(f"--images must be positive, not {args.images}")
    if args.profile_images < 1:
        raise ConfigError(f"--profile-images must be positive, not {args.profile_images}")
    cfg = tile_config(args)
    names = models(args)
    room = headroom(args)
    labels = read_labels(args.labels)
    check_out_dir(args.out)
    if args.dump:
        check_out_dir(args.dump, "--dump")
    given = Profile.load(args.profile) if args.profile else None
    # Which networks profile first decides whether profiling photos are needed; every count is
    # checked here, before any network is loaded.
    fresh = []
    for name in names:
        args.model = name
        if given is None and shipped(args) is None:
            fresh.append(name)
    prof_photos, photos = photo_sets(args, args.profile_images if fresh else 0, args.images)
    note = (lambda m: print(m, file=sys.stderr)) if args.json else print
    nets = []
    for name in names:  # every model is read (and checked) before the workers start
        args.model = name
        nets.append((name, load(args)))
    evaluations = []
    with client_for(args) as client:
        for name, net in nets:
            args.model = name
            prof = given or shipped(args)
            if prof is None:
                note(f"{net.name}: no shipped profile at {args.size}x{args.size}: profiling first on "
                     f"{len(prof_photos)} photos (criterion {net.criterion}, target {args.target}), "
                     f"judged on the {len(photos)} evaluated photos")
                prof = profile_network(net, prof_photos, targets=(args.target,), heldout=photos,
                                       progress=not args.no_progress, client=client, headroom=room,
                                       margin_db=args.margin, labels=labels)[args.target]
                folder = os.path.join(args.out, net.name)
                os.makedirs(folder, exist_ok=True)
                path = os.path.join(folder, f"profile-{args.target}.json")
                prof.save(path)
                note(fidelity_line(prof))
                note(f"wrote {path} (reuse it with --profile)")
            else:
                prof.check_network(net)
            ev = evaluate_network(net, prof, photos, cfg, client=client, progress=not args.no_progress)
            evaluations.append(ev)
            if args.dump:
                from dstripes.sim.nets.dump import dump_layers
                folder = os.path.join(args.dump, net.name) if len(names) > 1 else args.dump
                files = dump_layers(net, prof, photos[0], folder, cfg)
                note(f"wrote {len(files)} files to {folder} (layers.json lists a dstripes cycles and simulate "
                     f"command per layer)")
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
                     title=f"{ev.network}: {len(ev.images)} held-out photos; {held_fidelity(ev)}"))
        ps = ev.photo_speedups()
        if ps:
            d = ps["dstripes_over_stripes"]
            print(f"per photo, Dynamic Stripes over Stripes: min {d['min']:.2f}x ({d['min_photo']}), "
                  f"median {d['median']:.2f}x, max {d['max']:.2f}x ({d['max_photo']})")
        print()
        print(render(LAYER_HEADERS, layer_rows(ev), title=f"{ev.network}: per layer"))
        print()
    cmp = comparison(evaluations)
    keys = ("stripes_over_dadn", "dstripes_over_stripes", "dstripes_over_dadn")
    rows = [[n] + [r[k] for k in keys] + [held_fidelity(ev, short=True)]
            for (n, r), ev in zip(cmp["networks"].items(), evaluations)]
    if len(rows) > 1:
        rows.append(["geometric mean"] + [cmp["geomean"][k] for k in keys] + [""])
    rows.append(["published", cmp["published"]["stripes_over_dadn"], cmp["published"]["dstripes_over_stripes"],
                 cmp["published"]["stripes_over_dadn"] * cmp["published"]["dstripes_over_stripes"],
                 "100 % accuracy profiles"])
    print(render(["conv layers", "STR/DaDN", "DStr/STR", "DStr/DaDN", "profile held-out fidelity"], rows,
                 title="Compared with the papers"))
    print(f"\nwrote {len(files)} files to {args.out} (report.md, summary.json, layers.csv, plots)")
    return 0


def held_fidelity(ev, short: bool = False) -> str:
    """The profile's held-out fidelity, said next to every speedup."""
    p = ev.profile
    f = p.fidelity
    if "heldout" not in f:
        return f"profile {p.target}: no held-out fidelity recorded"
    verdict = "meets" if f.get("heldout_pass") else "MISSES"
    if short:
        return f"{p.target}: {f['heldout']:.4g} {p.criterion} on {f['heldout_images']} ({verdict})"
    return (f"profile {p.target}: held-out {f['unit']} {f['heldout']:.4g} on {f['heldout_images']} photos, "
            f"{verdict} {p.criterion} >= {p.threshold:g}")
