"""Bundled real-activation samples: a few real layers on a few real photos, numpy only.

``sim/data/samples.npz`` holds integer activation codes and 16-bit integer weights of a few
layers of the built-in networks, and ``sim/data/samples.json`` their shapes, windows and
provenance. They are generated from the real networks by ``scripts/make/samples.py`` (see
that script for the exact layers, photos and crops) and committed as data, so the README's
main command and the RTL simulations use real activations without installing any network.

Each sample's activations are quantised with the network's shipped precision profile
(``sim/data/profiles/<network>-100.json``): the codes lie inside the sample's window. Weights
are the layer's real weights (BatchNorm folded where the network has it) as 16-bit
two's-complement codes with a per-layer power-of-two scale.

Storage: activation codes are stored shifted right by the window's ``lsb`` (``int16`` for a
signed window, ``uint16`` otherwise), weights as ``int16``; :func:`load_sample` returns both as
``int64`` codes.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
import json
import os

import numpy as np

from .errors import ConfigError
from .fixed import Window
from .layer import Layer

DATA = os.path.join(os.path.dirname(__file__), "data")
INDEX = os.path.join(DATA, "samples.json")
ARRAYS = os.path.join(DATA, "samples.npz")
FORMAT = "dstripes-samples/1"


@lru_cache(maxsize=1)
def _index() -> dict:
    try:
        with open(INDEX) as f:
            d = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f"sample index not found: {INDEX} (run .venv/bin/python scripts/make/samples.py)") from None
    if d.get("format") != FORMAT:
        raise ConfigError(f"{INDEX} is not a {FORMAT} file")
    return d


def sample_names() -> list[str]:
    """Names of the bundled samples."""
    return list(_index()["samples"])


@dataclass(frozen=True)
class SampleInfo:
    """The index entry of one sample (``samples.json``).

    Members
    -------
    name : str
    layer : Layer
        The slice of the network's layer the sample runs (named after the sample).
    window : Window
        The window of its activation codes (the network's shipped profile).
    network, source_layer : str
        Where it was taken from.
    photos : tuple of str
        The photos of its ``N`` inputs.
    filters : str
        Which filters of the source layer it keeps (``"32 of 64"``).
    description : str
        The source layer's shape.
    image_size : int
        Input size the network ran at.
    crop : tuple of int or None
        ``(y0, y1, x0, x1)`` of the source layer's input the sample keeps (``None``: all of it).
    act_scale, weight_scale : float
        Real value of activation and weight code 1.
    weight_bits : int
    zero_fraction : float
        Share of zero activations.
    """

    name: str
    layer: Layer
    window: Window
    network: str
    source_layer: str
    photos: tuple
    filters: str
    description: str
    image_size: int
    crop: tuple | None
    act_scale: float
    weight_scale: float
    weight_bits: int
    zero_fraction: float


def sample_info(name: str) -> SampleInfo:
    """Index entry of a sample: layer shape, window, scales, network, photos, crop."""
    samples = _index()["samples"]
    if name not in samples:
        raise ConfigError(f"unknown sample {name!r} (available: {', '.join(samples)})")
    d = samples[name]
    w = d["window"]
    return SampleInfo(name, Layer(**d["layer"], name=name), Window(w["msb"], w["lsb"], w["signed"]), d["network"],
                      d["source_layer"], tuple(d["photos"]), d["filters"], d["description"], d["image_size"],
                      None if d["crop"] is None else tuple(d["crop"]), d["act_scale"], d["weight_scale"], d["weight_bits"], d["zero_fraction"])


def load_sample(name: str):
    """Load one sample.

    Returns
    -------
    acts : ndarray int64, ``(N, C, H, W)``
        Activation codes of ``N`` photos, inside ``window``.
    weights : ndarray int64, ``(K, C/groups, kh, kw)``
        16-bit two's-complement weight codes.
    layer : Layer
    window : Window
    """
    info = sample_info(name)
    with np.load(ARRAYS, allow_pickle=False) as z:
        acts = z[f"{name}.acts"].astype(np.int64) << info.window.lsb
        weights = z[f"{name}.weights"].astype(np.int64)
    return acts, weights, info.layer, info.window
