"""Writing result files safely (shared by the generator, the reports and the commands)."""
from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``path`` through a temporary name in the same folder and rename it, so an
    interrupted run never leaves a truncated file behind."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data)
        tmp.replace(p)
    finally:
        tmp.unlink(missing_ok=True)
