"""Cycles of a real network on real photos under DaDN, Stripes and Dynamic Stripes variants.

For every photo, the network's float input activations of each layer are captured, quantised
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

Cycle counting runs in worker processes (``jobs``), overlapping the capture of the next images.
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, FIRST_COMPLETED, wait
from dataclasses import dataclass, field, replace
import multiprocessing
import os
import time

import numpy as np

from ..config import TileConfig
from ..cycles import LayerCycles, NetworkCycles, layer_cycles, speedups
from ..errors import ConfigError
from ..schemes import DADN, DSTRIPES, STRIPES
from .network import Network, Quant
from .profile import Profile


def variants(config: TileConfig) -> dict:
    """``key -> TileConfig`` of the evaluated Dynamic Stripes configurations."""
    out = {DSTRIPES.name: config}
    for trim in ("leading", "both"):
        for g in sorted({1, config.columns}):
            out[f"{trim}-g{g}"] = replace(config, trim=trim, group=g)
    return out


def merge(parts: list) -> LayerCycles:
    """One :class:`LayerCycles` summing several runs of the same layer and configuration."""
    first = parts[0]
    cycles = {k: sum(p.cycles[k] for p in parts) for k in first.cycles}
    return LayerCycles(first.layer, first.window, first.config, sum(p.images for p in parts), cycles,
                       np.sum([p.hist for p in parts], axis=0), sum(p.steps for p in parts), first.name)


def count_layer(acts: np.ndarray, layer, quant: Quant, configs: dict) -> dict:
    """``key -> LayerCycles`` of float inputs ``acts`` (N, C, H, W) quantised by ``quant``."""
    codes = quant.codes(acts)
    done = {}
    out = {}
    for key, cfg in configs.items():
        if cfg not in done:
            done[cfg] = layer_cycles(codes, layer, quant.window, cfg, name=layer.name)
        out[key] = done[cfg]
    return out


@dataclass
class Evaluation:
    """Per-layer cycle counts of one network for every configuration of :func:`variants`."""

    network: str
    source: str
    images: list
    config: TileConfig
    profile: Profile
    results: dict  # key -> list of LayerCycles in layer order
    seconds: dict = field(default_factory=dict)

    @property
    def keys(self) -> list:
        return list(self.results)

    def layers(self, key: str = DSTRIPES.name) -> list:
        return self.results[key]

    def network_cycles(self, key: str = DSTRIPES.name, conv_only: bool = False) -> NetworkCycles:
        ls = [l for l in self.results[key] if not (conv_only and l.layer.fc)]
        return NetworkCycles(self.network, ls)

    def totals(self, conv_only: bool = False) -> dict:
        """Cycles of every scheme summed over layers; variants as ``dstripes_<key>``."""
        t = self.network_cycles(DSTRIPES.name, conv_only).total()
        out = {k: (float(v) if k == "ideal" else int(v)) for k, v in t.items()}
        for key in self.keys:
            if key != DSTRIPES.name:
                out[f"dstripes_{key.replace('-', '_')}"] = int(self.network_cycles(key, conv_only).total()[DSTRIPES.name])
        return out

    def speedups(self, conv_only: bool = False) -> dict:
        t = self.totals(conv_only)
        s = speedups(t)
        for k, v in t.items():
            if k.startswith("dstripes_"):
                s[f"{k}_over_dadn"] = t[DADN.name] / v if v else float("inf")
                s[f"{k}_over_stripes"] = t[STRIPES.name] / v if v else float("inf")
        return s

    def as_dict(self) -> dict:
        layers = []
        for i, lc in enumerate(self.results[DSTRIPES.name]):
            d = lc.as_dict()
            d["scale"] = self.profile.layer(lc.name).scale
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
            "layers": layers,
            "total": self.totals(),
            "speedup": self.speedups(),
            "conv_only": {"total": self.totals(True), "speedup": self.speedups(True)},
            "speedup_mac_weighted": self.network_cycles().mac_weighted(),
            "seconds": self.seconds,
        }


def _pool(jobs: int):
    # fork: "spawn" would re-import the caller's __main__ (scripts, pytest). The workers only
    # run numpy; the onnxruntime/torch thread pools the parent holds are never used in them.
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"))


def check_act_bits(profile: Profile, act_bits: int) -> None:
    """A :class:`ConfigError` naming the first layer whose profiled window does not fit
    ``act_bits``-bit activations."""
    if profile.act_bits > act_bits:
        for l in profile.layers:
            if l.msb + 1 > act_bits:
                raise ConfigError(f"layer {l.name}: profiled window [{l.msb}:{l.lsb}] needs "
                                  f"{l.msb + 1}-bit activations, more than act_bits {act_bits}")


def evaluate_network(net: Network, profile: Profile, images, config: TileConfig = TileConfig(),
                     jobs: int | None = None, batch: int = 4, progress: bool = True,
                     configs: dict | None = None, executor=None) -> Evaluation:
    """Count the cycles of ``net`` on ``images`` with the windows of ``profile``.

    Parameters
    ----------
    net : Network
    profile : Profile
        Must name exactly the network's layers.
    images : list of (name, RGB uint8 array)
    config : TileConfig
        The user's configuration (``dstripes``); the standard variants use its other fields.
    jobs : int, optional
        Worker processes counting cycles (default: CPU count; ``0`` counts in this process).
    batch : int
        Photos captured per forward pass.
    configs : dict, optional
        ``key -> TileConfig`` to count instead of :func:`variants` (e.g. the points of a design
        sweep, all counted on one capture of the photos). :meth:`Evaluation.totals` and
        :meth:`Evaluation.as_dict` need the key ``dstripes`` among them.
    executor : concurrent.futures.Executor, optional
        Count on this executor (e.g. a Dask client's, ``client.get_executor()``) instead of
        ``jobs`` local worker processes; it is left running.
    """
    from tqdm import tqdm

    if not images:
        raise ConfigError("evaluation needs at least one image")
    if jobs is None:
        jobs = os.cpu_count() or 1
    if not isinstance(jobs, int) or jobs < 0:
        raise ConfigError(f"jobs must be a non-negative integer, not {jobs!r}")
    if not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"batch must be a positive integer, not {batch!r}")
    profile.check_network(net)
    for c in [config] + list((configs or {}).values()):
        check_act_bits(profile, c.act_bits)
    layers = net.layers()
    quant = profile.quant()
    if configs is None:
        configs = variants(config)
    elif not configs or not all(isinstance(c, TileConfig) for c in configs.values()):
        raise ConfigError("configs must map names to at least one TileConfig")
    t0 = time.time()
    parts = {l.name: [] for l in layers}
    chunks = [images[i:i + batch] for i in range(0, len(images), batch)]
    bar = tqdm(total=len(chunks) * len(layers), desc=f"evaluate {net.name}", unit="layer",
               disable=not progress)
    capture_s = 0.0
    pool = executor if executor is not None else (_pool(jobs) if jobs else None)
    pending = set()
    try:
        for chunk in chunks:
            t = time.time()
            acts = net.forward(net.prepare([im for _, im in chunk]), capture=True).acts
            capture_s += time.time() - t
            for layer in layers:
                a = acts.pop(layer.name)
                if pool is None:
                    parts[layer.name].append(count_layer(a, layer, quant[layer.name], configs))
                    bar.update()
                else:
                    fut = pool.submit(count_layer, a, layer, quant[layer.name], configs)
                    fut.layer_name = layer.name
                    pending.add(fut)
            # keep at most about two batches in flight so memory stays bounded
            while pool is not None and len(pending) > 2 * len(layers):
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    parts[f.layer_name].append(f.result())
                    bar.update()
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                parts[f.layer_name].append(f.result())
                bar.update()
    finally:
        if pool is not None and executor is None:
            pool.shutdown(cancel_futures=True)
        elif pool is not None:
            for f in pending:
                f.cancel()
        bar.close()
    results = {key: [merge([p[key] for p in parts[l.name]]) for l in layers] for key in configs}
    total = time.time() - t0
    return Evaluation(net.name, getattr(net, "source", ""), [n for n, _ in images], config, profile,
                      results, {"capture": round(capture_s, 2), "total": round(total, 2)})
