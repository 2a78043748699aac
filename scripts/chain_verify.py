"""``verify --chip --chain``: a network's conv layers back to back on the generated accelerator,
each output staying in NM as the next layer's input, checked per layer against the golden model
(cycles) and the integer pipeline (codes) (``docs/usage.md`` §14). Imported by ``verify``'s
``run`` only."""
from __future__ import annotations

import sys

import numpy as np

from dstripes.sim.errors import ConfigError
from dstripes.sim.nets.chain import integer_chain
from dstripes.sim.table import render
from dstripes.tb.host.chain_path import chain_plan, simulate_chain
from dstripes.tb.host.toolchain import missing_tools

from .chips import chip_design, dram_config
from .networks import load, network_names, refuse_int8
from .output import check_out_dir, print_json, write_json
from .photos import Count, photo_sets, tell
from .profiles import given_or_shipped

#: Options of ``verify`` that do not apply with ``--chain`` (flag, attribute, its default).
NOT_WITH_CHAIN = (("--layers", "layers", "all"), ("--filter-sets", "filter_sets", "first"),
                  ("--sim", "sim", "verilator"), ("--scheduler", "scheduler", None), ("--jobs", "jobs", None))
#: Model cycles below which the harness is built unoptimised (quicker to build than it saves).
QUICK_BELOW = 1_000_000


def check_chain_options(args) -> None:
    """``--chip`` and ``--chain`` go together; the per-layer options of ``verify`` do not apply."""
    if args.chip != args.chain:
        given, missing = ("--chip", "--chain") if args.chip else ("--chain", "--chip")
        raise ConfigError(f"verify {given} needs {missing} (a network's layers chained on the accelerator; one "
                          f"layer on the accelerator: dstripes simulate --chip)")
    for flag, attr, default in NOT_WITH_CHAIN:
        if getattr(args, attr, default) != default:
            raise ConfigError(f"{flag} does not apply with --chain (every conv layer of the chain runs on the "
                              f"accelerator on Verilator)")


def verify_chain(args) -> int:
    """Plan the chain on every photo (every check), build the harness once, play each photo's
    command list and judge it; a table (or ``--json``); exit 1 on any difference."""
    check_chain_options(args)
    design = chip_design(args)
    chip, tile = design.chip, design.tile
    dram = dram_config(args, default_bandwidth=min(16.0, chip.beat_bytes))
    dram.check_beat(chip.beat_bytes)
    names = network_names(args)
    refuse_int8(names, "verify --chain")
    prof = given_or_shipped(args, args.model, size=None)
    if prof is None:
        raise ConfigError(f"--chain needs a profile of {args.model}: give --profile FILE (dstripes profile makes one)")
    out = check_out_dir(args.out) if args.out else None
    said = []
    _, photos = photo_sets(args, Count(0), Count(args.images, "--images"), notes=said)
    note = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else (lambda m: print(m, flush=True))
    net = load(args)
    chain = integer_chain(net, prof, weight_bits=chip.tile.weight_bits)
    tell(said)
    plans = []
    for p in photos:               # every layer planned and checked before the build
        x = net.prepare([p.read(net.size)])[0]
        plans.append((p.name, chain_plan(chip, chain, x, dram=dram)))
    problem = missing_tools("verilator")
    if problem:
        raise ConfigError(problem)
    quick = max(pl.cycles_model for _, pl in plans) < QUICK_BELOW
    results = []
    for name, plan in plans:
        note(f"{net.name}, photo {name}: {len(chain.layers)} conv layers, {len(plan.commands)} commands, "
             f"{plan.cycles_model:,} model cycles; NM peak {plan.nm_peak:,} of {chip.nm_words:,} bricks")
        progress = None if args.no_progress else (lambda line, _n=name: note(f"  {line}"))
        results.append((name, simulate_chain(design, plan, quick=quick, progress=progress)))
    data = chain_report(results)
    data.update({"network": net.name, "chip": chip.as_dict(), "tile": tile.title,
                 "dram": {"latency": dram.latency, "bytes_per_cycle": dram.bytes_per_cycle, "stall": dram.stall,
                          "jitter": dram.jitter}})
    if out is not None:
        write_json(str(out / "verify-chain.json"), data)
    if args.json:
        print_json(data)
        return 0 if data["passed"] else 1
    rows = [[l["name"], l["cycles_rtl"], l["cycles_model"], l["pool_cycles_rtl"] if l["pool_cycles_rtl"] is not None
             else "", l["pool_cycles_model"] if l["pool_cycles_model"] is not None else "", l["checked"],
             l["mismatches"]] for l in data["layers"]]
    t = data["total"]
    pooled = [l for l in data["layers"] if l["pool_cycles_model"] is not None]
    rows.append(["total", *(sum(l[k] for l in data["layers"]) for k in ("cycles_rtl", "cycles_model")),
                 *(sum(l[k] for l in pooled) for k in ("pool_cycles_rtl", "pool_cycles_model")), t["checked"],
                 t["mismatches"]])
    print(render(["layer", "LAYER RTL", "LAYER model", "POOL RTL", "POOL model", "codes checked", "mismatches"], rows,
                 title=f"{net.name}: {len(chain.layers)} conv layers chained on {chip.tiles} x {tile.title} "
                       f"(NM {chip.nm_kib} KiB, read {chip.nm_read}), {len(results)} photo(s)"))
    print(f"\nall commands: RTL {t['cycles_rtl']:,} cycles, model {t['cycles_model']:,} (LAYER and POOL); final feature "
          f"map: {data['final_mismatches']} codes differ from the integer pipeline")
    bad = next(((n, r) for n, r in results if not r.passed), None)
    if bad is None:
        print("\nCHECK PASSED")
    else:
        n, r = bad
        first = r.first_failure
        where = f"layer {first.name}: {first.verdict.message()}" if first else \
            f"{r.commands_done} of {r.commands} commands, {r.messages or 'final feature map differs'}"
        print(f"\nCHECK FAILED on photo {n} at {where}")
        if r.log:
            print(f"simulator log: {r.log}")
    return 0 if data["passed"] else 1


def chain_report(results: list) -> dict:
    """The JSON of ``verify --chip --chain``: ``passed``, per layer (summed over the photos)
    ``name``, ``cycles_rtl``, ``cycles_model``, ``mismatches`` (and the ``POOL`` command's cycles,
    the codes checked), ``total``, the final feature map's mismatches, and every photo's run."""
    layers = {}
    for _, r in results:
        for l in r.layers:
            row = layers.setdefault(l.name, {"name": l.name, "cycles_rtl": 0, "cycles_model": 0, "mismatches": 0,
                                             "checked": 0, "pool_cycles_rtl": None, "pool_cycles_model": None,
                                             "passed": True})
            row["cycles_rtl"] += l.cycles_rtl or 0
            row["cycles_model"] += l.cycles_model
            row["mismatches"] += l.mismatches
            row["checked"] += l.checked
            row["passed"] &= l.passed
            if l.pool_cycles_model is not None:
                row["pool_cycles_rtl"] = (row["pool_cycles_rtl"] or 0) + (l.pool_cycles_rtl or 0)
                row["pool_cycles_model"] = (row["pool_cycles_model"] or 0) + l.pool_cycles_model
    rows = list(layers.values())
    return {"passed": all(r.passed for _, r in results), "layers": rows,
            "total": {"cycles_rtl": sum(r.cycles_rtl for _, r in results),
                      "cycles_model": sum(r.cycles_model for _, r in results),
                      "mismatches": sum(l["mismatches"] for l in rows), "checked": sum(l["checked"] for l in rows)},
            "final_mismatches": sum(r.final_mismatches for _, r in results),
            "photos": [{"photo": n, **r.as_dict()} for n, r in results],
            "sim_seconds": float(np.sum([r.sim_seconds for _, r in results])),
            "build_seconds": float(np.sum([r.build_seconds for _, r in results]))}
