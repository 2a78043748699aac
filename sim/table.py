"""Text tables: plain for the terminal (every command that prints one), Markdown for the
reports."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .cycles import ratio
from .schemes import DADN, DSTRIPES, STRIPES


def against(value: float, reference: float, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits, or as many more as it takes not to read like
    ``reference`` (written ``:g``) when it differs from it: a fidelity of 0.99896 against a target
    of 0.999 reads ``0.99896``, never ``0.999``.

    Parameters
    ----------
    value, reference : float
        A measured figure and the threshold it is judged against.
    digits : int
        Significant digits when the two read apart anyway.

    Returns
    -------
    str
    """
    text = f"{value:.{digits}g}"
    while value != reference and digits < 17 and float(text) == float(f"{reference:g}"):
        digits += 1
        text = f"{value:.{digits}g}"
    return text


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
    """Cells: yes/no, integers, fractions and floats with thousands separators (numpy scalars
    too); a fraction (the per-value ideal) exactly, to two decimals."""
    if isinstance(c, (bool, np.bool_)):
        return "yes" if c else "no"
    if isinstance(c, (float, np.floating)):
        return f"{c:,.2f}"
    if isinstance(c, (int, np.integer)):
        return f"{int(c):,}"
    if isinstance(c, Fraction):
        return fixed2(c, ",")
    return str(c)


def fixed2(q: Fraction, sep: str = "") -> str:
    """An exact fraction to two decimals, rounded half to even (``sep``: the thousands separator,
    ``","`` or none): exact at any size, where a float would invent its low digits."""
    hundredths = round(q * 100)
    sign = "-" if hundredths < 0 else ""
    whole, part = divmod(abs(hundredths), 100)
    return f"{sign}{whole:{sep}}.{part:02d}"


def md_table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table: floats with two decimals, integers with thousands separators."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _md_cell(c) -> str:
    if isinstance(c, Fraction):
        return fixed2(c)
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
        rows = [[name, c[key], ratio(c[DADN.name], c[key]) if c[key] else 0.0,
                 ratio(c[STRIPES.name], c[key]) if c[key] else 0.0]
                for name, key in (("DaDN (bit-parallel)", DADN.name), ("Stripes", STRIPES.name),
                                  (f"Dynamic Stripes ({r.config.trim}, G={r.config.group})", DSTRIPES.name),
                                  ("per-value ideal (bound)", "ideal"),
                                  ("Pragmatic-style (bound)", "pragmatic"))]
        return render(["scheme", "cycles", "x DaDN", "x Stripes"], rows, title)
    rows = []
    for r in results:
        c = r.cycles
        rows.append([r.name, r.window.bits, c[DADN.name], c[STRIPES.name], c[DSTRIPES.name],
                     c.speedup(DADN.name, STRIPES.name), c.speedup(DADN.name, DSTRIPES.name),
                     c.speedup(STRIPES.name, DSTRIPES.name)])
    return render(["layer", "p", "DaDN", "Stripes", "DStripes", "STR/DaDN", "DStr/DaDN", "DStr/STR"], rows, title)
