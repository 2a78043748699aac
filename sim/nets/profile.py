"""Stripes-style per-layer precision profiles (Judd et al., MICRO 2016).

What a profile is
-----------------
For every modelled layer, the window ``[lsb, msb]`` of the fixed-point codes of its *input*
activations, and the ``scale`` (real value of code 1, a power of two): codes are
``value / scale``, produced by :func:`sim.fixed.quantize` (round-half-even, saturating).

* **Integer bits** come from the largest magnitude observed on the profiling photos, raised by
  the layer's *headroom* (see below): with ``m = ceil(log2(max|x| * 2**headroom))`` the layer's
  values fit below ``2**m``, and the ``A``-bit activation container (``A = 16``) puts its top
  bit there: ``scale = 2**(m - A)`` for an unsigned input, ``2**(m - A + 1)`` for a signed one,
  so ``msb = A - 1`` always.
* **Signedness**: an input with any negative value on the profiling photos gets a signed
  (two's-complement) window: every network's first layer (image minus mean), and inputs that no
  ReLU precedes (MobileNet-v2's linear bottlenecks). Its precision counts the sign bit.
* **Fractional bits** are searched: the precision ``p = msb - lsb + 1`` of each layer is chosen
  so that the network output stays faithful to the float network (:mod:`.fidelity`).

What makes a profile hold on photos it never saw
------------------------------------------------
A profile fitted to a few photos breaks on others in two ways, and each has its lever:

* *Saturation*: a held-out photo drives a layer above the largest value the profiling photos
  did (by up to 1.7x on ResNet-50). ``headroom`` adds room above that maximum: a number of bits
  for every layer, or ``"auto"``: each layer's per-photo maxima, in ``log2``, are taken as
  normal and the layer gets room up to its 1-in-1000-photos maximum (mean + 3.09 standard
  deviations) where that lies above the largest value seen. Layers whose maximum barely varies
  get none.
* *A threshold met exactly*: a search that stops where the profiling photos just pass leaves
  nothing for a photo with a smaller margin. ``margin_db`` makes the search keep that much error
  energy below the target (PSNR ``T + margin``; ``1 - cos`` below ``(1 - t) 10**(-margin/10)``;
  top-1: every photo's class kept with at least ``1 - 10**(-margin/20)`` of its float lead).
  The held-out verdict is the plain criterion, without the margin.

More and more varied profiling photos help both (:mod:`.images` interleaves all photo sources),
and augmented copies (flips, crops) may join the profiling set, never the held-out one.
``scripts/make/profiles.py --levers`` measures what each lever costs in bits.

The search
----------
Quantisation noise of different layers adds up in the output's error energy, and each bit taken
from a layer multiplies that layer's share by 4. So:

1. *Sensitivity*: each layer alone (the others at full precision) at a probe precision of
   :data:`PROBE_BITS` bits, on the first :data:`PROBE_IMAGES` profiling photos, gives its
   per-photo error energy ``E_l`` relative to what the target tolerates (:func:`.fidelity.energy`).
2. *Allocation*: the predicted energy of an allocation is ``sum_l E_l 4**(probe_l - p_l)`` per
   photo. Starting from full precision, bits are taken greedily from the layer that saves the
   most MAC-weighted bits (what Stripes' cycles follow) per unit of worst-photo energy, while
   the prediction stays within a budget ``s``.
3. *Verification*: the allocation runs on *all* profiling photos; ``s`` is searched (factors of
   4, then bisection in log space) for the largest budget whose allocation really meets the
   target with the margin. The prediction only steers; every accepted profile passed a real run.

That takes ``layers + ~10`` network runs instead of the several hundred of a per-layer binary
search followed by a greedy trim, which is what lets profiling use tens of photos. Several
targets are searched together, strictest first; a looser target starts from the stricter
target's result as its upper bound, so a "99" profile is never wider than the "100" one. A
target the network misses even with every layer at full ``A``-bit precision is an error.

The final profile is then measured on *held-out* photos (:func:`.images.photos`
``("heldout")``) that share none with the profiling photos (:func:`judge`): the fidelity, the
verdict, the worst photo and how close it came, and how many layers saturate on them.

Runs go through :class:`.runs.Runner` (Dask workers when a client is given) and the run cache
(:mod:`.cache`), so searching again with other levers reruns only what changed.

JSON format (``format: dstripes-profile/1``)
--------------------------------------------
``network``, ``target``, ``criterion``, ``threshold``, ``act_bits``, ``input`` (``size``,
``preprocess``), ``images`` (names of the profiling and held-out photos), ``fidelity``
(``profile``, ``profile_images``, ``profile_pass``, ``heldout``, ``heldout_images``,
``heldout_pass``, ``heldout_worst``, ``heldout_saturated_layers``, ``heldout_saturation_max``,
``*_accuracy`` with labels), ``search`` (levers and search figures), ``command``, ``seconds`` and
``layers``: one object per layer in execution order with ``name``, ``msb``, ``lsb``, ``signed``,
``scale``, ``bits``, ``max`` (observed largest magnitude), ``headroom`` (bits) and
``solo_bits`` (predicted precision of the layer alone).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
import json
import math
import os
import time

import numpy as np

from ..files import write_atomic
from ..config import check_width
from ..errors import ConfigError
from ..fixed import Window
from ..frozen import FrozenMap
from ..table import against
from .images import take
from .headroom import DEFAULT_HEADROOM, DEFAULT_MARGIN_DB, headroom_bits
from .fidelity import (TARGETS, UNITS, allowed_failures, check_target, energy, image_scores, meets, passes,
                       summarise, threshold, ties)
from .models import BUILTIN, TEXT_BUILTIN
from .network import Network, Quant
from .qdq import TARGET as MODEL_TARGET, model_widths
from .runs import Runner, as_photos
from .texts import sentences
from .transformer import TextNetwork

FORMAT = "dstripes-profile/1"


@dataclass(frozen=True)
class LayerProfile:
    """The profiled quantisation of one layer's input.

    Parameters
    ----------
    name : str
        The layer.
    quant : Quant
        Its window and scale.
    max : float
        The largest magnitude observed on the profiling photos.
    solo_bits : int
        Predicted precision of the layer alone (the others in float).
    headroom : float
        Bits of room above ``max`` in the scale.
    """

    name: str
    quant: Quant
    max: float = 0.0
    solo_bits: int = 0
    headroom: float = 0.0

    # read-only views of the quantisation, as the profile file names them
    window = property(lambda self: self.quant.window)
    scale = property(lambda self: self.quant.scale)
    msb = property(lambda self: self.window.msb)
    lsb = property(lambda self: self.window.lsb)
    signed = property(lambda self: self.window.signed)
    bits = property(lambda self: self.window.bits)

    def check_fits(self, act_bits: int) -> None:
        """Refuse ``act_bits``-bit activations too narrow for this layer's window."""
        if self.msb + 1 > act_bits:
            raise ConfigError(f"layer {self.name}: profiled window [{self.msb}:{self.lsb}] needs "
                              f"{self.msb + 1}-bit activations, more than act_bits {act_bits}")

    def as_dict(self) -> dict:
        return {"name": self.name, "msb": self.msb, "lsb": self.lsb, "signed": self.signed, "scale": self.scale,
                "max": self.max, "solo_bits": self.solo_bits, "headroom": self.headroom, "bits": self.bits}


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
    search: dict = field(default_factory=dict)

    @property
    def from_model(self) -> bool:
        """Whether the windows are an int8 model's own codes (:func:`model_profile`), not searched."""
        return self.command == MODEL_COMMAND

    def layer(self, name: str) -> LayerProfile:
        for l in self.layers:
            if l.name == name:
                return l
        raise ConfigError(f"profile of {self.network} has no layer {name!r}")

    def quant(self) -> FrozenMap[str, Quant]:
        """Every layer's quantisation, by layer name."""
        return FrozenMap((l.name, l.quant) for l in self.layers)

    def check_network(self, net: Network) -> None:
        """Raise unless this profile names exactly the network's layers."""
        mine = [l.name for l in self.layers]
        theirs = net.layer_names()
        count = f"(the profile has {len(mine)} layers, network {net.name} {len(theirs)})"
        missing = [n for n in theirs if n not in mine]
        if missing:
            raise ConfigError(f"profile of {self.network} has no layer {missing[0]!r} of network {net.name} {count}")
        extra = [n for n in mine if n not in theirs]
        if extra:
            raise ConfigError(f"profile layer {extra[0]!r} is not a layer of network {net.name} {count}")
        if len(mine) != len(theirs):
            dup = next(n for n in mine if mine.count(n) > 1)
            raise ConfigError(f"profile of {self.network} lists layer {dup!r} twice {count}")

    def as_dict(self) -> dict:
        return {"format": FORMAT, "network": self.network, "target": self.target,
                "criterion": self.criterion, "threshold": self.threshold, "act_bits": self.act_bits,
                "input": self.input, "images": self.images, "fidelity": self.fidelity,
                "search": self.search, "command": self.command, "seconds": round(self.seconds, 1),
                "layers": [l.as_dict() for l in self.layers]}

    def save(self, path: str) -> None:
        """Write the JSON file (through a temporary name: never a truncated profile)."""
        write_atomic(path, json.dumps(self.as_dict(), indent=1, default=float) + "\n")

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
                name, scale = str(l["name"]), float(l["scale"])
                if not scale > 0:
                    raise ConfigError(f"profile {path}: layer {name} has scale {scale}, not positive")
                window = Window(int(l["msb"]), int(l["lsb"]), bool(l["signed"]))
                layers.append(LayerProfile(name, Quant(scale, window), float(l.get("max", 0.0)),
                                           int(l.get("solo_bits", 0)), float(l.get("headroom", 0.0))))
            if not layers:
                raise ConfigError(f"profile {path} has no layers")
            return cls(str(d["network"]), str(d["target"]), str(d["criterion"]), float(d["threshold"]),
                       int(d["act_bits"]), layers, d.get("input", {}), d.get("images", {}),
                       d.get("fidelity", {}), d.get("command", ""), float(d.get("seconds", 0.0)),
                       d.get("search", {}))
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"profile {path} is malformed ({type(e).__name__}: {e})") from None


#: The ``command`` of a profile of a model's own codes (:func:`model_profile`).
MODEL_COMMAND = "codes of the int8 model itself"


def model_profile(net) -> Profile:
    """The profile of an int8 QDQ network's own codes (:class:`ModelCodes` for every layer;
    ``act_bits``: the widest window)."""
    quants = net.model_codes()
    layers = [LayerProfile(name, q) for name, q in quants.items()]
    return Profile(net.name, MODEL_TARGET, net.criterion, 0.0, model_widths(quants.values())["act_bits"],
                   layers, command=MODEL_COMMAND)


def container_scale(maxabs: float, signed: bool, act_bits: int) -> float:
    """Scale putting the container's top bit at the observed maximum (a power of two)."""
    if not maxabs > 0:
        return 1.0
    m = math.ceil(math.log2(maxabs))
    return float(2.0 ** (m - act_bits + (1 if signed else 0)))


@dataclass(frozen=True)
class LayerStats:
    """What profiling observed of one layer's input on the profiling photos.

    Members
    -------
    max : float
        The largest magnitude.
    signed : bool
        Whether any value was negative (a signed window).
    scale : float
        The container's scale (:func:`container_scale`, with the headroom).
    headroom : float
        Bits of room above ``max`` in ``scale``.
    """

    max: float
    signed: bool
    scale: float
    headroom: float = 0.0

    @property
    def min_bits(self) -> int:
        """The smallest precision of the window (a signed one keeps its sign bit)."""
        return 2 if self.signed else 1


def quant_at(stats: LayerStats, bits: int, act_bits: int) -> Quant:
    """Quantisation of a layer with ``stats`` at precision ``bits``."""
    msb = act_bits - 1
    return Quant(stats.scale, Window(msb, msb - bits + 1, stats.signed))


def layer_stats(acts: dict, act_bits: int, headroom: float = 0.0) -> FrozenMap[str, LayerStats]:
    """The statistics of captured float inputs ``name -> (N, ...)`` by layer name, ``headroom``
    bits above each maximum."""
    out = {}
    for name, a in acts.items():
        lo, hi = float(a.min()), float(a.max())
        signed = lo < 0
        maxabs = max(abs(lo), abs(hi))
        out[name] = LayerStats(maxabs, signed, container_scale(maxabs * 2.0 ** headroom, signed, act_bits),
                               float(headroom))
    return FrozenMap(out)


PROBE_BITS = 8  # precision of the single-layer sensitivity runs
PROBE_IMAGES = 16  # profiling photos the sensitivity runs use (verification uses all)


class _Search:
    """The bit allocation of one network on one profiling set (see the module docstring)."""

    def __init__(self, runner, photos, refs, stats, names, macs, criterion, act_bits, margin_db, probe_images):
        self.runner, self.photos, self.refs, self.stats = runner, photos, refs, stats
        self.names, self.criterion, self.act_bits, self.margin = names, criterion, act_bits, margin_db
        self.w = np.array([float(macs[n]) for n in names])
        self.floor = np.array([stats[n].min_bits for n in names])
        self.probe = np.array([max(f, min(PROBE_BITS, act_bits)) for f in self.floor])
        self.memo: dict = {}
        self.probe_photos = photos[:probe_images]

    def quant_of(self, name: str, bits: int) -> Quant:
        """Layer ``name`` quantised at precision ``bits``."""
        return quant_at(self.stats[name], bits, self.act_bits)

    def quant(self, bits) -> FrozenMap[str, Quant]:
        """The quantisation of the allocation ``bits`` (in layer order), by layer name."""
        return FrozenMap((n, self.quant_of(n, int(b))) for n, b in zip(self.names, bits))

    def rows(self, bits_list, desc="verify") -> list:
        """:func:`.fidelity.measure` rows of the profiling photos for each bit allocation."""
        todo = [tuple(int(x) for x in b) for b in bits_list]
        need = [b for b in dict.fromkeys(todo) if b not in self.memo]
        if need:
            for b, m in zip(need, self.runner.measure(self.photos, [self.quant(b) for b in need], self.refs,
                                                      desc=desc)):
                self.memo[b] = m
        return [self.memo[b] for b in todo]

    def ok(self, bits, target) -> bool:
        full = self.rows([np.full(len(self.names), self.act_bits)])[0]
        return meets(self.criterion, target, self.rows([bits])[0], self.margin, full)

    def sensitivity(self, desc) -> list:
        """:func:`.fidelity.measure` rows of each layer alone at its probe precision, on the
        first :data:`PROBE_IMAGES` profiling photos."""
        quants = [self.quant(b) for b in self.probes()]
        return self.runner.measure(self.probe_photos, quants, self.refs, desc=desc)

    def probes(self) -> list:
        """One allocation per layer: that layer at its probe precision, the others at full."""
        out = []
        for i in range(len(self.names)):
            b = np.full(len(self.names), self.act_bits)
            b[i] = self.probe[i]
            out.append(b)
        return out

    def allocate(self, E: np.ndarray, target, scale: float, cap: np.ndarray) -> np.ndarray:
        """Fewest MAC-weighted bits (Stripes cycles) whose predicted energy
        ``sum_l E_l 4**(probe_l - p_l)`` stays within ``scale`` on every image but the allowed
        failures. Greedy: take a bit from the layer that saves the most cycles per unit of
        worst-image energy, while one can be taken."""
        k = allowed_failures(self.criterion, target, E.shape[1])
        p = cap.astype(np.int64).copy()
        contrib = E * 4.0 ** (self.probe - p)[:, None]
        tot = contrib.sum(0)

        def worst(v):
            return np.partition(v, -(k + 1), axis=-1)[..., -(k + 1)]
        while True:
            movable = p > self.floor
            if not movable.any():
                break
            new = tot[None, :] + 3 * contrib
            wv = worst(new)
            feas = movable & (wv <= scale)
            if not feas.any():
                break
            inc = np.maximum(wv - worst(tot), 1e-300)
            l = int(np.argmax(np.where(feas, self.w / inc, -1)))
            tot = new[l]
            contrib[l] *= 4
            p[l] -= 1
        return p

    def solve(self, E, target, cap, refine: int = 4) -> tuple[np.ndarray, float]:
        """Search the energy scale (factors of 4, then bisection in log space) with real runs on
        the profiling photos; returns the passing allocation of the largest passing scale."""
        tried = {}

        def check(scale):
            b = self.allocate(E, target, scale, cap)
            tried[scale] = (self.ok(b, target), b)
            return tried[scale][0]
        lo = hi = None  # largest passing scale, smallest failing scale
        scale = 1.0
        for _ in range(14):
            if check(scale):
                lo = scale
                if hi is not None or scale >= 256:
                    break
                scale *= 4
            else:
                hi = scale
                if lo is not None or scale < 4.0 ** -12:
                    break
                scale /= 4
        if lo is None:
            return cap.copy(), 0.0
        for _ in range(refine):
            if hi is None or hi / lo < 1.4:
                break
            mid = math.sqrt(lo * hi)
            if tuple(self.allocate(E, target, mid, cap)) == tuple(tried[lo][1]):
                tried[mid] = tried[lo]
                lo = mid
            elif check(mid):
                lo = mid
            else:
                hi = mid
        return tried[lo][1], lo

    def solo(self, E, target, scale) -> np.ndarray:
        """Predicted smallest precision of each layer alone (the others in float) within ``scale``."""
        k = allowed_failures(self.criterion, target, E.shape[1])
        out = []
        for i in range(len(self.names)):
            e = np.sort(E[i])[-(k + 1)]
            p = int(self.floor[i])
            while p < self.act_bits and e * 4.0 ** (self.probe[i] - p) > scale:
                p += 1
            out.append(p)
        return np.array(out)


def profile_network(net: Network, images, targets=("100",), heldout=None, act_bits: int = 16,
                    progress: bool = True, command: str = "", *, client=None, cache=None,
                    headroom=DEFAULT_HEADROOM, margin_db: float | None = None,
                    labels: dict | None = None, probe_images: int = PROBE_IMAGES,
                    widen: int = 0) -> FrozenMap[str, Profile]:
    """Profile ``net`` on ``images`` for each of ``targets``; returns the profiles by target.

    Parameters
    ----------
    net : Network
    images : list of :class:`.images.Photo` or (name, RGB uint8 array)
        Profiling photos (augmented copies allowed).
    targets : sequence of ``"100"`` / ``"99"``
        Searched strictest first; a looser target never gets more bits than a stricter one.
    heldout : list of photos, optional
        Photos, disjoint from ``images``, on which the final profile's fidelity is measured
        (:func:`judge`).
    act_bits : int
        Activation container width ``A``.
    client : dask.distributed.Client, optional
        Runs the network on its workers (:mod:`.runs`); default: in this process.
    cache : :class:`.cache.RunCache`, optional
        Default: the user's run cache.
    headroom : float or ``"auto"``
        Bits of room above the largest input value seen on the profiling photos
        (:func:`headroom_bits`).
    margin_db : float, optional
        The search requires the target with this much error energy to spare
        (:func:`.fidelity.meets`); held-out fidelity is judged without it. Default:
        :data:`DEFAULT_MARGIN_DB` of the network's criterion.
    labels : dict, optional
        ``photo name -> ImageNet class``: top-1 accuracy of the float and the quantised network.
    probe_images : int
        Profiling photos of the single-layer sensitivity runs (the first ones; every allocation
        is then verified on all profiling photos).
    widen : int
        Integer bits added to every layer *after* the search, at the same step (``scale``
        doubles and the precision grows by one per bit): outputs on the profiling photos do
        not change (no profiling value reached the old top), held-out photos get that much
        more room before they saturate. Cheaper than searching again with more headroom.
    """

    t0 = time.time()
    if getattr(net, "int8", False):
        raise ConfigError(f"{net.name} is an int8 QDQ model: its layers' codes are the model's own, with no "
                          f"precision profile to search (dstripes evaluate and verify run it on those codes; "
                          f"profile, explore and --chip take float models)")
    targets = sorted({check_target(t) for t in targets}, key=lambda t: -float(t))  # strict first
    check_width("act_bits", act_bits)
    photos = as_photos(images)
    if not photos:
        raise ConfigError("profiling needs at least one image")
    held = as_photos(heldout or [])
    same = {p.key for p in photos} & {p.key for p in held}
    if same:
        raise ConfigError(f"held-out photos must not be profiling photos: {len(same)} photos are both")
    if margin_db is None:
        margin_db = DEFAULT_MARGIN_DB[net.criterion]
    energy(net.criterion, targets[0], np.zeros((0, 5)), margin_db)  # validates the margin
    headroom_bits(np.ones((2, 1)), headroom)  # validates the headroom
    runner = Runner(net, client=client, cache=cache, progress=progress)
    names = net.layer_names()
    macs = {l.name: l.macs for l in net.layers()}

    caps = runner.capture(photos, desc=f"profile {net.name}: capture")
    keys = [p.key for p in photos]
    refs = {k: caps[k].output for k in keys}
    maxima = np.array([caps[k].max for k in keys])
    minima = np.array([caps[k].min for k in keys])
    room = headroom_bits(maxima, headroom)
    stats = {}
    for i, n in enumerate(names):
        signed = bool(minima[:, i].min() < 0)
        mx = float(maxima[:, i].max())
        stats[n] = LayerStats(mx, signed, container_scale(mx * 2.0 ** room[i], signed, act_bits), float(room[i]))
    if not isinstance(widen, int) or isinstance(widen, bool) or not 0 <= widen <= 8:
        raise ConfigError(f"widen must be an integer number of bits from 0 to 8, not {widen!r}")
    search = _Search(runner, photos, refs, stats, names, macs, net.criterion, act_bits, margin_db,
                     max(1, int(probe_images)))
    wide = _Search(runner, photos, refs, {n: replace(v, scale=v.scale * 2.0 ** widen) for n, v in stats.items()},
                   names, macs, net.criterion, act_bits, margin_db, 1) if widen else search
    full = np.full(len(names), act_bits)
    at_full = search.rows([full], desc=f"profile {net.name}: full precision")[0]
    if not meets(net.criterion, targets[-1], at_full):
        f = summarise(net.criterion, image_scores(net.criterion, at_full))
        need = threshold(net.criterion, targets[-1])
        raise ConfigError(f"target {targets[-1]} ({net.criterion} >= {need:g}) cannot be met even at full "
                          f"{act_bits}-bit precision: {net.name} reaches {against(f, need)} on the profiling photos")
    rows = search.sensitivity(f"profile {net.name}: sensitivity")
    out = {}
    cap = full
    for t in targets:
        if not meets(net.criterion, t, at_full, margin_db, at_full):
            raise ConfigError(f"target {t} with a {margin_db:g} dB margin cannot be met even at full "
                              f"{act_bits}-bit precision on the profiling photos of {net.name}; "
                              f"use a smaller margin")
        E = np.array([energy(net.criterion, t, m, margin_db) for m in rows])
        bits, scale = search.solve(E, t, cap)
        cap = bits
        if widen:
            bits = np.minimum(bits + int(widen), act_bits)
        solo = search.solo(E, t, scale) + widen
        sc = image_scores(net.criterion, wide.rows([bits], desc=f"profile {net.name}: verify")[0])
        value = summarise(net.criterion, sc)
        lp = [LayerProfile(n, wide.quant_of(n, int(bits[i])), stats[n].max, int(min(solo[i], bits[i])),
                           round(stats[n].headroom + widen, 3))
              for i, n in enumerate(names)]
        fid = {"profile": value, "profile_images": len(photos), "unit": UNITS[net.criterion],
               "profile_pass": passes(net.criterion, t, value, len(photos)), "runs": runner.runs}
        out[t] = Profile(net.name, t, net.criterion, threshold(net.criterion, t), act_bits, lp,
                         input={"size": net.size, "preprocess": net.preprocess},
                         images={"profile": [p.name for p in photos]}, fidelity=fid, command=command,
                         search={"method": "sensitivity allocation verified on the profiling photos",
                                 "headroom": headroom, "widen": widen, "margin_db": margin_db,
                                 "probe_bits": PROBE_BITS,
                                 "probe_images": len(search.probe_photos),
                                 "energy_scale": scale,
                                 "mean_bits_mac_weighted": float((search.w * bits).sum() / search.w.sum())})
        if not fid["profile_pass"]:  # widening at the same step cannot lose fidelity; say so if it did
            raise ConfigError(f"{net.name}: the widened profile misses target {t} on its profiling photos")
    if held:
        judge(net, out, held, runner, labels=labels, profile_photos=photos, profile_refs=refs)
    for p in out.values():
        p.seconds = time.time() - t0
    return FrozenMap(out)


def judge(net, profiles: dict, heldout, runner=None, labels=None, profile_photos=None, profile_refs=None,
          client=None, cache=None, progress=True) -> None:
    """Measure each profile on held-out photos and record it in ``profile.fidelity``: the
    criterion, whether it meets the target, the worst photo and how close it came, and how many
    layers' inputs exceed their window on those photos (saturation). With ``labels``, top-1
    accuracy of the float and the quantised network on the labelled photos of both sets."""
    runner = runner or Runner(net, client=client, cache=cache, progress=progress)
    held = as_photos(heldout)
    caps = runner.capture(held, desc=f"{net.name}: held-out capture")
    keys = [p.key for p in held]
    refs = {k: caps[k].output for k in keys}
    maxima = np.array([caps[k].max for k in keys])
    names = net.layer_names()
    crit = net.criterion
    plist = list(profiles.values())
    rows = runner.measure(held, [p.quant() for p in plist], refs, desc=f"{net.name}: held-out runs")
    if crit == "top1":  # near ties: photos full fixed-point precision cannot decide
        full = FrozenMap((n, Quant(l.scale, Window(l.msb, 0, l.signed))) for n, l in zip(names, plist[0].layers))
        tie = ties(crit, runner.measure(held, [full], refs, desc=f"{net.name}: held-out ties")[0])
    else:
        tie = np.zeros(len(held), dtype=bool)
    for p, m in zip(plist, rows):
        sc = image_scores(crit, m)
        value = summarise(crit, sc[~tie])
        if crit == "top1":  # the photo whose class came closest to changing (or changed)
            worst = int(np.argmin(np.where(tie, np.inf, m[:, 2])))
            wv, unit, limit = float(m[worst, 2]), "top-1 margin (share of the float lead kept)", 0.0
        else:
            worst = int(np.argmin(sc))
            wv, unit, limit = float(sc[worst]), UNITS[crit], p.threshold
        top = np.array([l.window.hi * l.scale for l in p.layers])
        over = (maxima / top[None, :]).max(0)
        p.images["heldout"] = [x.name for x in held]
        p.fidelity.update({
            "heldout": value, "heldout_images": len(held),
            "heldout_pass": passes(crit, p.target, value, int((~tie).sum())),
            "heldout_worst": {"photo": held[worst].name, "value": wv, "measure": unit, "limit": limit},
            "heldout_saturated_layers": int((over > 1).sum()),
            "heldout_saturation_max": float(over.max())})
        if crit == "top1":
            p.fidelity["heldout_ties"] = [held[i].name for i in np.flatnonzero(tie)]
            p.fidelity["heldout_with_ties"] = summarise(crit, sc)
        if labels:
            acc = Accuracy.of(labels, held, refs, m)
            if acc:
                p.fidelity["heldout_accuracy"] = acc.as_dict()
    if labels and profile_photos:
        for p, m in zip(plist, runner.measure(profile_photos, [p.quant() for p in plist], profile_refs)):
            acc = Accuracy.of(labels, profile_photos, profile_refs, m)
            if acc:
                p.fidelity["profile_accuracy"] = acc.as_dict()


@dataclass(frozen=True)
class Accuracy:
    """Top-1 accuracy of the float and the quantised network on ``photos`` labelled photos."""

    photos: int
    float_top1: float
    quantised_top1: float

    @classmethod
    def of(cls, labels: dict, photos, refs: dict, m: np.ndarray) -> "Accuracy | None":
        """The accuracy on the labelled ``photos`` (``labels``: photo name -> class, or the
        photo's own label) of the float outputs ``refs`` (by photo key) and of the quantised run
        whose :func:`.fidelity.measure` rows are ``m``; ``None`` when no photo is labelled."""
        idx = [i for i, p in enumerate(photos) if p.name in labels or p.label is not None]
        if not idx:
            return None
        truth = np.array([labels.get(photos[i].name, photos[i].label) for i in idx])
        flt = np.array([int(np.argmax(refs[photos[i].key])) for i in idx])
        qnt = m[idx, 4].astype(int)
        return cls(len(idx), float((flt == truth).mean()), float((qnt == truth).mean()))

    def as_dict(self) -> dict:
        """The profile file's form: ``photos``, ``float``, ``quantised``."""
        return {"photos": self.photos, "float": self.float_top1, "quantised": self.quantised_top1}


def builtin_profile_path(network: str, target="100") -> str:
    """Where the shipped profile of a built-in network lives (``sim/data/profiles``)."""
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "profiles",
                        f"{network}-{check_target(target)}.json")


#: Photos a network is profiled on when nothing says otherwise (:func:`network_profile`).
PROFILE_PHOTOS = 16


def network_profile(net: Network, model: str, target: str = "100", path: str | None = None, *,
                    photos=None, progress: bool = True, note=None) -> Profile:
    """The profile to evaluate ``net`` (called ``model`` by the user) with: the file ``path``;
    else the shipped profile of a built-in network at the network's input size; else a fresh
    profile for ``target`` on ``photos`` (default: the first :data:`PROFILE_PHOTOS` of the
    shipped profiling split; ``note`` says so)."""
    if path:
        return Profile.load(path)
    builtin = BUILTIN + TEXT_BUILTIN
    if model in builtin and os.path.isfile(builtin_profile_path(model, target)):
        prof = Profile.load(builtin_profile_path(model, target))
        if prof.input.get("size") == net.size:
            return prof
    if photos is None:
        photos = sentences("profile")[:PROFILE_PHOTOS] if isinstance(net, TextNetwork) else take("profile", PROFILE_PHOTOS)
    if note is not None:
        why = (f"no shipped profile at size {net.size}" if model in builtin else
               "no profile given (only the built-in networks ship profiles)")
        note(f"{net.name}: {why}: profiling on {len(photos)} photos first")
    return profile_network(net, photos, targets=(target,), progress=progress)[target]


__all__ = ["LayerProfile", "Profile", "profile_network", "container_scale", "builtin_profile_path",
           "network_profile", "TARGETS"]
