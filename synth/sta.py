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

import functools
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from dstripes.sim.errors import ToolError

from dstripes.tb import tools as _yosys

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
    return _yosys.find_tool(path, name="OpenSTA", command="sta", env=STA_ENV,
                            install="install Debian's opensta (apt-get install opensta, or scripts/setup.sh)")


@functools.lru_cache(maxsize=None)
def sta_version(path: str | None = None) -> str:
    """Version string of OpenSTA (``sta -version``), e.g. ``"2.0.17"``."""
    exe = sta_path(path)
    try:
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise ToolError(f"cannot run OpenSTA {exe}: {e.strerror}") from None
    text = (out.stdout + out.stderr).strip()
    if out.returncode or not re.match(r"^\d+(\.\d+)*", text):
        raise ToolError(f"{exe} -version did not print an OpenSTA version (exit {out.returncode})")
    return text.split()[0]


@dataclass(frozen=True)
class StaRun:
    log: str
    seconds: float


def run_sta(script: str, workdir: str | os.PathLike, *, name: str, what: str,
            sta: str | None = None, timeout: float | None = None) -> StaRun:
    """Run an OpenSTA Tcl script in ``workdir`` (written as ``<name>.tcl``, output in
    ``<name>.log``).

    Raises
    ------
    ToolError
        On a start failure, a timeout, an ``Error:`` line or a script that did not reach its
        end; one line naming ``what`` and the log.
    """
    exe = sta_path(sta)
    workdir = Path(workdir)
    tcl = workdir / f"{name}.tcl"
    log_file = workdir / f"{name}.log"
    tcl.write_text(script.rstrip("\n") + f"\nputs \"{_DONE}\"\n")
    start = time.perf_counter()
    try:
        with open(log_file, "w") as log:
            proc = subprocess.Popen([exe, "-no_init", "-no_splash", "-exit", tcl.name], cwd=workdir,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    except OSError as e:
        raise ToolError(f"cannot run OpenSTA {exe}: {e.strerror}") from None
    with _yosys._running_lock:  # interrupted runs are stopped with the yosys ones
        _yosys._running.add(proc.pid)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        raise ToolError(f"OpenSTA timed out after {timeout:g} s on {what}; log: {log_file}") from None
    finally:
        with _yosys._running_lock:
            _yosys._running.discard(proc.pid)
    text = log_file.read_text(errors="replace")
    errors = [ln[len("Error:"):].strip() for ln in text.splitlines() if ln.startswith("Error:")]
    if errors or proc.returncode or _DONE not in text:
        why = errors[0] if errors else (f"exit {proc.returncode}" if proc.returncode else
                                        "the script stopped before its end")
        raise ToolError(f"OpenSTA failed on {what}: {why}; log: {log_file}")
    return StaRun(text, time.perf_counter() - start)


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


_START = re.compile(r"^Startpoint:\s+(\S+)", re.M)
_END = re.compile(r"^Endpoint:\s+(\S+)", re.M)
_ARRIVAL = re.compile(r"^\s*(-?[0-9.]+)\s+data arrival time\s*$", re.M)
_REQUIRED = re.compile(r"^\s*(-?[0-9.]+)\s+data required time\s*$", re.M)
_SLACK = re.compile(r"^\s*(-?[0-9.]+)\s+slack \((?:MET|VIOLATED)\)\s*$", re.M)
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
