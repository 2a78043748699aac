"""Parsers for the yosys 0.23 reports the flow writes (``stat``, ``stat -tech cmos``,
``stat -liberty``, ``ltp``).

Each parser raises :class:`ReportError` when the line it needs is absent, so that a run that
exited cleanly without its report (a yosys without ABC, a pass that silently did nothing) can
never be read as a zero or a stale number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from dstripes.sim.errors import ToolError


class ReportError(ToolError):
    """yosys exited without a report the flow needs, or with an incomplete one (one line,
    names the report): a tool failure, not bad input."""


_TRANSISTORS = re.compile(r"^\s*Estimated number of transistors:\s+(\d+)(\+?)\s*$", re.M)
_CHIP_AREA = re.compile(r"^\s*Chip area for module '\\?([^']*)':\s+([0-9.eE+-]+)\s*$", re.M)
_CELLS = re.compile(r"^\s*Number of cells:\s+(\d+)\s*$", re.M)
_CELL_TYPE = re.compile(r"^\s{5}(\S+)\s+(\d+)\s*$", re.M)
_LTP = re.compile(r"^Longest topological path in (\S+) \(length=(\d+)\):", re.M)


@dataclass(frozen=True)
class CellStats:
    """The cells of one ``stat`` report, ``{cell type: count}``."""

    types: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.types.values())

    @property
    def internal(self) -> Mapping[str, int]:
        """Cell types that are still yosys-internal (``$...``): not mapped to the library."""
        return {t: n for t, n in self.types.items() if t.startswith("$")}


def _require(match, report: str, what: str):
    if match is None:
        raise ReportError(f"yosys wrote no {report} for {what}")
    return match


def cell_stats(text: str, *, report: str, what: str) -> CellStats:
    """Parse the ``Number of cells`` line and the per-type lines that follow it.

    ``text`` must hold the ``stat`` output of one flattened module.
    """
    m = _require(_CELLS.search(text), report, what)
    types = {}
    for line in text[m.end():].splitlines()[1:]:
        t = _CELL_TYPE.match(line)
        if not t:
            break
        types[t.group(1)] = int(t.group(2))
    total = int(m.group(1))
    if sum(types.values()) != total:
        raise ReportError(f"{report} for {what} lists {sum(types.values())} cells by type but "
                          f"{total} in total")
    return CellStats(types)


def transistors(text: str, *, what: str) -> int:
    """The exact transistor estimate of ``stat -tech cmos``.

    Raises
    ------
    ReportError
        If the line is missing, or the estimate is only a lower bound (yosys appends ``+`` when
        some cells have no CMOS cost, e.g. flip-flops with enables left by a missing
        ``dffunmap``).
    """
    m = _require(_TRANSISTORS.search(text), "transistor report (stat -tech cmos)", what)
    if m.group(2):
        odd = ", ".join(t for t in cell_stats(text, report="cmos cell report", what=what).types
                        if t not in ("$_NAND_", "$_NOR_", "$_NOT_", "$_DFF_P_", "$_DFF_N_"))
        raise ReportError(f"transistor estimate for {what} is only a lower bound "
                          f"({m.group(1)}+): cells without a CMOS cost: {odd or 'unknown'}")
    return int(m.group(1))


def chip_area(text: str, top: str, *, report: str, what: str) -> float:
    """The ``Chip area for module`` figure of ``stat -liberty`` for module ``top``."""
    for m in _CHIP_AREA.finditer(text):
        if m.group(1) == top:
            return float(m.group(2))
    raise ReportError(f"yosys wrote no {report} for {what}")


def longest_path(text: str, top: str, *, what: str) -> int:
    """Length (in cells) of the longest combinational path ``ltp`` found in ``top``."""
    for m in _LTP.finditer(text):
        if m.group(1).lstrip("\\") == top:
            return int(m.group(2))
    raise ReportError(f"yosys wrote no logic-depth report (ltp) for {what}")

