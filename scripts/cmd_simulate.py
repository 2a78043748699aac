"""``dstripes simulate``: run a generated tile on Icarus or Verilator against the golden model."""
from __future__ import annotations

from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer

from .cmd_cycles import input_shape
from .options import add_tile_options, load_int_array, print_json, tile_config
from .table import render


def register(sub) -> None:
    p = sub.add_parser("simulate", help="simulate a generated tile on a layer (slice) and check it",
                       description="Generate a tile, build it for Icarus or Verilator, stream a "
                                   "layer (or its first window-sets) through it, and check every "
                                   "result bit-exactly and the cycle count exactly against the "
                                   "golden model. Exits 1 when anything differs.")
    p.add_argument("--scheme", choices=("dstripes", "stripes", "dadn"), default="dstripes")
    p.add_argument("--sim", choices=("icarus", "verilator"), default="verilator")
    p.add_argument("--acts", required=True, metavar="ACTS.npy",
                   help="integer activation codes (C,H,W) or (N,C,H,W) (see --image)")
    p.add_argument("--weights", required=True, metavar="W.npy",
                   help="integer weights, PyTorch layout (K, C/groups, KH, KW)")
    p.add_argument("--layer", required=True, metavar="SPEC", help="k=K,kh=KH,kw=KW,stride=S,pad=P[,groups=G]")
    p.add_argument("--window", required=True, metavar="MSB:LSB")
    p.add_argument("--signed", action="store_true", help="two's-complement activations")
    p.add_argument("--image", type=int, default=0, help="which input of an (N,C,H,W) file (%(default)s)")
    p.add_argument("--window-sets", type=int, default=None, metavar="N",
                   help="only the first N window-sets (windows on the dadn tile); default all")
    p.add_argument("--filter-set", type=int, default=0, metavar="F", help="which Nr filters (%(default)s)")
    p.add_argument("--mode", choices=("static", "leading", "both"), default=None,
                   help="run-time precision mode (default: --trim on dstripes, static otherwise)")
    add_tile_options(p, tiles=False)
    p.add_argument("--max-reduction", type=int, default=1 << 16, metavar="N")
    p.add_argument("--waves", metavar="DIR", default=None, help="record waveforms into DIR")
    p.add_argument("--seed", type=int, default=0, help="seed of --idle / --stall")
    p.add_argument("--idle", type=float, default=0.0, help="probability of idle producer cycles")
    p.add_argument("--stall", type=float, default=0.0, help="probability of consumer back-pressure")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def load_layer(args):
    """Layer, window, one input's codes and the weights named by the arguments."""
    acts = load_int_array(args.acts, "activations")
    weights = load_int_array(args.weights, "weights")
    window = Window.parse(args.window, args.signed)
    if Layer.spec_is_fc(args.layer):
        raise ConfigError("fully-connected layers are dispatched round-robin in the model only; "
                          "the tile RTL runs conv layers")
    layer = Layer.parse(args.layer, input_shape(acts, False))
    if acts.ndim == 4:
        if not 0 <= args.image < acts.shape[0]:
            raise ConfigError(f"--image {args.image} is outside the {acts.shape[0]} inputs of {args.acts}")
        acts = acts[args.image]
    want = (layer.k, layer.cg, layer.kh, layer.kw)
    if weights.shape != want:
        raise ConfigError(f"weights have shape {weights.shape}, the layer needs {want}")
    return layer, window, acts, weights


def run(args) -> int:
    from dstripes.tb.simulate import simulate_layer  # cocotb / Amaranth load only here

    cfg = tile_config(args, max_reduction=args.max_reduction)
    layer, window, acts, weights = load_layer(args)
    for name in ("idle", "stall"):
        v = getattr(args, name)
        if not 0.0 <= v < 1.0:
            raise ConfigError(f"--{name} must be a probability in [0, 1), not {v}")
    res = simulate_layer(args.scheme, args.sim, cfg, layer, window, acts, weights,
                         window_sets=args.window_sets, filter_set=args.filter_set, mode=args.mode,
                         waves_dir=args.waves, seed=args.seed, idle=args.idle, stall=args.stall)
    ok = res["passed"] and res["results_match"] and (res["cycles_match"] or not res["cycles_exact_required"])
    if args.json:
        print_json(res)
    else:
        print(render(["", "value"], [
            ["simulator", res["sim"]], ["scheme", res["scheme"]],
            ["window-sets x steps", f"{res['window_sets']} x {res['steps']}"],
            ["cycles (RTL counter)", res["cycles_rtl"]],
            ["cycles (model, RTL-exact)", res["cycles_model"]],
            ["ideal + latency", f"{res['ideal']:,} + {res['latency']}"],
            ["results checked", res["results_checked"]],
            ["results match", res["results_match"]],
            ["simulated cycles / s", f"{res['cycles_per_second']:,.0f}"],
            ["wall time (build + run)", f"{res['wall_seconds']:.1f} s"],
        ], title=f"{layer.describe()}, window [{window.msb}:{window.lsb}]"))
        print("CHECK PASSED" if ok else f"CHECK FAILED: {res['failure']}")
        if res["waves"]:
            print(f"waveforms: {res['waves']}")
    return 0 if ok else 1
