"""The accelerator's configuration: a tile kind and its configuration, and the memory system
around ``T`` of them (``docs/design.md`` §10.1). One place checks every rule, with one message
each; the hardware (``dstripes.hw.chip``) and the testbench take a validated :class:`ChipConfig`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..config import TileConfig
from ..checks import check_integer
from ..errors import ConfigError
from ..schemes import DSTRIPES, SCHEMES, Scheme, scheme as scheme_of

#: Most tiles one activation broadcast drives.
MAX_TILES = 64
#: Widest NM port (bricks per cycle).
MAX_NM_READ = 256
#: Largest NM (KiB): 1 GiB.
MAX_NM_KIB = 1 << 20
#: Largest SB of one tile (KiB): 64 MiB.
MAX_SB_KIB = 1 << 16


def _positive(name: str, value, maximum: int) -> int:
    return check_integer(name, value, 1, maximum)


@dataclass(frozen=True)
class ChipConfig:
    """One accelerator: ``T = tile.tiles`` tiles of kind ``scheme`` and their memories.

    Parameters
    ----------
    scheme : str
        The tile kind's scheme (``dadn``, ``stripes``, ``dstripes``; with ``tile.run_ahead > 0`` the
        Dynamic Stripes tile is the run-ahead tile).
    tile : TileConfig
        The tile configuration; ``tiles`` is ``T``.
    nm_read : int
        Bricks NM reads per cycle, and writes per cycle (``B``).
    nm_kib : int
        NM capacity in KiB.
    sb_kib : int
        Capacity of one tile's weight buffer, both halves, in KiB.
    reuse : bool
        The fetch unit copies the bricks the previous step's columns already hold (§10.4);
        ``False`` reads every brick from NM.

    Members
    -------
    brick_bits, nm_words, sb_words, beats_per_brick, bias_per_beat : int
        Derived sizes (see the properties).
    """

    scheme: str = DSTRIPES.name
    tile: TileConfig = field(default_factory=TileConfig)
    nm_read: int = 16
    nm_kib: int = 4096
    sb_kib: int = 288
    reuse: bool = True

    def __post_init__(self):
        s = scheme_of(self.scheme)
        if not isinstance(self.tile, TileConfig):
            raise ConfigError(f"tile must be a TileConfig, not {self.tile!r}")
        t = self.tile
        _positive("tiles", t.tiles, MAX_TILES)
        _positive("nm_read", self.nm_read, MAX_NM_READ)
        _positive("nm_kib", self.nm_kib, MAX_NM_KIB)
        _positive("sb_kib", self.sb_kib, MAX_SB_KIB)
        if not isinstance(self.reuse, bool):
            raise ConfigError(f"reuse must be True or False, not {self.reuse!r}")
        if (t.rows * t.tiles) % t.lanes:
            raise ConfigError(f"tiles x rows = {t.tiles * t.rows} filters per pass must be a multiple of the "
                              f"{t.lanes} lanes of an output brick (--tiles {t.tiles} does not fit)")
        if (t.rows * t.weight_bits) % t.act_bits:
            raise ConfigError(f"a weight brick ({t.rows} rows x {t.weight_bits} bits per lane) must be whole "
                              f"{t.lanes}x{t.act_bits}-bit beats: act_bits must divide rows x weight_bits")
        if self.nm_words < 2:
            raise ConfigError(f"nm_kib {self.nm_kib} holds fewer than two {self.brick_bits}-bit bricks")
        if self.sb_words < 1:
            raise ConfigError(f"sb_kib {self.sb_kib} holds no {t.rows}x{t.lanes}x{t.weight_bits}-bit weight "
                              f"brick per half")

    @property
    def kind(self) -> Scheme:
        return SCHEMES[self.scheme]

    @property
    def tiles(self) -> int:
        return self.tile.tiles

    @property
    def columns(self) -> int:
        """Windows per step: ``Nc`` (bit-serial) or 1 (bit-parallel)."""
        return self.kind.columns(self.tile)

    @property
    def brick_bits(self) -> int:
        """One brick and one off-chip beat: ``L x A`` bits."""
        return self.tile.lanes * self.tile.act_bits

    @property
    def beat_bytes(self) -> int:
        return (self.brick_bits + 7) // 8

    @property
    def weight_brick_bits(self) -> int:
        return self.tile.rows * self.tile.lanes * self.tile.weight_bits

    @property
    def beats_per_brick(self) -> int:
        """Beats of one tile's weight brick."""
        return self.weight_brick_bits // self.brick_bits

    @property
    def bias_per_beat(self) -> int:
        """Biases (``acc_bits`` each) in one beat (0: no bias possible)."""
        return self.brick_bits // self.tile.acc_bits

    @property
    def nm_words(self) -> int:
        """Bricks NM holds."""
        return self.nm_kib * 8192 // self.brick_bits

    @property
    def sb_words(self) -> int:
        """Weight bricks one SB half holds."""
        return self.sb_kib * 4096 // self.weight_brick_bits

    @property
    def nm_addr_bits(self) -> int:
        return max(1, (self.nm_words - 1).bit_length())

    def replace(self, **changes) -> "ChipConfig":
        """The same chip with ``changes`` (tile fields go to the tile configuration)."""
        tile_fields = {k: v for k, v in changes.items() if hasattr(self.tile, k) and k != "tile"}
        rest = {k: v for k, v in changes.items() if k not in tile_fields}
        tile = replace(self.tile, **tile_fields) if tile_fields else self.tile
        return replace(self, tile=tile, **rest)

    def as_dict(self) -> dict:
        return {"scheme": self.scheme, "tiles": self.tiles, "nm_read": self.nm_read, "nm_kib": self.nm_kib,
                "sb_kib": self.sb_kib, "reuse": self.reuse, "nm_words": self.nm_words, "sb_words": self.sb_words,
                "brick_bits": self.brick_bits}
