"""The build cache: one folder per compiled design, named by a key that hashes everything the
build depends on.

The key (:func:`build_key`) covers the design's configuration and Verilog, its behavioural
models and visible signals, the simulator, the waveform format, the extra build arguments and
the tool versions, so a changed design never reuses a stale build and an unchanged one is never
rebuilt. A build folder counts only once its stamp file is written, after the compiler succeeded
(:func:`seal`), and a lock file per key makes concurrent builders (pytest-xdist workers, Dask
workers) wait for one build instead of racing.

The stamp (``build.json``) is the folder's manifest (:func:`dstripes.sim.checked.seal`): every
file the build produced with its size, and the SHA-256 of those a run loads (Verilator's
executable and shared objects, Icarus' ``sim.vvp``). A build is checked against it before it is
reused (:func:`build_folder`) and before every run (:func:`check_build`); a damaged one (a file
missing, cut short or with other content, the stamp missing or garbled) is rebuilt, saying so in
one line on stderr.

The root is ``$DSTRIPES_SIM_BUILD`` or ``build/sim`` at the project root; the Verilog cache
(:mod:`dstripes.tb.host.verilog`) and Verilator's object cache (:mod:`dstripes.tb.host.objcache`)
live below it, in ``_verilog`` and ``_objcache``.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from dstripes.sim.checked import FORMAT, check, files_under, locked, verify
from dstripes.sim.checked import seal as seal_files

from .icarus import ICARUS_PREP
from .toolchain import check_simulator, check_waves, tool_versions

BUILD_ROOT_ENV = "DSTRIPES_SIM_BUILD"
#: The file that marks a finished build.
STAMP = "build.json"


def default_build_root() -> Path:
    """``$DSTRIPES_SIM_BUILD`` if set, else ``build/sim`` at the project root."""
    env = os.environ.get(BUILD_ROOT_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "build" / "sim"


def build_key(dut, simulator: str, waves: str | None = None, build_args: Sequence[str] = ()) -> str:
    """Hash naming the build folder of ``dut`` (a :class:`~dstripes.tb.host.verilog.DutVerilog`)
    on ``simulator`` (16 hex digits). The format of the stamp is part of it, so that a folder
    sealed in an older format is never taken for a damaged one."""
    check_simulator(simulator)
    check_waves(simulator, waves)
    extra = {}  # only when used, so the keys of plain designs stay what they were
    if dut.models:
        extra["models"] = hashlib.sha256(dut.models.encode()).hexdigest()
    if dut.public is not None and simulator == "verilator":
        extra["public"] = [list(p) for p in dut.public]
    text = json.dumps({
        **extra,
        "top": dut.top,
        "config": dut.config,
        "verilog": hashlib.sha256(dut.verilog.encode()).hexdigest(),
        "simulator": simulator,
        "waves": waves,
        "build_args": list(build_args),
        "icarus_prep": ICARUS_PREP if simulator == "icarus" else None,
        "tools": tool_versions(simulator),
        "entry": FORMAT,
    }, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def runs_load(path: Path) -> bool:
    """Whether a run loads this file of a build folder (so its digest is recorded and checked):
    an executable or a shared object (Verilator), a compiled ``.vvp`` (Icarus)."""
    return path.suffix in (".so", ".vvp") or os.access(path, os.X_OK)


def check_build(directory: Path) -> None:
    """Check a build folder against its stamp.

    Raises
    ------
    dstripes.sim.checked.Damaged
        The folder is unfinished or damaged; the message says what is wrong.
    """
    directory = Path(directory)
    verify(directory / STAMP, key=directory.name)


@contextlib.contextmanager
def build_folder(root: Path, key: str, *, rebuild: bool = False) -> Iterator[Path | None]:
    """Hold the lock of ``key`` and yield ``None`` if its build is finished and intact (and not
    ``rebuild``), else its folder, emptied: the caller compiles into it and calls :func:`seal`.

    A folder that fails :func:`check_build` (a build that raised leaves one without a stamp) is
    reported in one line on stderr and rebuilt.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    directory = (root / key).resolve()
    with locked(root / key):
        if not rebuild and check(directory / STAMP, "the simulator build", subject=directory,
                                 key=directory.name) is not None:
            yield None
            return
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        yield directory


def seal(directory: Path, record: Mapping) -> None:
    """Mark the build in ``directory`` finished: its stamp lists every file in it with its
    size (and, for those a run loads, :func:`runs_load`, its digest), and keeps ``record``
    (JSON-able)."""
    directory = Path(directory)
    seal_files(directory / STAMP, files_under(directory, leave_out=[STAMP]), digest=runs_load,
               record=record, key=directory.name)
