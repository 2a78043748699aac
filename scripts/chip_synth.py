"""``dstripes synth --chip``: the whole accelerator in sky130 with its SRAM macros
(``docs/usage.md`` §12, ``synth/chip.py``). Imported by ``synth``'s ``run`` only."""
from __future__ import annotations

import json
import os

from dstripes.hw.kinds import KINDS
from dstripes.sim.errors import ConfigError
from dstripes.sim.files import write_atomic
from dstripes.sim.schemes import DADN, DSTRIPES
from dstripes.sim.table import render
from dstripes.synth.chip import ChipSynthesis, check_chip_liberty, check_glue, synth_chip
from dstripes.synth.sram import chip_memories
from dstripes.synth.sta import sta_version
from dstripes.tb.tools import yosys_version

from .chips import chip_design
from .output import check_out_dir, print_json


def synth_chips(args) -> int:
    """Synthesise the accelerator of ``--scheme`` (each kind with ``all``); every input checked
    (the library, every kind's configuration, the memories the macros must build, the tools)
    before any synthesis."""
    if args.liberty is None:
        raise ConfigError("--chip needs --liberty sky130 (the SRAM macros are sky130's)")
    check_chip_liberty(args.liberty)
    kinds = tuple(KINDS) if args.scheme == "all" else (args.scheme,)
    designs = []
    for kind in kinds:
        args.scheme = kind
        designs.append(chip_design(args))
    for d in designs:
        chip_memories(d.chip)
        check_glue(d)
    if args.out is not None:
        check_out_dir(args.out, "--out")
    tools = {"yosys": yosys_version(), "opensta": sta_version()}
    runs = {}
    for d in designs:
        out = os.path.join(args.out, d.chip.scheme) if args.out is not None else None
        runs[d.chip.scheme] = synth_chip(d, jobs=args.jobs, out=out, progress=not args.json)
    result = chip_report(runs, tools)
    if args.out is not None:
        write_atomic(os.path.join(args.out, "synth_chip.json"), json.dumps(result, indent=1) + "\n")
    if args.json:
        print_json(result)
        return 0
    for s in runs.values():
        print(render_chip(s))
        print()
    if len(runs) > 1 and DADN.name in runs:
        base = runs[DADN.name].area_um2
        print(render(["chip", "area mm²", "x bit-parallel chip", "clock ns"],
                     [[s.design.tile.title, s.area_um2 / 1e6, s.area_um2 / base, s.critical_path_ns]
                      for s in runs.values()], title="Whole chips, sky130"))
    return 0


def chip_report(runs: dict, tools: dict) -> dict:
    """The JSON of ``synth --chip``: one chip's fields (``chip``, ``blocks``...); with several
    kinds, those of the Dynamic Stripes chip (the last kind otherwise), ``chips`` by kind and the
    area over the bit-parallel chip."""
    dicts = {k: s.as_dict() for k, s in runs.items()}
    main = dicts.get(DSTRIPES.name, list(dicts.values())[-1])
    if len(dicts) == 1:
        return {**main, "tools": tools}
    out = {**main, "chips": dicts, "tools": tools}
    if DADN.name in runs:
        out["area_over_dadn"] = {k: s.area_um2 / runs[DADN.name].area_um2 for k, s in runs.items()}
    return out


def render_chip(s: ChipSynthesis) -> str:
    """Per-block area table, totals and the clock's bounds."""
    c = s.design.chip
    rows = [[b, n, e, t, k] for b, n, e, t, k in s.blocks()]
    rows += [["logic (standard cells)", "", "", s.logic_um2, ""],
             ["SRAM macros", s.memories.macros, "", s.sram_um2, ""],
             ["total", "", "", s.area_um2, ""]]
    table = render(["block", "count", "µm² each", "µm²", "kind"], rows,
                   title=f"{s.design.tile.title} accelerator in sky130: {c.tiles} tiles, NM {c.nm_kib} KiB "
                         f"(read {c.nm_read} bricks/cycle), SB {c.sb_kib} KiB per tile: {s.area_um2 / 1e6:.3f} mm² "
                         f"({s.logic_um2 / 1e6:.3f} mm² logic, {s.sram_um2 / 1e6:.3f} mm² SRAM)")
    # each kind's largest, then every memory-facing bound by block ("pool.sram_to_register")
    paths = render(["bound on the clock period", "ns"], [[k, v] for k, v in {**s.paths, **s.sram_paths}.items()],
                   title=f"clock: {s.critical_path_ns:.2f} ns ({1000 / s.critical_path_ns:.0f} MHz), set by "
                         f"{s.critical}")
    return table + "\n\n" + paths
