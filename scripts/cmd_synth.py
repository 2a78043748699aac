"""``dstripes synth``: tile area (transistors, gate equivalents, a user liberty), logic depth,
per-block breakdown and performance per area relative to the bit-parallel tile; with
``--liberty`` (``sky130`` or a file), area in µm², the critical path and the clock it allows
(OpenSTA) per block and per tile.

Synthesise each distinct block of the tile once with yosys (Debian yosys + ABC) and report
transistors, NAND2 gate equivalents, cells and logic depth per block and per tile, with
performance per area relative to the bit-parallel tile. With --liberty (the built-in sky130
library or a Liberty file with timing), also area in µm² and the critical path and clock per
block and per tile from OpenSTA (ideal clock, no wires; the whole tile is timed across its block
boundaries).
"""
from __future__ import annotations

import os

from dstripes.synth.perf_area import WORKLOAD_KINDS

from . import options
from .options import Option


def register(sub) -> None:
    p = options.add_command(sub, "synth", "synthesise the tiles with yosys: area, depth, perf/area; µm² and clock "
                                          "with --liberty sky130", __doc__.split("\n\n")[1])
    options.add_kind_option(p, every=True)
    options.add_tile_options(p, tiles=False)
    options.add_liberty_option(p, use="also map onto this library and report µm², critical path and clock "
                                      "(a Liberty file needs timing)")
    options.add_output_options(p, out="keep Verilog, scripts, logs and reports here", required=False)
    options.add_cluster_options(p, jobs="parallel yosys runs", dask=False)
    options.add_chip_options(p, tiles=True, dram=None)
    Option("--workload", "cycles for perf/area: bundled real samples, the synthetic reference layer, or samples "
                         "when present (%(default)s)", choices=WORKLOAD_KINDS, default="auto").add(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from dstripes.hw.kinds import KINDS
    from dstripes.sim.schemes import DADN
    from dstripes.synth.perf_area import select_workloads
    from dstripes.synth.report import synth_report
    from dstripes.synth.sta import sta_version
    from dstripes.synth.tile import synth_tiles
    from dstripes.tb.tools import yosys_version

    from .output import check_out_dir, print_json, write_json
    from .synth_report import render_tables
    from .tiles import tile_config, tile_designs

    from .chips import check_chip_flag

    check_chip_flag(args, tiles=True)
    if args.chip:
        from .chip_synth import synth_chips
        return synth_chips(args)
    # with all kinds, each option applies to the kinds that use it
    kinds = tuple(KINDS) if args.scheme == "all" else (args.scheme,)
    designs = tile_designs(args, kinds)
    config = designs[0].config if len(designs) == 1 else tile_config(args)
    if args.out is not None:
        check_out_dir(args.out, "--out")
    # chosen before synthesis so that a missing workload fails at once
    works = select_workloads(config, args.workload) if DADN.name in kinds else None
    version = yosys_version()
    # a missing OpenSTA fails here, before any synthesis
    sta = f"OpenSTA {sta_version()}" if args.liberty is not None else None
    tiles = synth_tiles(designs, liberty=args.liberty, jobs=args.jobs, out=args.out, progress=True).tiles
    report = synth_report(tiles, config, works, yosys=version, liberty=args.liberty, sta=sta)
    if args.out is not None:
        write_json(os.path.join(args.out, "synth.json"), report.as_dict())
    if args.json:
        print_json(report.as_dict())
    else:
        print(render_tables(report))
    return 0
