"""``dstripes demo``: the end-to-end demo of the README's main command.

On a bundled real-activation sample (real photos through a real pretrained network, see
:mod:`sim.samples`): (1) the golden model's cycles and speedups for the whole layer on every
input, (2) the published Dynamic Stripes tile generated, built and simulated on Verilator over
the whole layer - every photo, every convolution group, every filter-set, every window - with
every result and every run's cycle count checked against the model, (3) the same layer's cycles
on Stripes and on the bit-parallel tile, and the speedups.
"""
from __future__ import annotations

from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError

from . import options
from .options import Option

DEFAULT_SAMPLE = "vgg16_conv3_1"
#: Window-sets of the demo's slice on Icarus (the whole layer would take many minutes there).
ICARUS_SLICE = 4
SMALL = TileConfig(lanes=4, columns=4, rows=4, act_bits=16, weight_bits=16)


def register(sub) -> None:
    p = options.add_command(sub, "demo", "end-to-end demo: model + generated tile simulated and checked",
                            __doc__.split("\n\n")[1])
    Option("--sample", f"bundled sample (default {DEFAULT_SAMPLE}; see --list)").add(p)
    Option("--list", "list the bundled samples and exit", switch=True).add(p)
    options.add_run_options(p, window_sets=f"all on Verilator, {ICARUS_SLICE} on Icarus, which runs a few hundred "
                                           f"cycles per second; a slice runs on the first photo's first "
                                           f"filter-set")
    Option("--small", "a 4x4x4 tile instead of the published 16x16x16 one (fast, e.g. on Icarus)",
           switch=True).add(p)
    options.add_output_options(p, out=None)
    p.set_defaults(func=run)


def run(args) -> int:
    from dstripes.hw.design import TileDesign
    from dstripes.sim.cycles import layer_cycles
    from dstripes.sim.layer import Layer
    from dstripes.sim.samples import load_sample, sample_info, sample_names
    from dstripes.sim.schemes import DADN, DSTRIPES, SCHEMES, STRIPES
    from dstripes.sim.table import layer_table, render
    from dstripes.tb.host.runs import layer_runs
    from dstripes.tb.host.simulate import model_slice_cycles, play

    from .output import print_json

    if args.list:
        # the layer each sample runs (a slice of the network's layer, named after the shape)
        rows = []
        for name in sample_names():
            info = sample_info(name)
            w = info.window
            rows.append([name, info.layer.describe(), f"[{w.msb}:{w.lsb}]" + (" signed" if w.signed else ""),
                         len(info.photos), f"{info.network} {info.source_layer} ({info.filters} filters)"])
        print(render(["sample", "layer it runs", "window", "inputs", "taken from"], rows))
        return 0
    name = args.sample or (DEFAULT_SAMPLE if DEFAULT_SAMPLE in sample_names() else sample_names()[0])
    cfg = SMALL if args.small else TileConfig()
    info = sample_info(name)
    total = info.layer.window_sets(cfg.columns)
    if args.window_sets is None:
        args.window_sets = ICARUS_SLICE if args.sim == "icarus" else "all"
    if args.window_sets == "all":
        args.window_sets = None
    elif not 1 <= args.window_sets <= total:  # before the minutes of the whole-layer model and the build
        raise ConfigError(f"--window-sets {args.window_sets} is outside 1..{total}, the window-sets "
                          f"of sample {name} on this tile")
    acts, weights, layer, window = load_sample(name)

    whole = layer_cycles(acts, layer, window, cfg, name=name)
    tile = TileDesign.of(DSTRIPES.name, cfg)
    sets = layer.filter_sets(cfg.rows)
    if args.window_sets is None:  # the whole layer: every photo, convolution group and filter-set
        plan = [(i, g, tuple(range(sets)), None) for i in range(len(acts)) for g in range(layer.conv_groups)]
        what = (f"whole layer: {len(acts)} photo(s) x {layer.conv_groups} convolution group(s) x {sets} "
                f"filter-set(s) x {layer.window_sets(cfg.columns)} window-sets")
    else:
        nws = min(args.window_sets, layer.window_sets(cfg.columns))
        plan = [(0, 0, (0,), nws)]
        what = f"first {nws} window-sets of photo 0, filter-set 0"
    runs = [r for i, g, fs, nws in plan
            for r in layer_runs(tile, layer, window, acts[i], weights, filter_sets=fs,
                                window_sets=nws, conv_group=g)]
    sim = play(tile, args.sim, runs, path="auto")
    # the same runs on every scheme's model (bit-parallel: the same windows, one brick per cycle)
    model = {s: 0 for s in SCHEMES}
    for i, g, fs, nws in plan:
        for s, n in model_slice_cycles(cfg, layer, window, acts[i], nws, conv_group=g).items():
            model[s] += len(fs) * n
    ok = sim.passed
    rtl = sim.cycles_rtl
    speed = {s: model[s] / model[DSTRIPES.name] for s in (STRIPES.name, DADN.name)}
    if args.json:
        print_json({"sample": name, "layer": whole.as_dict(), "simulated": what, "simulation": sim.as_dict(),
                    "model_cycles": model,
                    "speedup": {"over_stripes": speed[STRIPES.name], "over_dadn": speed[DADN.name]},
                    "check_passed": ok})
        return 0 if ok else 1
    shape = f"{cfg.rows}x{cfg.columns} SIPs of {cfg.lanes} lanes, {cfg.act_bits}-bit"
    bench = "memory-backed harness" if sim.path == "fast" else "per-cycle cocotb testbench"
    print(f"Sample {name}: {layer.describe()}, window [{window.msb}:{window.lsb}]"
          f"{' signed' if window.signed else ''} (p = {window.bits}), {acts.shape[0]} real input(s)\n")
    print(layer_table([whole], title="1. Golden model, whole layer, all inputs (16 tiles):"))
    print()
    print(render(["", "cycles", "Dynamic Stripes speed-up"], [
        ["Dynamic Stripes tile, RTL on " + args.sim, rtl, ""],
        ["Dynamic Stripes, model (RTL-exact)", sim.cycles_model, ""],
        ["Dynamic Stripes, model (ideal)", model[DSTRIPES.name], ""],
        ["Stripes, model", model[STRIPES.name], f"x{speed[STRIPES.name]:.2f}"],
        ["bit-parallel (DaDN), model", model[DADN.name], f"x{speed[DADN.name]:.2f}"],
    ], title=f"2. Generated tile ({shape}) on one tile, {what}:"))
    print(f"\n   Checked on {args.sim} ({bench}): {sim.results_checked:,} results bit-exact; each of the "
          f"{len(runs)} runs' cycle count equal to the model's RTL-exact count (ideal + the tile's latency of "
          f"{sim.latency}); {sim.cycles_per_second:,.0f} simulated cycles/s"
          + (f"; model built in {sim.build_seconds:.0f} s." if sim.build_seconds else "."))
    print("\nCHECK PASSED: results bit-exact, cycle counts exact." if ok else
          f"\nCHECK FAILED: {sim.failure}")
    return 0 if ok else 1
