"""The accelerator's side of ``generate``, ``simulate``, ``evaluate`` and ``explore`` (``--chip``,
``docs/usage.md`` §12). Imported by those commands' ``run`` only, so ``dstripes --help`` stays quick."""
from __future__ import annotations

import json
import os
import sys

import numpy as np

from dstripes.hw.chip.design import write_chip
from dstripes.sim.chip.config import ChipConfig
from dstripes.sim.chip.descriptor import LayerDescriptor
from dstripes.sim.errors import ConfigError
from dstripes.sim.files import write_atomic
from dstripes.sim.fixed import Window
from dstripes.sim.config import TileConfig
from dstripes.sim.nets.chip_eval import INT8_WIDTHS, READINGS, SCHEMES, capture_codes, chip_inputs, evaluate_chip, memory_bound
from dstripes.sim.nets.chip_plots import sweep_plot
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.profile import model_profile
from dstripes.sim.schemes import DADN, DSTRIPES
from dstripes.sim.table import render
from dstripes.sim.chip.pool import PoolDescriptor
from dstripes.tb.host.chip_path import chip_run, pool_run, simulate_chip
from dstripes.tb.host.toolchain import missing_tools

from dstripes.synth.chip import check_chip_liberty
from dstripes.synth.chip_energy import DRAM_PJ_PER_BIT, DRAM_SOURCE, PARTS, chip_network_energy
from dstripes.synth.sram import chip_memories

from .arrays import conv_layer_files, load_int_array
from .chips import chip_design, dram_config, model_chip, parse_chip_sweep
from .energy import check_energy, the_energy_model
from .networks import int8_models, load, network_names
from .output import check_out_dir, check_out_file, print_json
from .photos import Count, photo_sets
from .profiles import given_or_shipped


#: Model cycles below which ``simulate --chip`` builds an unoptimised (quicker to build) model.
QUICK_BELOW = 1_000_000


def generate(args) -> int:
    design = chip_design(args)
    out = check_out_dir(args.out, "--out")
    path = write_chip(design, out)
    man = design.manifest.as_dict()
    if args.json:
        print_json({**man, "verilog": str(path)})
        return 0
    c = design.chip
    mems = ", ".join(f"{m['name']} {m['count']} x {m['words']:,} words x {m['bits']} bits" for m in man["memories"])
    kind = design.tile.title + (f" (run-ahead {c.tile.run_ahead})" if c.kind.detects and c.tile.run_ahead else "")
    print(f"{path}  ({kind} accelerator: {c.tiles} tiles, NM {c.nm_kib} KiB read {c.nm_read} "
          f"bricks/cycle, SB {c.sb_kib} KiB per tile; memories: {mems})")
    return 0


def simulate(args) -> int:
    """``simulate --chip``: the whole layer on the generated accelerator."""
    for opt, bad in (("--window-sets", args.window_sets is not None), ("--filter-set", args.filter_set != 0),
                     ("--path", args.path != "auto"), ("--idle", args.idle != 0.0), ("--stall", args.stall != 0.0),
                     ("--waves", args.waves is not None), ("--sim", args.sim != "verilator")):
        if bad:
            raise ConfigError(f"{opt} does not apply to --chip (the accelerator runs the whole layer on Verilator; "
                              f"--dram-stall sets its off-chip back-pressure)")
    if args.out_window is None or args.out_shift is None:
        raise ConfigError("--chip needs --out-window MSB:LSB and --out-shift S (the requantisation of the outputs)")
    design = chip_design(args)
    chip = design.chip
    chip.kind.check_mode(args.mode, chip.tile)
    layer, window, acts, weights = conv_layer_files(args)
    bias = load_int_array(args.bias, "bias") if args.bias else None
    out_window = Window.parse(args.out_window, args.out_signed)
    residual, res_window = residual_files(args)
    if args.out_acts:
        check_out_file(args.out_acts, "--out-acts")
    dram = dram_config(args, default_bandwidth=min(16.0, chip.beat_bytes))
    in_bricks = -(-layer.c // chip.tile.lanes) * layer.h * layer.w
    desc = LayerDescriptor(layer, window, out_window, shift=args.out_shift, bias=bias is not None,
                           mode=chip.kind.check_mode(args.mode, chip.tile), w_base=in_bricks,
                           residual=res_window, res_shift=args.res_shift or 0)
    plan = chip_run(chip, desc, np.asarray(acts, dtype=np.int64), weights, dram=dram, bias=bias,
                    residual=residual)                                                       # every check
    pooled = None
    if args.pool is not None:
        pd = PoolDescriptor.parse(args.pool, (layer.k, layer.oh, layer.ow), out_window)
        pooled = pool_run(chip, pd, plan.model.outputs, dram=dram)                         # its checks too
    problem = missing_tools("verilator")
    if problem:
        raise ConfigError(problem)
    # short runs: a quick (-O0) model builds in less time than it would save
    res = simulate_chip(design, plan, quick=plan.model.cycles < QUICK_BELOW)
    # the POOL command on the layer's output (equal to the model's, or the run has failed)
    pres = simulate_chip(design, pooled, quick=plan.model.cycles < QUICK_BELOW) if pooled is not None else None
    passed = res.passed and (pres is None or pres.passed)
    if args.out_acts:
        np.save(args.out_acts, (pres or res).outputs.astype(np.int64))
    if args.json:
        print_json({**res.as_dict(), "passed": passed, "pool": pres.as_dict() if pres is not None else None})
        return 0 if passed else 1
    c, b = res.as_dict()["cycles"], res.breakdown
    print(render(["", "value"], [
        ["accelerator", f"{chip.tiles} x {design.tile.title}, NM read {chip.nm_read}"],
        ["cycles (RTL)", res.cycles_rtl], ["cycles (model)", res.cycles_model],
        ["  compute", c["compute"]], ["  NM stalls", c["nm_stall"]], ["  weight stalls", c["weight_stall"]],
        ["  off-chip stalls", c["offchip_stall"]],
        ["outputs checked", res.checked], ["mismatches", res.mismatches],
        ["simulated cycles / s", f"{res.cycles_per_second:,.0f}"],
        ["wall time (generate, build, run)", f"{res.wall_seconds:.1f} s"],
    ], title=f"{layer.describe()} on the accelerator"))
    rows = [[x.name, x.status, x.detail] for x in res.verdict.checks]
    if pres is not None:
        print()
        print(render(["", "value"], [
            ["cycles (RTL)", pres.cycles_rtl], ["cycles (model)", pres.cycles_model],
            ["NM reads / writes", f"{pres.nm['reads']:,} / {pres.nm['writes']:,}"],
            ["outputs checked", pres.checked], ["mismatches", pres.mismatches],
        ], title=f"POOL {args.pool} of its {layer.k}x{layer.oh}x{layer.ow} output"))
        rows += [[f"pool: {x.name}", x.status, x.detail] for x in pres.verdict.checks]
    print()
    print(render(["check", "status", "detail"], rows))
    failed = [r for r in (res, pres) if r is not None and not r.passed]
    print("\nCHECK PASSED" if passed else f"\nCHECK FAILED: {failed[0].verdict.message()}")
    for r in (res, pres):
        if r is not None and r.log:
            print(f"simulator log: {r.log}")
    return 0 if passed else 1


def residual_files(args) -> tuple:
    """``(codes, window)`` of ``--residual --res-window --res-signed`` (``(None, None)`` without
    a residual); ``--res-*`` without ``--residual`` is an error naming the option."""
    if args.residual is None:
        for flag, given in (("--res-window", args.res_window is not None), ("--res-signed", args.res_signed),
                            ("--res-shift", args.res_shift is not None)):
            if given:
                raise ConfigError(f"{flag} applies only with --residual")
        return None, None
    if args.res_window is None:
        raise ConfigError("--residual needs --res-window MSB:LSB (the residual codes' window)")
    return load_int_array(args.residual, "residual"), Window.parse(args.res_window, args.res_signed)


def evaluate(args) -> int:
    """``evaluate --chip``: whole networks on the memory-aware model."""
    if args.dump:
        raise ConfigError("--dump does not apply to --chip")
    if args.energy_model and not args.energy:
        raise ConfigError("--energy-model applies only with --energy")
    names = network_names(args)
    int8 = int8_models(names, args)
    if args.profile and len(names) > 1:
        raise ConfigError(f"--profile holds one network's profile but {len(names)} networks were given")
    chip = model_chip(args, DSTRIPES.name, INT8_WIDTHS if int8 else None)
    dram = dram_config(args, default_bandwidth=None)
    if dram is not None:
        dram.check_beat(chip.beat_bytes)
    model = memories = None
    if args.energy:       # the library, the tools, a saved model and the memories, before any work
        check_chip_liberty(args.liberty)
        memories = chip_memories(chip)
        model = check_energy(args, chip.tile)
    check_out_dir(args.out)
    # an int8 model's profile is its own codes' (read once it is loaded)
    profiles = {} if int8 else {name: given_or_shipped(args, name, size=args.size) for name in names}
    for name, prof in profiles.items():
        if prof is None:
            raise ConfigError(f"--chip evaluates with a precision profile: {name} has no shipped profile at this "
                              f"size (give --profile)")
    _, photos = photo_sets(args, Count(0), Count(args.images, "--images"))
    nets = []
    for name in names:
        net = load(args, name)
        prof = model_profile(net) if int8 else profiles[name]
        prof.check_network(net)
        nets.append((net, prof))
    note = (lambda m: print(m, file=sys.stderr)) if args.json else print
    evaluations = []
    for net, prof in nets:
        readings, codes = chip_inputs(prof, capture_codes(net, prof, photos), chip.tile.act_bits,
                                      chip.tile.weight_bits)
        evaluations.append(evaluate_chip(net.layers(), readings, codes, chip, dram, network=net.name))
    data = [ev.as_dict() for ev in evaluations]
    energies = None
    if args.energy:
        model = the_energy_model(args, chip.tile, model, note)
        energies = [chip_network_energy(model, memories, ev) for ev in evaluations]
        for d, e in zip(data, energies):
            add_chip_energy(d, e)
    write_atomic(os.path.join(args.out, "chip.json"), json.dumps(data if len(data) > 1 else data[0], indent=1) + "\n")
    if args.json:
        out = data[0] if len(data) == 1 else {"networks": data}
        if energies is not None:
            out = {**out, "energy_model": model.as_dict(), "memories": memories.as_dict(),
                   "dram": {"pj_per_bit": DRAM_PJ_PER_BIT, "source": DRAM_SOURCE}}
        print_json(out)
        return 0
    mem = ("weights on chip" if dram is None else
           f"weights off chip at {dram.bytes_per_cycle:g} B/cycle, latency {dram.latency}")
    for ev in evaluations:
        rows = []
        for l in ev.layers:
            row = [l.name]
            for s in SCHEMES:
                b = l.counts[s]
                row += [b.cycles, b.cycles - b.compute]
            rows.append(row + [l.counts[DADN.name].cycles / l.counts[DSTRIPES.name].cycles])
        print(render(["layer", "DaDN", "stall", "Stripes", "stall", "DStripes", "stall", "DStr/DaDN"], rows,
                     title=f"{ev.network} on the accelerator ({chip.tiles} tiles, NM read {chip.nm_read} bricks/cycle, "
                           f"{mem}), {ev.photos} photo(s): cycles and their stalls per conv layer"))
        sp, ideal = ev.speedups(), ev.compute_speedups()
        print(render(["", "STR/DaDN", "DStr/STR", "DStr/DaDN"], [
            ["with this memory system", sp["stripes_over_dadn"], sp["dstripes_over_stripes"], sp["dstripes_over_dadn"]],
            ["ideal memory (compute only)", ideal["stripes_over_dadn"], ideal["dstripes_over_stripes"],
             ideal["dstripes_over_dadn"]]], title=f"{ev.network}: speed-ups (conv layers)"))
        readings = [l.codes.reading for l in ev.layers if l.codes is not None and l.codes.reading != READINGS[0]]
        if readings:
            print(f"the int8 model's own codes on {chip.tile.act_bits}-bit tiles: "
                  f"{readings.count(READINGS[1])} layers on q - zero_point, {readings.count(READINGS[2])} on the raw "
                  f"codes q (a zero point shifting q - zero_point to 9 bits; its term folded into the bias)")
        if ev.skipped:
            print(f"left to the host (fully-connected: the accelerator's tiles run conv layers; "
                  f"`dstripes verify` runs them on the FC tile): {', '.join(ev.skipped)}")
        print()
    if energies is not None:
        print(chip_energy_table(model, memories, evaluations, energies))
        print()
    note(f"wrote {os.path.join(args.out, 'chip.json')}")
    return 0


def explore(args) -> int:
    """``explore --sweep nm_read=...``: speed-ups against the NM read width (model only)."""
    sweep = parse_chip_sweep(args.sweep)
    int8 = int8_models(network_names(args), args)
    out = check_out_dir(args.out, "--out")
    base = ChipConfig(tile=TileConfig(**INT8_WIDTHS)) if int8 else ChipConfig()
    prof = None if int8 else given_or_shipped(args, args.model, size=args.size)
    if prof is None and not int8:
        raise ConfigError(f"the accelerator sweep needs a precision profile: {args.model} has no shipped one "
                          f"at this size (give --profile)")
    net = load_network(args.model, size=args.size)
    prof = model_profile(net) if int8 else prof
    prof.check_network(net)
    _, photos = photo_sets(args, Count(0), Count(args.images, "--images"))
    readings, codes = chip_inputs(prof, capture_codes(net, prof, photos), base.tile.act_bits, base.tile.weight_bits)
    evs = {b: evaluate_chip(net.layers(), readings, codes, base.replace(nm_read=b), None, network=net.name)
           for b in sweep["nm_read"]}
    bound = memory_bound(evs)
    points = {b: ev.speedups() for b, ev in evs.items()}
    result = {"network": net.name, "photos": len(photos), "chip": base.as_dict(), "sweep": sweep,
              "points": [{"nm_read": b, "speedup": points[b],
                          "stall_share": {s: (ev.totals()[s].nm_stall / ev.totals()[s].compute) for s in SCHEMES},
                          "total": {s: b_.as_dict() for s, b_ in ev.totals().items()}} for b, ev in evs.items()],
              "memory_bound_at_or_below": bound,
              "model_seconds": sum(ev.seconds for ev in evs.values())}
    files = [str(out / "explore.json"), str(out / "explore.png")]
    write_atomic(files[0], json.dumps(result, indent=1) + "\n")
    sweep_plot(points, files[1], f"{net.name}, {len(photos)} photo(s): {base.tiles} tiles of "
                                 f"{base.tile.rows}x{base.tile.columns}x{base.tile.lanes}, weights on chip")
    result["files"] = files
    if args.json:
        print_json(result)
        return 0
    rows = [[b, p["speedup"]["stripes_over_dadn"], p["speedup"]["dstripes_over_stripes"],
             p["speedup"]["dstripes_over_dadn"], 100 * p["stall_share"][DSTRIPES.name]]
            for b, p in zip(sweep["nm_read"], result["points"])]
    print(render(["nm_read", "STR/DaDN", "DStr/STR", "DStr/DaDN", "DStr NM stall %"], rows,
                 title=f"{net.name}: speed-ups against the NM read width (conv layers, memory stalls included)"))
    print("memory-bound (NM stalls >= 1 % of compute) at or below nm_read: " +
          ", ".join(f"{s} {bound[s] if bound[s] is not None else 'never in this sweep'}" for s in SCHEMES))
    print(f"\nwrote {', '.join(files)}")
    return 0


def add_chip_energy(d: dict, energy) -> None:
    """Whole-chip energy fields in a network's ``evaluate --chip`` JSON: ``total.energy_pj`` and
    ``energy_efficiency_over_dadn`` per scheme, ``energy_parts_pj`` (per scheme, :data:`PARTS`),
    and each layer's ``energy_pj`` and ``energy_parts_pj``."""
    e = energy.as_dict()
    d["total"]["energy_pj"] = e["energy_pj"]
    d["energy_efficiency_over_dadn"] = e["energy_efficiency_over_dadn"]
    d["energy_parts_pj"] = e["parts_pj"]
    for row, l in zip(d["layers"], e["layers"]):
        row["energy_pj"] = l["energy_pj"]
        row["energy_parts_pj"] = l["parts_pj"]


def chip_energy_table(model, memories, evaluations, energies) -> str:
    """Each network's whole-chip energy split into its parts, and the efficiencies."""
    rows = []
    for ev, e in zip(evaluations, energies):
        parts, eff = e.parts, e.efficiency_over_dadn
        for s in SCHEMES:
            rows.append([ev.network, s, *(parts[s][k] / 1e6 for k in PARTS), e.energy_pj[s] / 1e6, eff[s]])
    return render(["network", "chip", *(f"{k} µJ" for k in PARTS), "total µJ", "eff. over DaDN"], rows,
                  title=f"Whole-chip energy (sky130; logic at {model.clock_ns:.2f} ns; {memories.macros} SRAM macros; "
                        f"off-chip {DRAM_PJ_PER_BIT:g} pJ/bit)")
