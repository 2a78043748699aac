"""``dstripes profile``: per-layer activation precision profile of a real network.

Stripes-style profile: for each layer, the smallest window of activation bits that keeps the
network output faithful to the float network on profiling photos; fidelity is then reported on
held-out photos the search never saw.
"""
from __future__ import annotations

import shlex
import sys

from dstripes.sim.errors import ConfigError
from dstripes.sim.table import render

from . import options


def register(sub) -> None:
    p = options.add_command(sub, "profile", "per-layer activation precision profile of a real network",
                            __doc__.split("\n\n")[1])
    options.add_network_options(p)
    options.add_search_options(p)
    options.add_photo_options(p, images=16, profiling=True, text=True)
    options.HELDOUT.add(p)
    options.TARGET.add(p)
    options.TILE["act_bits"].add(p)
    options.add_cluster_options(p)
    options.add_output_options(p, out="profile file to write", metavar="PROFILE.json", json="the profile")
    p.set_defaults(func=run)


def run(args) -> int:
    from dstripes.sim.nets.profile import profile_network

    from .cluster import dask_client_for
    from .networks import load, network_names
    from .output import check_out_file, print_json
    from .photos import Count, photo_sets, read_labels, tell
    from .profiles import fidelity_line
    from .tiles import tile_config

    # every input checked before the network loads and the minutes of profiling
    network_names(args)
    act_bits = tile_config(args).act_bits
    check_out_file(args.out, "--out")
    labels = read_labels(args.labels)
    said = []
    images, held = photo_sets(args, Count(args.images, "--images"), Count(args.heldout, "--heldout"), notes=said)
    net = load(args)
    command = "dstripes " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["profile"] else ""
    with dask_client_for(args) as client:
        tell(said)  # every input checked, the workers up: the run starts
        prof = profile_network(net, images, targets=(args.target,), heldout=held, act_bits=act_bits,
                               progress=not args.no_progress, command=command, client=client,
                               headroom=args.headroom, margin_db=args.margin, labels=labels)[args.target]
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
                       f"search margin {prof.search['margin_db']:g} dB, headroom {args.headroom})"))
    print(fidelity_line(prof))
    print(f"wrote {args.out}")
    return 0
