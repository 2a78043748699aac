# amaranth: UnusedElaboratable=no
"""Build a tile for a scheme, and write its Verilog and manifest."""
from __future__ import annotations

import json
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Value
from amaranth.lib import wiring

from dstripes.sim.config import TileConfig

from .dadn import ParallelTile
from .params import COUNT_BITS, check_config, check_scheme
from .tile import SerialTile


def build_tile(scheme: str, config: TileConfig = TileConfig()) -> wiring.Component:
    """The tile of ``scheme`` (``dstripes``, ``stripes`` or ``dadn``) for ``config``."""
    check_scheme(scheme)
    check_config(config)
    if scheme == "dadn":
        return ParallelTile(config, COUNT_BITS)
    return SerialTile(config, detect=scheme == "dstripes", count_bits=COUNT_BITS)


def top_name(scheme: str) -> str:
    return f"{check_scheme(scheme)}_tile"


def ports(component: wiring.Component) -> dict:
    """Verilog ports of a component as ``verilog.convert`` names them: name -> width, direction."""
    out = {"clk": {"width": 1, "direction": "in"}, "rst": {"width": 1, "direction": "in"}}
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        out[name] = {"width": len(Value.cast(value)), "direction": "in" if member.flow == wiring.In else "out"}
    return out


def manifest(scheme: str, config: TileConfig = TileConfig(), component=None) -> dict:
    """What a testbench or a user needs to drive the generated tile."""
    tile = component if component is not None else build_tile(scheme, config)
    return {
        "top": top_name(scheme),
        "scheme": scheme,
        "parameters": {**config.as_dict(), "acc_bits": config.acc_bits, "count_bits": COUNT_BITS},
        "ports": ports(tile),
        "latency": tile.latency,
        "payloads": {
            "act": "[column][lane] codes, lane fastest" if scheme != "dadn" else "[lane] codes",
            "weight": "[row][lane] two's complement, lane fastest",
            "result": ("[column][row] two's complement, row fastest" if scheme != "dadn"
                       else "[row] two's complement"),
            "config": "msb, lsb, signed, mode, steps, window_sets (LSB first)",
        },
    }


def write_verilog(scheme: str, config: TileConfig, out_dir) -> tuple[Path, dict]:
    """Write ``<top>.v`` and ``manifest.json`` into ``out_dir``; return the Verilog path and
    the manifest."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tile = build_tile(scheme, config)
    man = manifest(scheme, config, tile)
    text = verilog.convert(tile, name=man["top"], emit_src=False)
    vpath = out / f"{man['top']}.v"
    vpath.write_text(text)
    (out / "manifest.json").write_text(json.dumps(man, indent=2) + "\n")
    return vpath, man
