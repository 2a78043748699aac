"""A compiler-cache wrapper for Verilator's design-independent runtime objects.

Every Verilator build compiles the same runtime sources (``verilated.cpp``,
``verilated_vpi.cpp``, ...) from scratch, which is most of the build time of a small design.
Verilator's makefile prefixes each compile with ``$(OBJCACHE)``; :mod:`.verilator` points it at
this script. A compile whose source lies in the Verilator runtime's ``include`` folder is
cached under the directory named by ``DSTRIPES_OBJCACHE`` (keyed on the full command line, the
source's size and modification time and the compiler binary's); anything else, the design's own files included, runs
unchanged. ``make`` still runs the rule, so no dependency tracking is bypassed.

Usage (by make): ``objcache.py <compiler> <args...>``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

CACHE_ENV = "DSTRIPES_OBJCACHE"


def _output(args: list[str], source: str) -> Path:
    if "-o" in args:
        return Path(args[args.index("-o") + 1])
    return Path(Path(source).stem + ".o")


def main(argv: list[str]) -> int:
    if not argv:
        print("objcache: no compiler command given", file=sys.stderr)
        return 2
    cache = os.environ.get(CACHE_ENV)
    runtime = os.environ.get("VERILATOR_ROOT")
    sources = [a for a in argv[1:] if a.endswith((".cpp", ".cc", ".c"))]
    if not cache or not runtime or "-c" not in argv or len(sources) != 1 \
            or Path(sources[0]).resolve().parent != (Path(runtime) / "include").resolve():
        return subprocess.call(argv)
    source = sources[0]
    out = _output(argv, source)
    dep = out.with_suffix(".d")
    st = os.stat(source)
    # The compiler binary's identity too: an upgraded compiler must not reuse old objects.
    cxx = shutil.which(argv[0])
    cst = os.stat(os.path.realpath(cxx)) if cxx else None
    stamp = [argv, st.st_size, st.st_mtime_ns, cxx, cst and (cst.st_size, cst.st_mtime_ns)]
    key = hashlib.sha256(json.dumps(stamp).encode()).hexdigest()[:24]
    entry = Path(cache) / key
    if (entry / "obj").exists():
        shutil.copyfile(entry / "obj", out)
        if (entry / "dep").exists():
            shutil.copyfile(entry / "dep", dep)
        return 0
    status = subprocess.call(argv)
    if status == 0 and out.exists():
        tmp = entry.with_name(f"{key}.tmp{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, tmp / "obj")
        if dep.exists():
            shutil.copyfile(dep, tmp / "dep")
        try:
            tmp.rename(entry)
        except OSError:  # a concurrent build stored it first
            shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
