"""``dstripes evaluate``: how much faster Dynamic Stripes runs a real network."""
from __future__ import annotations

import os
import sys

from dstripes.sim.errors import ConfigError
from dstripes.sim.schemes import DADN, DSTRIPES, STRIPES

from .cmd_profile import TARGET_HELP, add_network_options, check_counts, load, photos
from .options import add_tile_options, check_out_dir, print_json, tile_config
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
                   help="which shipped profile, or the target when profiling first: " + TARGET_HELP)
    p.add_argument("--images", type=int, default=16,
                   help="photos to evaluate: the first N held-out photos (or of --image-dir) (%(default)s)")
    add_tile_options(p)
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes counting cycles (default: CPU count; 0: in this process)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for reports and plots")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
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


def get_profile(args, net, note, given=None):
    """The ``--profile`` file (``given``, read already), the shipped profile of a built-in
    network, or a fresh profile."""
    from dstripes.sim.nets.models import BUILTIN
    from dstripes.sim.nets.profile import Profile, builtin_profile_path, profile_network
    if given is not None:
        return given
    if args.model in BUILTIN and os.path.isfile(builtin_profile_path(args.model, args.target)):
        prof = Profile.load(builtin_profile_path(args.model, args.target))
        if prof.input.get("size") == net.size:
            return prof
    note(f"no shipped profile for {net.name} at {net.size}x{net.size}: profiling on 16 photos first")
    images = photos(args, 16, "profile")
    return profile_network(net, images, targets=(args.target,), progress=not args.no_progress)[args.target]


def run(args) -> int:
    from dstripes.sim.nets.evaluate import evaluate_network
    from dstripes.sim.nets.paper import comparison
    from dstripes.sim.nets.report import LAYER_HEADERS, layer_rows, scheme_rows, write_all

    # every input checked before the first network loads
    cfg = tile_config(args)
    names = models(args)
    if args.jobs is not None and args.jobs < 0:
        raise ConfigError(f"--jobs must be at least 0, not {args.jobs}")
    given = None
    if args.profile:
        from dstripes.sim.nets.profile import Profile
        given = Profile.load(args.profile)
    check_counts(args, images=(args.images, "heldout", 1))
    out = check_out_dir(args.out, "--out")
    note = (lambda m: print(m, file=sys.stderr)) if args.json else print
    model = check_energy(args, cfg) if args.energy else None
    evaluations = []
    for name in names:
        args.model = name
        net = load(args)
        prof = get_profile(args, net, note, given)
        images = photos(args, args.images, "heldout")
        evaluations.append(evaluate_network(net, prof, images, cfg, jobs=args.jobs,
                                            progress=not args.no_progress))
    try:
        files = write_all(evaluations, str(out))
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
        if len(evaluations) == 1:
            out = dicts[0]
        else:
            out = {"networks": dicts, "paper": comparison(evaluations)}
        if energies is not None:
            out["energy_model"] = model.as_dict()
        print_json(out)
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
    pub = cmp["published"]
    rows.append(["published"] + [pub[k] for k in ("stripes_over_dadn", "dstripes_over_stripes",
                                                  "dstripes_over_dadn")])
    print(render(["conv layers", "STR/DaDN", "DStr/STR", "DStr/DaDN"], rows, title="Compared with the papers"))
    if energies is not None:
        print()
        print(energy_table(model, energies))
    print(f"\nwrote {len(files)} files to {args.out} (report.md, summary.json, layers.csv, plots"
          + (", energy.md, energy.json, energy_model.json" if energies is not None else "") + ")")
    return 0


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
