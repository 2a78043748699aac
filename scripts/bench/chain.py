"""Benchmark (not a test): VGG-16 (HED) chained on the generated accelerator in RTL — one held-out
photo at 224x224, all 13 conv layers and their max-pools back to back, outputs staying in NM
(``tb/host/chain_path.py``, what ``dstripes verify --chip --chain`` runs), for each scheme's
published accelerator (T = 16 tiles of 16x16x16, 16-bit, NM read 16 bricks per cycle, weights off
chip at 16 B/cycle, latency 100).

NM is 16 MiB, not the published 4 MiB: at 224x224 conv1_2's input and output (64 channels each)
are 12.5 MiB, which the published NM cannot hold (the plan refuses it, naming the layer). The
cycles do not depend on NM's size (no off-chip path for activations).

Per scheme: the planning time (integer pipeline, model and image), the harness build, the
simulation, every layer's RTL and model cycles (LAYER and POOL) and mismatches, the totals; then
the whole-chip speed-ups from the RTL totals. Progress lines with the time go to stdout as each
layer finishes; the JSON (``--out``) is rewritten after every scheme, so a run stopped early keeps
what it finished.

Usage: nice -n 5 .venv/bin/python scripts/bench/chain.py [--schemes dstripes,stripes,dadn] [--size 224]
       [--tiles 16] [--hierarchical] [--threads 1] [--nm-kib 16384] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import os
import time

from dstripes.hw.chip.design import ChipDesign
from dstripes.sim.chip import ChipConfig, DramConfig
from dstripes.sim.config import TileConfig
from dstripes.sim.nets.chain import integer_chain
from dstripes.sim.nets.images import take
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.profile import Profile, builtin_profile_path
from dstripes.sim.schemes import DADN, DSTRIPES, STRIPES
from dstripes.sim.errors import ConfigError
from dstripes.tb.host.chain_path import chain_plan, simulate_chain
from dstripes.tb.host.chip_path import thread_args

from common import description, load_average, machine

MODEL = "vgg16-hed"
DRAM = DramConfig(latency=100, bytes_per_cycle=16)


def stamp(t0: float, line: str) -> None:
    print(f"[{time.perf_counter() - t0:8.1f} s, load {load_average()}] {line}", flush=True)


def run_scheme(scheme: str, chain, x, args, t0: float) -> dict:
    design = ChipDesign.of(ChipConfig(scheme=scheme, tile=TileConfig(tiles=args.tiles), nm_kib=args.nm_kib))
    chip = design.chip                    # the tile configuration as the kind normalises it
    t = time.perf_counter()
    plan = chain_plan(chip, chain, x, dram=DRAM)
    plan_s = time.perf_counter() - t
    stamp(t0, f"{scheme}: planned in {plan_s:.1f} s: {len(plan.commands)} commands, {plan.cycles_model:,} model "
              f"cycles (LAYER + POOL), image {len(plan.image):,} beats, final STORE {plan.stored[1] - plan.stored[0] + 1:,}"
              f" beats, NM peak {plan.nm_peak:,} of {chip.nm_words:,} bricks")
    res = simulate_chain(design, plan, progress=lambda line: stamp(t0, f"{scheme}: {line}"),
                         run_dir=args.run_dir and os.path.join(args.run_dir, scheme), hierarchical=args.hierarchical, threads=args.threads)
    d = res.as_dict()
    out = {"scheme": scheme, "chip": chip.as_dict(), "hierarchical": args.hierarchical, "threads": args.threads, "plan_seconds": plan_s,
           "passed": res.passed,
           "verilog_seconds": res.verilog_seconds, "build_seconds": res.build_seconds, "sim_seconds": res.sim_seconds, "wall_seconds": res.wall_seconds,
           "simulated_cycles": res.sim_cycles, "simulated_cycles_per_s": d["simulated_cycles_per_s"],
           "cycles_rtl": res.cycles_rtl, "cycles_model": res.cycles_model,
           "layer_cycles_rtl": sum(l.cycles_rtl or 0 for l in res.layers),
           "pool_cycles_rtl": sum(l.pool_cycles_rtl or 0 for l in res.layers),
           "final_mismatches": res.final_mismatches, "layers": d["layers"], "testbench": res.messages}
    stamp(t0, f"{scheme}: {'PASSED' if res.passed else 'FAILED'}: RTL {res.cycles_rtl:,} = model {res.cycles_model:,}"
              f" cycles; Verilog {res.verilog_seconds:.0f} s, build {res.build_seconds:.0f} s, simulation {res.sim_seconds:.0f} s "
              f"({d['simulated_cycles_per_s']:,.0f} cycles/s)")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=description(__doc__))
    p.add_argument("--schemes", default=",".join(s.name for s in (DSTRIPES, STRIPES, DADN)))
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--tiles", type=int, default=16, help="T tiles of 16x16x16 (a smaller chip to measure the flow)")
    p.add_argument("--nm-kib", type=int, default=16384)
    p.add_argument("--out", default="chain-bench.json")
    p.add_argument("--hierarchical", action="store_true",
                   help="build the tile once as a Verilator hierarchical block (quicker build, slower simulation)")
    p.add_argument("--threads", type=int, default=1,
                   help="Verilator threads evaluating the model: 2 is faster only with the other core idle "
                        "(tb/host/chip_path.py thread_args)")
    p.add_argument("--run-dir", default=None, help="keep each scheme's simulator folder under DIR")
    args = p.parse_args()
    try:
        thread_args(args.threads)
    except ConfigError as e:
        p.error(str(e))
    t0 = time.perf_counter()
    result = {"machine": machine(), "load_start": load_average(), "model": MODEL, "size": args.size,
              "dram": {"latency": DRAM.latency, "bytes_per_cycle": DRAM.bytes_per_cycle}, "schemes": {}}
    net = load_network(MODEL, size=args.size)
    prof = Profile.load(builtin_profile_path(MODEL, "100"))
    chain = integer_chain(net, prof, weight_bits=16)
    photo = take("heldout", 1)[0]
    x = net.prepare([photo.read(net.size)])[0]
    result["photo"] = photo.name
    result["chain_seconds"] = time.perf_counter() - t0
    stamp(t0, f"{MODEL} at {args.size}: {len(chain.layers)} conv layers, photo {photo.name}")
    for scheme in args.schemes.split(","):
        result["schemes"][scheme] = run_scheme(scheme, chain, x, args, t0)
        s = result["schemes"]
        if DADN.name in s:
            result["speedup_over_dadn"] = {k: s[DADN.name]["cycles_rtl"] / v["cycles_rtl"] for k, v in s.items()
                                           if v["cycles_rtl"]}
        if STRIPES.name in s and DSTRIPES.name in s:
            result["dstripes_over_stripes"] = s[STRIPES.name]["cycles_rtl"] / s[DSTRIPES.name]["cycles_rtl"]
        result["load_now"] = load_average()
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "schemes"}, indent=1))


if __name__ == "__main__":
    main()
