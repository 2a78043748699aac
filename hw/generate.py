"""Write a tile design's Verilog and manifest into a folder (``dstripes generate``)."""
from __future__ import annotations

import json
from pathlib import Path

from dstripes.sim.files import write_atomic

from .design import TileDesign


def write_verilog(design: TileDesign, out_dir) -> Path:
    """Write ``<top>.v`` and ``manifest.json`` into ``out_dir``; return the Verilog path.
    Earlier ``.v`` files of the folder's previous manifest are removed, so the folder never
    holds Verilog of another tile beside this manifest."""
    man = design.manifest
    text = design.verilog()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    old = out / "manifest.json"
    if old.is_file():
        try:
            stale = json.loads(old.read_text()).get("top")
        except (ValueError, OSError, AttributeError):
            stale = None
        if isinstance(stale, str) and stale != man.top:
            (out / f"{stale}.v").unlink(missing_ok=True)
    vpath = out / f"{man.top}.v"
    write_atomic(vpath, text)
    write_atomic(old, json.dumps(man.as_dict(), indent=2) + "\n")
    return vpath
