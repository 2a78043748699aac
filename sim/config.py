"""Tile and model configuration shared by the golden model, the RTL generator and the reports.

The accumulator width is derived here once; :mod:`hw` reads it from :func:`accumulator_bits`
so that the model's overflow check and the generated accumulators can never disagree.

Each configuration rule is one function (:func:`check_dimension`, :func:`check_width`,
:func:`check_group` here; :func:`~dstripes.sim.checks.check_integer` and
:func:`~dstripes.sim.checks.check_choice` for any value), raising :class:`ConfigError` (a
``ValueError``) with one message; :class:`TileConfig` and the hardware blocks, which validate
their own parameters, both call it.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict

from .checks import check_choice, check_integer
from .errors import ConfigError
from .limits import MAX_TILE_DIM, check_limit

#: Largest ``max_reduction``: the accumulators of the widest configuration (32-bit activations
#: and weights) then stay within 96 bits, and every exact result within int64 for 16-bit codes.
MAX_REDUCTION = 1 << 32

#: Trimming a Dynamic Stripes tile is generated for: leading ones only, or leading ones and
#: trailing zeros (the run-time ``mode`` may then also be static or leading).
TRIMS = ("leading", "both")
#: Where a run-ahead tile selects the weights of each precision group's step among the ``R + 1``
#: weight bricks in flight (hardware only; ``docs/design.md`` §6): a multiplexer per group
#: shared by its ``G`` columns, or inside every SIP, folded into its AND gates; ``auto`` is the
#: smaller of the two (``sip`` when every column is its own group, else ``mux``).
WEIGHT_SELECTS = ("auto", "mux", "sip")
#: Narrowest and widest activation and weight codes.
MIN_BITS, MAX_BITS = 2, 32


def check_dimension(name: str, value) -> int:
    """A tile dimension (``lanes``, ``columns``, ``rows``, ``tiles``): a positive integer of at
    most :data:`~dstripes.sim.limits.MAX_TILE_DIM`."""
    return check_limit(name, check_integer(name, value), MAX_TILE_DIM)


def check_width(name: str, value) -> int:
    """A code width (``act_bits``, ``weight_bits``): :data:`MIN_BITS` to :data:`MAX_BITS` bits."""
    return check_integer(name, value, MIN_BITS, MAX_BITS)


def check_group(group, columns: int) -> int:
    """The precision group ``G``: a positive integer that divides ``columns``."""
    check_integer("group", group)
    if columns % group:
        raise ConfigError(f"group size {group} does not divide columns {columns}")
    return group


def accumulator_bits(act_bits: int, weight_bits: int, max_reduction: int) -> int:
    """Signed accumulator width that cannot overflow for ``max_reduction`` products.

    Each product of an ``act_bits`` activation (signed or unsigned) and a ``weight_bits``
    signed weight fits in ``act_bits + weight_bits`` signed bits; a sum of ``n`` of them needs
    ``ceil(log2(n))`` more (``(n - 1).bit_length()``, exact for any integer ``n >= 1``).
    """
    return act_bits + weight_bits + (max_reduction - 1).bit_length()


@dataclass(frozen=True)
class TileConfig:
    """One accelerator configuration (defaults: the published 16 × 16 × 16, 16-bit tile).

    Parameters
    ----------
    lanes : int
        Activations per brick ``L`` (inputs of one SIP). ``lanes``, ``columns``, ``rows`` and
        ``tiles`` are at most :data:`~dstripes.sim.limits.MAX_TILE_DIM` (1024).
    columns : int
        Windows processed at once by a tile ``Nc``.
    rows : int
        Filters per tile ``Nr``.
    tiles : int
        Tiles sharing the activations ``T`` (model only; the RTL is one tile).
    act_bits, weight_bits : int
        Activation width ``A`` and weight width ``W``.
    group : int
        Columns whose precision is detected together ``G``; must divide ``columns``.
    trim : str
        ``"leading"`` (leading-one detection) or ``"both"`` (leading-one and trailing-zero).
    run_ahead : int
        Steps a group may run ahead of the slowest one (``0``: lock-step).
    weight_select : str
        Weight selection of a run-ahead tile, one of :data:`WEIGHT_SELECTS` (hardware only;
        ignored in lock-step).
    fc_dispatch : bool
        Build the lock-step bit-serial tile with the round-robin dispatch of fully-connected
        layers (``docs/design.md`` §5: every SIP holds its own weight brick, a column sum per
        filter); hardware only, off by default so that the published tile's area, clock and
        energy are those of the conv-only tile. The bit-parallel tile runs fully-connected
        layers without it; the run-ahead tile cannot have it.
    max_reduction : int
        Longest reduction (products per result) the accumulators must hold without overflow;
        at most :data:`MAX_REDUCTION` (``2**32``).
    """

    lanes: int = 16
    columns: int = 16
    rows: int = 16
    tiles: int = 16
    act_bits: int = 16
    weight_bits: int = 16
    group: int = 1
    trim: str = "leading"
    run_ahead: int = 0
    weight_select: str = "auto"
    max_reduction: int = 1 << 16
    fc_dispatch: bool = False

    def __post_init__(self):
        for name in ("lanes", "columns", "rows", "tiles"):
            check_dimension(name, getattr(self, name))
        check_width("act_bits", self.act_bits)
        check_width("weight_bits", self.weight_bits)
        check_group(self.group, self.columns)
        check_choice("trim", self.trim, TRIMS)
        check_integer("run_ahead", self.run_ahead, 0)
        check_choice("weight_select", self.weight_select, WEIGHT_SELECTS)
        if not isinstance(self.fc_dispatch, bool):
            raise ConfigError(f"fc_dispatch must be True or False, not {self.fc_dispatch!r}")
        check_limit("max_reduction", check_integer("max_reduction", self.max_reduction), MAX_REDUCTION, "2**32")

    @property
    def precision_groups(self) -> int:
        """Precision groups per pallet (``columns // group``)."""
        return self.columns // self.group

    @property
    def filters_per_set(self) -> int:
        """Filters processed together by all tiles (``rows * tiles``)."""
        return self.rows * self.tiles

    @property
    def acc_bits(self) -> int:
        """Signed accumulator width (see :func:`accumulator_bits`)."""
        return accumulator_bits(self.act_bits, self.weight_bits, self.max_reduction)

    def as_dict(self) -> dict:
        return asdict(self)
