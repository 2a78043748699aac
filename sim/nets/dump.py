"""Real activations and weights of a network's layers as files for ``dstripes cycles`` and
``dstripes simulate``.

For one photo, every layer's input is captured, quantised with the layer's profiled window and
written as integer codes ``<n>_<layer>.acts.npy`` (``(1, C, H, W)``, int32; the codes carry the
window's trailing zero bits, as :func:`sim.fixed.quantize` makes them) with its weights as
16-bit two's-complement codes ``<n>_<layer>.weights.npy`` (PyTorch layout ``(K, C/groups, KH,
KW)``; FC layers ``(K, C, 1, 1)``) and a power-of-two scale. ``layers.json`` lists per layer the
files, the layer spec (``k=..,kh=..,stride=..,pad=..,groups=..`` or ``k=..,fc``), the window
``MSB:LSB``, signedness, both scales, and the ``dstripes cycles`` / ``dstripes simulate`` command
lines that read them.

An int8 QDQ model's layers (:mod:`.qdq`) are written with the model's own codes: activations
``q - zero_point`` in the codes' window, weights ``w - zero_point`` as 8-bit codes, and their
scales (a list for per-channel weights) and zero points in ``layers.json``; a transformer's
attention product gets the dumped sentence's second operand ``q - zero_point`` as its weights.
"""
from __future__ import annotations

import json
import os
import re
import shlex

import numpy as np

from .. import PACKAGE
from ..files import write_atomic
from ..fixed import weight_codes
from .qdq import ModelCodes
from .runs import as_photos, prepared

WEIGHT_BITS = 16


def layer_spec(layer) -> str:
    """The ``--layer`` spec of ``dstripes cycles`` / ``simulate`` for a layer."""
    if layer.fc:
        return f"k={layer.k},fc"
    spec = f"k={layer.k},kh={layer.kh},kw={layer.kw},stride={layer.sy}x{layer.sx},pad={layer.py}x{layer.px}"
    return spec + (f",groups={layer.conv_groups}" if layer.conv_groups > 1 else "")


def dump_layers(net, profile, photo, folder: str) -> list:
    """Write the files described in the module docstring for ``photo``; returns their paths."""
    profile.check_network(net)
    os.makedirs(folder, exist_ok=True)
    p = as_photos([photo])[0]
    batch = prepared(net, "dump", [p])
    acts = net.forward(batch, capture=True).acts
    index, files = [], []
    for i, layer in enumerate(net.layers()):
        lp = profile.layer(layer.name)
        codes = lp.quant.codes(acts[layer.name])
        own = isinstance(lp.quant, ModelCodes)
        if own:  # an attention product's are the dumped sentence's own codes q - zero_point
            wq, op = (net.input_weight_codes(layer.name, batch) if net.weights_per_input(layer.name)
                      else net.weight_codes(layer.name))
            wq = wq[0] if net.weights_per_input(layer.name) else wq
            wscale, wbits = op.as_dict()["scale"], op.window().bits
        else:
            wq, wscale = weight_codes(net.input_weights(layer.name, batch)[0])  # a sentence's own (attention)
            wbits = WEIGHT_BITS
        if layer.fc:
            wq = wq.reshape(wq.shape[0], -1, 1, 1)
        stem = f"{i:02d}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', layer.name)}"
        a_path, w_path = (os.path.join(folder, f"{stem}.{k}.npy") for k in ("acts", "weights"))
        np.save(a_path, codes.astype(np.int32))
        np.save(w_path, wq.astype(np.int16))
        win = f"{lp.msb}:{lp.lsb}"
        spec = layer_spec(layer)
        signed = ["--signed"] if lp.signed else []
        if own:  # the tile of the model's widths (A = W = 8, or A = 9 for zero-point-shifted codes)
            signed += ["--act-bits", str(lp.msb + 1), "--weight-bits", str(wbits)]
        cycles = [PACKAGE, "cycles", "--acts", a_path, "--layer", spec, "--window", win, *signed]
        entry = {"layer": layer.name, "description": layer.describe(), "acts": a_path, "weights": w_path,
                 "spec": spec, "window": win, "signed": lp.signed, "act_scale": lp.scale,
                 "weight_scale": wscale, "weight_bits": wbits, "photo": p.name,
                 "cycles": " ".join(shlex.quote(x) for x in cycles)}
        if not layer.fc:
            sim = [PACKAGE, "simulate", "--acts", a_path, "--weights", w_path, "--layer", spec,
                   "--window", win, *signed, "--window-sets", "4"]
            entry["simulate"] = " ".join(shlex.quote(x) for x in sim)
        if own:
            entry["zero_point"] = lp.quant.zero_point
            entry["weight_zero_point"] = op.as_dict()["zero_point"]
        index.append(entry)
        files += [a_path, w_path]
    path = os.path.join(folder, "layers.json")
    write_atomic(path, json.dumps({"network": net.name, "profile_target": profile.target, "photo": p.name,
                                   "layers": index}, indent=1) + "\n")
    return files + [path]


__all__ = ["dump_layers", "layer_spec"]
