"""Size limits, checked before anything large is allocated.

A configuration or an input too large for the machine must fail at once with one line naming
the value and the limit, not after minutes of work or with a ``MemoryError`` traceback.

* :data:`MAX_TILE_DIM` bounds every dimension of a :class:`~dstripes.sim.config.TileConfig`
  (lanes, columns, rows, tiles): 64 times the published 16, far beyond any tile the papers
  consider.
* :func:`check_memory` compares an estimate of what a step is about to allocate with the memory
  the machine has available (``MemAvailable`` of ``/proc/meminfo``; elsewhere the physical
  memory). ``$DSTRIPES_MEMORY_LIMIT`` (bytes, or with a ``K``/``M``/``G`` suffix) sets a lower
  limit, e.g. for a process sharing a machine.
"""
from __future__ import annotations

import os

from .checks import check_integer
from .errors import ConfigError

#: Largest lanes, columns, rows or tiles of a configuration.
MAX_TILE_DIM = 1024
#: Environment variable with a memory limit in bytes (``K``, ``M``, ``G`` suffixes allowed).
MEMORY_ENV = "DSTRIPES_MEMORY_LIMIT"

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _parse_bytes(text: str) -> int:
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1] if t and t[-1] in "KMGT" else ""
    try:
        value = float(t[:len(t) - len(unit)])
    except ValueError:
        raise ConfigError(f"${MEMORY_ENV} must be a number of bytes (e.g. 8G), not {text!r}") from None
    if not value > 0:
        raise ConfigError(f"${MEMORY_ENV} must be positive, not {text!r}")
    return int(value * _UNITS[unit])


def available_memory() -> int | None:
    """Bytes a new allocation may use: the smaller of ``$DSTRIPES_MEMORY_LIMIT`` and the
    machine's available memory (``None`` when neither is known)."""
    limits = []
    env = os.environ.get(MEMORY_ENV)
    if env:
        limits.append(_parse_bytes(env))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        try:
            limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            pass
    return min(limits) if limits else None


def human_bytes(n: float) -> str:
    """``n`` bytes as ``1.5 GB`` (powers of 1024)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} PB"  # pragma: no cover


def check_memory(nbytes: int, what: str) -> None:
    """Raise a :class:`ConfigError` when ``what`` needs more than :func:`available_memory`."""
    avail = available_memory()
    if avail is not None and nbytes > avail:
        raise ConfigError(f"{what} needs about {human_bytes(nbytes)} of memory, more than the "
                          f"{human_bytes(avail)} available")


def worker_count(jobs) -> int:
    """``--jobs``: a positive number of parallel workers; ``None`` means one per CPU."""
    if jobs is None:
        return os.cpu_count() or 1
    return check_integer("--jobs", jobs)
