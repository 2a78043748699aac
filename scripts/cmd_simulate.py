"""``dstripes simulate``: run a generated tile on Icarus or Verilator against the golden model.

Generate a tile, build it for Icarus or Verilator, stream a layer (or its first window-sets)
through it, and check every result bit-exactly and the cycle count exactly against the golden
model. Exits 1 when anything differs.
"""
from __future__ import annotations

from dstripes.sim.precision import MODES

from . import options
from .options import Option


def register(sub) -> None:
    p = options.add_command(sub, "simulate", "simulate a generated tile on a layer (slice) and check it",
                            __doc__.split("\n\n")[1])
    options.add_kind_option(p)
    options.add_run_options(p, window_sets="all; a window-set is one window on the dadn tile")
    options.add_layer_options(p, images="0; not for (C,H,W) files", weights=True, fc=False)
    Option("--path", "fast: the tile inside its memory-backed verification harness, no Python per cycle (tens "
                     "of thousands of cycles/s on Verilator); cycle: the per-cycle cocotb testbench; auto: fast "
                     "for runs of 20,000 cycles or more (default)", choices=("auto", "fast", "cycle"),
           default="auto").add(p)
    Option("--filter-set", "which Nr filters of the layer (default %(default)s)", type=int, metavar="F",
           default=0).add(p)
    Option("--mode", "run-time precision mode: static (whole window), leading, both (leading and trailing; needs "
                     "a tile generated with --trim both). Default: the tile's --trim on dstripes, static otherwise",
           choices=MODES).add(p)
    options.add_tile_options(p, tiles=False)
    Option("--waves", "record waveforms and keep the run's files in DIR (Icarus: DIR/<kind>_tile.fst of the "
                      "netlist flattened by yosys; Verilator: DIR/dump.vcd of the emitted Verilog)",
           metavar="DIR").add(p)
    Option("--seed", "seed of --idle / --stall (default %(default)s)", type=int, default=0).add(p)
    Option("--idle", "probability of an idle producer cycle before each transfer (default %(default)s); the "
                     "model's cycle count then does not apply (see the checks)", type=float, default=0.0,
           check=options.probability).add(p)
    Option("--stall", "probability of consumer back-pressure in a cycle (default %(default)s)", type=float,
           default=0.0, check=options.probability).add(p)
    options.add_output_options(p, out=None)
    options.add_chip_options(p, tiles=True, dram="simulate")
    g = p.add_argument_group("the accelerator's outputs (--chip)")
    for option in CHIP_ONLY:
        option.add(g)
    p.set_defaults(func=run)


#: Options of ``simulate`` that only the accelerator takes (the requantisation of its outputs).
CHIP_ONLY = (
    Option("--bias", "per-filter bias (K,) in accumulator units", metavar="B.npy"),
    Option("--out-window", "the output codes' window (unsigned windows clamp negatives to 0: the ReLU)",
           metavar="MSB:LSB"),
    Option("--out-signed", "two's-complement output codes", switch=True),
    Option("--out-shift", "requantisation: code = 2**lsb * round_half_even((acc + bias) / 2**(S + lsb)), "
                          "saturated to --out-window", type=int, metavar="S", check=options.not_negative),
    Option("--out-acts", "write the output codes the accelerator stored, (K, Ho, Wo) int64 (with --pool: the "
                         "pooled codes)", metavar="OUT.npy"),
    Option("--residual", "a residual tensor (K, Ho, Wo) of codes, loaded into NM and added before the "
                         "requantisation: acc + bias + (r << --res-shift)", metavar="R.npy"),
    Option("--res-window", "the residual codes' window", metavar="MSB:LSB"),
    Option("--res-signed", "two's-complement residual codes", switch=True),
    Option("--res-shift", "left shift of the residual codes before the add (default 0)", type=int, metavar="S",
           check=options.not_negative),
    Option("--pool", "then max-pool the layer's output with the POOL command: kernel KxK (or KHxKW), stride S, "
                     "padding P (default 0), /ceil for ONNX's ceil_mode, e.g. 2x2/2, 3x3/2/1, 3x3/2/ceil",
           metavar="KxK/S[/P][/ceil]"),
)


def run(args) -> int:
    from dstripes.sim.errors import ConfigError

    from .chips import check_chip_flag

    check_chip_flag(args, tiles=True)
    if args.chip:
        from .chip_runs import simulate
        return simulate(args)
    for option in CHIP_ONLY:
        if getattr(args, option.flag[2:].replace("-", "_")):
            raise ConfigError(f"{option.flag} applies only with --chip")
    from dstripes.sim.table import render
    from dstripes.tb.host.simulate import simulate_layer  # cocotb / Amaranth load only here

    from .arrays import conv_layer_files
    from .output import check_out_dir, print_json
    from .tiles import tile_design

    tile = tile_design(args)
    tile.scheme.check_mode(args.mode, tile.config)  # a mode the tile is not generated for, before any work
    layer, window, acts, weights = conv_layer_files(args)
    if args.waves is not None:
        check_out_dir(args.waves, "--waves")
    res = simulate_layer(tile, args.sim, layer, window, acts, weights,
                         window_sets=None if args.window_sets in (None, "all") else args.window_sets,
                         filter_set=args.filter_set, mode=args.mode,
                         waves_dir=args.waves, seed=args.seed, idle=args.idle, stall=args.stall,
                         path=args.path)
    sim = res.play
    ok = sim.passed
    if args.json:
        print_json(res.as_dict())
        return 0 if ok else 1
    print(render(["", "value"], [
        ["simulator", sim.sim], ["scheme", sim.scheme],
        ["testbench", "memory-backed harness (fast path)" if sim.path == "fast" else "per-cycle cocotb"],
        ["window-sets x steps", f"{res.window_sets} x {res.steps}"],
        ["cycles (RTL counter)", sim.cycles_rtl],
        ["cycles (model, RTL-exact)", sim.cycles_model],
        ["ideal + latency", f"{sim.ideal:,} + {sim.latency}"],
        ["results checked (the layer's real outputs)", sim.results_checked],
        [f"result transfers ({tile.scheme.columns(tile.config)} x {tile.config.rows} results, padding included)",
         sim.result_transfers],
        ["simulated cycles / s", f"{sim.cycles_per_second:,.0f}"],
        ["wall time (generate, build, run)", f"{res.wall_seconds:.1f} s"
         + (f" (build {sim.build_seconds:.0f} s)" if sim.build_seconds else "")],
    ], title=f"{layer.describe()}, window [{window.msb}:{window.lsb}]"))
    print()
    print(render(["check", "status", "detail"], [[c.name, c.status, c.detail] for c in sim.checks]))
    print("\nCHECK PASSED" if ok else f"\nCHECK FAILED: {sim.failure}")
    if sim.waves:
        print(f"waveforms: {sim.waves}")
    if sim.log:
        print(f"simulator log: {sim.log}")
    return 0 if ok else 1
