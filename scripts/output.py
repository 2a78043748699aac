"""What the commands write: output paths checked before any work, and JSON on stdout."""
from __future__ import annotations

import json
import os
from pathlib import Path

from dstripes.sim.errors import ConfigError
from dstripes.sim.files import write_atomic


def print_json(obj) -> None:
    """``obj`` (the ``as_dict()`` of a result) as indented JSON on stdout."""
    print(json.dumps(obj, indent=2))


def write_json(path, obj) -> None:
    """``obj`` as the indented JSON file ``path`` (through a temporary name: never truncated)."""
    write_atomic(path, json.dumps(obj, indent=2) + "\n")


def check_out_dir(path: str, option: str = "--out") -> Path:
    """Create the output folder ``path`` (or accept an existing one) before any work starts;
    one-line errors for an empty path, a file, a path below a file, a device or no permission."""
    if path is None or not str(path).strip():
        raise ConfigError(f"{option} must name a folder, not an empty path")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{option} {path} exists and is not a folder")
    for parent in p.parents:
        if parent.exists() and not parent.is_dir():
            raise ConfigError(f"{option} {path} lies below {parent}, which is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create {option} folder {path} ({e.strerror})") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} folder {path} is not writable")
    return p


def check_out_file(path: str, option: str = "--out") -> Path:
    """Check before any work that ``path`` can be written as a regular file (its folder is
    created); one-line errors as :func:`check_out_dir`."""
    if path is None or not str(path).strip():
        raise ConfigError(f"{option} must name a file, not an empty path")
    p = Path(path)
    if p.exists() and not p.is_file():
        raise ConfigError(f"{option} {path} exists and is not a regular file")
    if str(path).endswith(os.sep):
        raise ConfigError(f"{option} {path} names a folder, not a file")
    check_out_dir(str(p.parent) if str(p.parent) else ".", option)
    return p
