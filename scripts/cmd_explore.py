"""``dstripes explore``: the speed/area design space, measured on generated hardware."""
from __future__ import annotations

import sys

from dstripes.sim.errors import ConfigError

from .chip_options import SWEEP_KEYS
from .options import check_out_dir, print_json


def register(sub) -> None:
    from dataclasses import fields

    from dstripes.sim.config import TileConfig

    p = sub.add_parser("explore", help="sweep tile parameters: speed on a real network against synthesised area",
                       description="For every point of a sweep over tile parameters, count a real network's "
                                   "cycles on real photos (golden model) and synthesise the Dynamic Stripes "
                                   "tile, the Stripes tile and the bit-parallel tile of its shape with yosys; "
                                   "report speed-ups, area, logic depth, performance per area against "
                                   "Stripes, the bit-parallel tile and lock-step Dynamic Stripes, and the "
                                   "Pareto front. Block syntheses and model counts are cached "
                                   "(build/synth, $DSTRIPES_SYNTH_CACHE): an interrupted sweep resumes.")
    p.add_argument("--model", required=True, metavar="NAME|PATH.onnx",
                   help="vgg16-hed, resnet50-imgsim, mobilenet-v2, resnet50-nsfw, or an ONNX file")
    p.add_argument("--images", type=int, default=4, help="held-out photos the model counts (%(default)s)")
    p.add_argument("--sweep", nargs="+", required=True, metavar="KEY=V1,V2",
                   help=f"values of tile parameters, all combinations (keys: {', '.join(f.name for f in fields(TileConfig))}), "
                        "e.g. --sweep group=1,4,16 run_ahead=0,1,2; or the accelerator's NM read width, "
                        "--sweep nm_read=1,2,4,8,16 (memory-aware model, speed-up against it)")
    p.add_argument("--liberty", metavar="FILE", help="also map every block onto this liberty (area in its units)")
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="local Dask workers (default: CPUs)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the tasks on this Dask scheduler (tcp://host:port)")
    p.add_argument("--profile", metavar="PROFILE.json", help="precision profile (default: the shipped one)")
    p.add_argument("--target", default="100", choices=("100", "99"), help="shipped profile (%(default)s)")
    p.add_argument("--size", type=int, default=224, help="input height and width (%(default)s)")
    p.add_argument("--image-dir", metavar="DIR",
                   help="your own photos from DIR: odd-numbered files (in name order) are counted, "
                        "even-numbered ones profile when a profile must be made first")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder for explore.json, explore.csv, explore.txt, explore.png")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from dstripes.sim.limits import worker_count
    from dstripes.sim.nets.models import check_model
    from dstripes.synth.explore import explore, parse_sweep, resolve_liberty, sweep_configs, table

    # everything the user gave is checked before any work starts
    if args.images < 1:
        raise ConfigError(f"--images must be positive, not {args.images}")
    keys = {str(item).partition("=")[0] for item in args.sweep}
    if keys & set(SWEEP_KEYS):
        if keys - set(SWEEP_KEYS):
            raise ConfigError(f"an accelerator sweep ({', '.join(SWEEP_KEYS)}) cannot be mixed with tile "
                              f"parameters ({', '.join(sorted(keys - set(SWEEP_KEYS)))})")
        from dstripes.sim.nets.models import load_network
        from .chip_commands import explore as chip_explore
        from .cmd_evaluate import shipped
        check_model(args.model)
        return chip_explore(args, lambda a: load_network(a.model, size=a.size), shipped)
    if args.jobs is not None:
        worker_count(args.jobs)
    sweep = parse_sweep(args.sweep)
    resolve_liberty(args.liberty)
    sweep_configs(sweep)          # builds every tile (no elaboration): the generator's own checks
    check_model(args.model)
    check_out_dir(args.out, "--out")
    note = (lambda m: print(m, file=sys.stderr)) if args.json else print
    result = explore(args.model, sweep, images=args.images, liberty=args.liberty, jobs=args.jobs,
                     scheduler=args.scheduler, out=args.out, target=args.target, size=args.size,
                     profile=args.profile, image_dir=args.image_dir, progress=not args.no_progress,
                     log=note)
    if args.json:
        print_json(result)
    else:
        print(table(result))
        print(f"\nwrote {', '.join(result['files'])}")
    return 0
