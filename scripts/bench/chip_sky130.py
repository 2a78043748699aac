"""Benchmark (not a test): the whole accelerator in sky130 with two memory configurations side by
side (``docs/design.md`` §10.8) — the published DaDianNao-style one (everything on chip: 4 MB NM,
2 MB SB per tile, weights never leave the chip) and a practical sky130 one (NM 1 MiB, SB 288 KiB
per tile — one pass of VGG-16's largest layers double-buffered —, weights off chip at
``--dram-bytes-per-cycle``).

For each configuration and each chip (bit-parallel DaDN, Stripes, Dynamic Stripes; T = 16 tiles of
16x16x16, 16-bit, NM read 16 bricks per cycle): the SRAM macros (count, mm²), the standard-cell
logic (tiles synthesised and timed once per kind and reused, glue blocks per configuration), the
clock with the macros, the speed each chip loses to memory on the networks (the memory-aware
model: cycles over its compute-only cycles), whole-chip energy and its efficiency over the
bit-parallel chip, whole-chip area over it, and performance per mm² over it.

Networks come in sets (``--sets``, default two: VGG-16 HED; ResNet-50-imgsim with MobileNet-v2),
each network on ``--images`` held-out photos at 224x224; besides each network's table, every set
is summed per configuration (energy and cycles over its networks): whole-chip energy efficiency
over the bit-parallel chip, area over it, performance per mm² over it.

Usage: .venv/bin/python scripts/bench/chip_sky130.py [--sets "vgg16-hed;resnet50-imgsim,mobilenet-v2"]
       [--models NET,...] [--images 1] [--energy-model FILE] [--no-synth] [--jobs N] [--json]
``--models`` is one set (the networks given).
``--no-synth`` skips synthesis and the energy model: the memories, the speeds and the memory
part of the energy (exact counts x per-access energy, leakage at ``--clock-ns``, off-chip); with
``--tile-pj-per-cycle dadn=E,stripes=E,dstripes=E`` (a tile's energy per cycle measured earlier,
e.g. ``synth/README.md``) also the logic, ``T x cycles x E``, and the whole-chip efficiency;
with ``--tile-um2 dadn=A,...`` (a tile's area measured earlier) the area ``T x A`` + the macros +
their estimated decoders (the glue blocks left out) and performance per mm².
"""
from __future__ import annotations

import argparse
import json
import time

from dstripes.hw.chip.design import ChipDesign
from dstripes.hw.design import designs
from dstripes.sim.chip import ChipConfig, DramConfig
from dstripes.sim.config import TileConfig
from dstripes.sim.nets.chip_eval import SCHEMES, capture_codes, evaluate_chip
from dstripes.sim.nets.images import load_images
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.profile import Profile, builtin_profile_path
from dstripes.sim.schemes import DADN
from dstripes.sim.table import render
from dstripes.synth.chip import synth_chip
from dstripes.sim.chip.model import Accesses
from dstripes.synth.chip_energy import PARTS, access_energy, chip_network_energy
from dstripes.synth.energy import EnergyModel, energy_model
from dstripes.synth.sram import chip_memories
from dstripes.synth.tile import synth_tiles

from common import description, load_average, machine

#: The network sets, ``;`` between sets, ``,`` between a set's networks.
SETS = "vgg16-hed;resnet50-imgsim,mobilenet-v2"

#: name -> (ChipConfig fields, off-chip memory or None)
CONFIGS = {
    "dadn-style (all on chip)": (dict(nm_kib=4096, sb_kib=2048), None),
    "practical sky130": (dict(nm_kib=1024, sb_kib=288), "dram"),
}


def main() -> None:
    p = argparse.ArgumentParser(description=description(__doc__))
    p.add_argument("--sets", default=SETS, help="network sets: ';' between sets, ',' between a set's built-in "
                                                "networks (%(default)s)")
    p.add_argument("--models", help="comma-separated built-in networks: one set (instead of --sets)")
    p.add_argument("--images", type=int, default=1)
    p.add_argument("--dram-bytes-per-cycle", type=float, default=16.0)
    p.add_argument("--dram-latency", type=int, default=100)
    p.add_argument("--energy-model", help="a saved energy model of the published tile (else computed)")
    p.add_argument("--no-synth", action="store_true")
    p.add_argument("--tile-pj-per-cycle", help="with --no-synth: kind=pJ,... of one tile per cycle")
    p.add_argument("--tile-um2", help="with --no-synth: kind=µm²,... of one tile")
    p.add_argument("--clock-ns", type=float, default=13.39, help="with --no-synth: the clock of the leakage "
                                                                   "and of --tile-pj-per-cycle (%(default)s)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    t0 = time.perf_counter()
    out = {"machine": machine(), "load_start": load_average(), "configs": {}}
    tile = TileConfig()
    chips = {name: ChipConfig(tile=tile, **kw) for name, (kw, _) in CONFIGS.items()}
    drams = {name: (DramConfig(latency=args.dram_latency, bytes_per_cycle=args.dram_bytes_per_cycle) if d else None)
             for name, (_, d) in CONFIGS.items()}
    for name, c in chips.items():
        m = chip_memories(c)
        out["configs"][name] = {"chip": c.as_dict(), "dram": drams[name].as_dict() if drams[name] else None,
                                "memories": m.as_dict(), "sram_macros": m.macros, "sram_mm2": m.area_um2 / 1e6}
    synth = {}
    if not args.no_synth:
        tiles = synth_tiles(designs(SCHEMES, tile), liberty="sky130", jobs=args.jobs).tiles
        for name, c in chips.items():
            synth[name] = {s: synth_chip(ChipDesign.of(c.replace(scheme=s)), jobs=args.jobs, tile=tiles[s])
                           for s in SCHEMES}
            out["configs"][name]["synth"] = {s: x.as_dict()["chip"] for s, x in synth[name].items()}
        model = (EnergyModel.load(args.energy_model) if args.energy_model else
                 energy_model(designs(SCHEMES, tile), config=tile, jobs=args.jobs, tiles=tiles))
        out["energy_model"] = {"clock_ns": model.clock_ns}
    sets = [x.split(",") for x in (args.models if args.models else args.sets).split(";") if x]
    for net_name in dict.fromkeys(n for names in sets for n in names):
        net = load_network(net_name)
        prof = Profile.load(builtin_profile_path(net_name, "100"))
        codes = capture_codes(net, prof, load_images("heldout", args.images, net.size))
        windows = {l.name: l.window for l in prof.layers}
        for name, c in chips.items():
            ev = evaluate_chip(net.layers(), windows, codes, c, drams[name], network=net_name)
            tot = ev.totals()
            entry = {"cycles": {s: tot[s].cycles for s in SCHEMES},
                     "memory_loss": {s: tot[s].cycles / tot[s].compute - 1 for s in SCHEMES},
                     "speedup": ev.speedups(), "speedup_ideal_memory": ev.compute_speedups(),
                     "layers_over_nm": [l.name for l in ev.layers if l.nm_kib > c.nm_kib]}
            if name not in synth:
                m = chip_memories(c)
                tile_pj = ({k: float(v) for k, v in (x.split("=") for x in args.tile_pj_per_cycle.split(","))}
                           if args.tile_pj_per_cycle else None)
                parts = {}
                for s in SCHEMES:
                    acc = sum((l.accesses[s] for l in ev.layers), Accesses())
                    parts[s] = access_energy(acc, m, cycles=tot[s].cycles, clock_ns=args.clock_ns,
                                             brick_bits=c.brick_bits)
                    if tile_pj:
                        parts[s]["logic"] = c.tiles * tot[s].cycles * tile_pj[s]
                entry["energy_parts_uj"] = {s: {k: v / 1e6 for k, v in p_.items()} for s, p_ in parts.items()}
                entry["energy_uj"] = {s: sum(p_.values()) / 1e6 for s, p_ in parts.items()}
                entry["energy_efficiency_over_dadn"] = {s: entry["energy_uj"][DADN.name] / entry["energy_uj"][s]
                                                        for s in SCHEMES}
                entry["energy_scope"] = "memories and logic" if tile_pj else "memories only"
                if args.tile_um2:
                    t_um2 = {k: float(v) for k, v in (x.split("=") for x in args.tile_um2.split(","))}
                    area = {s: (c.tiles * t_um2[s] + m.area_um2 + m.glue_um2) / 1e6 for s in SCHEMES}
                    entry["area_mm2"] = area
                    entry["area_scope"] = "tiles + macros + estimated memory glue (glue blocks left out)"
                    entry["area_over_dadn"] = {s: area[s] / area[DADN.name] for s in SCHEMES}
                    entry["perf_per_mm2_over_dadn"] = {
                        s: (tot[DADN.name].cycles / tot[s].cycles) / (area[s] / area[DADN.name]) for s in SCHEMES}
            else:
                e = chip_network_energy(model, chip_memories(c), ev)
                area = {s: synth[name][s].area_um2 / 1e6 for s in SCHEMES}
                entry["energy_uj"] = {s: v / 1e6 for s, v in e.energy_pj.items()}
                entry["energy_parts_uj"] = {s: {k: v / 1e6 for k, v in p_.items()} for s, p_ in e.parts.items()}
                entry["energy_efficiency_over_dadn"] = e.efficiency_over_dadn
                entry["area_mm2"] = area
                entry["area_over_dadn"] = {s: area[s] / area[DADN.name] for s in SCHEMES}
                entry["perf_per_mm2_over_dadn"] = {
                    s: (tot[DADN.name].cycles / tot[s].cycles) / (area[s] / area[DADN.name]) for s in SCHEMES}
            out["configs"][name].setdefault("networks", {})[net_name] = entry
    for name, d in out["configs"].items():
        d["sets"] = [set_summary(names, d["networks"]) for names in sets]
    out["load_end"] = load_average()
    out["seconds"] = time.perf_counter() - t0
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"machine {out['machine']}; load {out['load_start']} -> {out['load_end']}; {out['seconds']:.0f} s")
    rows = []
    for name, d in out["configs"].items():
        c = d["chip"]
        row = [name, f"{c['nm_kib']} KiB / {c['sb_kib']} KiB", "off chip" if d["dram"] else "on chip",
               d["sram_macros"], d["sram_mm2"]]
        if "synth" in d:
            row += [d["synth"][s]["area_mm2"] for s in SCHEMES] + [d["synth"][DADN.name]["critical_path_ns"]]
        rows.append(row)
    heads = ["memories", "NM / SB per tile", "weights", "macros", "SRAM mm²"]
    if synth:
        heads += [f"{s} chip mm²" for s in SCHEMES] + ["DaDN clock ns"]
    print(render(heads, rows, title="Memories in sky130 macros (T = 16, 16x16x16 tiles, 16-bit)"))
    for name, d in out["configs"].items():
        for net_name, e in d.get("networks", {}).items():
            rows = []
            for s in SCHEMES:
                r = [s, e["cycles"][s], 100 * e["memory_loss"][s]]
                if "energy_uj" in e:
                    r += [e["energy_uj"][s], e["energy_efficiency_over_dadn"][s]]
                    r += [*(e["energy_parts_uj"][s][k] for k in PARTS if k in e["energy_parts_uj"][s])]
                if "area_over_dadn" in e:
                    r += [e["area_over_dadn"][s], e["perf_per_mm2_over_dadn"][s]]
                rows.append(r)
            h = ["chip", "cycles", "lost to memory %"]
            if "energy_uj" in e:
                h += ["energy µJ", "energy eff. / DaDN"]
                h += [f"{k} µJ" for k in PARTS if k in e["energy_parts_uj"][SCHEMES[0]]]
            if "area_over_dadn" in e:
                h += ["area / DaDN", "perf per mm² / DaDN"]
            print()
            print(render(h, rows, title=f"{net_name}, {name}" + (f"; layers whose tensors exceed NM: "
                                                                  f"{len(e['layers_over_nm'])}" if e['layers_over_nm']
                                                                  else "")))
    rows = []
    for name, d in out["configs"].items():
        for st in d["sets"]:
            for s in SCHEMES:
                rows.append([" + ".join(st["networks"]), name, s, st["cycles"][s], st["speedup"][s],
                             *(st[k][s] if st.get(k) else "-" for k in ("energy_uj", "energy_efficiency_over_dadn",
                                                                         "area_mm2", "area_over_dadn",
                                                                         "perf_per_mm2_over_dadn"))])
    print()
    print(render(["network set", "memories", "chip", "cycles", "speed-up / DaDN", "energy µJ",
                  "energy eff. / DaDN", "area mm²", "area / DaDN", "perf per mm² / DaDN"], rows,
                 title=f"Network sets, {args.images} held-out photo(s) each at 224x224 (sums over the set)"))


def set_summary(names: list, networks: dict) -> dict:
    """One network set on one memory configuration: cycles and energy summed over its networks,
    the speed-up, energy efficiency and performance per mm² over the bit-parallel chip from those
    sums (area: the configuration's, the same for every network).

    Parameters
    ----------
    names : list of str
        The set's networks.
    networks : dict
        Network name -> its entry (``cycles``, and ``energy_uj``, ``area_mm2`` when measured).

    Returns
    -------
    dict
        ``networks``, ``cycles``, ``speedup``, ``energy_uj``, ``energy_efficiency_over_dadn``,
        ``area_mm2``, ``area_over_dadn``, ``perf_per_mm2_over_dadn`` (``None`` where not measured).
    """
    es = [networks[n] for n in names]
    cycles = {s: sum(e["cycles"][s] for e in es) for s in SCHEMES}
    speedup = {s: cycles[DADN.name] / cycles[s] for s in SCHEMES}
    energy = ({s: sum(e["energy_uj"][s] for e in es) for s in SCHEMES}
              if all("energy_uj" in e for e in es) else None)
    area = es[0].get("area_mm2")
    return {"networks": list(names), "cycles": cycles, "speedup": speedup, "energy_uj": energy,
            "energy_efficiency_over_dadn": ({s: energy[DADN.name] / energy[s] for s in SCHEMES}
                                            if energy else None),
            "energy_scope": es[0].get("energy_scope", "memories and logic") if energy else None,
            "area_mm2": area,
            "area_over_dadn": {s: area[s] / area[DADN.name] for s in SCHEMES} if area else None,
            "perf_per_mm2_over_dadn": ({s: speedup[s] / (area[s] / area[DADN.name]) for s in SCHEMES}
                                       if area else None)}


if __name__ == "__main__":
    main()
