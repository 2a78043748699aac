"""Stripes-style per-layer precision profiles (Judd et al., MICRO 2016).

What a profile is
-----------------
For every modelled layer, the window ``[lsb, msb]`` of the fixed-point codes of its *input*
activations, and the ``scale`` (real value of code 1, a power of two): codes are
``value / scale``, produced by :func:`sim.fixed.quantize` (round-half-even, saturating).

* **Integer bits** come from the largest magnitude observed on the profiling images: with
  ``m = ceil(log2(max|x|))`` the layer's values fit below ``2**m``, and the ``A``-bit
  activation container (``A = 16``) puts its top bit there: ``scale = 2**(m - A)`` for an
  unsigned input, ``2**(m - A + 1)`` for a signed one, so ``msb = A - 1`` always.
* **Signedness**: an input with any negative value on the profiling images gets a signed
  (two's-complement) window: every network's first layer (image minus mean), and inputs that no
  ReLU precedes (MobileNet-v2's linear bottlenecks). Its precision counts the sign bit.
* **Fractional bits** are searched: the precision ``p = msb - lsb + 1`` is the smallest that
  keeps the network output faithful to the float network (:mod:`.fidelity`).

The search
----------
1. *Per layer*, with every other layer in float: binary search for the smallest ``p`` whose
   fidelity on the profiling images meets the target (fidelity grows with ``p``; a test checks
   this on real layers).
2. *Combine*: all layers at their own ``p``. Quantisation errors add up, so if the combined
   network misses the target every layer gets one more bit until it passes.
3. *Greedy trim*: layers are visited by MAC count, largest first, and each gives bits back
   (never below its per-layer ``p``) while the combined network still passes.

Several targets are searched together, strictest first; a looser target starts its steps 2-3
from the stricter target's result, so a "99" profile is never wider than the "100" one.

The fidelity of the final profile is then measured on *held-out* photos
(:func:`.images.load_images` ``("heldout")``) the search never saw, and stored with it.

JSON format (``format: dstripes-profile/1``)
--------------------------------------------
``network``, ``target``, ``criterion``, ``threshold``, ``act_bits``, ``input`` (``size``,
``preprocess``), ``images`` (names of the profiling and held-out photos), ``fidelity``
(``profile``, ``heldout``, ``heldout_pass``), ``command``, ``seconds`` and ``layers``: one
object per layer in execution order with ``name``, ``msb``, ``lsb``, ``signed``, ``scale``,
``bits``, ``max`` (observed largest magnitude) and ``solo_bits`` (step-1 result).
"""
from __future__ import annotations

from dataclasses import dataclass, field, asdict
import json
import math
import time

import numpy as np

from ..errors import ConfigError
from ..fixed import Window
from .fidelity import TARGETS, UNITS, check_target, fidelity, passes, threshold
from .network import Network, Quant

FORMAT = "dstripes-profile/1"
SEARCH_TOP = 12  # first upper bound of the per-layer search (bits)
LOOSE_SPAN = 4  # a looser target is searched this many bits below the strict one


@dataclass(frozen=True)
class LayerProfile:
    """The profiled window of one layer's input."""

    name: str
    msb: int
    lsb: int
    signed: bool
    scale: float
    max: float = 0.0
    solo_bits: int = 0

    @property
    def window(self) -> Window:
        return Window(self.msb, self.lsb, self.signed)

    @property
    def bits(self) -> int:
        return self.msb - self.lsb + 1

    @property
    def quant(self) -> Quant:
        return Quant(self.scale, self.window)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["bits"] = self.bits
        return d


@dataclass
class Profile:
    """A network's per-layer precision profile (see the module docstring for the format)."""

    network: str
    target: str
    criterion: str
    threshold: float
    act_bits: int
    layers: list
    input: dict = field(default_factory=dict)
    images: dict = field(default_factory=dict)
    fidelity: dict = field(default_factory=dict)
    command: str = ""
    seconds: float = 0.0

    def layer(self, name: str) -> LayerProfile:
        for l in self.layers:
            if l.name == name:
                return l
        raise ConfigError(f"profile of {self.network} has no layer {name!r}")

    def quant(self) -> dict:
        """``name -> Quant`` of every layer."""
        return {l.name: l.quant for l in self.layers}

    def check_network(self, net: Network) -> None:
        """Raise unless this profile names exactly the network's layers."""
        mine = [l.name for l in self.layers]
        theirs = net.layer_names()
        missing = [n for n in theirs if n not in mine]
        if missing:
            raise ConfigError(f"profile of {self.network} has no layer {missing[0]!r} of network {net.name}")
        extra = [n for n in mine if n not in theirs]
        if extra:
            raise ConfigError(f"profile layer {extra[0]!r} is not a layer of network {net.name}")

    def as_dict(self) -> dict:
        return {"format": FORMAT, "network": self.network, "target": self.target,
                "criterion": self.criterion, "threshold": self.threshold, "act_bits": self.act_bits,
                "input": self.input, "images": self.images, "fidelity": self.fidelity,
                "command": self.command, "seconds": round(self.seconds, 1),
                "layers": [l.as_dict() for l in self.layers]}

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.as_dict(), f, indent=1)
            f.write("\n")

    @classmethod
    def load(cls, path: str) -> "Profile":
        """Read a profile JSON file; every defect is a one-line :class:`ConfigError`."""
        try:
            with open(path) as f:
                d = json.load(f)
        except FileNotFoundError:
            raise ConfigError(f"profile file not found: {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"profile {path} is not valid JSON ({e})") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ConfigError(f"profile {path} is not a {FORMAT} file")
        try:
            layers = []
            for i, l in enumerate(d["layers"]):
                lp = LayerProfile(str(l["name"]), int(l["msb"]), int(l["lsb"]), bool(l["signed"]),
                                  float(l["scale"]), float(l.get("max", 0.0)), int(l.get("solo_bits", 0)))
                lp.window  # validates msb/lsb
                if not lp.scale > 0:
                    raise ConfigError(f"profile {path}: layer {lp.name} has scale {lp.scale}, not positive")
                layers.append(lp)
            if not layers:
                raise ConfigError(f"profile {path} has no layers")
            return cls(str(d["network"]), str(d["target"]), str(d["criterion"]), float(d["threshold"]),
                       int(d["act_bits"]), layers, d.get("input", {}), d.get("images", {}),
                       d.get("fidelity", {}), d.get("command", ""), float(d.get("seconds", 0.0)))
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"profile {path} is malformed ({type(e).__name__}: {e})") from None


def container_scale(maxabs: float, signed: bool, act_bits: int) -> float:
    """Scale putting the container's top bit at the observed maximum (a power of two)."""
    if not maxabs > 0:
        return 1.0
    m = math.ceil(math.log2(maxabs))
    return float(2.0 ** (m - act_bits + (1 if signed else 0)))


def quant_at(stats: dict, bits: int, act_bits: int) -> Quant:
    """Quantisation of a layer with ``stats`` (``scale``, ``signed``) at precision ``bits``."""
    msb = act_bits - 1
    return Quant(stats["scale"], Window(msb, msb - bits + 1, stats["signed"]))


class _Search:
    """Fidelity evaluations of one profiling batch, memoised by the quantisation applied."""

    def __init__(self, net: Network, batch: np.ndarray, ref: np.ndarray, stats: dict, act_bits: int):
        self.net, self.batch, self.ref, self.stats, self.act_bits = net, batch, ref, stats, act_bits
        self.memo: dict = {}
        self.runs = 0

    def fidelity(self, bits: dict) -> float:
        key = tuple(sorted(bits.items()))
        if key not in self.memo:
            quant = {n: quant_at(self.stats[n], b, self.act_bits) for n, b in bits.items()}
            out = self.net.forward(self.batch, quant).output
            self.memo[key] = fidelity(self.net.criterion, self.ref, out)
            self.runs += 1
        return self.memo[key]

    def ok(self, bits: dict, target: str) -> bool:
        return passes(self.net.criterion, target, self.fidelity(bits), len(self.batch))


def min_bits(stats: dict) -> int:
    return 2 if stats["signed"] else 1


def layer_stats(acts: dict, act_bits: int) -> dict:
    """``name -> {max, signed, scale}`` of captured float inputs."""
    out = {}
    for name, a in acts.items():
        lo, hi = float(a.min()), float(a.max())
        signed = lo < 0
        maxabs = max(abs(lo), abs(hi))
        out[name] = {"max": maxabs, "signed": signed, "scale": container_scale(maxabs, signed, act_bits)}
    return out


def profile_network(net: Network, images, targets=("100",), heldout=None, act_bits: int = 16,
                    progress: bool = True, command: str = "") -> dict:
    """Profile ``net`` on ``images`` for each of ``targets``; returns ``target -> Profile``.

    Parameters
    ----------
    net : Network
    images : list of (name, RGB uint8 array)
        Profiling photos.
    targets : sequence of ``"100"`` / ``"99"``
        Searched together: evaluations are shared, and a looser target never searches above the
        stricter one's per-layer precision.
    heldout : list of (name, RGB uint8 array), optional
        Photos on which the final profile's fidelity is reported.
    act_bits : int
        Activation container width ``A``.
    """
    from tqdm import tqdm

    t0 = time.time()
    targets = sorted({check_target(t) for t in targets}, key=lambda t: -float(t))  # strict first
    if not isinstance(act_bits, int) or not 2 <= act_bits <= 32:
        raise ConfigError(f"act_bits must be an integer between 2 and 32, not {act_bits!r}")
    if not images:
        raise ConfigError("profiling needs at least one image")
    batch = net.prepare([im for _, im in images])
    run = net.forward(batch, capture=True)
    stats = layer_stats(run.acts, act_bits)
    del run
    ref = net.forward(batch).output
    layers = net.layers()
    search = _Search(net, batch, ref, stats, act_bits)
    names = [l.name for l in layers]

    # Step 1: per layer, others in float. Realistic precisions are far below 16 bits, so the
    # strict target is searched in [min, SEARCH_TOP] first (widened to act_bits only when
    # SEARCH_TOP fails) and a looser target in the LOOSE_SPAN bits below the strict result.
    solo = {t: {} for t in targets}
    bar = tqdm(total=len(names) * len(targets), desc=f"profile {net.name}: per layer", unit="layer",
               disable=not progress, leave=False)
    for name in names:
        floor = min_bits(stats[name])
        hi = min(act_bits, max(SEARCH_TOP, floor))
        lo = floor
        if not search.ok({name: hi}, targets[0]):
            lo, hi = hi + 1, act_bits
        for i, t in enumerate(targets):
            if i:
                lo = max(floor, hi - LOOSE_SPAN)
            while lo < hi:  # smallest passing p in [lo, hi]; hi itself when nothing passes
                mid = (lo + hi) // 2
                if search.ok({name: mid}, t):
                    hi = mid
                else:
                    lo = mid + 1
            solo[t][name] = hi
            bar.update()
    bar.close()

    # Steps 2 and 3. A looser target starts from the stricter target's final profile (which
    # passes it too), so it is never wider.
    macs = {l.name: l.macs for l in layers}
    order = sorted(names, key=lambda n: -macs[n])
    out = {}
    start = None
    for t in targets:
        if start is None:
            bits = dict(solo[t])
            while not search.ok(bits, t) and any(b < act_bits for b in bits.values()):
                bits = {n: min(act_bits, b + 1) for n, b in bits.items()}
        else:
            bits = dict(start)
        for name in tqdm(order, desc=f"profile {net.name}: trim {t}", unit="layer",
                         disable=not progress, leave=False):
            while bits[name] > solo[t][name]:
                trial = dict(bits, **{name: bits[name] - 1})
                if not search.ok(trial, t):
                    break
                bits = trial
        start = bits
        lp = [LayerProfile(n, act_bits - 1, act_bits - bits[n], stats[n]["signed"], stats[n]["scale"],
                           stats[n]["max"], solo[t][n]) for n in names]
        fid = {"profile": search.fidelity(bits), "profile_images": len(batch),
               "unit": UNITS[net.criterion],
               "profile_pass": search.ok(bits, t), "runs": search.runs}
        out[t] = Profile(net.name, t, net.criterion, threshold(net.criterion, t), act_bits, lp,
                         input={"size": net.size, "preprocess": net.preprocess},
                         images={"profile": [n for n, _ in images]}, fidelity=fid, command=command)
    if heldout:
        hb = net.prepare([im for _, im in heldout])
        href = net.forward(hb).output
        for t, p in out.items():
            value = fidelity(net.criterion, href, net.forward(hb, p.quant()).output)
            p.images["heldout"] = [n for n, _ in heldout]
            p.fidelity.update({"heldout": value, "heldout_images": len(hb),
                               "heldout_pass": passes(net.criterion, t, value, len(hb))})
    for p in out.values():
        p.seconds = time.time() - t0
    return out


def builtin_profile_path(network: str, target="100") -> str:
    """Where the shipped profile of a built-in network lives (``sim/data/profiles``)."""
    import os
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "profiles",
                        f"{network}-{check_target(target)}.json")


def network_profile(net: Network, model: str, target: str = "100", path: str | None = None, *,
                    photos=None, progress: bool = True, note=None) -> Profile:
    """The profile to evaluate ``net`` (called ``model`` by the user) with: the file ``path``;
    else the shipped profile of a built-in network at the network's input size; else a fresh
    profile for ``target`` on ``photos(16)`` (then ``note`` says so)."""
    import os

    from .models import BUILTIN

    if path:
        return Profile.load(path)
    if model in BUILTIN and os.path.isfile(builtin_profile_path(model, target)):
        prof = Profile.load(builtin_profile_path(model, target))
        if prof.input.get("size") == net.size:
            return prof
    if photos is None:
        raise ConfigError(f"no shipped profile for {net.name} at {net.size}x{net.size}; give a profile file")
    if note is not None:
        note(f"no shipped profile for {net.name} at {net.size}x{net.size}: profiling on 16 photos first")
    return profile_network(net, photos(16), targets=(target,), progress=progress)[target]


__all__ = ["LayerProfile", "Profile", "profile_network", "container_scale", "builtin_profile_path",
           "network_profile", "TARGETS"]
