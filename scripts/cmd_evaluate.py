"""``dstripes evaluate``: how much faster Dynamic Stripes runs a real network.

Capture a real network's activations on real photos, quantise them with a precision profile and
count cycles of DaDN, Stripes, Dynamic Stripes variants and two bounds, per layer, per photo and
in total. The evaluated photos are held out: a profile made here is searched on other photos and
judged on these. An int8 QDQ model is counted on its own codes (q - zero point) on 8-bit tiles.
"""
from __future__ import annotations

from dataclasses import replace
import os
import sys

from dstripes.sim.errors import ConfigError
from dstripes.sim.table import against, render

from . import options
from .options import Option


def register(sub) -> None:
    p = options.add_command(sub, "evaluate", "cycles and speedups of a real network on real photos",
                            __doc__.split("\n\n")[1])
    options.add_network_options(p, many=True)
    options.add_search_options(p)
    options.add_profile_options(p, shipped="the shipped profile of a built-in network at this --size, "
                                           "otherwise one made first on --profile-images photos and written "
                                           "into --out")
    options.add_photo_options(p, images=16, text=True)
    options.PROFILE_IMAGES.add(p)
    Option("--dump", "also write each layer's quantised activation codes and weights of the first evaluated "
                     "photo as .npy, with the layer spec and window (for dstripes cycles and dstripes simulate)",
           metavar="DIR").add(p)
    options.INT8.add(p)
    Option("--chain", "instead of counting cycles: run the network as a chain of integer layers (the "
                      "accelerator's requantisation, bias, residual add and max-pool; the host's input "
                      "quantisation, final pooling and classifier in float) and judge it against the float "
                      "network on the held-out photos with the profile's criterion", switch=True).add(p)
    options.add_tile_options(p, hardware=False)
    options.add_cluster_options(p)
    options.add_output_options(p, out="folder for reports, plots and profiles made here", json="the results")
    options.add_chip_options(p, tiles=False, dram="model")
    e = p.add_argument_group("energy (the tiles' logic; with --chip the whole chip: SRAM macros, off-chip traffic)")
    Option("--energy", "also energy per layer and per network of DaDN, Stripes and Dynamic Stripes at one clock: "
                       "tiles synthesised and timed on --liberty, switching activity measured in RTL simulation "
                       "(Verilator) on the bundled real layers, power from OpenSTA (minutes on the published "
                       "tile)", switch=True).add(e)
    options.add_liberty_option(e, use="library of the energy figures", default="sky130")
    Option("--energy-model", "reuse the energy_model.json of an earlier --energy run (same tile)",
           metavar="FILE").add(e)
    Option("--clock-ns", "common clock period (default: the slowest tile's critical path)", type=float,
           metavar="NS", check=options.positive_number).add(e)
    p.set_defaults(func=run)


def run(args) -> int:
    from dstripes.sim.nets.dump import dump_layers
    from dstripes.sim.nets.evaluate import check_layers, evaluate_network
    from dstripes.sim.nets.int8_study import BITS, int8_profile
    from dstripes.sim.nets.paper import comparison
    from dstripes.sim.nets.onnx_capture import is_int8_file
    from dstripes.sim.nets.profile import Profile, model_profile, profile_network
    from dstripes.sim.nets.report import LAYER_HEADERS, layer_rows, scheme_rows, write_all

    from .cluster import dask_client_for
    from .energy import add_energy, check_energy, energy_table, run_energy
    from .networks import load, network_names
    from .output import check_out_dir, print_json
    from .photos import Count, photo_sets, read_labels, tell
    from .profiles import check_int8_study, fidelity_line, shipped_profile, why_profile_first
    from .tiles import given_tile_options, model_tile_fields, tile_config
    from .chips import check_chip_flag
    from dstripes.sim.nets.report import CODES_HEADERS, codes_rows

    check_chip_flag(args)
    if args.chain:
        from .chain_runs import evaluate as evaluate_chain
        return evaluate_chain(args)
    if args.chip:
        from .chip_runs import evaluate
        return evaluate(args)
    cfg = tile_config(args)
    names = network_names(args)
    if args.profile and len(names) > 1:
        raise ConfigError(f"--profile holds one network's profile but {len(names)} networks were given")
    labels = read_labels(args.labels)
    check_out_dir(args.out)
    if args.dump:
        check_out_dir(args.dump, "--dump")
    int8 = [name for name in names if is_int8_file(name)]
    if int8 and args.profile:
        raise ConfigError(f"{int8[0]} is an int8 QDQ model, counted on its own codes: --profile does not apply")
    check_int8_study(args, int8[0] if int8 else None)
    given = Profile.load(args.profile) if args.profile else None
    # Which networks profile first decides whether profiling photos are needed; every count is
    # checked here, before any network is loaded.
    shipped = {name: given or shipped_profile(name, args.target, size=args.size) for name in names if name not in int8}
    if args.int8:
        shipped = dict.fromkeys(names)  # calibrated below, on the profiling samples
    fresh = [name for name, prof in shipped.items() if prof is None]
    said = []
    prof_photos, photos = photo_sets(args, Count(args.profile_images if fresh else 0, "--profile-images"),
                                     Count(args.images, "--images"), notes=said)
    note = (lambda m: print(m, file=sys.stderr)) if args.json else print
    model = check_energy(args, cfg) if args.energy else None
    nets = [load(args, name) for name in names]  # every model is read (and checked) before the workers start
    for name, net in zip(names, nets):
        if name in int8:
            shipped[name] = model_profile(net)
        # e.g. an attention head too long for the accumulators, before profiling (an int8 model: on
        # the tile of its codes' widths)
        check_layers(net.layers(), [replace(cfg, **model_tile_fields(args, shipped[name])) if name in int8 else cfg])
        if shipped[name] is not None:
            shipped[name].check_network(net)
    evaluations = []
    with dask_client_for(args) as client:
        tell(said)  # every input checked, the workers up: the run starts
        for name, net in zip(names, nets):
            prof = shipped[name]
            if args.int8:
                prof = int8_profile(net, prof_photos, photos, args.int8, client=client, progress=not args.no_progress)
            if prof is None:
                note(f"{net.name}: {why_profile_first(name, net.size)}: profiling first on "
                     f"{len(prof_photos)} photos (criterion {net.criterion}, target {args.target}), "
                     f"judged on the {len(photos)} evaluated photos")
                prof = profile_network(net, prof_photos, targets=(args.target,), heldout=photos,
                                       progress=not args.no_progress, client=client, headroom=args.headroom,
                                       margin_db=args.margin, labels=labels)[args.target]
                folder = os.path.join(args.out, net.name)
                os.makedirs(folder, exist_ok=True)
                path = os.path.join(folder, f"profile-{args.target}.json")
                prof.save(path)
                note(fidelity_line(prof))
                note(f"wrote {path} (reuse it with --profile)")
            widths = (model_tile_fields(args, prof) if name in int8 else  # the tile of the codes' widths
                      {k: BITS for k in ("act_bits", "weight_bits") if k not in given_tile_options(args)}
                      if args.int8 else {})
            ev = evaluate_network(net, prof, photos, replace(cfg, **widths), client=client,
                                  progress=not args.no_progress)
            evaluations.append(ev)
            if args.dump:
                folder = os.path.join(args.dump, net.name) if len(names) > 1 else args.dump
                files = dump_layers(net, prof, photos[0], folder)
                note(f"wrote {len(files)} files to {folder} (layers.json lists a dstripes cycles and simulate "
                     f"command per layer)")
    try:
        files = write_all(evaluations, args.out)
    except OSError as e:
        raise ConfigError(f"cannot write reports to {e.filename or args.out} ({e.strerror})") from None
    energies = None
    if args.energy:
        model, energies, efiles = run_energy(args, cfg, model, evaluations, note)
        files += efiles
    if args.json:
        dicts = [ev.as_dict() for ev in evaluations]
        if energies is not None:
            for d, ev in zip(dicts, evaluations):
                add_energy(d, energies[ev.network].as_dict())
        if len(dicts) == 1:
            out = dicts[0]
        else:
            out = {"networks": dicts, "paper": comparison(evaluations).as_dict()}
        if energies is not None:
            out["energy_model"] = model.as_dict()
        print_json(out)
        return 0
    for ev in evaluations:
        print(render(["scheme", "cycles", "x DaDN", "x Stripes"], scheme_rows(ev),
                     title=f"{ev.network}: {len(ev.images)} held-out photos; {held_fidelity(ev)}"))
        ps = ev.photo_speedups()
        if ps:
            d = ps["dstripes_over_stripes"]
            print(f"per photo, Dynamic Stripes over Stripes: min {d.min:.2f}x ({d.min_photo}), "
                  f"median {d.median:.2f}x, max {d.max:.2f}x ({d.max_photo})")
        print()
        print(render(LAYER_HEADERS, layer_rows(ev), title=f"{ev.network}: per layer"))
        print()
        if ev.profile.from_model:
            print(render(CODES_HEADERS, codes_rows(ev), title=f"{ev.network}: the int8 model's own codes per layer "
                                                               f"(q - zero point; bits: the codes' window)"))
            if ev.raw_codes:
                r = ev.raw_totals().speedups()
                print(f"{len(ev.raw_codes)} layers have a zero point; on the raw codes q instead (8 bits, the zero "
                      f"point's term corrected apart): Dynamic Stripes over Stripes-8 "
                      f"{r['dstripes_over_stripes']:.2f}x, over DaDN-8 {r['dstripes_over_dadn']:.2f}x")
            print()
    cmp = comparison(evaluations)
    keys = ("stripes_over_dadn", "dstripes_over_stripes", "dstripes_over_dadn")
    rows = [[n] + [r[k] for k in keys] + [held_fidelity(ev, short=True)]
            for (n, r), ev in zip(cmp.networks.items(), evaluations)]
    if len(rows) > 1:
        rows.append(["geometric mean"] + [cmp.geomean[k] for k in keys] + [""])
    rows.append(["published", cmp.published["stripes_over_dadn"], cmp.published["dstripes_over_stripes"],
                 cmp.published["stripes_over_dadn"] * cmp.published["dstripes_over_stripes"],
                 "100 % accuracy profiles"])
    print(render(["conv layers", "STR/DaDN", "DStr/STR", "DStr/DaDN", "profile held-out fidelity"], rows,
                 title="Compared with the papers"))
    if energies is not None:
        print()
        print(energy_table(model, energies))
    print(f"\nwrote {len(files)} files to {args.out} (report.md, summary.json, layers.csv, plots"
          + (", energy.md, energy.json, energy_model.json" if energies is not None else "") + ")")
    return 0


def held_fidelity(ev, short: bool = False) -> str:
    """The profile's held-out fidelity, said next to every speedup."""
    p = ev.profile
    if p.from_model:
        return "the int8 model's own codes" if short else "codes of the int8 model itself (no profile)"
    f = p.fidelity
    if "heldout" not in f:
        return f"profile {p.target}: no held-out fidelity recorded"
    verdict = "meets" if f.get("heldout_pass") else "MISSES"
    if short:
        return f"{p.target}: {against(f['heldout'], p.threshold)} {p.criterion} on {f['heldout_images']} ({verdict})"
    return (f"profile {p.target}: held-out {f['unit']} {against(f['heldout'], p.threshold)} on "
            f"{f['heldout_images']} photos, "
            f"{verdict} {p.criterion} >= {p.threshold:g}")
