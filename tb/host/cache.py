"""The build cache: one folder per compiled design, named by a key that hashes everything the
build depends on.

The key (:func:`build_key`) covers the design's configuration and Verilog, its behavioural
models and visible signals, the simulator, the waveform format, the extra build arguments and
the tool versions, so a changed design never reuses a stale build and an unchanged one is never
rebuilt. A build folder counts only once its stamp file is written, after the compiler succeeded
(:func:`build_folder`), and a lock file per key makes concurrent builders (pytest-xdist workers,
Dask workers) wait for one build instead of racing.

The root is ``$DSTRIPES_SIM_BUILD`` or ``build/sim`` at the project root; the Verilog cache
(:mod:`dstripes.tb.host.verilog`) and Verilator's object cache (:mod:`dstripes.tb.host.objcache`)
live below it, in ``_verilog`` and ``_objcache``.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Iterator, Mapping, Sequence

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
    on ``simulator`` (16 hex digits)."""
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
    }, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_built(directory: Path) -> bool:
    """Whether ``directory`` holds a finished build."""
    return (Path(directory) / STAMP).exists()


@contextlib.contextmanager
def build_folder(root: Path, key: str, *, rebuild: bool = False) -> Iterator[Path | None]:
    """Hold the lock of ``key`` and yield ``None`` if its build is finished (and not
    ``rebuild``), else its folder, emptied: the caller compiles into it and calls :func:`seal`.

    A build that raises leaves an unsealed folder, which the next build of the key replaces.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    directory = (root / key).resolve()
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if is_built(directory) and not rebuild:
                yield None
                return
            if directory.exists():
                shutil.rmtree(directory)
            directory.mkdir(parents=True)
            yield directory
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def seal(directory: Path, record: Mapping) -> None:
    """Mark the build in ``directory`` finished, with ``record`` (JSON-able) in its stamp."""
    (Path(directory) / STAMP).write_text(json.dumps(dict(record)))
