"""``dstripes generate``: write a tile's Verilog and manifest.

Write DIR/<top>.v and DIR/manifest.json (top name, parameters, supported precision modes, ports
with widths and directions, config payload fields and mode codes, latency).
"""
from __future__ import annotations

from . import options


def register(sub) -> None:
    p = options.add_command(sub, "generate", "generate a tile's Verilog (Amaranth 0.5)", __doc__.split("\n\n")[1])
    options.add_kind_option(p)
    options.add_tile_options(p, tiles=False)
    options.add_chip_options(p, tiles=True, dram=None)
    options.add_output_options(p, out="output folder (created)", json="the manifest")
    p.set_defaults(func=run)


def run(args) -> int:
    from .chips import check_chip_flag

    check_chip_flag(args, tiles=True)
    if args.chip:
        from .chip_runs import generate
        return generate(args)
    from dstripes.hw.generate import write_verilog  # Amaranth loads only for hardware commands

    from .output import check_out_dir, print_json
    from .tiles import tile_design

    tile = tile_design(args)
    out = check_out_dir(args.out, "--out")
    vpath = write_verilog(tile, out)
    man = tile.manifest.as_dict()
    if args.json:
        print_json({**man, "verilog": str(vpath)})
        return 0
    p = man["parameters"]
    shape = f"{p['lanes']} lanes x {p.get('columns', 1)} columns x {p['rows']} rows"
    if p.get("run_ahead"):
        where = {"sip": "in the SIPs", "mux": "by a mux per group"}[p["weight_select"]]
        shape += f", G={p['group']}, run-ahead {p['run_ahead']} (weights selected {where})"
    if p.get("fc_dispatch"):
        shape += ", with the fully-connected dispatch"
    print(f"{vpath}  ({tile.title}: {shape}, A={p['act_bits']} W={p['weight_bits']}, "
          f"{p['acc_bits']}-bit accumulators, modes {'/'.join(man['modes'])}, "
          f"latency {man['latency']} cycles)")
    return 0
