"""``dstripes verify``: a whole real network through the generated tile, bit-exact and cycle-exact."""
from __future__ import annotations

import os
import sys

from dstripes.sim.errors import ConfigError

from .cmd_profile import add_network_options, client_for, load, photo_sets
from .options import add_kind_option, add_tile_options, check_out_dir, print_json, tile_design
from dstripes.sim.table import render


def register(sub) -> None:
    p = sub.add_parser("verify", help="run a real network's conv layers through the generated tile and check them",
                       description="Capture a network's quantised conv-layer inputs on real photos (shipped "
                                   "profile, as evaluate does), run every selected layer - all windows, every "
                                   "convolution group, the first or every filter-set - through the generated "
                                   "tile inside its memory-backed verification harness, and check every result "
                                   "bit-exactly and every run's cycle count exactly against the golden model. "
                                   "Layers run as Dask tasks. Exits 1 when anything differs.")
    add_network_options(p)
    add_kind_option(p)
    p.add_argument("--sim", choices=("verilator", "icarus"), default="verilator",
                   help="simulator (default verilator; Icarus is far slower on the published tile)")
    p.add_argument("--images", type=int, default=1, help="held-out photos (default %(default)s)")
    p.add_argument("--layers", default="all", metavar="all|NAME,...",
                   help="conv layers to run (default all; fully-connected layers are never run)")
    p.add_argument("--filter-sets", choices=("first", "all"), default="first",
                   help="the first filter-set of every convolution group, or all of them (default %(default)s)")
    p.add_argument("--profile", default=None, metavar="PROFILE.json",
                   help="precision profile (default: the shipped profile of a built-in network, at any "
                        "--size; other networks are profiled on 16 photos first)")
    add_tile_options(p, tiles=False)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for verify.json, report.md, layers.csv")
    p.add_argument("--json", action="store_true", help="print verify.json")
    p.set_defaults(func=run)


#: Profiling photos of a network that has no shipped profile.
PROFILE_IMAGES = 16


def shipped_profile(args):
    """The ``--profile`` file or a built-in network's shipped profile (whatever ``--size``: the
    verification checks the RTL against the model on whatever codes the profile yields), or None."""
    from dstripes.sim.nets.models import BUILTIN
    from dstripes.sim.nets.profile import Profile, builtin_profile_path

    if args.profile:
        return Profile.load(args.profile)
    if args.model in BUILTIN and os.path.isfile(builtin_profile_path(args.model, "100")):
        return Profile.load(builtin_profile_path(args.model, "100"))
    return None


def run(args) -> int:
    from dstripes.sim.nets.models import check_model
    from dstripes.sim.nets.profile import profile_network
    from dstripes.sim.limits import worker_count
    from dstripes.tb.host.verify import LAYER_HEADERS, layer_rows, verify_network, write_reports

    # every input checked before the network loads, the model builds and the minutes of simulation
    tile = tile_design(args)
    check_model(args.model, args.engine)
    if args.images < 1:
        raise ConfigError(f"--images must be positive, not {args.images}")
    if args.jobs is not None:
        worker_count(args.jobs)
    out = check_out_dir(args.out)
    prof = shipped_profile(args)
    prof_photos, held = photo_sets(args, 0 if prof else PROFILE_IMAGES, args.images)
    for stale in ("verify.json", "report.md", "layers.csv"):  # a rerun never trusts an old report
        (out / stale).unlink(missing_ok=True)
    note = (lambda m: print(m, file=sys.stderr)) if args.json else print
    net = load(args)
    if prof is None:
        note(f"{net.name}: no shipped profile: profiling first on {len(prof_photos)} photos (target 100)")
        with client_for(args) as client:
            prof = profile_network(net, prof_photos, targets=("100",), progress=not args.no_progress,
                                   client=client)["100"]
    images = [(p.name, p.read()) for p in held]
    v = verify_network(net, prof, images, tile=tile, simulator=args.sim, layers=args.layers,
                       filter_sets=args.filter_sets, jobs=args.jobs, scheduler=args.scheduler,
                       progress=not args.no_progress, note=note)
    try:
        files = write_reports(v, out)
    except OSError as e:
        raise ConfigError(f"cannot write reports to {args.out} ({e.strerror})") from None
    if args.json:
        print_json(v.as_dict())
        return 0 if v.passed else 1
    t = v.total()
    rows = layer_rows(v) + [["total", "", t.runs, t.cycles_rtl, t.cycles_model, t.cycles_ideal,
                             t.results_checked, t.mismatches, f"{t.wall_seconds:.1f}", f"{t.cycles_per_second:,.0f}"]]
    print(render(LAYER_HEADERS, rows,
                 title=f"{v.network} on the {tile.title} tile ({args.sim}, fast path), {len(v.images)} photo(s), "
                       f"{v.filter_sets} filter-set(s)"))
    if v.skipped:
        print(f"\nnot run (fully-connected): {', '.join(v.skipped)}")
    print(f"\nchecked: every result bit-exact ({t.results_checked:,} results), every run's cycle count equal "
          f"to the model's RTL-exact count and to the harness's own count ({t.runs} runs)")
    first = v.first_failure
    print("\nCHECK PASSED" if v.passed else f"\nCHECK FAILED at layer {first.name}: {first.failure}"
          + (f"\nfirst mismatch: {first.first_mismatch}" if first.first_mismatch else "")
          + (f"\nsimulator log: {first.log}" if first.log else ""))
    print(f"wrote {', '.join(f.name for f in files)} to {args.out}")
    return 0 if v.passed else 1
