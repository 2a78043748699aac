"""``dstripes evaluate``: how much faster Dynamic Stripes runs a real network."""
from __future__ import annotations

import os
import sys

from dstripes.sim.errors import ConfigError
from dstripes.sim.schemes import DADN, DSTRIPES, STRIPES

from .cmd_profile import (TARGET_HELP, add_network_options, add_search_options, client_for, fidelity_line,
                          headroom, load, photo_sets, read_labels)
from .chip_options import add_chip_options, check_chip_flag
from .options import add_tile_options, check_out_dir, print_json, tile_config
from dstripes.sim.table import render


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
                   help="which shipped profile, or the target when profiling first: " + TARGET_HELP)
    p.add_argument("--images", type=int, default=16,
                   help="photos to evaluate: the first N held-out photos (or of the held-out half of "
                        "--image-dir) (%(default)s)")
    p.add_argument("--profile-images", type=int, default=16,
                   help="photos to profile on when profiling first, disjoint from the evaluated ones "
                        "(%(default)s)")
    p.add_argument("--dump", default=None, metavar="DIR",
                   help="also write each layer's quantised activation codes and weights of the first "
                        "evaluated photo as .npy, with the layer spec and window (for dstripes cycles "
                        "and dstripes simulate)")
    add_tile_options(p, hardware=False)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for reports, plots and profiles made here")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_chip_options(p, tiles=False, dram="model")
    e = p.add_argument_group("energy (compute only: the tiles' logic, no memories)")
    e.add_argument("--energy", action="store_true",
                   help="also energy per layer and per network of DaDN, Stripes and Dynamic Stripes "
                        "at one clock: tiles synthesised and timed on --liberty, switching activity "
                        "measured in RTL simulation (Verilator) on the bundled real layers, power "
                        "from OpenSTA (minutes on the published tile)")
    e.add_argument("--liberty", default="sky130", metavar="FILE|sky130",
                   help="library of the energy figures (default %(default)s)")
    e.add_argument("--energy-model", metavar="FILE",
                   help="reuse the energy_model.json of an earlier --energy run (same tile)")
    e.add_argument("--clock-ns", type=float, default=None, metavar="NS",
                   help="common clock period (default: the slowest tile's critical path)")
    p.set_defaults(func=run)


def models(args) -> list:
    """The networks named by ``--model`` (``all``: every built-in), each checked."""
    from dstripes.sim.nets.models import BUILTIN, check_model
    names = []
    for m in args.model:
        names += list(BUILTIN) if m == "all" else [m]
    for m in names:
        check_model(m, args.engine)
    if args.profile and len(names) > 1:
        raise ConfigError(f"--profile holds one network's profile but {len(names)} networks were given")
    return names


def shipped(args):
    """The shipped profile of a built-in network at this input size, or None."""
    from dstripes.sim.nets.models import BUILTIN
    from dstripes.sim.nets.profile import Profile, builtin_profile_path
    if args.model in BUILTIN and os.path.isfile(builtin_profile_path(args.model, args.target)):
        prof = Profile.load(builtin_profile_path(args.model, args.target))
        # no --size: the network runs at its own size, the one its shipped profile was made at
        if args.size is None or prof.input.get("size") == args.size:
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
    check_chip_flag(args)
    if args.chip:
        for opt, bad in (("--energy", args.energy), ("--dump", args.dump), ("--energy-model", args.energy_model)):
            if bad:
                raise ConfigError(f"{opt} does not apply to --chip")
        from .chip_commands import evaluate
        return evaluate(args, models(args), shipped, load, photo_sets)
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
    model = check_energy(args, cfg) if args.energy else None
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
    energies = None
    if args.energy:
        model, energies, efiles = run_energy(args, cfg, model, evaluations, note)
        files += efiles
    if args.json:
        dicts = [ev.as_dict() for ev in evaluations]
        if energies is not None:
            for d, ev in zip(dicts, evaluations):
                add_energy(d, energies[ev.network])
        if len(dicts) == 1:
            out = dicts[0]
        else:
            out = {"networks": dicts, "paper": comparison(evaluations)}
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
    if energies is not None:
        print()
        print(energy_table(model, energies))
    print(f"\nwrote {len(files)} files to {args.out} (report.md, summary.json, layers.csv, plots"
          + (", energy.md, energy.json, energy_model.json" if energies is not None else "") + ")")
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


def check_energy(args, cfg):
    """Everything ``--energy`` needs, checked before the network is evaluated: a saved model
    that matches the tile, or a usable library and OpenSTA. Returns the saved model or None."""
    from dataclasses import replace

    from dstripes.synth.energy import EnergyModel
    from dstripes.synth.flow import check_liberty
    from dstripes.synth.liberty import check_timing_liberty, resolve_liberty
    from dstripes.synth.sta import sta_path

    if args.clock_ns is not None and not args.clock_ns > 0:
        raise ConfigError(f"--clock-ns must be positive, not {args.clock_ns}")
    if args.energy_model:
        model = EnergyModel.load(args.energy_model)
        if replace(model.config, tiles=cfg.tiles) != cfg:
            raise ConfigError(f"energy model {args.energy_model} is for another tile "
                              f"({model.config.as_dict()}), not {cfg.as_dict()}")
        missing = {DADN.name, STRIPES.name, DSTRIPES.name} - set(model.tiles)
        if missing:
            raise ConfigError(f"energy model {args.energy_model} has no {', '.join(sorted(missing))} tile")
        return model
    lib = resolve_liberty(args.liberty)
    check_liberty(lib)
    info = check_timing_liberty(lib)
    if not info.power:
        raise ConfigError(f"liberty {args.liberty} has no power tables: no energy")
    sta_path()  # a missing OpenSTA fails now, not after the evaluation
    return None


def run_energy(args, cfg, model, evaluations, note):
    """The energy model (computed unless given), each network's energy, the reports."""
    import json
    import os

    from dstripes.synth.energy import (energy_markdown, energy_model, energy_plot, layer_energy_plot,
                                       network_energy)
    from dstripes.sim.files import write_atomic

    if model is None:
        model = energy_model((DADN.name, STRIPES.name, DSTRIPES.name), cfg, liberty=args.liberty,
                             clock_ns=args.clock_ns, jobs=args.jobs or None, progress=not args.no_progress,
                             note=note)
    elif args.clock_ns is not None and args.clock_ns != model.clock_ns:
        raise ConfigError(f"--clock-ns {args.clock_ns} differs from the energy model's clock "
                          f"{model.clock_ns:g} ns (power was computed at that clock)")
    energies = {ev.network: network_energy(model, ev.layers(), cfg.tiles) for ev in evaluations}
    files = [os.path.join(args.out, n) for n in ("energy_model.json", "energy.json", "energy.md")]
    model.save(files[0])
    write_atomic(files[1], json.dumps({"model": model.as_dict(), "networks": energies}, indent=1) + "\n")
    write_atomic(files[2], energy_markdown(model, energies) + "\n![energy efficiency](energy.png)\n")
    files.append(energy_plot(energies, os.path.join(args.out, "energy.png")))
    for ev in evaluations:
        files.append(layer_energy_plot(ev.network, energies[ev.network],
                                       os.path.join(args.out, ev.network, "energy.png")))
    return model, energies, files


def add_energy(d: dict, energy: dict) -> None:
    """Energy fields in a network's JSON: ``total.energy_pj``, ``energy_efficiency_over_dadn``
    (per scheme), ``conv_only`` likewise, and ``energy_pj`` per layer."""
    d["total"]["energy_pj"] = energy["total"]["energy_pj"]
    d["energy_efficiency_over_dadn"] = energy["energy_efficiency_over_dadn"]
    d["conv_only"]["energy_pj"] = energy["conv_only"]["energy_pj"]
    d["conv_only"]["energy_efficiency_over_dadn"] = energy["conv_only"]["energy_efficiency_over_dadn"]
    for row, e in zip(d["layers"], energy["layers"]):
        row["energy_pj"] = e["energy_pj"]


def energy_table(model, energies) -> str:
    from dstripes.synth.energy import PUBLISHED

    rows = []
    for net, e in energies.items():
        t, eff = e["conv_only"]["energy_pj"], e["conv_only"]["energy_efficiency_over_dadn"]
        rows.append([f"{net} (conv)", t[DADN.name] / 1e9, t[STRIPES.name] / 1e9, t[DSTRIPES.name] / 1e9,
                     eff[STRIPES.name], eff[DSTRIPES.name]])
    rows.append(["published (65 nm, whole chip)", "", "", "", PUBLISHED[STRIPES.name]["value"],
                 PUBLISHED[DSTRIPES.name]["value"]])
    return render(["network", "DaDN mJ", "Stripes mJ", "DStripes mJ", "STR eff.", "DStr eff."], rows,
                  title=f"Energy, compute only ({model.liberty}, {model.clock_ns:.2f} ns clock, "
                        f"{model.config.tiles} tiles; no memories, no wires; energy.md says how this "
                        f"differs from the papers)")
