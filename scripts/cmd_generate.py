"""``dstripes generate``: write a tile's Verilog and manifest."""
from __future__ import annotations

from .options import add_tile_options, print_json, tile_config


def register(sub) -> None:
    p = sub.add_parser("generate", help="generate a tile's Verilog (Amaranth 0.5)",
                       description="Write DIR/<top>.v and DIR/manifest.json (top name, parameters, "
                                   "ports with widths and directions, latency).")
    p.add_argument("--scheme", choices=("dstripes", "stripes", "dadn"), default="dstripes")
    add_tile_options(p, tiles=False)
    p.add_argument("--max-reduction", type=int, default=1 << 16, metavar="N",
                   help="longest reduction the accumulators hold without overflow (%(default)s)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from dstripes.hw.generate import write_verilog  # Amaranth loads only for hardware commands

    cfg = tile_config(args, max_reduction=args.max_reduction)
    vpath, man = write_verilog(args.scheme, cfg, args.out)
    if args.json:
        print_json({**man, "verilog": str(vpath)})
    else:
        p = man["parameters"]
        print(f"{vpath}  ({args.scheme}: {p['lanes']} lanes x {p['columns']} columns x {p['rows']} rows, "
              f"A={p['act_bits']} W={p['weight_bits']}, {p['acc_bits']}-bit accumulators, "
              f"latency {man['latency']} cycles)")
    return 0
