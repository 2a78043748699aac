"""Benchmark (not a test): int8 CNNs on their own codes (issue 22 item 4) — fidelity of each int8
variant, Dynamic Stripes over Stripes-8 and over DaDN-8 per layer and per network in the tile
model and on the 8-bit accelerator's memory-aware model, and one layer of each network verified
in RTL on the published 8-bit tile (``docs/int8.md`` reads these figures).

For every network (``--nets``) and variant (``--variants``; ``u8``/``s8``/``a8``: uint8
activations, int8 symmetric (zero point 0), int8 asymmetric; ``pc``/``pt``: int8 weights per
output channel or per tensor), the commands a user runs, each result kept in ``--out`` (a run
whose JSON is there is not run again):

1. ``dstripes quantize --model NET --images 16 --heldout H ... --out NET-V.onnx --json``: the
   int8 model, calibrated on 16 profiling photos; its fidelity against the float network on
   ``H`` held-out photos (top-1 agreement, cosine min/mean, PSNR min).
2. ``dstripes evaluate --model NET-V.onnx --images N --jobs 1 --json``: the tile model on ``N``
   held-out photos (the tile of the codes' widths: ``A = 9`` where a zero point shifts them;
   their raw 8-bit codes ``q`` counted too: Stripes-8).
3. ``dstripes evaluate --chip --model NET-V.onnx --images N --json``: the accelerator of 16
   tiles of 16x16x16 at ``A = W = 8`` (everything on chip, NM read 16 bricks/cycle): layers
   whose codes need 9 bits run on raw ``q``.
4. ``--verify``: ``dstripes verify --model NET-u8-pc.onnx --layers L --images 1 --act-bits 8
   --weight-bits 8 --scheme K --json`` for the three tiles (published size at 8 bits, Verilator;
   the layer of :data:`VERIFY_LAYERS`): RTL cycles against the model's, and Dynamic Stripes over
   Stripes-8 and DaDN-8 in RTL.

Prints one table per network (per layer, the first variant) and the summary; writes every
figure to ``--out/int8.json``. Run it with ``nice -n 5`` on a shared machine.

Usage: .venv/bin/python scripts/bench/int8.py [--nets mobilenet-v2,resnet50-imgsim]
       [--variants u8-pc,u8-pt,s8-pc,a8-pc] [--images 8] [--heldout 16] [--verify] [--out build/int8]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from dstripes.sim.schemes import DADN, DSTRIPES, STRIPES
from dstripes.sim.table import render

from common import description, load_average, machine

#: Variant tag -> ``dstripes quantize`` options.
VARIANTS = {"u8-pc": ["--activations", "uint8", "--per-channel"], "u8-pt": ["--activations", "uint8"],
            "s8-pc": ["--activations", "int8", "--symmetric", "--per-channel"],
            "a8-pc": ["--activations", "int8", "--per-channel"]}
#: The layer of each network run in RTL (codes of 8 bits, zero point 0, in the uint8 variants).
VERIFY_LAYERS = {"mobilenet-v2": "/model/features/features.13/conv/conv.2/Conv",
                 "resnet50-imgsim": "layer3.1.conv2"}
#: The command line, run as a user runs it (one process per command).
CLI = [sys.executable, "-m", "dstripes.scripts.cli"]
#: The three schemes: bit-parallel (DaDN-8), Stripes-8, Dynamic Stripes.
D, S, DS = DADN.name, STRIPES.name, DSTRIPES.name


def run(argv: list, path: str) -> dict:
    """The JSON of ``dstripes argv`` (kept in ``path``; read back when already there)."""
    if os.path.isfile(path):
        return json.load(open(path))
    t0 = time.perf_counter()
    res = subprocess.run([*CLI, *argv], capture_output=True, text=True)
    if res.returncode not in (0, 1):
        sys.exit(f"dstripes {' '.join(argv)} failed ({res.returncode}):\n{res.stderr[-2000:]}")
    d = json.loads(res.stdout)
    d["bench"] = {"command": "dstripes " + " ".join(argv), "wall_s": round(time.perf_counter() - t0, 1),
                  "load": load_average(), "exit": res.returncode}
    with open(path + ".tmp", "w") as f:
        json.dump(d, f, indent=1)
    os.replace(path + ".tmp", path)
    return d


def ratio(a, b):
    return a / b if a and b else None


def tile_figures(ev: dict) -> dict:
    """The tile model's conv-layer figures: DStr on ``q - zp`` over Stripes-8 (raw codes' Stripes
    where a zero point shifts them) and over DaDN-8, and the same on raw ``q``."""
    t = ev["conv_only"]["total"]
    raw = ev.get("raw_codes", {}).get("conv_only", {}).get("total", t)
    return {"dstr_over_stripes8": ratio(raw[S], t[DS]), "dstr_over_dadn8": ratio(t[D], t[DS]),
            "raw_dstr_over_stripes8": ratio(raw[S], raw[DS]), "raw_dstr_over_dadn8": ratio(raw[D], raw[DS]),
            "zero_point_layers": sum(1 for l in ev["layers"] if not l["fc"] and l["codes"]["zero_point"]),
            "tile": f"A={ev['config']['act_bits']} W={ev['config']['weight_bits']}"}


def layer_rows(ev: dict, chip: dict) -> list:
    """Per conv layer: its codes, the tile model's DStr/Stripes-8 and DStr/DaDN-8 (on ``q - zp``,
    and on raw ``q`` where shifted), the chip's."""
    chip_by = {l["name"]: l for l in chip["layers"]}
    rows = []
    for l in ev["layers"]:
        if l["fc"]:
            continue
        c, k = l["codes"], chip_by[l["name"]]
        zc = c.get("zero_point_cost")
        cyc = {s: l[s]["cycles"] for s in (D, S, DS)}
        s8 = cyc[S] * 8 // c["bits"]   # Stripes at 8 bits (a 9-bit layer's raw codes q)
        hist = l["group_precision_hist"]
        rows.append([l["name"].replace("/model/", "").replace("/Conv", ""), l["layer"],
                     f"{c['dtype']} zp {c['zero_point']}", c["bits"], sum(b * n for b, n in enumerate(hist)) / sum(hist),
                     ratio(s8, cyc[DS]), ratio(cyc[D], cyc[DS]),
                     ratio(s8, zc["cycles_raw_q"]) if zc else None, k["codes"]["reading"],
                     k["speedup"][f"{DS}_over_{S}"], k["speedup"][f"{DS}_over_{D}"]])
    return rows


def verify_line(net: str, layer: str, r: dict) -> str:
    """One line of a ``verify --json`` report: the layer's RTL and model cycles, results checked."""
    t = r["total"]
    return (f"{net} {layer} on the {r['scheme']} tile (RTL, A = W = 8): {'PASSED' if r['passed'] else 'FAILED'}, "
            f"RTL {t['cycles_rtl']:,} cycles, model {t['cycles_model']:,}, {t['results_checked']:,} results checked, "
            f"{t['mismatches']} mismatches")


def main() -> None:
    p = argparse.ArgumentParser(description=description(__doc__))
    p.add_argument("--nets", default="mobilenet-v2,resnet50-imgsim")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--images", type=int, default=8, help="held-out photos counted (%(default)s)")
    p.add_argument("--heldout", type=int, default=16, help="held-out photos of the fidelity (%(default)s)")
    p.add_argument("--verify", action="store_true", help="also one layer per network in RTL")
    p.add_argument("--out", default="build/int8")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    print(f"machine: {machine()}; load {load_average()}")
    result = {"images": a.images, "heldout": a.heldout, "networks": {}}
    summary = []
    nets, variants = a.nets.split(","), a.variants.split(",")
    # the first variant of every network and its RTL layer first, then the other variants
    for v, net in [(v, n) for v in variants for n in nets]:
        per = result["networks"].setdefault(net, {})
        base = os.path.join(a.out, f"{net}-{v}")
        q = run(["quantize", "--model", net, "--images", "16", "--heldout", str(a.heldout), *VARIANTS[v],
                 "--out", base + ".onnx", "--json"], base + ".json")
        ev = run(["evaluate", "--model", base + ".onnx", "--images", str(a.images), "--jobs", "1",
                  "--no-progress", "--out", base + "-ev", "--json"], base + "-ev.json")
        chip = run(["evaluate", "--chip", "--model", base + ".onnx", "--images", str(a.images), "--no-progress",
                    "--out", base + "-chip", "--json"], base + "-chip.json")
        raw_layers = sum(l["codes"]["reading"] == "raw q" for l in chip["layers"])
        per[v] = {"fidelity": q["fidelity"], "tile_model": tile_figures(ev),
                  "chip": {"speedup": chip["speedup"], "speedup_ideal_memory": chip["speedup_ideal_memory"],
                           "raw_q_layers": raw_layers, "layers": len(chip["layers"])},
                  "seconds": {"quantize": q.get("bench", {}).get("wall_s", q.get("seconds")),
                              "evaluate": ev["bench"]["wall_s"], "chip": chip["bench"]["wall_s"]},
                  "layers": [dict(zip(("layer", "shape", "codes", "bits", "mean_bits", "dstr_over_stripes8",
                                       "dstr_over_dadn8", "raw_dstr_over_stripes8", "chip_reading",
                                       "chip_dstr_over_stripes8", "chip_dstr_over_dadn8"), r))
                             for r in layer_rows(ev, chip)]}
        f, t, c = q["fidelity"], per[v]["tile_model"], chip["speedup"]
        summary.append([net, v, f["top1"], f["cosine_min"], f["cosine_mean"], t["zero_point_layers"],
                        t["dstr_over_stripes8"], t["dstr_over_dadn8"], t["raw_dstr_over_stripes8"],
                        c[f"{DS}_over_{S}"], c[f"{DS}_over_{D}"]])
        if v != variants[0]:
            continue
        print(render(["layer", "shape", "codes", "bits", "mean bits", "DStr/STR-8", "DStr/DaDN-8",
                      "raw q: DStr/STR-8", "chip codes", "chip DStr/STR-8", "chip DStr/DaDN-8"],
                     layer_rows(ev, chip), title=f"{net} int8 ({v}), {a.images} held-out photos, per conv layer"))
        print(flush=True)
        if a.verify and net in VERIFY_LAYERS:
            per["verify"] = {"variant": v, "layer": VERIFY_LAYERS[net], "reports": {}}
            for kind in (DS, S, D):   # the same run on the three 8-bit tiles
                tail = "" if kind == DS else f"-{kind}"
                r = run(["verify", "--model", base + ".onnx", "--layers", VERIFY_LAYERS[net], "--images", "1",
                         "--act-bits", "8", "--weight-bits", "8", "--scheme", kind, "--no-progress",
                         "--out", base + "-verify" + tail, "--json"], base + "-verify" + tail + ".json")
                per["verify"]["reports"][kind] = r
                print(verify_line(net, VERIFY_LAYERS[net], r), flush=True)
            rtl = {k: r["total"]["cycles_rtl"] for k, r in per["verify"]["reports"].items()}
            per["verify"]["dstr_over_stripes8"] = ratio(rtl[S], rtl[DS])
            per["verify"]["dstr_over_dadn8"] = ratio(rtl[D], rtl[DS])
    print(render(["network", "int8 variant", "top-1 agr.", "cos min", "cos mean", "zp != 0 layers",
                  "DStr/STR-8", "DStr/DaDN-8", "raw q: DStr/STR-8", "chip DStr/STR-8", "chip DStr/DaDN-8"],
                 summary, title=f"int8 CNNs on their own codes: fidelity on {a.heldout} held-out photos, speed-ups "
                                f"(conv layers) on {a.images}"))
    result["summary"] = summary
    with open(os.path.join(a.out, "int8.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nload {load_average()}; wrote {os.path.join(a.out, 'int8.json')}")


if __name__ == "__main__":
    main()
