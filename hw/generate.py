# amaranth: UnusedElaboratable=no
"""Build a tile of a registered kind, and write its Verilog and manifest."""
from __future__ import annotations

import json
from pathlib import Path

from amaranth.lib import wiring

from dstripes.sim.config import TileConfig
from dstripes.sim.files import write_atomic

from .emit import to_verilog
from .kinds import kind


def build_tile(name: str, config: TileConfig = TileConfig()) -> wiring.Component:
    """The tile of kind ``name`` (:data:`dstripes.hw.kinds.KINDS`) for ``config``."""
    return kind(name).build(config)


def manifest(name: str, config: TileConfig = TileConfig(), component=None) -> dict:
    """What a testbench or a user needs to drive the generated tile (:meth:`TileKind.manifest`)."""
    return kind(name).manifest(config, component)


def write_verilog(name: str, config: TileConfig, out_dir) -> tuple[Path, dict]:
    """Write ``<top>.v`` and ``manifest.json`` into ``out_dir``; return the Verilog path and
    the manifest. Earlier ``.v`` files of the folder's previous manifest are removed, so the
    folder never holds Verilog of another tile beside this manifest."""
    k = kind(name)
    tile = k.build(config)
    man = k.manifest(config, tile)
    text = to_verilog(tile, man["top"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    old = out / "manifest.json"
    if old.is_file():
        try:
            stale = json.loads(old.read_text()).get("top")
        except (ValueError, OSError, AttributeError):
            stale = None
        if isinstance(stale, str) and stale != man["top"]:
            (out / f"{stale}.v").unlink(missing_ok=True)
    vpath = out / f"{man['top']}.v"
    write_atomic(vpath, text)
    write_atomic(old, json.dumps(man, indent=2) + "\n")
    return vpath, man
