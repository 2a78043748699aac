"""Command-line options shared by several subcommands (one definition each)."""
from __future__ import annotations

import argparse
import json

import numpy as np

from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError


def add_tile_options(p: argparse.ArgumentParser, tiles: bool = True) -> None:
    """``--lanes --columns --rows [--tiles] --act-bits --weight-bits --group --trim``."""
    d = TileConfig()
    g = p.add_argument_group("tile configuration (defaults: the published tile)")
    g.add_argument("--lanes", type=int, default=d.lanes, help="activations per brick L (%(default)s)")
    g.add_argument("--columns", type=int, default=d.columns, help="windows per tile Nc (%(default)s)")
    g.add_argument("--rows", type=int, default=d.rows, help="filters per tile Nr (%(default)s)")
    if tiles:
        g.add_argument("--tiles", type=int, default=d.tiles, help="tiles sharing activations T (%(default)s)")
    g.add_argument("--act-bits", type=int, default=d.act_bits, help="activation width A (%(default)s)")
    g.add_argument("--weight-bits", type=int, default=d.weight_bits, help="weight width W (%(default)s)")
    g.add_argument("--group", type=int, default=d.group, help="columns per precision group G (%(default)s)")
    g.add_argument("--trim", choices=("leading", "both"), default=d.trim,
                   help="leading-one only, or leading-one and trailing-zero (%(default)s)")


def tile_config(args, **extra) -> TileConfig:
    """Build the :class:`TileConfig` named by :func:`add_tile_options`."""
    kw = dict(lanes=args.lanes, columns=args.columns, rows=args.rows, act_bits=args.act_bits,
              weight_bits=args.weight_bits, group=args.group, trim=args.trim)
    if hasattr(args, "tiles"):
        kw["tiles"] = args.tiles
    kw.update(extra)
    return TileConfig(**kw)


def load_int_array(path: str, what: str) -> np.ndarray:
    """Load an ``.npy`` file of integer codes, with one-line errors for every failure."""
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {path}") from None
    except (ValueError, OSError, EOFError) as e:
        raise ConfigError(f"{what} file {path} is not a valid .npy array ({e})") from None
    if a.dtype.kind == "f":
        bad = a[~np.isfinite(a) | (a != np.round(a))]
        if bad.size:
            raise ConfigError(f"{what} in {path} must be integer codes, found {float(bad.flat[0])!r}")
        big = a[np.abs(a) >= 2.0 ** 62]
        if big.size:
            raise ConfigError(f"{what} in {path}: code {big.flat[0]!r} is out of range")
    elif a.dtype.kind == "u" and a.dtype.itemsize >= 8 and a.size and a.max() > np.iinfo(np.int64).max:
        raise ConfigError(f"{what} in {path}: code {int(a.max())} is out of range")
    elif a.dtype.kind not in "iub":
        raise ConfigError(f"{what} in {path} must be integers, not dtype {a.dtype}")
    return a.astype(np.int64)


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2))
