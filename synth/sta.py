"""Running OpenSTA (Debian's ``opensta``, binary ``sta``) and reading what it reports.

``sta`` exits with status 0 even when a command fails (it prints ``Error: ...`` and, for some
commands, carries on), so every script run here ends by printing a marker, and a run is good
only if the marker is there and no line starts with ``Error:``. The reports the flow needs are
written by the script to files of their own and parsed from there.

Version notes (OpenSTA 2.0.17): no VCD/SAIF reader; ``set_power_activity -pins`` is broken in
its Tcl wrapper (it calls a missing ``get_pins_error``), so per-pin activities are set with the
underlying ``sta::set_power_pin_activity`` and per-port ones with
``sta::set_power_input_port_activity``.
"""
from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from dstripes.sim.errors import ToolError
from dstripes.tb.tools import ToolRun, find_tool, run_tool, tool_version

from .netlist import Port

#: Environment variable naming the OpenSTA executable to use instead of ``sta`` on ``PATH``.
STA_ENV = "DSTRIPES_STA"
_DONE = "dstripes: sta script done"


def sta_path(path: str | os.PathLike | None = None) -> str:
    """The OpenSTA executable: ``path``, else ``$DSTRIPES_STA``, else ``sta`` on ``PATH``.

    Raises
    ------
    ToolError
        If it cannot be found or is not executable.
    """
    return find_tool(path, name="OpenSTA", command="sta", env=STA_ENV,
                     install="install Debian's opensta (apt-get install opensta, or scripts/setup.sh)")


def sta_version(path: str | None = None) -> str:
    """Version string of OpenSTA (``sta -version``), e.g. ``"2.0.17"``."""
    return tool_version(sta_path(path), "-version", r"^(\d+(?:\.\d+)*\S*)", name="OpenSTA")


def run_sta(script: str, workdir: str | os.PathLike, *, name: str, what: str,
            sta: str | None = None, timeout: float | None = None) -> ToolRun:
    """Run an OpenSTA Tcl script in ``workdir`` (written as ``<name>.tcl``, output in
    ``<name>.log``) and return the run (:class:`~dstripes.tb.tools.ToolRun`) with its log.

    OpenSTA exits with status 0 after most failures, so a run also fails (a :class:`ToolError`
    of one line naming ``what`` and the log) on an ``Error:`` line or when the script did not
    reach its end; as it does when OpenSTA cannot start or times out.
    """
    exe = sta_path(sta)
    workdir = Path(workdir)
    tcl = workdir / f"{name}.tcl"
    log_file = workdir / f"{name}.log"
    tcl.write_text(script.rstrip("\n") + f"\nputs \"{_DONE}\"\n")
    with open(log_file, "w") as log:
        run = run_tool([exe, "-no_init", "-no_splash", "-exit", tcl.name], workdir, name="OpenSTA", what=what,
                       log=log_file, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
    text = log_file.read_text(errors="replace")
    errors = [ln[len("Error:"):].strip() for ln in text.splitlines() if ln.startswith("Error:")]
    if errors or run.returncode or _DONE not in text:
        why = errors[0] if errors else (f"exit {run.returncode}" if run.returncode else
                                        "the script stopped before its end")
        raise ToolError(f"OpenSTA failed on {what}: {why}; log: {log_file}")
    return dataclasses.replace(run, log=text)


def read_report(path: Path, what: str) -> str:
    """The text of a report an OpenSTA script wrote, or a :class:`StaReportError` naming it."""
    if not path.is_file():
        raise StaReportError(f"OpenSTA wrote no timing report ({path.name}) for {what}")
    return path.read_text(errors="replace")


def port_constraints(ports: Mapping[str, Port], period: float) -> list:
    """SDC lines of the analysis: the clock on ``clk`` (a virtual one for a combinational
    design) with ``period``, inputs arriving at its edge and outputs due at the next one."""
    lines = []
    if "clk" in ports:
        lines.append(f"create_clock -name clk -period {period:g} [get_ports clk]")
    else:  # a combinational block: a virtual clock times its in-to-out paths
        lines.append(f"create_clock -name clk -period {period:g}")
    ins = [p for p, (d, _) in ports.items() if d == "input" and p != "clk"]
    outs = [p for p, (d, _) in ports.items() if d == "output"]
    if ins:
        lines.append("set_input_delay 0 -clock clk [get_ports {" + " ".join(
            f"{p}[*]" if ports[p][1] > 1 else p for p in ins) + "}]")
    if outs:
        lines.append("set_output_delay 0 -clock clk [get_ports {" + " ".join(
            f"{p}[*]" if ports[p][1] > 1 else p for p in outs) + "}]")
    return lines


def tcl_quote(name: str) -> str:
    """A netlist object name as one Tcl word (braces keep ``[`` and ``\\`` literal)."""
    if "{" in name or "}" in name:
        raise ToolError(f"unexpected brace in netlist name {name!r}")
    return "{" + name + "}"


# ---------------------------------------------------------------------------------------------
# Reports

class StaReportError(ToolError):
    """OpenSTA ran but a report the flow needs is missing or incomplete."""


@dataclass(frozen=True)
class PathStep:
    pin: str        # e.g. "sip_r0_c0/_3908_/D" or "bits[3]"
    cell: str       # library cell, "in" / "out" for ports
    time: float     # arrival at this pin, library units
    net: str | None = None


@dataclass(frozen=True)
class WorstPath:
    """The worst setup path of one ``report_checks -format full`` report.

    ``period - slack`` is the shortest clock period this path allows (ideal clock: arrival
    plus the endpoint's setup time or output delay).
    """

    startpoint: str
    endpoint: str
    arrival: float
    required: float
    slack: float
    period: float
    steps: tuple = field(default=(), compare=False)

    @property
    def min_period(self) -> float:
        return self.period - self.slack


# where the path starts and ends; each figure a number alone before its label on its line
_START, _END = (re.compile(rf"^{label}:\s+(\S+)", re.M) for label in ("Startpoint", "Endpoint"))
_ARRIVAL, _REQUIRED, _SLACK = (re.compile(rf"^\s*(-?[0-9.]+)\s+{label}\s*$", re.M) for label in
                               ("data arrival time", "data required time", r"slack \((?:MET|VIOLATED)\)"))
_STEP = re.compile(r"^\s*(?:(-?[0-9.]+)\s+)?(-?[0-9.]+)\s+(-?[0-9.]+)\s+[\^v]\s+(\S+)\s+\(([^)]*)\)\s*$")


def worst_path(text: str, period: float, *, what: str) -> WorstPath | None:
    """Parse the first path of a ``report_checks -path_delay max -format full`` report
    (``None`` when OpenSTA found no constrained path)."""
    if "No paths found" in text:
        return None
    s, e = _START.search(text), _END.search(text)
    a, r, k = _ARRIVAL.search(text), _REQUIRED.search(text), _SLACK.search(text)
    if not (s and e and a and r and k):
        raise StaReportError(f"OpenSTA wrote no complete timing path report for {what}")
    steps = []
    body = text[e.end():a.start()]
    for line in body.splitlines():
        m = _STEP.match(line)
        if m:
            steps.append(PathStep(m.group(4), m.group(5), float(m.group(3))))
    return WorstPath(s.group(1), e.group(1), float(a.group(1)), float(r.group(1)),
                     float(k.group(1)), period, tuple(steps))


_POWER_ROW = re.compile(r"^(Sequential|Combinational|Macro|Pad|Total)\s+([-0-9.eE+]+)\s+([-0-9.eE+]+)\s+"
                        r"([-0-9.eE+]+)\s+([-0-9.eE+]+)", re.M)


@dataclass(frozen=True)
class Power:
    """``report_power`` of one design, in watts: ``{group: (internal, switching, leakage,
    total)}`` with group ``Sequential``, ``Combinational``, ``Macro``, ``Pad`` or ``Total``."""

    groups: dict

    @property
    def total(self) -> float:
        return self.groups["Total"][3]

    @property
    def leakage(self) -> float:
        return self.groups["Total"][2]

    @property
    def dynamic(self) -> float:
        return self.groups["Total"][0] + self.groups["Total"][1]

    def as_dict(self) -> dict:
        return {g.lower(): {"internal_w": v[0], "switching_w": v[1], "leakage_w": v[2], "total_w": v[3]}
                for g, v in self.groups.items()}


def power_report(text: str, *, what: str) -> Power:
    rows = {m.group(1): tuple(float(m.group(i)) for i in range(2, 6)) for m in _POWER_ROW.finditer(text)}
    if "Total" not in rows:
        raise StaReportError(f"OpenSTA wrote no power report for {what}")
    return Power(rows)
