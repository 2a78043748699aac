"""Command-line options shared by several subcommands (one definition each)."""
from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import numpy as np

from dstripes.sim.config import TRIMS, WEIGHT_SELECTS, TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import as_codes
from dstripes.sim.limits import human_bytes


#: ``--layer`` of cycles and simulate (sim.layer.Layer.parse).
LAYER_HELP = ("k=K,kh=KH,kw=KW,stride=S,pad=P[,dilation=D][,groups=G] (S, P, D: N or NYxNX; a "
              "square kernel when one side is given), or k=K,fc for a fully-connected layer")
#: ``--window`` of cycles and simulate (sim.fixed.Window.parse).
WINDOW_HELP = ("the bits a code may set, MSB:LSB (MSB alone means MSB:0). Codes are the integers the "
               "activation container holds: 9:2 allows multiples of 4 from 0 to 1020 (5 is "
               "rejected); see docs/usage.md")


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


def tile_config(args, **extra) -> TileConfig:
    """The :class:`TileConfig` named by :func:`add_tile_options` (plus ``extra`` fields), for
    the commands that count cycles in the model (no tile kind to check the options against)."""
    return TileConfig(**{**given_tile_options(args), **extra})


def tile_design(args, name: str | None = None, **extra):
    """The :class:`dstripes.hw.design.TileDesign` of ``--scheme`` (or kind ``name``) and the tile
    options, validated once: an option the kind's hardware does not use, or does not use in
    this configuration, is an error naming it rather than being silently ignored."""
    from dstripes.hw.design import TileDesign

    given = given_tile_options(args)
    return TileDesign.of(name or args.scheme, TileConfig(**{**given, **extra}), given=given, spell=_option)


def tile_designs(args, names, **extra) -> list:
    """One design per kind of ``names`` for the same tile options (``--scheme all``): an option
    must apply to at least one of them."""
    from dstripes.hw.design import designs

    given = given_tile_options(args)
    return designs(names, TileConfig(**{**given, **extra}), given=given, spell=_option)


def _option(field: str) -> str:
    return next(opt for f, opt, _ in _TILE_OPTIONS if f == field)


def load_int_array(path: str, what: str) -> np.ndarray:
    """An ``.npy`` file of integer codes, with a one-line :class:`ConfigError` for every failure.

    The header is read first: an ``.npz`` archive, a pickle, text, a truncated file or a file
    declaring more data than it holds is refused before anything is allocated. The data is
    memory-mapped in its own dtype (a 1 GB ``uint8`` file stays 1 GB, never widened to int64);
    integral floats are converted to integers (:func:`dstripes.sim.fixed.as_codes`).
    """
    from numpy.lib import format as npy

    try:
        with open(path, "rb") as f:
            head = f.read(6)
            f.seek(0)
            if head.startswith(b"PK"):
                raise ConfigError(f"{what} file {path} is an .npz archive{_npz_names(path)}, not one "
                                  f".npy array (save a single array with numpy.save)")
            if not head.startswith(b"\x93NUMPY"):
                kind = "a Python pickle" if head[:1] == b"\x80" else "empty" if not head else \
                    "text or another format"
                raise ConfigError(f"{what} file {path} is not a .npy array ({kind}: no NumPy header)")
            try:
                version = npy.read_magic(f)
                reader = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}.get(version)
                if reader is None:
                    raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
                shape, _, dtype = reader(f)
            except (ValueError, OSError, EOFError, SyntaxError) as e:
                raise ConfigError(f"{what} file {path} is not a valid .npy array "
                                  f"({str(e).splitlines()[0] if str(e) else 'bad header'})") from None
            data = os.fstat(f.fileno()).st_size - f.tell()
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} file {path} is a folder, not a .npy file") from None
    except OSError as e:
        raise ConfigError(f"cannot read {what} file {path} ({e.strerror or e})") from None
    if dtype.hasobject:
        raise ConfigError(f"{what} file {path} holds Python objects (pickled data), not integer codes")
    if dtype.kind not in "biuf":
        raise ConfigError(f"{what} in {path} must be integer codes, not dtype {dtype}")
    need = math.prod(shape) * dtype.itemsize
    if need > data:
        raise ConfigError(f"{what} file {path} declares a {'x'.join(map(str, shape)) or 'scalar'} "
                          f"{dtype} array ({human_bytes(need)}) but holds only {human_bytes(data)} "
                          f"of data (truncated or corrupt)")
    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ConfigError(f"{what} file {path} is not a valid .npy array ({e})") from None
    return as_codes(a, f"{what} in {path}")


def _npz_names(path: str) -> str:
    try:
        with np.load(path, allow_pickle=False) as z:
            return f" (arrays: {', '.join(z.files[:5])}{', ...' if len(z.files) > 5 else ''})"
    except Exception:  # a broken archive: the message without its contents
        return ""


def select_image(acts: np.ndarray, image: int | None, path: str) -> np.ndarray:
    """``acts[image]`` of an ``(N, C, H, W)`` file (``image`` given); ``--image`` on any other
    shape, or outside ``0 .. N-1``, is an error naming it."""
    if image is None:
        return acts
    if acts.ndim != 4:
        raise ConfigError(f"--image {image} needs (N,C,H,W) activations; {path} holds "
                          f"{'one input ' if acts.ndim == 3 else ''}{tuple(acts.shape)}")
    if not 0 <= image < acts.shape[0]:
        raise ConfigError(f"--image {image} is outside the {acts.shape[0]} inputs of {path} "
                          f"(0..{acts.shape[0] - 1})")
    return acts[image]


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2))


def add_kind_option(p: argparse.ArgumentParser, *, allow_all: bool = False, default: str | None = None) -> None:
    """``--scheme``: a tile kind of the registry (:data:`dstripes.hw.kinds.KINDS`)."""
    from dstripes.hw.kinds import KINDS
    from dstripes.sim.schemes import DSTRIPES

    names = list(KINDS) + (["all"] if allow_all else [])
    default = default or ("all" if allow_all else DSTRIPES.name)
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

