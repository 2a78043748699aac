"""Benchmark (not a test): the accelerator (``docs/design.md`` §10) — simulation speed, a whole
real layer on the published accelerator, and the memory-aware model on the four networks.

Parts (``--parts``, default all), each printed with the machine's load average before and after:

* ``speed``: simulated cycles per second of the published accelerator (T = 16 tiles of
  16x16x16, 16-bit) and of the single published tile's fast path, side by side in one run, on
  the same kind of layer (a 3x3 conv of 64 ReLU-like channels, 256 filters; the tile runs its
  first filter-set); rates are differences between two input sizes on the same build (chip
  28x28 and 56x56, tile 56x56 and 112x112: runs seconds apart), so start-up is excluded. Goal: the chip at >= 60 % of (tile cycles/s) / T. With ``--threads N``
  also a Verilator model built with ``--threads N``.
* ``layer``: VGG-16 (HED) conv3_2 on one held-out photo at 224x224 (256 -> 256 filters, 56x56),
  every filter and window, on the published accelerator: wall time including the Verilog and
  the build, outputs and cycles checked against the model.
* ``networks``: the four networks on one held-out photo each at their profile's size: speed-ups
  with the DaDianNao-style memory (everything on chip, NM read ``Nc = 16`` bricks per cycle,
  ``docs/references.md``) and with an ideal memory; the ``nm_read`` (1..16) at or below which
  each scheme is memory-bound (NM stalls >= 1 % of its compute cycles), with and without reuse.
* ``model``: the memory-aware model's time on VGG-16, one photo, all three schemes.

Usage: .venv/bin/python scripts/bench/chip.py [--parts speed,layer,networks,model] [--threads N] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np

from dstripes.hw.chip.design import ChipDesign
from dstripes.hw.design import TileDesign
from dstripes.sim.chip import ChipConfig, DramConfig, LayerDescriptor
from dstripes.sim.config import TileConfig
from dstripes.sim.fixed import Window, weight_codes
from dstripes.sim.layer import Layer
from dstripes.sim.nets.chip_eval import SCHEMES, capture_codes, evaluate_chip, memory_bound
from dstripes.sim.nets.images import load_images
from dstripes.sim.nets.models import BUILTIN, load_network
from dstripes.sim.nets.profile import Profile, builtin_profile_path
from dstripes.sim.schemes import DSTRIPES
from dstripes.tb.host import chip_path
from dstripes.tb.host.chip_path import chip_run, simulate_chip
from dstripes.tb.host.runs import layer_run
from dstripes.tb.host.simulate import path_verilog, play

from common import description, load_average, machine

PARTS = ("speed", "layer", "networks", "model")
NM_READS = (1, 2, 4, 8, 16)


def load() -> str:
    return load_average()


def child_cpu() -> float:
    """CPU seconds of the finished child processes (the simulators) so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def relu_layer(size: int, rng) -> tuple:
    """A 3x3 conv of 64 ReLU-like 8-bit channels, 256 filters."""
    mag = np.minimum(np.rint(rng.exponential(20, (64, size, size))), 255).astype(np.int64)
    acts = np.where(rng.random((64, size, size)) < 0.5, 0, mag)
    weights = rng.integers(-(1 << 15), 1 << 15, (256, 64, 3, 3))
    return Layer(64, size, size, 256, 3, 3, 1, 1, 1, 1, name=f"conv 64x{size}x{size} k3"), acts, weights


def part_speed(threads: int | None) -> dict:
    rng = np.random.default_rng(0)
    layers = [relu_layer(s, rng) for s in (28, 56)]
    # the tile runs 16 of the 256 filters: larger inputs, so its two runs differ by seconds too
    tile_layers = [relu_layer(s, rng) for s in (56, 112)]
    window = Window(7, 0)
    out = {"load_start": load(), "layer": layers[1][0].describe(), "tile_layer": tile_layers[1][0].describe()}
    tile = TileDesign.of(DSTRIPES.name, TileConfig())
    designed = path_verilog(tile, "fast")
    tile_runs = []
    for layer, acts, weights in tile_layers:
        c0 = child_cpu()
        r = play(tile, "verilator", [layer_run(tile, layer, window, acts, weights)], path="fast", designed=designed,
                 quick=False)
        tile_runs.append({"cycles": r.sim_cycles, "seconds": r.sim_seconds, "cpu": child_cpu() - c0,
                          "exact": r.passed})
    out["tile"] = _rate(tile_runs)
    variants = {"chip": None} if not threads else {"chip": None, f"chip, --threads {threads}": threads}
    chip = ChipConfig()
    for name, th in variants.items():
        runs = []
        orig = chip_path.build
        if th:
            chip_path.build = lambda *a, **k: orig(*a, **{**k, "build_args": ["--threads", str(th)]})
        try:
            for layer, acts, weights in layers:
                d = LayerDescriptor(layer, window, Window(15, 0), shift=8,
                                    w_base=-(-layer.c // 16) * layer.h * layer.w)
                t = time.perf_counter()
                plan = chip_run(chip, d, acts, weights, dram=DramConfig(latency=100, bytes_per_cycle=16))
                c0 = child_cpu()
                res = simulate_chip(ChipDesign.of(chip), plan)
                runs.append({"cycles": res.sim_cycles, "seconds": res.sim_seconds, "cpu": child_cpu() - c0,
                             "exact": res.passed,
                             "build_seconds": res.build_seconds, "layer_cycles": res.cycles_rtl,
                             "wall": time.perf_counter() - t})
        finally:
            chip_path.build = orig
        out[name] = _rate(runs)
        for key in ("cycles_per_second", "cycles_per_cpu_second"):
            out[name][f"share_of_tile_over_T ({key})"] = out[name][key] / (out["tile"][key] / chip.tiles)
    out["load_end"] = load()
    return out


def _rate(runs) -> dict:
    a, b = runs
    out = {"runs": runs, "exact": all(r["exact"] for r in runs)}
    for key, secs in (("cycles_per_second", "seconds"), ("cycles_per_cpu_second", "cpu")):
        out[key] = (b["cycles"] - a["cycles"]) / (b[secs] - a[secs]) if b[secs] > a[secs] else None
    return out


def part_layer() -> dict:
    out = {"load_start": load()}
    t0 = time.perf_counter()
    net = load_network("vgg16-hed")
    prof = Profile.load(builtin_profile_path("vgg16-hed", "100"))
    codes = capture_codes(net, prof, load_images("heldout", 1, net.size))["conv3_2"][0]
    layer = next(l for l in net.layers() if l.name == "conv3_2")
    weights = weight_codes(net.weights("conv3_2"), 16)[0]
    window = prof.layer("conv3_2").window
    out["capture_seconds"] = time.perf_counter() - t0
    chip = ChipConfig()
    t = time.perf_counter()
    d = LayerDescriptor(layer, window, window, shift=14, w_base=-(-layer.c // 16) * layer.h * layer.w)
    plan = chip_run(chip, d, codes, weights, dram=DramConfig(latency=100, bytes_per_cycle=16))
    res = simulate_chip(ChipDesign.of(chip), plan)
    out.update({"layer": layer.describe(), "wall_seconds": time.perf_counter() - t, "build_seconds": res.build_seconds,
                "sim_seconds": res.sim_seconds, "cycles_rtl": res.cycles_rtl, "cycles_model": res.cycles_model,
                "breakdown": res.breakdown, "outputs_checked": res.checked, "mismatches": res.mismatches,
                "passed": res.passed, "simulated_cycles_per_s": res.cycles_per_second, "load_end": load()})
    return out


def part_networks() -> dict:
    out = {"load_start": load(), "networks": {}}
    for name in BUILTIN:
        t = time.perf_counter()
        net = load_network(name)
        prof = Profile.load(builtin_profile_path(name, "100"))
        codes = capture_codes(net, prof, load_images("heldout", 1, net.size))
        windows = {l.name: l.window for l in prof.layers}
        entry = {"capture_seconds": time.perf_counter() - t}
        for reuse in (True, False):
            evs = {b: evaluate_chip(net.layers(), windows, codes, ChipConfig(nm_read=b, reuse=reuse), network=name)
                   for b in NM_READS}
            key = "reuse" if reuse else "no_reuse"
            entry[key] = {"speedup": {b: ev.speedups() for b, ev in evs.items()},
                          "nm_stall_share": {b: {s: ev.totals()[s].nm_stall / ev.totals()[s].compute for s in SCHEMES}
                                             for b, ev in evs.items()},
                          "memory_bound_at_or_below": memory_bound(evs)}
            if reuse:
                entry["dadn_style"] = evs[16].speedups()
                entry["ideal_memory"] = evs[16].compute_speedups()
        out["networks"][name] = entry
    out["load_end"] = load()
    return out


def part_model() -> dict:
    out = {"load_start": load()}
    net = load_network("vgg16-hed")
    prof = Profile.load(builtin_profile_path("vgg16-hed", "100"))
    codes = capture_codes(net, prof, load_images("heldout", 1, net.size))
    windows = {l.name: l.window for l in prof.layers}
    times = []
    for _ in range(3):
        t = time.perf_counter()
        evaluate_chip(net.layers(), windows, codes, ChipConfig())
        times.append(time.perf_counter() - t)
    out.update({"first_seconds": times[0], "warm_seconds": min(times[1:]), "load_end": load()})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=description(__doc__))
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated parts (%(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="also a Verilator model with --threads N")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    bad = [p for p in parts if p not in PARTS]
    if bad:
        ap.error(f"unknown part {bad[0]!r} (parts: {', '.join(PARTS)})")
    out = {"machine": machine()}
    for p in parts:
        out[p] = {"speed": lambda: part_speed(args.threads), "layer": part_layer, "networks": part_networks,
                  "model": part_model}[p]()
        if not args.json:
            print(f"== {p}: {json.dumps(out[p], indent=1, default=str)}", flush=True)
    if args.json:
        print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
