"""``dstripes simulate``: run a generated tile on Icarus or Verilator against the golden model."""
from __future__ import annotations

import argparse

from dstripes.sim.errors import ConfigError
from dstripes.sim.precision import MODES
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer

from .chip_options import add_chip_options, check_chip_flag
from .cmd_cycles import input_shape
from .options import (LAYER_HELP, WINDOW_HELP, add_kind_option, add_tile_options, check_out_dir,
                      load_int_array, print_json, select_image, tile_design)
from dstripes.sim.table import render


def register(sub) -> None:
    p = sub.add_parser("simulate", help="simulate a generated tile on a layer (slice) and check it",
                       description="Generate a tile, build it for Icarus or Verilator, stream a "
                                   "layer (or its first window-sets) through it, and check every "
                                   "result bit-exactly and the cycle count exactly against the "
                                   "golden model. Exits 1 when anything differs.")
    add_kind_option(p)
    p.add_argument("--sim", choices=("icarus", "verilator"), default="verilator",
                   help="simulator (default verilator; Icarus is ~65x slower on the published tile)")
    p.add_argument("--acts", required=True, metavar="ACTS.npy",
                   help="integer activation codes (C,H,W) or (N,C,H,W) (see --image)")
    p.add_argument("--weights", required=True, metavar="W.npy",
                   help="integer weights, PyTorch layout (K, C/groups, KH, KW)")
    p.add_argument("--layer", required=True, metavar="SPEC", help=LAYER_HELP + " (conv layers only)")
    p.add_argument("--window", required=True, metavar="MSB:LSB", help=WINDOW_HELP)
    p.add_argument("--signed", action="store_true", help="two's-complement activations")
    p.add_argument("--image", type=int, default=None, metavar="N",
                   help="which input of an (N,C,H,W) file (default 0; not for (C,H,W) files)")
    p.add_argument("--window-sets", type=window_sets_arg, default=None, metavar="N|all",
                   help="only the first N window-sets (windows on the dadn tile); default all")
    p.add_argument("--path", choices=("auto", "fast", "cycle"), default="auto",
                   help="fast: the tile inside its memory-backed verification harness, no Python per "
                        "cycle (tens of thousands of cycles/s on Verilator); cycle: the per-cycle cocotb "
                        "testbench; auto: fast for runs of 20,000 cycles or more (default)")
    p.add_argument("--filter-set", type=int, default=0, metavar="F",
                   help="which Nr filters of the layer (default %(default)s)")
    p.add_argument("--mode", choices=MODES, default=None,
                   help="run-time precision mode: static (whole window), leading, both (leading and "
                        "trailing; needs a tile generated with --trim both). Default: the tile's --trim "
                        "on dstripes, static otherwise")
    add_tile_options(p, tiles=False)
    p.add_argument("--waves", metavar="DIR", default=None,
                   help="record waveforms and keep the run's files in DIR (Icarus: DIR/<kind>_tile.fst of "
                        "the netlist flattened by yosys; Verilator: DIR/dump.vcd of the emitted Verilog)")
    p.add_argument("--seed", type=int, default=0, help="seed of --idle / --stall (default %(default)s)")
    p.add_argument("--idle", type=float, default=0.0,
                   help="probability of an idle producer cycle before each transfer (default %(default)s); "
                        "the model's cycle count then does not apply (see the checks)")
    p.add_argument("--stall", type=float, default=0.0,
                   help="probability of consumer back-pressure in a cycle (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_chip_options(p, tiles=True, dram="simulate")
    g = p.add_argument_group("the accelerator's outputs (--chip)")
    g.add_argument("--bias", metavar="B.npy", default=None, help="per-filter bias (K,) in accumulator units")
    g.add_argument("--out-window", metavar="MSB:LSB", default=None,
                   help="the output codes' window (unsigned windows clamp negatives to 0: the ReLU)")
    g.add_argument("--out-signed", action="store_true", help="two's-complement output codes")
    g.add_argument("--out-shift", type=int, default=None, metavar="S",
                   help="requantisation: code = 2**lsb * round_half_even((acc + bias) / 2**(S + lsb)), saturated")
    g.add_argument("--out-acts", metavar="OUT.npy", default=None,
                   help="write the output codes the accelerator stored, (K, Ho, Wo) int64")
    p.set_defaults(func=run)


#: Options of ``simulate`` that only the accelerator takes.
CHIP_ONLY = (("bias", "--bias"), ("out_window", "--out-window"), ("out_shift", "--out-shift"),
             ("out_acts", "--out-acts"), ("out_signed", "--out-signed"))


def window_sets_arg(text: str):
    """``--window-sets``: a positive count or ``all``."""
    if text == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of window-sets or 'all', not {text!r}") from None


def load_layer(args):
    """Layer, window, one input's codes and the weights named by the arguments."""
    acts = load_int_array(args.acts, "activations")
    weights = load_int_array(args.weights, "weights")
    window = Window.parse(args.window, args.signed)
    if Layer.spec_is_fc(args.layer):
        raise ConfigError("fully-connected layers are dispatched round-robin in the model only; "
                          "the tile RTL runs conv layers")
    layer = Layer.parse(args.layer, input_shape(acts, False))
    # one input is simulated: the first of an (N,C,H,W) file unless --image names another
    acts = select_image(acts, 0 if args.image is None and acts.ndim == 4 else args.image, args.acts)
    want = (layer.k, layer.cg, layer.kh, layer.kw)
    if weights.shape != want:
        raise ConfigError(f"weights have shape {weights.shape}, the layer needs {want}")
    return layer, window, acts, weights


def run(args) -> int:
    check_chip_flag(args, tiles=True)
    if not args.chip:
        for dest, opt in CHIP_ONLY:
            if getattr(args, dest):
                raise ConfigError(f"{opt} applies only with --chip")
    if args.chip:
        from .chip_commands import simulate
        return simulate(args, *load_layer(args))
    from dstripes.tb.simulate import simulate_layer  # cocotb / Amaranth load only here

    tile = tile_design(args)
    tile.scheme.check_mode(args.mode, tile.config)  # a mode the tile is not generated for, before any work
    layer, window, acts, weights = load_layer(args)
    for name in ("idle", "stall"):
        v = getattr(args, name)
        if not 0.0 <= v < 1.0:
            raise ConfigError(f"--{name} must be a probability in [0, 1), not {v}")
    if args.waves is not None:
        check_out_dir(args.waves, "--waves")
    res = simulate_layer(tile, args.sim, layer, window, acts, weights,
                         window_sets=args.window_sets, filter_set=args.filter_set, mode=args.mode,
                         waves_dir=args.waves, seed=args.seed, idle=args.idle, stall=args.stall,
                         path=args.path)
    ok = res["passed"]
    if args.json:
        print_json(res)
    else:
        print(render(["", "value"], [
            ["simulator", res["sim"]], ["scheme", res["scheme"]],
            ["testbench", "memory-backed harness (fast path)" if res["path"] == "fast" else "per-cycle cocotb"],
            ["window-sets x steps", f"{res['window_sets']} x {res['steps']}"],
            ["cycles (RTL counter)", res["cycles_rtl"]],
            ["cycles (model, RTL-exact)", res["cycles_model"]],
            ["ideal + latency", f"{res['ideal']:,} + {res['latency']}"],
            ["results checked", res["results_checked"]],
            ["simulated cycles / s", f"{res['cycles_per_second']:,.0f}"],
            ["wall time (generate, build, run)", f"{res['wall_seconds']:.1f} s"
             + (f" (build {res['build_seconds']:.0f} s)" if res["build_seconds"] else "")],
        ], title=f"{layer.describe()}, window [{window.msb}:{window.lsb}]"))
        print()
        print(render(["check", "status", "detail"], [[c["name"], c["status"], c["detail"]] for c in res["checks"]]))
        print("\nCHECK PASSED" if ok else f"\nCHECK FAILED: {res['failure']}")
        if res["waves"]:
            print(f"waveforms: {res['waves']}")
        if res["log"]:
            print(f"simulator log: {res['log']}")
    return 0 if ok else 1
