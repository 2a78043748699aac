"""Command-line options shared by several subcommands (one definition each)."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from dstripes.sim.config import TRIMS, WEIGHT_SELECTS, TileConfig
from dstripes.sim.errors import ConfigError


#: ``(TileConfig field, option, help)`` of the tile options, in ``--help`` order.
_TILE_OPTIONS = (
    ("lanes", "--lanes", "activations per brick L"),
    ("columns", "--columns", "windows per tile Nc"),
    ("rows", "--rows", "filters per tile Nr"),
    ("tiles", "--tiles", "tiles sharing the activations T (model only)"),
    ("act_bits", "--act-bits", "activation width A"),
    ("weight_bits", "--weight-bits", "weight width W"),
    ("group", "--group", "columns per precision group G (Dynamic Stripes)"),
    ("trim", "--trim", "leading: leading-one detection; both: also trailing zeros (Dynamic Stripes)"),
    ("run_ahead", "--run-ahead", "steps a precision group may run ahead of the slowest (0: lock-step)"),
    ("weight_select", "--weight-select", "run-ahead tile: select each group's weights with a mux per group "
                                         "or inside every SIP (hardware only)"),
    ("max_reduction", "--max-reduction", "longest reduction (products per result) the accumulators "
                                         "hold without overflow; sets their width"),
)


#: Options of the hardware only: the model's counts do not depend on them.
HARDWARE_ONLY = ("weight_select",)


def add_tile_options(p: argparse.ArgumentParser, *, tiles: bool = True, run_ahead: bool = True,
                     hardware: bool = True) -> None:
    """The tile configuration options (defaults: the published tile). ``tiles`` and
    ``run_ahead`` add the options of those model parameters, ``hardware`` those of the hardware
    only (:data:`HARDWARE_ONLY`)."""
    d = TileConfig()
    g = p.add_argument_group("tile configuration (defaults: the published tile)")
    choices = {"trim": TRIMS, "weight_select": WEIGHT_SELECTS}
    for field, opt, text in _TILE_OPTIONS:
        if ((field == "tiles" and not tiles) or (field == "run_ahead" and not run_ahead)
                or (field in HARDWARE_ONLY and not hardware)):
            continue
        kw = {"choices": choices[field]} if field in choices else {"type": int, "metavar": "N"}
        # default None: an option the user gave can be told from one left at its default
        g.add_argument(opt, dest=field, default=None, help=f"{text} (default {getattr(d, field)})", **kw)


def given_tile_options(args) -> dict:
    """``{field: value}`` of the tile options the user gave on the command line."""
    return {f: getattr(args, f) for f, _, _ in _TILE_OPTIONS if getattr(args, f, None) is not None}


def tile_config(args, kind=None, **extra) -> TileConfig:
    """The :class:`TileConfig` named by :func:`add_tile_options` (plus ``extra`` fields).

    With ``kind`` (a :class:`dstripes.hw.kinds.TileKind`, or several: an option must apply to
    one of them), an option the kind's hardware does not use, or does not use in this
    configuration (``TileKind.needs``), is an error naming it rather than being silently ignored.
    """
    given = given_tile_options(args)
    config = TileConfig(**{**given, **extra})
    if kind is not None:
        from dstripes.hw.kinds import MODEL_ONLY  # loaded with the kind already

        kinds = [kind] if hasattr(kind, "params") else list(kind)
        for f, opt, _ in _TILE_OPTIONS:
            if f not in given or f in MODEL_ONLY:
                continue
            users = [k for k in kinds if f in k.params]
            if not users:
                k = kinds[0]
                raise ConfigError(f"{opt} {given[f]} does not apply to the {k.name} tile "
                                  f"(its options: {', '.join(_option(p) for p in k.params)})")
            if all(f in k.unused(config) for k in users):
                why = users[0].needs[f][1]
                raise ConfigError(f"{opt} {given[f]} applies only to {why}")
    return config


def _option(field: str) -> str:
    return next(opt for f, opt, _ in _TILE_OPTIONS if f == field)


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


def add_kind_option(p: argparse.ArgumentParser, *, allow_all: bool = False, default: str | None = None) -> None:
    """``--scheme``: a tile kind of the registry (:data:`dstripes.hw.kinds.KINDS`)."""
    from dstripes.hw.kinds import KINDS

    names = list(KINDS) + (["all"] if allow_all else [])
    default = default or ("all" if allow_all else "dstripes")
    titles = ", ".join(f"{k.name} ({k.title})" for k in KINDS.values())
    p.add_argument("--scheme", choices=names, default=default, metavar="KIND",
                   help=f"tile kind: {titles}{', or all' if allow_all else ''} (default {default})")


def check_out_dir(path: str, option: str = "--out") -> Path:
    """Create the output folder ``path`` (or accept an existing one) before any work starts;
    one-line errors for an empty path, a file, a path below a file, a device or no permission."""
    if path is None or not str(path).strip():
        raise ConfigError(f"{option} must name a folder, not an empty path")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{option} {path} exists and is not a folder")
    for parent in p.parents:
        if parent.exists() and not parent.is_dir():
            raise ConfigError(f"{option} {path} lies below {parent}, which is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create {option} folder {path} ({e.strerror})") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} folder {path} is not writable")
    return p


def check_out_file(path: str, option: str = "--out") -> Path:
    """Check before any work that ``path`` can be written as a regular file (its folder is
    created); one-line errors as :func:`check_out_dir`."""
    if path is None or not str(path).strip():
        raise ConfigError(f"{option} must name a file, not an empty path")
    p = Path(path)
    if p.exists() and not p.is_file():
        raise ConfigError(f"{option} {path} exists and is not a regular file")
    if str(path).endswith(os.sep):
        raise ConfigError(f"{option} {path} names a folder, not a file")
    check_out_dir(str(p.parent) if str(p.parent) else ".", option)
    return p

