"""The registry of tile kinds: everything the project can generate, verify and synthesise.

One entry per kind, read by the command line (choices, option checks), the testbench (tile
class, modes, the model of a run), synthesis (blocks) and the reports (titles). A kind is the
hardware of one model scheme (:mod:`dstripes.sim.schemes`, which holds its name, title and the
golden model of one run); the entry adds the tile class that implements a configuration, the
configuration parameters its hardware uses and its stream payloads. Adding a tile kind is one
entry here (plus its scheme in the model) and its tile class, which describes itself without
being built (``LATENCY``, ``tile_signature``, ``synth_blocks``). A kind with a configuration is
a :class:`dstripes.hw.design.TileDesign`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Callable

from amaranth.hdl import Shape

from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.limits import check_memory
from dstripes.sim.schemes import DADN, DSTRIPES, STRIPES, Scheme

from .dadn import ParallelTile
from .params import check_config
from .run_ahead import RunAheadTile, resolve_select
from .tile import SerialTile

#: Configuration fields of the model only: they never change the hardware of one tile.
MODEL_ONLY = ("tiles",)
#: Fields every tile uses.
COMMON = ("lanes", "rows", "act_bits", "weight_bits", "max_reduction")
#: Largest tile the generator builds, in multiplier lanes (``lanes x columns x rows``;
#: ``lanes x rows`` bit-parallel): 16 times the published tile. Elaborating and emitting a tile
#: costs about 5 ms and 64 KB per lane (the published 4,096 lanes: ~20 s, ~300 MB).
MAX_PRODUCT_LANES = 1 << 16
GENERATE_BYTES_PER_LANE = 64 << 10
#: Widest stream payload: Amaranth 0.5's netlist numbers the bits of one value in 16 bits.
MAX_PAYLOAD_BITS = (1 << 16) - 1


@dataclass(frozen=True)
class TileKind:
    """One kind of tile.

    Parameters
    ----------
    scheme : Scheme
        The model scheme the tile implements: name, title, the golden model of a run.
    tile : callable
        ``tile(config) -> (cls, options)``: the tile class that implements ``config`` (a
        :class:`hw.tile_component.TileComponent`) and its keyword options.
        ``cls(config, count_bits=..., **options)`` builds the tile; ``cls.LATENCY``,
        ``cls.tile_signature(config, count_bits)`` and
        ``cls.synth_blocks(config, count_bits=..., **options)`` describe it without building it.
    params : tuple of str
        :class:`TileConfig` fields the hardware uses; the others are reset to their defaults
        when a tile is built (:meth:`own`), and the command line rejects them.
    payloads : dict
        Stream payload orders, for the manifest.
    needs : dict, optional
        ``{param: (predicate, why)}``: a parameter that only matters when ``predicate(config)``
        holds (otherwise :meth:`own` resets it and the command line rejects it, saying ``why``).
    resolve : callable, optional
        ``resolve(config) -> config`` with automatic choices made concrete (applied by :meth:`own`).
    """

    scheme: Scheme
    tile: Callable[[TileConfig], tuple[type, dict]]
    params: tuple
    payloads: dict
    needs: dict = field(default_factory=dict)
    resolve: Callable[[TileConfig], TileConfig] | None = None

    name = property(lambda self: self.scheme.name)
    title = property(lambda self: self.scheme.title)
    top = property(lambda self: f"{self.scheme.name}_tile", doc="Verilog top module name.")

    def own(self, config: TileConfig) -> TileConfig:
        """``config`` with every field this kind does not use reset to its default (one
        configuration can so serve several kinds, as in a side-by-side synthesis)."""
        check_config(config)
        default = TileConfig()
        config = replace(config, **{f.name: getattr(default, f.name) for f in fields(TileConfig)
                                    if f.name not in self.params and f.name not in MODEL_ONLY})
        config = replace(config, **{p: getattr(default, p) for p in self.unused(config)})
        return self.resolve(config) if self.resolve is not None else config

    def unused(self, config: TileConfig) -> tuple:
        """Parameters of this kind that ``config`` makes irrelevant (see ``needs``)."""
        return tuple(p for p, (pred, _) in self.needs.items() if not pred(config))

    def product_lanes(self, config: TileConfig) -> int:
        """Multiplier lanes of the tile: ``lanes x columns x rows`` (bit-parallel: ``lanes x rows``)."""
        return config.lanes * self.scheme.columns(config) * config.rows

    def payload_bits(self, config: TileConfig) -> dict:
        """Width of the act, weight and result stream payloads, read from the tile's signature
        (built without the tile: no signal of that width is made)."""
        cls, _ = self.tile(config)
        members = cls.tile_signature(config).members
        return {port: Shape.cast(members[port].signature.members["payload"].shape).width
                for port in ("act", "weight", "result")}

    def check_size(self, config: TileConfig) -> None:
        """Refuse, before any work, a tile too large to generate (:data:`MAX_PRODUCT_LANES`, and
        the memory elaboration needs)."""
        n = self.product_lanes(config)
        shape = (f"{config.lanes} lanes x {self.scheme.columns(config)} columns x {config.rows} rows"
                 if self.scheme.serial else f"{config.lanes} lanes x {config.rows} rows")
        if n > MAX_PRODUCT_LANES:
            raise ConfigError(f"a {self.name} tile of {shape} has {n:,} multiplier lanes, beyond the "
                              f"{MAX_PRODUCT_LANES:,} the generator builds")
        for port, bits in self.payload_bits(config).items():
            if bits > MAX_PAYLOAD_BITS:
                raise ConfigError(f"the {port} stream of a {self.name} tile of {shape} would be {bits:,} "
                                  f"bits wide, beyond the {MAX_PAYLOAD_BITS:,} of one Amaranth value")
        check_memory(n * GENERATE_BYTES_PER_LANE, f"generating a {self.name} tile of {shape}")

    def modes(self, config: TileConfig) -> tuple:
        """Run-time precision modes a tile generated for ``config`` supports."""
        return self.scheme.modes(config.trim)

    def parameters(self, config: TileConfig) -> dict:
        """The configuration values the hardware of this kind depends on."""
        return {name: getattr(config, name) for name in self.params}


_SERIAL_PAYLOADS = {
    "act": "[column][lane] codes, lane fastest (one pallet per step)",
    "weight": "[row][lane] two's complement, lane fastest (one weight brick per step)",
    "result": "[column][row] two's complement, row fastest (one window-set)",
    "config": "msb, lsb, signed, mode, steps, window_sets, and fc with fc_dispatch (LSB first; see config_fields)",
}

def _weight_select(config: TileConfig) -> TileConfig:
    """The run-ahead tile's ``auto`` weight selection made concrete."""
    return replace(config, weight_select=resolve_select(config)) if config.run_ahead else config


#: Every tile kind by name, in report order (the bit-parallel reference first).
KINDS = {k.name: k for k in (
    TileKind(DADN, lambda c: (ParallelTile, {}), COMMON, {
        "act": "[lane] codes (one brick per transfer)",
        "weight": "[row][lane] two's complement, lane fastest (one weight brick per brick)",
        "result": "[row] two's complement (one window)",
        "config": "msb, lsb, signed, mode, steps (bricks per window), window_sets (windows); "
                  "LSB first, see config_fields",
    }),
    TileKind(STRIPES, lambda c: (SerialTile, {"detect": False}), COMMON + ("columns", "fc_dispatch"),
             _SERIAL_PAYLOADS),
    # R = 0 is the lock-step tile itself; R >= 1 the run-ahead tile (docs/design.md §6)
    TileKind(DSTRIPES, lambda c: (SerialTile, {"detect": True}) if c.run_ahead == 0 else (RunAheadTile, {}),
             COMMON + ("columns", "group", "trim", "run_ahead", "weight_select", "fc_dispatch"), _SERIAL_PAYLOADS,
             {"weight_select": (lambda c: c.run_ahead > 0, "a run-ahead tile (run_ahead >= 1)"),
              "fc_dispatch": (lambda c: c.run_ahead == 0, "the lock-step tile (run_ahead 0): the run-ahead tile "
                                                          "has no fully-connected dispatch")},
             _weight_select),
)}


def kind(name: str) -> TileKind:
    """The tile kind called ``name``; a :class:`ConfigError` naming it otherwise."""
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"tile kind must be one of {', '.join(KINDS)}, not {name!r}") from None
