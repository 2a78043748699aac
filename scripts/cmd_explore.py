"""``dstripes explore``: the speed/area design space, measured on generated hardware.

For every point of a sweep over tile parameters, count a real network's cycles on real photos
(golden model) and synthesise the Dynamic Stripes tile, the Stripes tile and the bit-parallel
tile of its shape with yosys; report speed-ups, area, logic depth, performance per area against
Stripes, the bit-parallel tile and lock-step Dynamic Stripes, and the Pareto front. Block
syntheses and model counts are cached (build/synth, $DSTRIPES_SYNTH_CACHE): an interrupted sweep
resumes.
"""
from __future__ import annotations

import sys

from . import options
from .options import TILE, Option


def register(sub) -> None:
    p = options.add_command(sub, "explore", "sweep tile parameters: speed on a real network against synthesised "
                                            "area", __doc__.split("\n\n")[1])
    options.add_network_options(p, front_end=False)
    options.add_profile_options(p, shipped="the shipped profile of a built-in network at the network's input "
                                           "size, otherwise one made first on 16 profiling photos")
    options.add_photo_options(p, images=4, labels=False)
    Option("--sweep", f"values of tile parameters, all combinations (keys: {', '.join(TILE)}), e.g. --sweep "
                      f"group=1,4,16 run_ahead=0,1,2; or the accelerator's NM read width, --sweep "
                      f"{options.CHIP_SWEEP_KEYS[0]}=1,2,4,8,16 (its memory-aware model: speed-ups against it)",
           nargs="+", metavar="KEY=V1,V2").add(p, required=True)
    options.add_liberty_option(p, use="also map every block onto this library (area in its units)")
    options.add_cluster_options(p)
    options.add_output_options(p, out="folder for explore.json, explore.csv, explore.txt, explore.png")
    p.set_defaults(func=run)


def run(args) -> int:
    from dstripes.sim.config import TileConfig
    from dstripes.sim.errors import ConfigError
    from dstripes.sim.nets.models import load_network
    from dstripes.sim.nets.profile import PROFILE_PHOTOS, model_profile
    from dstripes.sim.nets.qdq import model_widths
    from dstripes.synth.explore import explore, parse_sweep, resolve_liberty, sweep_configs, table

    from .chips import is_chip_sweep
    from .networks import int8_models, network_names
    from .output import check_out_dir, print_json
    from .photos import Count, photo_sets
    from .profiles import shipped_profile

    if is_chip_sweep(args.sweep):
        from .chip_runs import explore as chip_explore
        return chip_explore(args)
    # everything the user gave is checked before any work starts
    sweep = parse_sweep(args.sweep)
    resolve_liberty(args.liberty)
    sweep_configs(sweep)          # builds every tile (no elaboration): the generator's own checks
    base, int8 = TileConfig(), int8_models(network_names(args), args)
    if int8:
        # an int8 model: tiles of its codes' widths (A = W = 8; A = 9 for zero-point-shifted codes)
        widths = model_widths(model_profile(load_network(args.model, size=args.size)).quant().values())
        base = TileConfig(**widths)
        for cfg in sweep_configs(sweep, base):
            if cfg.weight_bits < widths["weight_bits"]:
                raise ConfigError(f"sweep point weight_bits={cfg.weight_bits}: {args.model} is an int8 QDQ model "
                                  f"whose weight codes need {widths['weight_bits']} bits")
    check_out_dir(args.out, "--out")
    fresh = not int8 and not args.profile and shipped_profile(args.model, args.target, size=args.size) is None
    prof_photos, photos = photo_sets(args, Count(PROFILE_PHOTOS if fresh else 0), Count(args.images, "--images"))
    note = (lambda m: print(m, file=sys.stderr)) if args.json else print
    result = explore(args.model, sweep, images=photos, base=base, liberty=args.liberty, jobs=args.jobs,
                     scheduler=args.scheduler, out=args.out, target=args.target, size=args.size,
                     profile=args.profile, profile_photos=prof_photos if fresh else None,
                     progress=not args.no_progress, log=note)
    if args.json:
        print_json(result.as_dict())
    else:
        print(table(result))
        print(f"\nwrote {', '.join(result.files)}")
    return 0
