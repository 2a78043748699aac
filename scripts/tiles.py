"""The tile that the tile options (:func:`.options.add_tile_options`) name: a configuration of
the model, or a tile design validated once against its kind."""
from __future__ import annotations

from dstripes.hw.design import TileDesign, designs
from dstripes.sim.config import TileConfig
from dstripes.sim.nets.qdq import model_widths

from .options import TILE, tile_flag


def given_tile_options(args) -> dict:
    """``{field: value}`` of the tile options the user gave on the command line (a switch,
    ``--fc-dispatch``, when it is on)."""
    return {f: v for f in TILE if (v := getattr(args, f, None)) is not None and v is not False}


def model_tile_fields(args, profile) -> dict:
    """The widths of an int8 model's own codes (:func:`~dstripes.sim.nets.qdq.model_widths`:
    ``A = W = 8``, ``A = 9`` for zero-point-shifted codes) that the tile options leave unset."""
    given = given_tile_options(args)
    return {k: v for k, v in model_widths(profile.quant().values()).items() if k not in given}


def tile_config(args, **extra) -> TileConfig:
    """The :class:`TileConfig` of the tile options (plus ``extra`` fields), for the commands
    that count cycles in the model (no tile kind to check the options against)."""
    return TileConfig(**{**given_tile_options(args), **extra})


def tile_design(args, kind: str | None = None, **extra) -> TileDesign:
    """The :class:`TileDesign` of ``--scheme`` (or of ``kind``) and the tile options, validated
    once: an option the kind's hardware does not use, or does not use in this configuration, is
    an error naming it rather than being silently ignored."""
    given = given_tile_options(args)
    return TileDesign.of(kind or args.scheme, TileConfig(**{**given, **extra}), given=given, spell=tile_flag)


def tile_designs(args, kinds, **extra) -> list[TileDesign]:
    """One design per kind of ``kinds`` for the same tile options (``--scheme all``): an option
    must apply to at least one of them."""
    given = given_tile_options(args)
    return designs(kinds, TileConfig(**{**given, **extra}), given=given, spell=tile_flag)
