"""The arrays and the layer that the layer options (:func:`.options.add_layer_options`) name:
``.npy`` files of integer codes read with a one-line error for every failure, one input of a
batch, the layer applied to them."""
from __future__ import annotations

import math
import os

import numpy as np
from numpy.lib import format as npy

from dstripes.sim.errors import ConfigError
from dstripes.sim.fixed import Window, as_codes
from dstripes.sim.layer import Layer
from dstripes.sim.limits import bytes_apart


def load_int_array(path: str, what: str) -> np.ndarray:
    """An ``.npy`` file of integer codes, with a one-line :class:`ConfigError` for every failure.

    The header is read first: an ``.npz`` archive, a pickle, text, a truncated file or a file
    declaring more data than it holds is refused before anything is allocated. The data is
    memory-mapped in its own dtype (a 1 GB ``uint8`` file stays 1 GB, never widened to int64);
    integral floats are converted to integers (:func:`dstripes.sim.fixed.as_codes`).
    """
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
        declared, held = bytes_apart(need, data)
        raise ConfigError(f"{what} file {path} declares a {'x'.join(map(str, shape)) or 'scalar'} "
                          f"{dtype} array ({declared}) but holds only {held} of data (truncated or corrupt)")
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


def input_shape(acts: np.ndarray, fc: bool) -> tuple:
    """The ``(C, H, W)`` a layer reads from an activation array (FC: a flat input too)."""
    if acts.size == 0:
        raise ConfigError(f"activations hold no values (shape {tuple(acts.shape)})")
    if acts.ndim == 3:
        return acts.shape
    if acts.ndim == 4:
        return acts.shape[1:]
    if fc and acts.ndim in (1, 2):
        return (acts.shape[-1], 1, 1)
    raise ConfigError(f"activations must have shape (C,H,W) or (N,C,H,W), not {acts.shape}")


def conv_layer_files(args) -> tuple[Layer, Window, np.ndarray, np.ndarray]:
    """The conv layer, its window, one input's codes and the weights of ``--acts --weights
    --layer --window --signed --image`` (simulate): the first input of an ``(N,C,H,W)`` file
    unless ``--image`` names another; weights of the layer's shape."""
    acts = load_int_array(args.acts, "activations")
    weights = load_int_array(args.weights, "weights")
    window = Window.parse(args.window, args.signed)
    if Layer.spec_is_fc(args.layer):
        raise ConfigError("dstripes simulate runs conv layers; a network's fully-connected layers run "
                          "through the tile with dstripes verify")
    layer = Layer.parse(args.layer, input_shape(acts, False))
    acts = select_image(acts, 0 if args.image is None and acts.ndim == 4 else args.image, args.acts)
    want = (layer.k, layer.cg, layer.kh, layer.kw)
    if weights.shape != want:
        raise ConfigError(f"weights have shape {weights.shape}, the layer needs {want}")
    return layer, window, acts, weights
