# amaranth: UnusedElaboratable=no
"""The distinct blocks of a tile, for per-block synthesis (each synthesised once, counted per
instance)."""
from __future__ import annotations

from dataclasses import dataclass

from dstripes.sim.config import TileConfig

from .generate import build_tile


@dataclass(frozen=True)
class SynthBlock:
    """One distinct block of a tile: a ``component`` and its instance ``count``; ``part_of``
    names the block that already contains it (reported, not added to the tile total)."""

    name: str
    component: object
    count: int
    part_of: str | None = None


#: Report names of the blocks (the SIP array is ``Nr * Nc`` SIPs; the dispatcher includes the
#: input double buffers and the precision detector, which is also reported on its own).
_NAMES = {"sip": "sip_array", "ip": "ip_array", "dispatcher": "dispatcher", "controller": "controller",
          "buffer": "buffers", "inputs": "input_buffers"}


def synth_blocks(scheme: str, config: TileConfig = TileConfig()) -> list[SynthBlock]:
    """Distinct blocks of the ``scheme`` tile with their instance counts.

    The ``detector`` entry (Dynamic Stripes only) is a *part* of the dispatcher, listed so its
    cost can be reported separately; it must not be added to the tile total twice.
    """
    tile = build_tile(scheme, config)
    out = [SynthBlock(_NAMES[k], comp, n) for k, (comp, n) in tile.blocks().items()]
    if scheme == "dstripes":
        from .detector import PrecisionDetector
        c = config
        out.append(SynthBlock("detector", PrecisionDetector(c.lanes, c.columns, c.act_bits, c.group,
                                                            c.trim == "both"), 1, part_of="dispatcher"))
    return out
