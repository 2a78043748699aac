"""``dstripes generate``: write a tile's Verilog and manifest."""
from __future__ import annotations

from .chip_options import add_chip_options, check_chip_flag
from .options import add_kind_option, add_tile_options, check_out_dir, print_json, tile_design


def register(sub) -> None:
    p = sub.add_parser("generate", help="generate a tile's Verilog (Amaranth 0.5)",
                       description="Write DIR/<top>.v and DIR/manifest.json (top name, parameters, "
                                   "supported precision modes, ports with widths and directions, "
                                   "config payload fields and mode codes, latency).")
    add_kind_option(p)
    add_tile_options(p, tiles=False)
    add_chip_options(p, tiles=True)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    check_chip_flag(args, tiles=True)
    if args.chip:
        from .chip_commands import generate
        return generate(args)
    from dstripes.hw.generate import write_verilog  # Amaranth loads only for hardware commands

    tile = tile_design(args)
    out = check_out_dir(args.out, "--out")
    vpath = write_verilog(tile, out)
    man = tile.manifest.as_dict()
    if args.json:
        print_json({**man, "verilog": str(vpath)})
    else:
        p = man["parameters"]
        shape = f"{p['lanes']} lanes x {p.get('columns', 1)} columns x {p['rows']} rows"
        if p.get("run_ahead"):
            where = {"sip": "in the SIPs", "mux": "by a mux per group"}[p["weight_select"]]
            shape += f", G={p['group']}, run-ahead {p['run_ahead']} (weights selected {where})"
        print(f"{vpath}  ({tile.title}: {shape}, A={p['act_bits']} W={p['weight_bits']}, "
              f"{p['acc_bits']}-bit accumulators, modes {'/'.join(man['modes'])}, "
              f"latency {man['latency']} cycles)")
    return 0
