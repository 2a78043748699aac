"""``dstripes demo``: the end-to-end demo of the README's main command.

On a bundled real-activation sample (real photos through a real pretrained network, see
:mod:`sim.samples`): (1) the golden model's cycles and speedups for the whole layer on every
input, (2) the published Dynamic Stripes tile generated, built and simulated on Verilator over a
slice of the layer, every result and the cycle count checked against the model, (3) the same
slice's cycles on Stripes and on the bit-parallel tile, and the speedups.
"""
from __future__ import annotations

from dstripes.sim.config import TileConfig
from dstripes.sim.cycles import layer_cycles
from dstripes.sim.errors import ConfigError
from dstripes.sim.layer import Layer
from dstripes.sim.schemes import DADN, DSTRIPES, STRIPES

from .options import print_json
from .table import layer_table, render

DEFAULT_SAMPLE = "vgg16_conv3_1"
DEFAULT_WINDOW_SETS = 4
SMALL = TileConfig(lanes=4, columns=4, rows=4, act_bits=16, weight_bits=16)


def register(sub) -> None:
    p = sub.add_parser("demo", help="end-to-end demo: model + generated tile simulated and checked",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("--sample", default=None, help=f"bundled sample (default {DEFAULT_SAMPLE}; see --list)")
    p.add_argument("--list", action="store_true", help="list the bundled samples and exit")
    p.add_argument("--sim", choices=("verilator", "icarus"), default="verilator",
                   help="simulator (default %(default)s)")
    p.add_argument("--window-sets", type=int, default=None, metavar="N",
                   help=f"window-sets of the simulated slice (default {DEFAULT_WINDOW_SETS}, or all "
                        f"of a smaller layer)")
    p.add_argument("--small", action="store_true",
                   help="a 4x4x4 tile instead of the published 16x16x16 one (fast, e.g. on Icarus)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from dstripes.sim.samples import load_sample, sample_info, sample_names
    from dstripes.tb.simulate import model_slice_cycles, simulate_layer

    if args.list:
        # the layer each sample runs (a slice of the network's layer, named after the shape)
        rows = []
        for name in sample_names():
            info = sample_info(name)
            w = info["window"]
            rows.append([name, Layer(**info["layer"]).describe(), f"[{w['msb']}:{w['lsb']}]"
                         + (" signed" if w["signed"] else ""), len(info.get("photos", [])),
                         f"{info['network']} {info['source_layer']} ({info.get('filters', 'all')} filters)"])
        print(render(["sample", "layer it runs", "window", "inputs", "taken from"], rows))
        return 0
    name = args.sample or (DEFAULT_SAMPLE if DEFAULT_SAMPLE in sample_names() else sample_names()[0])
    cfg = SMALL if args.small else TileConfig()
    info = sample_info(name)
    total = Layer(**info["layer"]).window_sets(cfg.columns)
    nws = min(DEFAULT_WINDOW_SETS, total) if args.window_sets is None else args.window_sets
    if not 1 <= nws <= total:  # before the minutes of the whole-layer model and the build
        raise ConfigError(f"--window-sets {args.window_sets} is outside 1..{total}, the window-sets "
                          f"of sample {name} on this tile")
    acts, weights, layer, window = load_sample(name)

    whole = layer_cycles(acts, layer, window, cfg, name=name)
    sim = simulate_layer(DSTRIPES.name, args.sim, cfg, layer, window, acts[0], weights, window_sets=nws)
    slice_model = model_slice_cycles(cfg, layer, window, acts[0], nws)
    ok = sim["passed"]
    rtl = sim["cycles_rtl"]
    speed = {k: slice_model[k] / slice_model[DSTRIPES.name] for k in (STRIPES.name, DADN.name)}
    if args.json:
        print_json({"sample": name, "layer": whole.as_dict(), "simulation": sim,
                    "slice_model_cycles": slice_model,
                    "slice_speedup": {"over_stripes": speed[STRIPES.name], "over_dadn": speed[DADN.name]},
                    "check_passed": ok})
        return 0 if ok else 1
    tile = f"{cfg.rows}x{cfg.columns} SIPs of {cfg.lanes} lanes, {cfg.act_bits}-bit"
    print(f"Sample {name}: {layer.describe()}, window [{window.msb}:{window.lsb}]"
          f"{' signed' if window.signed else ''} (p = {window.bits}), {acts.shape[0]} real input(s)\n")
    print(layer_table([whole], title="1. Golden model, whole layer, all inputs (16 tiles):"))
    print()
    print(render(["", "cycles", "Dynamic Stripes speed-up"], [
        ["Dynamic Stripes tile, RTL on " + args.sim, rtl, ""],
        ["Dynamic Stripes, model (RTL-exact)", sim["cycles_model"], ""],
        ["Dynamic Stripes, model (ideal)", slice_model[DSTRIPES.name], ""],
        ["Stripes, model", slice_model[STRIPES.name], f"x{speed[STRIPES.name]:.2f}"],
        ["bit-parallel (DaDN), model", slice_model[DADN.name], f"x{speed[DADN.name]:.2f}"],
    ], title=f"2. Generated tile ({tile}), first {nws} window-sets of input 0, filter-set 0:"))
    print(f"\n   {sim['results_checked']} results checked bit-exactly; RTL - ideal = {rtl - slice_model[DSTRIPES.name]}"
          f" cycles (the tile's latency, {sim['latency']}); {sim['cycles_per_second']:,.0f} simulated cycles/s;"
          f" {sim['wall_seconds']:.0f} s to generate, build and run.")
    print("\nCHECK PASSED: results bit-exact, cycle count exact." if ok else
          f"\nCHECK FAILED: {sim['failure']}")
    return 0 if ok else 1
