"""``dstripes verify``: a whole real network through the generated tile, bit-exact and cycle-exact.

Capture a network's quantised layer inputs on real photos (shipped profile, as evaluate does;
with --int8 the int8 study's codes, as evaluate --int8 counts them),
run every selected layer - conv layers (all windows, every convolution group) and
fully-connected ones (one input vector, dispatched round-robin), the first or every
filter-set - through the generated tile inside its memory-backed verification harness, and
check every result bit-exactly and every run's cycle count exactly against the golden model.
Layers run as Dask tasks. Exits 1 when anything differs.
"""
from __future__ import annotations

import sys

from dstripes.sim.errors import ConfigError
from dstripes.sim.table import render

from . import options
from .options import Option

#: Profiling photos of a network that has no shipped profile.
PROFILE_IMAGES = 16


def register(sub) -> None:
    p = options.add_command(sub, "verify", "run a real network's layers through the generated tile and "
                                           "check them", __doc__.split("\n\n")[1])
    options.add_network_options(p)
    options.add_profile_options(p, target=False, shipped=f"the shipped profile of a built-in network, at any "
                                                         f"--size; other networks are profiled on "
                                                         f"{PROFILE_IMAGES} photos first")
    options.INT8.add(p, help="run an int8 study's codes (dstripes evaluate --int8) instead of a profile's: every "
                             "layer's input as int8 codes with one scale per tensor (calibrated on --profile-images "
                             "samples) or per token (per head for attention), on the tile of 8-bit activations and "
                             "weights")
    options.add_photo_options(p, images=1, labels=False, text=True)
    options.PROFILE_IMAGES.add(p, help=f"photos (sentences) to profile on when profiling first, or to calibrate "
                                       f"--int8 on: the first N of the profiling split (default %(default)s)")
    options.add_kind_option(p)
    options.add_run_options(p)
    Option("--layers", "layers to run (default all; fully-connected layers run on the tile with --fc-dispatch, "
                       "switched on for them when the tile has no such dispatch)",
           metavar="all|NAME,...", default="all").add(p)
    Option("--filter-sets", "the first filter-set of every convolution group, or all of them (default %(default)s)",
           choices=("first", "all"), default="first").add(p)
    options.add_tile_options(p, tiles=False)
    options.add_cluster_options(p)
    options.add_output_options(p, out="folder for verify.json, report.md, layers.csv (with --chain: "
                                      "verify-chain.json; optional)", required=False,
                               json="the verification (verify.json)")
    options.add_chip_options(p, tiles=True, dram="simulate")
    Option("--chain", "with --chip: the network's conv layers back to back on the generated accelerator, each "
                      "output staying in NM as the next layer's input (the integer chain of evaluate --chain): per "
                      "layer the RTL cycles against the model's and every stored code against the integer "
                      "pipeline (docs/usage.md §14)", switch=True).add(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from dstripes.sim.nets.images import decoded
    from dstripes.sim.nets.int8_study import BITS, int8_profile
    from dstripes.sim.nets.onnx_capture import is_int8_file
    from dstripes.sim.nets.profile import model_profile, profile_network
    from dstripes.tb.host.verify import (COUNTS_NOTE, LAYER_HEADERS, fc_note, layer_rows, select_layers,
                                         verify_network, write_reports)

    from .chips import check_chip_flag
    from .cluster import dask_client_for
    from .networks import load, network_names
    from .output import check_out_dir, print_json
    from .photos import Count, photo_sets, tell
    from .profiles import check_int8_study, given_or_shipped, why_profile_first
    from .tiles import given_tile_options, model_tile_fields, tile_design

    if args.int8 and (args.chip or args.chain):
        raise ConfigError(f"--int8 {args.int8} runs the int8 study's codes through the tile: "
                          f"{'--chain' if args.chain else '--chip'} does not apply")
    if args.chip or args.chain:
        from .chain_verify import verify_chain
        return verify_chain(args)
    check_chip_flag(args, tiles=True)
    if args.out is None:
        raise ConfigError("verify needs --out DIR (the folder for verify.json, report.md, layers.csv)")
    # every input checked before the network loads, the model builds and the minutes of simulation
    int8 = is_int8_file(args.model)
    check_int8_study(args, args.model if int8 else None)
    study = {}  # the int8 study's tile widths (A = W = 8), which the tile options may only repeat
    if args.int8:
        given = given_tile_options(args)
        for k in ("act_bits", "weight_bits"):
            if given.get(k, BITS) != BITS:
                raise ConfigError(f"--int8 {args.int8} runs the study's {BITS}-bit codes on a tile of {BITS}-bit "
                                  f"activations and weights: {options.tile_flag(k)} {given[k]} does not apply")
            study[k] = BITS
    tile = tile_design(args, **study)
    network_names(args)
    out = check_out_dir(args.out)
    # the verification checks the RTL against the model on whatever codes the profile yields:
    # a shipped profile serves at any --size
    if int8 and args.profile:
        raise ConfigError(f"{args.model} is an int8 QDQ model, run on its own codes: --profile does not apply")
    prof = None if int8 or args.int8 else given_or_shipped(args, args.model, size=None)
    said = []
    prof_photos, held = photo_sets(args, Count(0 if prof or int8 else args.profile_images, "--profile-images"),
                                   Count(args.images, "--images"), notes=said)
    for stale in ("verify.json", "report.md", "layers.csv"):  # a rerun never trusts an old report
        (out / stale).unlink(missing_ok=True)
    note = (lambda m: print(m, file=sys.stderr)) if args.json else print
    net = load(args)
    select_layers(net, args.layers)  # a layer it does not have is refused before any profiling
    tell(said)
    if int8:  # the model's own codes on the tile of its widths (A = W = 8; A = 9 for shifted codes)
        prof = model_profile(net)
        tile = tile_design(args, **model_tile_fields(args, prof))
    if args.int8:  # the study's codes, calibrated as evaluate --int8 calibrates them (no fidelity run)
        note(f"{net.name}: int8 study, one scale per {args.int8}: calibrating on {len(prof_photos)} profiling "
             f"samples")
        with dask_client_for(args) as client:
            prof = int8_profile(net, prof_photos, [], args.int8, client=client, progress=not args.no_progress)
    elif prof is None:
        note(f"{net.name}: {why_profile_first(args.model, None)}: profiling first on {len(prof_photos)} photos "
             f"(target 100)")
        with dask_client_for(args) as client:
            prof = profile_network(net, prof_photos, targets=("100",), progress=not args.no_progress,
                                   client=client)["100"]
    images = decoded(held, net.size)  # as evaluate decodes them: the same codes
    v = verify_network(net, prof, images, tile=tile, simulator=args.sim, layers=args.layers,
                       filter_sets=args.filter_sets, jobs=args.jobs, scheduler=args.scheduler,
                       progress=not args.no_progress, note=note)
    try:
        files = write_reports(v, out)
    except OSError as e:
        raise ConfigError(f"cannot write reports to {e.filename or args.out} ({e.strerror})") from None
    if args.json:
        print_json(v.as_dict())
        return 0 if v.passed else 1
    t = v.total()
    rows = layer_rows(v) + [["total", "", t.runs, t.cycles_rtl, t.cycles_model, t.cycles_ideal,
                             t.results_checked, t.result_transfers, t.mismatches, f"{t.wall_seconds:.1f}",
                             f"{t.cycles_per_second:,.0f}"]]
    print(render(LAYER_HEADERS, rows,
                 title=f"{v.network}{f' (int8 study, one scale per {v.int8_study})' if v.int8_study else ''} on "
                       f"the {tile.title} tile ({args.sim}, fast path), {len(v.images)} photo(s), "
                       f"{v.filter_sets} filter-set(s)"))
    if v.fc is not None:
        print(f"\n{fc_note(v)}")
    print(f"\n{COUNTS_NOTE}")
    print(f"\nchecked: every result bit-exact ({t.results_checked:,} results of the layers, in "
          f"{t.result_transfers:,} result transfers), every run's cycle count equal to the model's RTL-exact "
          f"count and to the harness's own count ({t.runs} runs)")
    first = v.first_failure
    print("\nCHECK PASSED" if v.passed else f"\nCHECK FAILED at layer {first.name}: {first.failure}"
          + (f"\nfirst mismatch: {first.first_mismatch}" if first.first_mismatch else "")
          + (f"\nsimulator log: {first.log}" if first.log else ""))
    print(f"wrote {', '.join(f.name for f in files)} to {args.out}")
    return 0 if v.passed else 1
