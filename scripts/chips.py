"""The accelerator that the chip options (:func:`.options.add_chip_options`) name, its off-chip
memory, and ``explore``'s sweep of it (``docs/usage.md`` §12)."""
from __future__ import annotations

from dstripes.hw.chip.design import ChipDesign
from dstripes.sim.chip.config import ChipConfig
from dstripes.sim.chip.dram import DramConfig
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError

from .options import CHIP_SWEEP_KEYS, DRAM_BANDWIDTH, DRAM_JITTER, DRAM_LATENCY, DRAM_STALL, NM_KIB, NM_READ, SB_KIB
from .tiles import given_tile_options, tile_design

#: ``(ChipConfig field, option)`` of the accelerator's own parameters.
_FIELDS = (("nm_kib", NM_KIB), ("nm_read", NM_READ), ("sb_kib", SB_KIB))


def chip_given(args, *, tiles: bool = False) -> list:
    """The accelerator options the user gave (``tiles``: ``--tiles`` is one of them)."""
    names = ["--tiles"] if tiles and getattr(args, "tiles", None) is not None else []
    names += [o.flag for f, o in _FIELDS if getattr(args, f, None) is not None]
    if getattr(args, "reuse", True) is False:
        names.append("--no-reuse")
    for option in (DRAM_LATENCY, DRAM_BANDWIDTH):
        if getattr(args, option.flag[2:].replace("-", "_"), None) is not None:
            names.append(option.flag)
    for option in (DRAM_STALL, DRAM_JITTER):
        if getattr(args, option.flag[2:].replace("-", "_"), 0):
            names.append(option.flag)
    return names


def check_chip_flag(args, *, tiles: bool = False) -> None:
    """Accelerator options without ``--chip``: an error naming the first."""
    given = chip_given(args, tiles=tiles)
    if not getattr(args, "chip", False) and given:
        raise ConfigError(f"{given[0]} applies only with --chip")


def chip_config(tile: TileConfig, scheme: str, args) -> ChipConfig:
    """The accelerator of ``scheme`` tiles configured ``tile`` and the options (validated)."""
    kw = {f: getattr(args, f) for f, _ in _FIELDS if getattr(args, f, None) is not None}
    return ChipConfig(scheme=scheme, tile=tile, reuse=getattr(args, "reuse", True), **kw)


def chip_design(args) -> ChipDesign:
    """The accelerator of ``--scheme``, the tile options and the chip options, validated once."""
    tile = tile_design(args, tiles=args.tiles if args.tiles is not None else ChipConfig().tiles)
    if tile.config.fc_dispatch:
        raise ConfigError("--fc-dispatch does not apply with --chip (the accelerator's tiles run conv layers; "
                          "fully-connected layers run on the tile alone)")
    return ChipDesign.of(chip_config(tile.config, tile.name, args))


def model_chip(args, scheme: str, defaults: dict | None = None) -> ChipConfig:
    """The accelerator of the model (``evaluate --chip``: no tile kind to check options against);
    ``defaults``: tile fields the options leave unset (an int8 model's 8-bit widths)."""
    return chip_config(TileConfig(**{**(defaults or {}), **given_tile_options(args)}), scheme, args)


def dram_config(args, *, default_bandwidth: float | None) -> DramConfig | None:
    """The off-chip memory of the options; ``None`` when no bandwidth is given and there is no
    default (every pass's weights on chip)."""
    bw = args.dram_bytes_per_cycle if args.dram_bytes_per_cycle is not None else default_bandwidth
    if bw is None:
        if args.dram_latency is not None:
            raise ConfigError("--dram-latency needs --dram-bytes-per-cycle (without it the weights are on chip)")
        return None
    return DramConfig(latency=100 if args.dram_latency is None else args.dram_latency, bytes_per_cycle=bw,
                      stall=getattr(args, "dram_stall", 0.0), jitter=getattr(args, "dram_jitter", 0),
                      seed=getattr(args, "seed", 0) or 0)


def is_chip_sweep(items) -> bool:
    """Whether ``explore --sweep`` sweeps the accelerator (its keys; mixed keys are an error)."""
    keys = {str(item).partition("=")[0] for item in items}
    if not keys & set(CHIP_SWEEP_KEYS):
        return False
    if keys - set(CHIP_SWEEP_KEYS):
        raise ConfigError(f"an accelerator sweep ({', '.join(CHIP_SWEEP_KEYS)}) cannot be mixed with tile "
                          f"parameters ({', '.join(sorted(keys - set(CHIP_SWEEP_KEYS)))})")
    return True


def parse_chip_sweep(items) -> dict:
    """``nm_read=1,2,4`` items of ``explore --sweep``: ``{key: [values]}``, every value checked."""
    out = {}
    for item in items:
        key, eq, vals = str(item).partition("=")
        if not eq or key not in CHIP_SWEEP_KEYS:
            raise ConfigError(f"accelerator sweep items are {'|'.join(CHIP_SWEEP_KEYS)}=V1,V2,..., not {item!r}")
        if key in out:
            raise ConfigError(f"sweep key {key} is given twice")
        try:
            values = [int(v) for v in vals.split(",") if v.strip()]
        except ValueError:
            raise ConfigError(f"sweep values of {key} must be integers, not {vals!r}") from None
        if not values:
            raise ConfigError(f"sweep key {key} has no values")
        for v in values:
            ChipConfig(**{key: v})                      # every value valid before any work
        out[key] = sorted(set(values))
    return out
