"""PNG plots of an evaluation (matplotlib, headless)."""
from __future__ import annotations

import math
import os

import numpy as np

from ..files import atomic_path
from ..schemes import DADN, DSTRIPES, STRIPES
from .paper import PUBLISHED


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: str) -> None:
    """Save a PNG through a temporary name (:func:`sim.files.atomic_path`): an interrupted run
    never leaves a truncated plot behind."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        _plt().close(fig)


def speedup_bars(ev, path: str) -> str:
    """Per-layer speedups over DaDN of Stripes, Dynamic Stripes variants and the bounds."""
    plt = _plt()
    base = ev.layers(DSTRIPES.name)
    names = [l.name for l in base]
    series = [("Stripes", [l.speedup(DADN.name, STRIPES.name) for l in base])]
    standard = {ev.results[k][0].config for k in ev.keys if k != DSTRIPES.name}
    for key in ev.keys:
        if key == DSTRIPES.name and ev.results[key][0].config in standard:
            continue  # the user's configuration is one of the standard variants
        if key.startswith("leading-g") and key != "leading-g1":
            continue  # leading-only lock-step counts do not depend on the group size
        series.append((f"DStr {key}", [l.speedup(DADN.name, DSTRIPES.name) for l in ev.layers(key)]))
    series += [("Pragmatic-style", [l.speedup(DADN.name, "pragmatic") for l in base])]
    x = np.arange(len(names))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(8, 0.32 * len(names) * len(series) / 2), 4.5))
    for i, (label, vals) in enumerate(series):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, label=label)
    ax.axhline(1, color="k", lw=0.6)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_ylabel("speedup over DaDN")
    ax.set_title(f"{ev.network}: per-layer speedup ({len(ev.images)} images)")
    ax.legend(fontsize=7, ncol=len(series))
    fig.tight_layout()
    _save(fig, path)
    return path


def precision_histograms(ev, path: str, key: str = DSTRIPES.name, cols: int = 6) -> str:
    """Per layer: distribution of detected group precisions, and the profiled precision."""
    plt = _plt()
    layers = ev.layers(key)
    cols = min(cols, len(layers))
    rows = math.ceil(len(layers) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.3 * cols, 1.7 * rows), squeeze=False)
    for ax, lc in zip(axes.flat, layers):
        h = lc.hist / max(1, lc.hist.sum())
        ax.bar(np.arange(len(h)), h, width=0.9, color="tab:blue")
        ax.axvline(lc.window.bits, color="tab:red", lw=1.5)
        mean = float((np.arange(len(h)) * h).sum())
        ax.set_title(f"{lc.name}\np={lc.window.bits}, mean {mean:.1f}", fontsize=6)
        ax.tick_params(labelsize=5)
        ax.set_xlim(-0.6, lc.window.bits + 0.6)
    for ax in list(axes.flat)[len(layers):]:
        ax.axis("off")
    cfg = ev.results[key][0].config
    fig.suptitle(f"{ev.network}: detected group precision (bits; {cfg.trim}, G={cfg.group}) "
                 f"vs profiled precision (red)", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    return path


def network_summary(evaluations, path: str) -> str:
    """Conv-layer speedups over DaDN of every evaluated network."""
    plt = _plt()
    keys = [("stripes_over_dadn", "Stripes"), ("dstripes_over_dadn", "Dynamic Stripes"),
            ("dstripes_both_g1_over_dadn", "DStr lead+trail G=1"), ("pragmatic_over_dadn", "Pragmatic-style")]
    nets = [ev.network for ev in evaluations]
    vals = [[ev.speedups(conv_only=True).get(k, 0.0) for ev in evaluations] for k, _ in keys]
    x = np.arange(len(nets))
    width = 0.8 / len(keys)
    fig, ax = plt.subplots(figsize=(max(6, 2 * len(nets)), 4))
    for i, ((_, label), v) in enumerate(zip(keys, vals)):
        ax.bar(x + (i - (len(keys) - 1) / 2) * width, v, width, label=label)
    stripes = PUBLISHED["stripes_over_dadn"][0]
    ax.axhline(stripes, color="tab:blue", ls="--", lw=0.8, label=f"Stripes published {stripes}x")
    ax.set_xticks(x)
    ax.set_xticklabels(nets)
    ax.set_ylabel("speedup over DaDN (conv layers)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _save(fig, path)
    return path
