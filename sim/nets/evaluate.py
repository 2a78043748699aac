"""Cycles of a real network on real photos under DaDN, Stripes and Dynamic Stripes variants.

For every photo (on Dask workers when a client is given: :mod:`.runs`), the network's float
input activations of each layer are captured, quantised
with the layer's profiled window (:class:`.profile.Profile`) and counted by the golden model
(:func:`sim.cycles.layer_cycles`) once per tile configuration:

* ``dstripes``: the configuration the user asked for (``TileConfig`` options);
* ``leading-g1``, ``leading-gN``, ``both-g1``, ``both-gN``: leading-one only or leading-one and
  trailing-zero detection, with precision groups of one column (16 activations) or of all
  ``N = columns`` columns — the standard comparison set. Leading-only lock-step counts do not
  depend on the group size (the slowest column sets the pace either way); their detected-
  precision histograms do.

DaDN, Stripes, the per-value ideal and the Pragmatic-style count come with every
configuration (the last two are bounds, see :mod:`sim.cycles`).

Each photo is counted on its own, so speedups are reported per photo too (min / median / max).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
import time

import numpy as np
from tqdm import tqdm

from ..checks import check_integer
from ..config import TileConfig
from ..cycles import Cycles, LayerCycles, NetworkCycles, Speedups, exact_counts, layer_cycles, ratio
from ..errors import ConfigError
from ..frozen import FrozenMap
from ..schemes import DADN, DSTRIPES, STRIPES
from ..tile_run import check_layer
from .cluster import run_tasks
from .int8_study import COMMANDS
from .network import Network, Quant
from .profile import Profile
from .qdq import ModelCodes, codes_dict
from .runs import Runner, as_photos, prepared, worker_net


def variants(config: TileConfig) -> FrozenMap[str, TileConfig]:
    """The evaluated Dynamic Stripes configurations by key: the user's ``config`` and the
    standard comparison set (module docstring)."""
    out = {DSTRIPES.name: config}
    for trim in ("leading", "both"):
        for g in sorted({1, config.columns}):
            out[f"{trim}-g{g}"] = replace(config, trim=trim, group=g)
    return FrozenMap(out)


def merge(parts: list) -> LayerCycles:
    """One :class:`LayerCycles` summing several runs of the same layer and configuration."""
    first = parts[0]
    return LayerCycles(first.layer, first.window, first.config, sum(p.images for p in parts),
                       Cycles.sum(p.cycles for p in parts),
                       exact_counts(sum(int(p.hist[b]) for p in parts) for b in range(len(first.hist))),
                       sum(p.steps for p in parts), first.name)


#: The key of the count of a model's raw codes ``q`` (a layer whose zero point is not 0): what
#: the zero point costs, :attr:`Evaluation.raw_codes`.
RAW_KEY = "raw-q"


def count_layer(acts: np.ndarray, layer, quant: Quant, configs) -> FrozenMap[str, LayerCycles]:
    """The counts of float inputs ``acts`` (N, C, H, W) quantised by ``quant``, by the keys of
    ``configs`` (``key -> TileConfig``; equal configurations are counted once). A model's own
    codes (:class:`.qdq.ModelCodes`) with a non-zero zero point add :data:`RAW_KEY`: the raw codes
    ``q`` counted on the first configuration, in the window of their integer type."""
    codes = quant.codes(acts)
    done = {}
    out = {}
    for key, cfg in configs.items():
        if cfg not in done:
            done[cfg] = layer_cycles(codes, layer, quant.window, cfg, name=layer.name)
        out[key] = done[cfg]
    if isinstance(quant, ModelCodes) and quant.zero_point:
        cfg = next(iter(configs.values()))
        out[RAW_KEY] = layer_cycles(quant.raw(codes), layer, quant.raw_window, cfg, name=layer.name)
    return FrozenMap(out)


#: The int8 study of a profile (:mod:`.int8_study`) by its command: ``tensor`` or ``token``.
STUDIES = {command: scales for scales, command in COMMANDS.items()}

#: The per-photo speedups, ``name -> (slower, faster)``.
PHOTO_RATIOS = {"dstripes_over_stripes": (STRIPES.name, DSTRIPES.name),
                "stripes_over_dadn": (DADN.name, STRIPES.name),
                "dstripes_over_dadn": (DADN.name, DSTRIPES.name)}


@dataclass(frozen=True)
class PhotoCycles:
    """DaDN, Stripes and Dynamic Stripes cycles of one photo (scheme name -> cycles), over all
    layers and over the conv layers only (empty for a network without any)."""

    photo: str
    all_layers: FrozenMap
    conv_layers: FrozenMap

    def part(self, conv_only: bool) -> FrozenMap:
        return self.conv_layers if conv_only else self.all_layers

    def as_dict(self) -> dict:
        return {"photo": self.photo, "all": dict(self.all_layers), "conv": dict(self.conv_layers)}


@dataclass(frozen=True)
class Spread:
    """One speedup across photos: its smallest, median and largest value, and the photos at the
    extremes."""

    min: float
    median: float
    max: float
    min_photo: str
    max_photo: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Evaluation:
    """Per-layer cycle counts of one network for every configuration of :func:`variants`.

    Members
    -------
    network, source : str
        The network's name and where its model comes from.
    images : tuple of str
        The evaluated photos' names.
    config : TileConfig
        The user's configuration (key ``dstripes``).
    profile : Profile
        The precision profile the inputs were quantised with.
    results : FrozenMap
        ``key -> tuple of LayerCycles`` in layer order, one key per counted configuration.
    seconds : FrozenMap
        ``total``: wall time of the evaluation.
    photos : tuple of PhotoCycles
        Each photo counted on its own (empty without the ``dstripes`` key).
    raw_codes : FrozenMap
        ``layer name -> LayerCycles`` of an int8 model's raw codes ``q`` for every layer whose
        zero point is not 0 (:data:`RAW_KEY`): the bits the zero point costs.
    """

    network: str
    source: str
    images: tuple
    config: TileConfig
    profile: Profile
    results: FrozenMap
    seconds: FrozenMap = field(default_factory=FrozenMap)
    photos: tuple = ()
    raw_codes: FrozenMap = field(default_factory=FrozenMap)

    def photo_speedups(self, conv_only: bool = False) -> FrozenMap[str, Spread]:
        """Min / median / max across photos of Dynamic Stripes over Stripes (and of each over
        DaDN), with the photos at the extremes (:data:`PHOTO_RATIOS`; empty without photos)."""
        rows = [(p.photo, p.part(conv_only)) for p in self.photos if p.part(conv_only)]
        if not rows:
            return FrozenMap()
        out = {}
        for name, (num, den) in PHOTO_RATIOS.items():
            v = np.array([t[num] / t[den] for _, t in rows])
            out[name] = Spread(float(v.min()), float(np.median(v)), float(v.max()),
                               rows[int(v.argmin())][0], rows[int(v.argmax())][0])
        return FrozenMap(out)

    @property
    def keys(self) -> list:
        return list(self.results)

    def layers(self, key: str = DSTRIPES.name) -> list:
        return self.results[key]

    def network_cycles(self, key: str = DSTRIPES.name, conv_only: bool = False) -> NetworkCycles:
        ls = [l for l in self.results[key] if not (conv_only and l.layer.fc)]
        return NetworkCycles(self.network, ls)

    def totals(self, conv_only: bool = False) -> Cycles:
        """Cycles of every scheme summed over layers (exact: integers, the ideal a fraction);
        variants as ``dstripes_<key>``."""
        out = dict(self.network_cycles(DSTRIPES.name, conv_only).total())
        for key in self.keys:
            if key != DSTRIPES.name:
                out[variant_name(key)] = int(self.network_cycles(key, conv_only).total()[DSTRIPES.name])
        return Cycles(out)

    def raw_totals(self, conv_only: bool = False) -> Cycles:
        """The totals of an int8 model run on its raw codes ``q`` (each product's zero-point term
        ``zp * sum(w)`` corrected apart, as 8-bit int8 hardware does): every layer with a non-zero
        zero point counted on :attr:`raw_codes` (its Stripes at the raw 8 bits: Stripes-8), the
        others as they are."""
        ls = [self.raw_codes.get(l.name, l) for l in self.results[DSTRIPES.name] if not (conv_only and l.layer.fc)]
        return NetworkCycles(self.network, ls).total()

    def speedups(self, conv_only: bool = False) -> Speedups:
        """The speedups of the totals (:meth:`.cycles.Cycles.speedups`) and of every variant over
        DaDN and over Stripes (``dstripes_<key>_over_dadn``, ``..._over_stripes``)."""
        t = self.totals(conv_only)
        s = dict(t.speedups())
        for k, v in t.items():
            if k.startswith("dstripes_"):
                s[f"{k}_over_dadn"] = ratio(t[DADN.name], v)
                s[f"{k}_over_stripes"] = ratio(t[STRIPES.name], v)
        return Speedups(s)

    def as_dict(self) -> dict:
        layers = []
        for i, lc in enumerate(self.results[DSTRIPES.name]):
            d = lc.as_dict()
            d["scale"] = self.profile.layer(lc.name).scale
            d["codes"] = codes_dict(self.profile.layer(lc.name).quant)
            raw = self.raw_codes.get(lc.name)
            if raw is not None:
                d["codes"]["zero_point_cost"] = zero_point_cost(lc, raw)
            d["fc"] = lc.layer.fc
            d["variants"] = {}
            for key in self.keys:
                if key == DSTRIPES.name:
                    continue
                v = self.results[key][i]
                d["variants"][key] = {"cycles": int(v.cycles[DSTRIPES.name]),
                                      "over_dadn": v.speedup(DADN.name, DSTRIPES.name),
                                      "over_stripes": v.speedup(STRIPES.name, DSTRIPES.name),
                                      "ideal": float(v.cycles["ideal"]),
                                      "group_precision_hist": [int(x) for x in v.hist]}
            layers.append(d)
        return {
            "network": self.network,
            "source": self.source,
            "images": len(self.images),
            "image_names": list(self.images),
            "config": self.config.as_dict(),
            "variants": {k: {"trim": c.trim, "group": c.group} for k, c in variants(self.config).items()},
            "profile": {"target": self.profile.target, "criterion": self.profile.criterion,
                        "threshold": self.profile.threshold, "fidelity": self.profile.fidelity,
                        "bits": [l.bits for l in self.profile.layers]},
            **({"int8_study": STUDIES[self.profile.command]} if self.profile.command in STUDIES else {}),
            "layers": layers,
            "total": self.totals().as_dict(),
            "speedup": self.speedups().as_dict(),
            "conv_only": {"total": self.totals(True).as_dict(), "speedup": self.speedups(True).as_dict()},
            "speedup_mac_weighted": self.network_cycles().mac_weighted().as_dict(),
            "speedup_per_photo": {"all": self.photo_speedups().as_dict(),
                                  "conv_only": self.photo_speedups(True).as_dict()},
            "photos": [p.as_dict() for p in self.photos],
            **({"raw_codes": {"layers": sorted(self.raw_codes), "total": self.raw_totals().as_dict(),
                              "speedup": self.raw_totals().speedups().as_dict(),
                              "dstripes_over_stripes_8": ratio(self.raw_totals()[STRIPES.name],
                                                               self.totals()[DSTRIPES.name]),
                              "conv_only": {"total": self.raw_totals(True).as_dict(),
                                            "speedup": self.raw_totals(True).speedups().as_dict(),
                                            "dstripes_over_stripes_8": ratio(self.raw_totals(True)[STRIPES.name],
                                                                             self.totals(True)[DSTRIPES.name])}}}
               if self.raw_codes else {}),
            "seconds": dict(self.seconds),
        }


def zero_point_cost(codes: LayerCycles, raw: LayerCycles) -> dict:
    """What a layer's zero point costs: the mean detected group precision and the Dynamic
    Stripes cycles of the codes ``q - zp`` the hardware sees against those of the raw codes
    ``q``, and the layer precision of each window."""
    return {"mean_bits": codes.mean_bits, "mean_bits_raw_q": raw.mean_bits,
            "extra_bits": codes.mean_bits - raw.mean_bits,
            "cycles": int(codes.cycles[DSTRIPES.name]), "cycles_raw_q": int(raw.cycles[DSTRIPES.name]),
            "precision": codes.window.bits, "precision_raw_q": raw.window.bits}


def variant_name(key: str) -> str:
    """How the totals and speedups name the Dynamic Stripes variant ``key``: ``dstripes_<key>``."""
    return f"dstripes_{key.replace('-', '_')}"


def count_photos(net, netkey: str, photos, quant: dict, configs: dict) -> list:
    """Per photo: ``layer name -> {key: LayerCycles}`` (one capture per photo chunk)."""
    acts = net.forward(prepared(net, netkey, photos), capture=True).acts
    out = [dict() for _ in photos]
    for layer in net.layers():
        a = acts.pop(layer.name)
        for i in range(len(photos)):
            out[i][layer.name] = count_layer(a[i:i + 1], layer, quant[layer.name], configs)
    return out


def _count_task(item):
    spec, netkey, photos, quant, configs = item
    return count_photos(worker_net(spec), netkey, photos, quant, configs)


def check_act_bits(profile: Profile, act_bits: int) -> None:
    """A :class:`ConfigError` naming the first layer whose profiled window does not fit
    ``act_bits``-bit activations."""
    if profile.act_bits > act_bits:
        for l in profile.layers:
            l.check_fits(act_bits)


def check_layers(layers, configs) -> None:
    """Refuse, before any run, a layer that does not fit a tile configuration (e.g. an attention
    head whose reduction exceeds the accumulators), naming the layer."""
    for layer in layers:
        for cfg in set(configs):
            try:
                check_layer(layer, cfg)
            except ConfigError as e:
                raise ConfigError(f"layer {layer.name} ({layer.describe()}): {e}") from None


def evaluate_network(net: Network, profile: Profile, images, config: TileConfig = TileConfig(), *,
                     client=None, progress: bool = True, chunk: int = 2,
                     configs: dict | None = None) -> Evaluation:
    """Count the cycles of ``net`` on ``images`` with the windows of ``profile``.

    Parameters
    ----------
    net : Network
    profile : Profile
        Must name exactly the network's layers.
    images : list of :class:`.images.Photo` or (name, RGB uint8 array)
    config : TileConfig
        The user's configuration (``dstripes``); the standard variants use its other fields.
    client : dask.distributed.Client, optional
        Captures and counts each chunk of ``chunk`` photos on a Dask worker (:mod:`.runs`);
        default: in this process.
    configs : dict, optional
        ``key -> TileConfig`` to count instead of :func:`variants` (e.g. the points of a design
        sweep, all counted on one capture of the photos). :meth:`Evaluation.totals` and
        :meth:`Evaluation.as_dict` need the key ``dstripes`` among them.
    """
    photos = as_photos(images)
    if not photos:
        raise ConfigError("evaluation needs at least one image")
    check_integer("chunk", chunk)
    profile.check_network(net)
    for c in [config] + list((configs or {}).values()):
        check_act_bits(profile, c.act_bits)
    layers = net.layers()
    quant = profile.quant()
    if configs is None:
        configs = variants(config)
    elif not configs or not all(isinstance(c, TileConfig) for c in configs.values()):
        raise ConfigError("configs must map names to at least one TileConfig")
    check_layers(layers, configs.values())
    t0 = time.time()
    runner = Runner(net, client=client, progress=progress)
    chunks = [photos[i:i + chunk] for i in range(0, len(photos), chunk)]
    per_photo = [None] * len(photos)
    if runner.client is not None:
        items = [(runner.spec, runner.netkey, c, quant, configs) for c in chunks]
        for i, res in run_tasks(runner.client, _count_task, items, desc=f"evaluate {net.name}", progress=progress):
            per_photo[i * chunk:i * chunk + len(res)] = res
    else:
        for i, c in enumerate(tqdm(chunks, desc=f"evaluate {net.name}", unit="chunk",
                                   disable=None if progress else True, leave=False)):
            per_photo[i * chunk:i * chunk + len(c)] = count_photos(net, runner.netkey, c, quant, configs)
    results = {key: tuple(merge([pp[l.name][key] for pp in per_photo]) for l in layers) for key in configs}
    raw = FrozenMap((l.name, merge([pp[l.name][RAW_KEY] for pp in per_photo])) for l in layers
                    if RAW_KEY in per_photo[0][l.name])
    photo_totals = []
    for p, pp in zip(photos, per_photo if DSTRIPES.name in configs else ()):
        parts = []
        for conv_only in (False, True):
            ls = [pp[l.name][DSTRIPES.name] for l in layers if not (conv_only and l.fc)]
            tot = NetworkCycles(net.name, ls).total() if ls else {}
            parts.append(FrozenMap((k, int(tot[k])) for k in (DADN.name, STRIPES.name, DSTRIPES.name) if ls))
        photo_totals.append(PhotoCycles(p.name, *parts))
    total = time.time() - t0
    return Evaluation(net.name, getattr(net, "source", ""), tuple(p.name for p in photos), config, profile,
                      FrozenMap(results), FrozenMap(total=round(total, 2)), tuple(photo_totals), raw)
