"""Text tables: plain for the terminal (every command that prints one), Markdown for the
reports."""
from __future__ import annotations

import math

import numpy as np

from .schemes import DADN, DSTRIPES, STRIPES


def render(headers: list[str], rows: list[list], title: str = "") -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [title] if title else []
    for j, r in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(c) -> str:
    """Cells: yes/no, integers and floats with thousands separators (numpy scalars too)."""
    if isinstance(c, (bool, np.bool_)):
        return "yes" if c else "no"
    if isinstance(c, (float, np.floating)):
        return f"{c:,.2f}"
    if isinstance(c, (int, np.integer)):
        return f"{int(c):,}"
    return str(c)


def md_table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table: floats with two decimals, integers with thousands separators."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _md_cell(c) -> str:
    if isinstance(c, float):
        return f"{c:.2f}" if math.isfinite(c) else str(c)
    if isinstance(c, (int, np.integer)):
        return f"{int(c):,}"
    return str(c)


def layer_table(results, title: str = "") -> str:
    """One row per scheme and bound for a single layer, or one row per layer for several."""
    if len(results) == 1:
        r = results[0]
        c = r.cycles
        rows = [[name, int(round(c[key])) if key != "ideal" else c[key], c[DADN.name] / c[key] if c[key] else 0.0,
                 c[STRIPES.name] / c[key] if c[key] else 0.0]
                for name, key in (("DaDN (bit-parallel)", DADN.name), ("Stripes", STRIPES.name),
                                  (f"Dynamic Stripes ({r.config.trim}, G={r.config.group})", DSTRIPES.name),
                                  ("per-value ideal (bound)", "ideal"),
                                  ("Pragmatic-style (bound)", "pragmatic"))]
        return render(["scheme", "cycles", "x DaDN", "x Stripes"], rows, title)
    rows = []
    for r in results:
        c = r.cycles
        rows.append([r.name, r.window.bits, c[DADN.name], c[STRIPES.name], c[DSTRIPES.name],
                     c[DADN.name] / c[STRIPES.name], c[DADN.name] / c[DSTRIPES.name], c[STRIPES.name] / c[DSTRIPES.name]])
    return render(["layer", "p", "DaDN", "Stripes", "DStripes", "STR/DaDN", "DStr/DaDN", "DStr/STR"], rows, title)
