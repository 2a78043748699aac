"""Evaluation reports: tables (rows for the terminal), ``report.md``, ``layers.csv``,
``summary.json`` and plots, per network and for all evaluated networks together.

Every file is written through a temporary name and renamed (:func:`sim.files.write_atomic`), so
an interrupted run leaves no truncated report or plot. Layout of an output folder ``DIR``::

    DIR/report.md, DIR/summary.json, DIR/layers.csv, DIR/networks.png    all networks
    DIR/<network>/report.md, summary.json, layers.csv,
                  speedup.png, precision.png                             one network
"""
from __future__ import annotations

import csv
import io
import json
import os

from ..cycles import ratio
from ..files import write_atomic
from ..schemes import DADN, DSTRIPES, STRIPES
from ..table import against, md_table
from .evaluate import variant_name
from .qdq import codes_dict
from .paper import comparison, markdown as paper_markdown
from . import plots

LAYER_HEADERS = ["layer", "shape", "p", "mean det.", "DaDN cycles", "STR/DaDN", "DStr/DaDN",
                 "DStr/STR", "L+T G=1/STR", "L+T G=N/STR", "ideal/DaDN", "PRA/DaDN"]


#: The int8 codes table of an evaluation of an int8 model's own codes (:func:`codes_rows`).
CODES_HEADERS = ["layer", "codes", "scale", "zero pt", "p", "mean det.", "mean det. q", "weights", "DStr/STR",
                 "DStr/DaDN"]


def codes_rows(ev) -> list:
    """Per layer of an int8 model: the codes' type, scale, zero point and window bits, the mean
    detected precision of ``q - zero point`` and (zero point not 0) of the raw ``q``, the
    weights' codes (per tensor or per channel), and the speedups of the 8-bit tile."""
    rows = []
    for lc in ev.layers():
        q = ev.profile.layer(lc.name).quant
        raw = ev.raw_codes.get(lc.name)
        w = q.weights
        rows.append([lc.name, f"{q.dtype} {'sym.' if codes_dict(q)['symmetric'] else 'asym.'}, "
                              f"{'signed' if q.window.signed else 'unsigned'} codes", f"{q.scale:.4g}",
                     q.zero_point, lc.window.bits, round(lc.mean_bits, 2),
                     "" if raw is None else round(raw.mean_bits, 2),
                     f"{w['dtype']} {'per-channel' if w['per_channel'] else 'per-tensor'}"
                     f"{' sym.' if w['symmetric'] else ' asym.'}",
                     lc.speedup(STRIPES.name, DSTRIPES.name), lc.speedup(DADN.name, DSTRIPES.name)])
    return rows


def _both_keys(ev):
    both = [k for k in ev.keys if k.startswith("both-g")]
    return both[0], both[-1]


def layer_rows(ev) -> list:
    """One row per layer plus a total row, for :data:`LAYER_HEADERS`."""
    b1, bn = _both_keys(ev)
    rows = []
    for i, lc in enumerate(ev.layers()):
        c = lc.cycles
        rows.append([lc.name, lc.layer.describe(), lc.window.bits, round(lc.mean_bits, 2),
                     int(c[DADN.name]), lc.speedup(DADN.name, STRIPES.name), lc.speedup(DADN.name, DSTRIPES.name),
                     lc.speedup(STRIPES.name, DSTRIPES.name),
                     ev.layers(b1)[i].speedup(STRIPES.name, DSTRIPES.name),
                     ev.layers(bn)[i].speedup(STRIPES.name, DSTRIPES.name),
                     lc.speedup(DADN.name, "ideal"), lc.speedup(DADN.name, "pragmatic")])
    t = ev.totals()
    rows.append(["total", f"{len(ev.layers())} layers", "", "", int(t[DADN.name]),
                 t.speedup(DADN.name, STRIPES.name), t.speedup(DADN.name, DSTRIPES.name),
                 t.speedup(STRIPES.name, DSTRIPES.name), t.speedup(STRIPES.name, variant_name(b1)),
                 t.speedup(STRIPES.name, variant_name(bn)), t.speedup(DADN.name, "ideal"),
                 t.speedup(DADN.name, "pragmatic")])
    return rows


def scheme_rows(ev, conv_only: bool = False) -> list:
    """One row per scheme: ``[scheme, cycles, x DaDN, x Stripes]``."""
    t = ev.totals(conv_only)
    rows = [["DaDN (bit-parallel)", t[DADN.name]], ["Stripes (profiled p)", t[STRIPES.name]]]
    for key in ev.keys:
        cfg = ev.results[key][0].config
        label = "Dynamic Stripes" if key == DSTRIPES.name else f"  variant {key}"
        rows.append([f"{label} ({cfg.trim}, G={cfg.group})",
                     t[DSTRIPES.name] if key == DSTRIPES.name else t[variant_name(key)]])
    rows += [["per-value ideal (bound)", t["ideal"]], ["Pragmatic-style (bound)", t["pragmatic"]]]
    return [[n, round(c), ratio(t[DADN.name], c), ratio(t[STRIPES.name], c)] for n, c in rows]


def heldout_text(p) -> str:
    """A profile's held-out fidelity in words (said next to every speedup)."""
    if p.from_model:
        return "none searched: the int8 model's own codes (its fidelity is the model's, reported by dstripes quantize)"
    f = p.fidelity
    if "heldout" not in f:
        return f"profile target {p.target}: held-out fidelity not measured"
    text = (f"profile target {p.target}: held-out {f.get('unit', p.criterion)} {against(f['heldout'], p.threshold)} on "
            f"{f['heldout_images']} photos ({'meets' if f.get('heldout_pass') else 'MISSES'} "
            f"{p.criterion} >= {p.threshold:g})")
    w = f.get("heldout_worst")
    if w:
        text += f"; worst photo {w['photo']}: {w['measure']} {w['value']:.4g}"
    return text


def photo_rows(ev) -> list:
    """``[ratio, min, median, max, min photo, max photo]`` of the per-photo speedups."""
    rows = []
    for conv_only in (False, True):
        ps = ev.photo_speedups(conv_only)
        for key, label in (("stripes_over_dadn", "Stripes / DaDN"), ("dstripes_over_stripes", "DStr / Stripes"),
                           ("dstripes_over_dadn", "DStr / DaDN")):
            if key in ps:
                d = ps[key]
                rows.append([f"{label}{' (conv)' if conv_only else ''}", d.min, d.median, d.max,
                             d.min_photo, d.max_photo])
    return rows


def network_markdown(ev) -> str:
    p = ev.profile
    f = p.fidelity
    cfg = ev.config
    held = f.get("heldout")
    lines = [f"# {ev.network}: Dynamic Stripes evaluation", "",
             f"- Model: {ev.source}",
             f"- Images: {len(ev.images)} ({', '.join(ev.images[:4])}{', ...' if len(ev.images) > 4 else ''})",
             f"- Tile: L={cfg.lanes}, Nc={cfg.columns}, Nr={cfg.rows}, T={cfg.tiles}, A={cfg.act_bits}, "
             f"W={cfg.weight_bits}; Dynamic Stripes trim={cfg.trim}, G={cfg.group}, run-ahead={cfg.run_ahead}",
             ("- Codes: the int8 model's own (q - zero point), no profile" if p.from_model else
              f"- Profile: target {p.target}, criterion {p.criterion} >= {p.threshold}; "
              f"fidelity {against(f.get('profile', float('nan')), p.threshold)} on {f.get('profile_images', '?')} "
              f"profiling photos"
              + (f", {against(held, p.threshold)} on {f.get('heldout_images')} held-out photos "
                 f"({'meets' if f.get('heldout_pass') else 'MISSES'} the target)" if held is not None else "")),
             f"- Held-out fidelity of the profile behind every speedup below: {heldout_text(p)}",
             f"- Time: {ev.seconds.get('total', 0):.1f} s", "",
             "## All layers", "", md_table(["scheme", "cycles", "x DaDN", "x Stripes"], scheme_rows(ev)), "",
             "## Per photo", "", "Each photo counted on its own: spread of the speedups across photos.", "",
             md_table(["speedup", "min", "median", "max", "min photo", "max photo"], photo_rows(ev)), "",
             "## Conv layers only (as in the papers)", "",
             md_table(["scheme", "cycles", "x DaDN", "x Stripes"], scheme_rows(ev, True)), "",
             "## Per layer", "",
             "`p`: profiled precision; `mean det.`: mean detected group precision of the Dynamic Stripes "
             "configuration; `L+T`: leading+trailing detection, `G=N`: one group of all columns.", "",
             md_table(LAYER_HEADERS, layer_rows(ev)), "",
             "![per-layer speedup](speedup.png)", "", "![detected precision](precision.png)", ""]
    if p.from_model:
        lines += ["## The int8 model's codes per layer", "",
                  "`p`: the window of the codes q - zero point; `mean det. q`: the mean detected precision of the "
                  "raw codes q (a layer whose zero point is not 0).", "", md_table(CODES_HEADERS, codes_rows(ev)), ""]
    return "\n".join(lines)


def layers_csv_rows(ev) -> list:
    rows = []
    for i, lc in enumerate(ev.layers()):
        l, w = lc.layer, lc.window
        row = {"network": ev.network, "layer": lc.name, "shape": l.describe(), "fc": int(l.fc),
               "macs": lc.macs, "signed": int(w.signed), "msb": w.msb, "lsb": w.lsb, "p": w.bits,
               "scale": ev.profile.layer(lc.name).scale, "images": lc.images,
               DADN.name: int(lc.cycles[DADN.name]), STRIPES.name: int(lc.cycles[STRIPES.name])}
        for key in ev.keys:
            v = ev.layers(key)[i]
            row[key.replace("-", "_")] = int(v.cycles[DSTRIPES.name])
            row[f"{key.replace('-', '_')}_mean_bits"] = round(v.mean_bits, 4)
        row["ideal"] = round(float(lc.cycles["ideal"]), 2)
        row["pragmatic"] = int(lc.cycles["pragmatic"])
        rows.append(row)
    return rows


def _write_csv(path, rows) -> None:
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    write_atomic(path, buf.getvalue())


def _json(path, obj) -> None:
    write_atomic(path, json.dumps(obj, indent=1, default=float) + "\n")


def write_network(ev, folder: str) -> list:
    """Write one network's report files into ``folder``; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    files = [os.path.join(folder, n) for n in ("report.md", "layers.csv", "summary.json")]
    write_atomic(files[0], network_markdown(ev))
    _write_csv(files[1], layers_csv_rows(ev))
    _json(files[2], ev.as_dict())
    files.append(plots.speedup_bars(ev, os.path.join(folder, "speedup.png")))
    files.append(plots.precision_histograms(ev, os.path.join(folder, "precision.png")))
    return files


def write_all(evaluations, out: str) -> list:
    """Every network's folder plus the combined ``report.md``, ``summary.json``, ``layers.csv``."""
    os.makedirs(out, exist_ok=True)
    files = []
    for ev in evaluations:
        files += write_network(ev, os.path.join(out, ev.network))
    cmp = comparison(evaluations)
    lines = ["# Dynamic Stripes on real networks", "",
             "Speedups measured with the golden cycle model on real activations of real photos, "
             "compared with the published averages (conv layers).", "",
             paper_markdown(cmp), "", "![speedups](networks.png)", "", "## Networks", ""]
    for ev in evaluations:
        t = ev.speedups()
        lines.append(f"- [{ev.network}]({ev.network}/report.md): all layers Stripes "
                     f"{t['stripes_over_dadn']:.2f}x, Dynamic Stripes {t['dstripes_over_dadn']:.2f}x over DaDN "
                     f"({t['dstripes_over_stripes']:.2f}x over Stripes); {heldout_text(ev.profile)}")
    write_atomic(os.path.join(out, "report.md"), "\n".join(lines) + "\n")
    _json(os.path.join(out, "summary.json"), {"networks": [ev.as_dict() for ev in evaluations], "paper": cmp.as_dict()})
    _write_csv(os.path.join(out, "layers.csv"), [r for ev in evaluations for r in layers_csv_rows(ev)])
    files += [os.path.join(out, n) for n in ("report.md", "summary.json", "layers.csv")]
    files.append(plots.network_summary(evaluations, os.path.join(out, "networks.png")))
    return files
