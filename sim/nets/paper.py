"""Measured speedups next to the published ones, with the differences stated.

Published figures (see ``docs/references.md``): Stripes 1.92x over DaDianNao on conv layers
(range 1.30x-4.51x, profiles keeping 100 % of top-1 accuracy; Judd et al., MICRO 2016); Dynamic
Stripes +41 % over Stripes (Delmas et al., arXiv 1706.00504), hence 1.92 x 1.41 = 2.71x over
DaDianNao (derived: the papers give no direct figure on these networks); Pragmatic 2.6x over
DaDianNao (arXiv 1610.06920 v1). Like the papers, the comparison uses conv layers only. The
terminal table, ``report.md`` and the README show these same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

from ..frozen import FrozenMap

PUBLISHED = {
    "stripes_over_dadn": (1.92, "Judd et al., MICRO 2016: conv layers, 100 % accuracy profiles, range 1.30x-4.51x"),
    "dstripes_over_stripes": (1.41, "Delmas et al., arXiv 1706.00504: +41 % over Stripes"),
    "dstripes_over_dadn": (round(1.92 * 1.41, 2), "derived: 1.92x (Stripes / DaDN) times 1.41x "
                                                  "(Dynamic Stripes / Stripes)"),
    "pragmatic_over_dadn": (2.6, "Albericio et al., arXiv 1610.06920 v1 (a bound here, not a design)"),
}

COLUMNS = (("stripes_over_dadn", "Stripes / DaDN"),
           ("dstripes_over_stripes", "DStripes / Stripes"),
           ("dstripes_over_dadn", "DStripes / DaDN"),
           ("dstripes_both_g1_over_stripes", "DStr lead+trail G=1 / Stripes"),
           ("pragmatic_over_dadn", "Pragmatic-style / DaDN"))

DIFFERENCES = [
    "Networks: the papers measured AlexNet, NiN, GoogLeNet, VGG-M, VGG-S and VGG-19 (Caffe, "
    "supervised ImageNet). Here: VGG-16 fine-tuned as the HED edge detector, a self-supervised "
    "ResNet-50, MobileNet-v2 (ImageNet classifier) and the BN-folded ResNet-50-thin of open_nsfw "
    "- deeper, with 1x1 convs, residual sums and, for MobileNet-v2, depthwise convs that use one "
    "of 16 lanes on every scheme.",
    "Profiles: the papers kept top-1 accuracy on the ImageNet validation set; here each profile "
    "keeps the output faithful to the float network (top-1 agreement, cosine or PSNR) on "
    "profiling photos with a margin, integer bits from the observed maximum plus per-layer "
    "headroom, and is judged on held-out photos it never saw (the shipped photos carry no "
    "labels, so agreement stands in for accuracy). Held-out fidelity is in each network's "
    "report.",
    "Layers: like the papers, the comparison uses conv layers only (FC layers get no Stripes "
    "speedup); the first layer is included without folding its stride into channels, so its 3 "
    "input channels use 3 of 16 lanes on every scheme.",
    "Dynamic Stripes here detects precision per group of G columns (G=1: one brick of 16 "
    "activations) with lock-step columns and no run-ahead; the +41 % of the paper is the "
    "comparable figure for leading-one detection.",
]


def geomean(values) -> float:
    vals = [v for v in values if v and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else float("nan")


@dataclass(frozen=True)
class Comparison:
    """Measured conv-layer speedups next to the published ones.

    Members
    -------
    networks : FrozenMap
        ``network -> {column key -> speedup}`` (:data:`COLUMNS`; NaN where not measured).
    geomean : FrozenMap
        ``column key -> geometric mean over the networks``.
    published, sources : FrozenMap
        The published figures (:data:`PUBLISHED`) and where each comes from.
    differences : tuple of str
        Where these measurements differ from the papers'.
    """

    networks: FrozenMap
    geomean: FrozenMap
    published: FrozenMap
    sources: FrozenMap
    differences: tuple

    def as_dict(self) -> dict:
        return {"networks": self.networks.as_dict(), "geomean": self.geomean.as_dict(),
                "published": self.published.as_dict(), "sources": self.sources.as_dict(),
                "differences": list(self.differences)}


def comparison(evaluations) -> Comparison:
    """Per-network conv-layer speedups, their geometric mean, and the published figures."""
    rows = {}
    for ev in evaluations:
        s = ev.speedups(conv_only=True)
        rows[ev.network] = FrozenMap((k, s.get(k, float("nan"))) for k, _ in COLUMNS)
    mean = {k: geomean(r[k] for r in rows.values()) for k, _ in COLUMNS}
    differences = list(DIFFERENCES)
    missed = [f"{ev.network} ({ev.profile.criterion} {ev.profile.fidelity['heldout']:.4g}, target "
              f"{ev.profile.threshold:g})" for ev in evaluations
              if ev.profile.fidelity.get("heldout_pass") is False]
    if missed:
        differences.append(
            "Held-out fidelity misses the profile's own target for " + ", ".join(missed) + ": these "
            "profiles are narrower than photos they never saw need, so their Stripes speedups are "
            "optimistic.")
    return Comparison(FrozenMap(rows), FrozenMap(mean), FrozenMap((k, v) for k, (v, _) in PUBLISHED.items()),
                      FrozenMap((k, s) for k, (_, s) in PUBLISHED.items()), tuple(differences))


def markdown(cmp: Comparison) -> str:
    """The comparison as a Markdown table plus the stated differences."""
    head = "| network | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]

    def fmt(v):
        return f"{v:.2f}x" if v == v else "-"
    for net, r in cmp.networks.items():
        lines.append(f"| {net} | " + " | ".join(fmt(r[k]) for k, _ in COLUMNS) + " |")
    if len(cmp.networks) > 1:
        lines.append("| **geometric mean** | " + " | ".join(fmt(cmp.geomean[k]) for k, _ in COLUMNS) + " |")
    lines.append("| *published* | " + " | ".join(
        fmt(cmp.published[k]) if k in cmp.published else "-" for k, _ in COLUMNS) + " |")
    lines += ["", "Published figures: " + "; ".join(cmp.sources.values()) + ".", "",
              "Where these measurements differ from the papers':", ""]
    lines += [f"- {d}" for d in cmp.differences]
    return "\n".join(lines)
