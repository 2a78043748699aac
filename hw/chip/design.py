# amaranth: UnusedElaboratable=no
"""One accelerator design: a :class:`~dstripes.sim.chip.config.ChipConfig` and its tile design,
validated once; its Verilog (the tile emitted once, instantiated ``T`` times, with the memories'
behavioural model) and its manifest (``docs/design.md`` §10)."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from pathlib import Path

from dstripes.sim.chip.config import ChipConfig
from dstripes.sim.chip.descriptor import descriptor_fields
from dstripes.sim.files import write_atomic

from ..design import TileDesign, ports
from ..emit import to_verilog
from .chip import SETUP, Chip
from .layouts import OPS, command_layout
from .sram import MODEL


@dataclass(frozen=True)
class ChipManifest:
    """What a user or a testbench needs to drive a generated accelerator (``manifest.json``).

    Members
    -------
    top, tile_top : str
    parameters : dict
        The chip's configuration.
    tile : dict
        The tile's manifest.
    memories : tuple of dict
        ``name``, ``words``, ``bits``, ``count`` of every on-chip memory.
    ports : dict
    command_fields, descriptor_fields : tuple of (name, bits)
    ops : dict
    setup : int
        Cycles of a ``LAYER`` command's set-up.
    """

    top: str
    tile_top: str
    parameters: dict
    tile: dict
    memories: tuple
    ports: dict
    command_fields: tuple
    descriptor_fields: tuple
    ops: dict
    setup: int

    def as_dict(self) -> dict:
        return {"top": self.top, "tile_top": self.tile_top, "parameters": dict(self.parameters),
                "tile": self.tile, "memories": [dict(m) for m in self.memories],
                "ports": {k: dict(v) for k, v in self.ports.items()},
                "command_fields": [{"name": n, "bits": b} for n, b in self.command_fields],
                "descriptor_fields": [{"name": n, "bits": b} for n, b in self.descriptor_fields],
                "ops": dict(self.ops), "setup": self.setup}


@dataclass(frozen=True, eq=False)
class ChipDesign:
    """An accelerator: its configuration and the design of its tile.

    Make it with :meth:`of`. Members: ``chip`` (whose tile configuration is the tile design's,
    normalised), ``tile`` (:class:`~dstripes.hw.design.TileDesign`).
    """

    chip: ChipConfig
    tile: TileDesign

    @classmethod
    def of(cls, chip: ChipConfig) -> "ChipDesign":
        """The design of ``chip``, validated (the tile by :meth:`TileDesign.of`)."""
        if not isinstance(chip, ChipConfig):
            raise TypeError(f"chip must be a ChipConfig, not {chip!r}")
        tile = TileDesign.of(chip.scheme, chip.tile)
        return cls(replace(chip, tile=tile.config), tile)

    def _key(self):
        return (self.chip,)

    def __eq__(self, other):
        return isinstance(other, ChipDesign) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    @property
    def top(self) -> str:
        return f"{self.chip.scheme}_chip"

    def component(self) -> Chip:
        """A fresh chip component (``T`` instances of the tile module, SRAM black boxes)."""
        return Chip(self.chip, tile_top=self.tile.top)

    @functools.cached_property
    def manifest(self) -> ChipManifest:
        comp = self.component()
        lay = command_layout(self.chip)
        return ChipManifest(
            top=self.top, tile_top=self.tile.top, parameters=self.chip.as_dict(), tile=self.tile.manifest.as_dict(),
            memories=tuple({"name": n, "words": w, "bits": b, "count": k} for n, w, b, k in comp.memories()),
            ports=ports(comp.signature),
            command_fields=tuple((n, f.shape.width if hasattr(f.shape, "width") else f.shape.size)
                                 for n, f in lay), 
            descriptor_fields=descriptor_fields(self.chip), ops=dict(OPS), setup=SETUP)

    def verilog(self) -> str:
        """The whole accelerator: the chip's modules, the tile's (once) and the memories' model."""
        return "\n".join([to_verilog(self.component(), self.top), self.tile.verilog(), MODEL.read_text()])


def write_chip(design: ChipDesign, out_dir) -> Path:
    """Write ``<top>.v`` (the whole accelerator) and ``manifest.json`` into ``out_dir``; returns the
    Verilog's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{design.top}.v"
    write_atomic(path, design.verilog())
    write_atomic(out / "manifest.json", json.dumps(design.manifest.as_dict(), indent=2) + "\n")
    return path
