"""An int8 study of any float network: its layers' inputs as int8 codes with one scale per tensor
or one scale per token, counted on 8-bit tiles (``dstripes evaluate --int8 tensor|token``).

Where a QDQ model (:mod:`.qdq`) has codes of its own, this asks what codes an int8 deployment
*would* give a float network, in the two ways transformers are quantised:

* ``tensor``: one symmetric scale per layer input, static, calibrated on the profiling samples:
  ``scale = max|x| / 127`` (a signed input) or ``max|x| / 255`` (an input never negative on them,
  such as softmax probabilities: unsigned codes), codes ``round(x / scale)`` saturated to the
  8-bit window. This is what static QDQ quantisation with symmetric activations writes.
* ``token``: one scale per token, computed at run time from that token's own values
  (``max|x_t| / 127``; per head for an attention product, whose heads are separate products),
  as LLM.int8-style and per-token dynamic schemes do. It is not expressible as static QDQ
  quantisation, so it lives here as a study: every token's largest value reaches the top of the
  window, which leaves Dynamic Stripes less to trim.

The codes go through the same golden model as a profile's (:func:`.evaluate.count_layer`), on
the tile of 8-bit activations and weights (``A = W = 8``), so Stripes is Stripes-8 and DaDN is
DaDN-8. Fidelity is the network's criterion on the held-out samples, the graph run with every
layer's input fake-quantised: per tensor with its static scale; per token (a text network's only)
with the step of each token computed in the graph from its own values (``ReduceMax`` of ``|x|``
over the token's channels, per head; :meth:`.onnx_capture.OnnxNetwork._quant_session`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..fixed import Window
from .fidelity import UNITS, image_scores, summarise, threshold
from .network import Network, Quant
from .profile import LayerProfile, Profile
from .runs import Runner, as_photos

SCALES = ("tensor", "token")
#: The study's activation and weight width.
BITS = 8
#: The profile's ``command`` of each study (how reports name the codes' source).
COMMANDS = {s: f"int8 study: one scale per {s}" for s in SCALES}


def window(signed: bool) -> Window:
    """The 8-bit window: two's complement, or unsigned for inputs never negative."""
    return Window(BITS - 1, 0, signed=signed)


@dataclass(frozen=True)
class TokenQuant(Quant):
    """int8 codes with one scale per token (per window column of a ``(N, C, 1, T)`` input) and
    per convolution group (an attention head); ``scale`` is the per-tensor scale, kept for the
    reports. Fake quantisation in a graph (:meth:`apply` in a network run) is not supported."""

    groups: int = 1
    per_token = True

    def codes(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        n, c = x.shape[:2]
        if c % self.groups:
            raise ConfigError(f"{c} channels do not split into {self.groups} groups")
        g = x.reshape(n, self.groups, c // self.groups, *x.shape[2:])
        top = self.window.hi
        m = np.abs(g).max(axis=2, keepdims=True)
        step = np.where(m > 0, m / top, 1.0)
        q = np.clip(np.rint(g / step), self.window.lo, top)  # rint: round half to even
        return q.reshape(x.shape).astype(np.int16)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Real values after quantisation: the codes times each token's own step."""
        x = np.asarray(x, np.float64)
        n, c = x.shape[:2]
        g = x.reshape(n, self.groups, c // self.groups, *x.shape[2:])
        m = np.abs(g).max(axis=2, keepdims=True)
        step = np.where(m > 0, m / self.window.hi, 1.0)
        return (self.codes(x).reshape(g.shape) * step).reshape(x.shape).astype(np.float32)


def int8_profile(net: Network, calibration, heldout, scales: str, *, client=None, progress: bool = True) -> Profile:
    """The int8 codes of every layer of ``net`` as a :class:`.profile.Profile` (``act_bits`` 8).

    Parameters
    ----------
    net : Network
    calibration : list
        Profiling samples (photos or sentences) whose largest values set the per-tensor scales
        and each input's signedness.
    heldout : list
        Samples the codes' fidelity is measured on (empty: none; per token: a text network's only).
    scales : str
        ``tensor`` or ``token`` (:data:`SCALES`).
    client : dask.distributed.Client, optional
    """
    if scales not in SCALES:
        raise ConfigError(f"int8 scales must be one of {', '.join(SCALES)}, not {scales!r}")
    cal = as_photos(calibration)
    if not cal:
        raise ConfigError("the int8 study needs at least one calibration sample (--profile-images)")
    runner = Runner(net, client=client, progress=progress)
    caps = list(runner.capture(cal, desc="int8 calibration").values())
    mx = np.max([c.max for c in caps], axis=0)
    mn = np.min([c.min for c in caps], axis=0)
    layers = []
    for i, layer in enumerate(net.layers()):
        signed = bool(mn[i] < 0)
        w = window(signed)
        scale = float(mx[i]) / w.hi if mx[i] > 0 else 1.0
        q = Quant(scale, w) if scales == "tensor" else TokenQuant(scale, w, groups=layer.conv_groups)
        layers.append(LayerProfile(layer.name, q, max=float(mx[i])))
    prof = Profile(net.name, "100", net.criterion, threshold(net.criterion, "100"), BITS, layers,
                   input={"size": net.size, "preprocess": net.preprocess},
                   images={"profile": [p.name for p in cal]}, command=COMMANDS[scales])
    held = as_photos(heldout)
    if held and (scales == "tensor" or getattr(net, "TOKENS", False)):
        refs = runner.capture(held, desc="float run")
        rows = runner.measure(held, [dict(prof.quant())], {p.key: refs[p.key].output for p in held},
                              desc="int8 run")[0]
        per = image_scores(net.criterion, rows)
        value = summarise(net.criterion, per)
        prof.fidelity = {"unit": UNITS[net.criterion], "heldout": value, "heldout_mean": float(per.mean()),
                         "heldout_images": len(held), "heldout_pass": bool(value >= prof.threshold)}
    return prof


__all__ = ["BITS", "COMMANDS", "SCALES", "TokenQuant", "int8_profile", "window"]
