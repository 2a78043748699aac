"""Design-space exploration: speed on a real network against area of the generated hardware.

For every point of a sweep over tile parameters (e.g. ``group=1,4,16 run_ahead=0,1,2``), the
golden model counts the network's cycles on real photos (one capture of the photos for all
points, :func:`dstripes.sim.nets.evaluate.evaluate_network`) and yosys synthesises the Dynamic
Stripes tile of the point, the Stripes tile and the bit-parallel tile of its shape, block by
block (:mod:`dstripes.synth.tile`). Each point gets its speed-ups, its area, its logic depth and
its performance per area against Stripes, the bit-parallel tile and the lock-step Dynamic
Stripes tile of the same parameters; the Pareto front of speed-up against area is marked.

Work is done once: block syntheses are cached on disk by their Verilog text, the tools and the
libraries (:class:`dstripes.synth.cache.SynthCache`), so a point differing from another in one
block re-synthesises only that block and an interrupted sweep resumes where it stopped; the
model's counts are cached by everything they depend on (network, profile, photos,
configuration and the model's source code). The syntheses and the model's per-layer counts are
Dask tasks (:mod:`dstripes.sim.nets.cluster`): local worker processes by default, a cluster
with ``scheduler``.

Typical use::

    sweep = parse_sweep(["group=1,4,16", "run_ahead=0,1,2"])
    result = explore("vgg16-hed", sweep, images=4, out="out/explore")
    result["points"][result["best"]["perf_per_area"]]
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import json
import os
import time
import warnings
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.files import write_atomic
from dstripes.sim.schemes import DADN, DSTRIPES, STRIPES

from .cache import SynthCache

#: Parameters a sweep may vary: every field of the tile configuration.
SWEEP_KEYS = tuple(f.name for f in fields(TileConfig))
#: Kinds synthesised for each point: the point's own tile and the two references of its shape.
KINDS_PER_POINT = (DSTRIPES.name, STRIPES.name, DADN.name)


# ------------------------------------------------------------------------------------------
# the sweep
# ------------------------------------------------------------------------------------------

def parse_sweep(items) -> dict:
    """``["group=1,4,16", "run_ahead=0,1,2"]`` -> ``{"group": [1, 4, 16], "run_ahead": [0, 1, 2]}``.

    Values are converted to the type of the :class:`TileConfig` field. Unknown keys, repeated
    keys, empty value lists, malformed items and an empty sweep are :class:`ConfigError`\\ s.
    """
    if isinstance(items, str):
        items = items.split()
    items = list(items or [])
    if not items:
        raise ConfigError("the sweep is empty: give at least one KEY=V1,V2,... (e.g. run_ahead=0,1,2)")
    types = {f.name: f.type for f in fields(TileConfig)}
    default = TileConfig()
    out: dict = {}
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError(f"sweep item {item!r} is not KEY=V1,V2,...")
        key, _, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if key not in types:
            raise ConfigError(f"unknown sweep key {key!r} (keys: {', '.join(SWEEP_KEYS)})")
        if key in out:
            raise ConfigError(f"sweep key {key!r} is given twice")
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not values:
            raise ConfigError(f"sweep key {key!r} has no values")
        if isinstance(getattr(default, key), int):
            try:
                values = [int(v) for v in values]
            except ValueError:
                bad = next(v for v in values if not v.lstrip("-").isdigit())
                raise ConfigError(f"sweep value {key}={bad} is not an integer") from None
        if len(set(values)) != len(values):
            raise ConfigError(f"sweep key {key!r} repeats a value: {text}")
        out[key] = values
    return out


def _check_buildable(config: TileConfig, built: set) -> None:
    """Describe every tile of ``config`` not in ``built`` yet (its manifest: no component is
    built), so a value the generator rejects fails here, before any work."""
    from dstripes.hw.design import TileDesign
    from dstripes.hw.kinds import kind

    for name in KINDS_PER_POINT:
        key = (name, kind(name).own(config))
        if key in built:
            continue
        built.add(key)
        try:
            TileDesign.of(name, config).manifest
        except ConfigError:
            raise
        except (TypeError, ValueError) as e:
            raise ConfigError(f"the {name} tile rejects {describe(config)}: {e}") from None


def sweep_configs(sweep: dict, base: TileConfig = TileConfig()) -> list[TileConfig]:
    """The points of ``sweep`` (cartesian product, first key outermost) over ``base``, each
    validated by the configuration and the generator; points that build the same hardware and
    model (e.g. a weight selection in lock-step) are kept once."""
    from dstripes.hw.kinds import kind

    if not sweep:
        raise ConfigError("the sweep is empty: give at least one KEY=V1,V2,... (e.g. run_ahead=0,1,2)")
    keys = list(sweep)
    out, seen, built = [], set(), set()
    for values in itertools.product(*(sweep[k] for k in keys)):
        params = dict(zip(keys, values))
        try:
            cfg = replace(base, **params)
        except ConfigError as e:
            raise ConfigError(f"sweep point {_params_text(params)}: {e}") from None
        cfg = kind(DSTRIPES.name).own(cfg)   # e.g. no weight selection in lock-step
        if cfg in seen:
            continue
        seen.add(cfg)
        _check_buildable(cfg, built)
        out.append(cfg)
    return out


def _params_text(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


#: Short names of the parameters in labels.
SHORT = {"lanes": "L", "columns": "Nc", "rows": "Nr", "tiles": "T", "act_bits": "A", "weight_bits": "W",
         "group": "G", "trim": "trim", "run_ahead": "R", "weight_select": "sel", "max_reduction": "red"}


def short_label(params: dict, varying) -> str:
    """``G=1 R=2``: the parameters of a point that the sweep varies (a lock-step point has no
    weight selection)."""
    keys = [k for k in varying if not (k == "weight_select" and params.get("run_ahead") == 0)]
    return " ".join(f"{SHORT.get(k, k)}={params[k]}" for k in keys) or "(single point)"


def describe(config: TileConfig) -> str:
    """One line: the shape and the Dynamic Stripes parameters of ``config``."""
    s = (f"L={config.lanes} Nc={config.columns} Nr={config.rows} A={config.act_bits} "
         f"W={config.weight_bits} G={config.group} trim={config.trim} R={config.run_ahead}")
    return s + (f" select={config.weight_select}" if config.run_ahead else "")


def lockstep_of(config: TileConfig) -> TileConfig:
    """The lock-step Dynamic Stripes tile of the same parameters."""
    from dstripes.hw.kinds import kind

    return kind(DSTRIPES.name).own(replace(config, run_ahead=0))


def resolve_liberty(liberty):
    """``None``, or the liberty file ``liberty`` names (a built-in library such as ``sky130``, or
    a file), checked."""
    if liberty is None:
        return None
    from .flow import check_liberty
    from .liberty import BUILTIN, resolve_liberty as resolve

    if str(liberty) in BUILTIN:
        return str(liberty)  # each worker decompresses its own copy (a library is tens of MB)
    return str(check_liberty(resolve(liberty)))


def liberty_path(liberty) -> Path | None:
    """The file of a liberty :func:`resolve_liberty` returned."""
    from .liberty import resolve_liberty as resolve

    return None if liberty is None else resolve(liberty)


# ------------------------------------------------------------------------------------------
# areas: blocks emitted once, synthesised once (cache), on Dask
# ------------------------------------------------------------------------------------------

def _source_hash(package_dir: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(package_dir.rglob("*.py")):
        h.update(p.relative_to(package_dir).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _hw_version() -> str:
    """What the Verilog of a block depends on besides its configuration: the generator's
    source and the Amaranth version."""
    from importlib.metadata import version

    import dstripes.hw as hw

    return _source_hash(Path(hw.__file__).parent) + version("amaranth")


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (Amaranth's yosys runs as one)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _emit_task(job: tuple) -> tuple[list, float]:
    """One Dask task: the blocks of one tile, ``[{"name", "count", "part_of", "verilog"}]``, and
    the CPU seconds it took."""
    from dstripes.hw.design import TileDesign

    from .flow import to_verilog

    name, config = job
    t0 = _cpu_seconds()
    blocks = [{"name": b.name, "count": b.count, "part_of": b.part_of, "verilog": to_verilog(b.component, b.name)}
              for b in TileDesign.of(name, config).synth_blocks()]
    return blocks, _cpu_seconds() - t0


def _synth_task(job: tuple):
    """One Dask task: synthesise one block (the liberty travels as text, so the task runs on
    any worker of a cluster)."""
    import tempfile

    from .flow import synth_verilog

    name, verilog, liberty_text = job
    if liberty_text is None:
        return synth_verilog(verilog, name)
    from .liberty import BUILTIN

    if liberty_text in BUILTIN:  # a built-in library: the worker has it
        return synth_verilog(verilog, name, liberty=liberty_path(liberty_text))
    with tempfile.TemporaryDirectory(prefix="explore-lib-") as d:
        lib = Path(d) / "user.lib"
        lib.write_text(liberty_text)
        return synth_verilog(verilog, name, liberty=lib)


class _VerilogMemo:
    """The blocks' Verilog of each tile, remembered on disk (keyed by the generator's source,
    the Amaranth version, the tile kind and its configuration), so a warm sweep does not
    elaborate the hardware again."""

    def __init__(self, root: Path):
        self.root = root / "verilog"
        self.version = _hw_version()

    def _index(self, name: str, config: TileConfig) -> Path:
        key = json.dumps([self.version, name, config.as_dict()], sort_keys=True)
        return self.root / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def get(self, name: str, config: TileConfig) -> list | None:
        try:
            listed = json.loads(self._index(name, config).read_text())
            for b in listed:
                b["verilog"] = (self.root / b.pop("file")).read_text()
            return listed
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, name: str, config: TileConfig, blocks: list) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        index = []
        for b in blocks:
            file = f"{hashlib.sha256(b['verilog'].encode()).hexdigest()[:32]}.v"
            if not (self.root / file).exists():
                write_atomic(self.root / file, b["verilog"])
            index.append({**{k: v for k, v in b.items() if k != "verilog"}, "file": file})
        write_atomic(self._index(name, config), json.dumps(index))


class _Areas:
    """The tiles' areas, on Dask: each tile's blocks are emitted (or read from the memo) and
    every distinct block not in the synthesis cache is synthesised as soon as its Verilog is
    known; each result is stored in the cache as it arrives (an interrupted sweep resumes).
    Runs in a thread of its own, so the model's counts run on the same workers meanwhile."""

    def __init__(self, client, tiles, memo: _VerilogMemo, cache: SynthCache, liberty, progress: bool):
        import threading

        self.client, self.memo, self.cache, self.liberty = client, memo, cache, liberty
        from .liberty import BUILTIN

        self.lib_text = (None if liberty is None else liberty if liberty in BUILTIN
                         else Path(liberty).read_text())
        self.tiles = {tk: None for tk in tiles}   # (kind, own config) -> blocks with "key"
        self.areas: dict = {}                     # cache key -> BlockArea
        self.synthesised = 0
        self.submitted: set = set()
        self.cpu = {"emit": 0.0, "synthesis": 0.0}   # of the tasks run here (not the cached ones)
        self.error = None
        self.progress = progress
        self.thread = threading.Thread(target=self._run, name="areas", daemon=True)
        self.thread.start()

    def _run(self):
        from dask.distributed import as_completed
        from tqdm import tqdm

        bar = tqdm(total=0, desc="tiles and blocks", unit="task", disable=None if self.progress else True,
                   leave=False)
        try:
            pending = as_completed()
            what = {}
            for tk in self.tiles:
                blocks = self.memo.get(*tk)
                if blocks is not None:
                    self._listed(tk, blocks, pending, what, bar)
                else:
                    fut = self.client.submit(_emit_task, tk, pure=False, key=f"emit-{tk[0]}-{id(tk)}-{time.time_ns()}")
                    what[fut.key] = ("emit", tk)
                    pending.add(fut)
                    bar.total += 1
            for fut in pending:
                kind_, item = what.pop(fut.key)
                result = fut.result()
                if kind_ == "emit":
                    blocks, cpu = result
                    self.cpu["emit"] += cpu
                    self.memo.put(*item, blocks)
                    self._listed(item, blocks, pending, what, bar)
                else:
                    self.cache.put(item, result)
                    self.areas[item] = result
                    self.synthesised += 1
                    self.cpu["synthesis"] += result.cpu_seconds
                bar.update(1)
        except BaseException as e:  # re-raised by join() in the caller's thread
            self.error = e
        finally:
            bar.close()

    def _listed(self, tk, blocks, pending, what, bar):
        for b in blocks:
            b["key"] = key = self.cache.key(b["name"], b["verilog"], liberty_path(self.liberty))
            if key in self.areas or key in self.submitted:
                continue
            hit = self.cache.get(key)
            if hit is not None:
                self.areas[key] = hit
                continue
            fut = self.client.submit(_synth_task, (b["name"], b["verilog"], self.lib_text), pure=False,
                                     key=f"synth-{b['name']}-{key[:12]}-{time.time_ns()}")
            what[fut.key] = ("synth", key)
            self.submitted.add(key)
            pending.add(fut)
            bar.total += 1
        self.tiles[tk] = blocks

    def join(self) -> dict:
        """Wait for every tile; ``{(kind, own config): TileArea}``."""
        from .tile import tile_area

        while self.thread.is_alive():
            self.thread.join(0.5)   # in steps, so that an interrupt gets through
        if self.error is not None:
            raise self.error
        out = {}
        for (name, cfg), blocks in self.tiles.items():
            uses = [_Use(b["name"], b["count"], b["part_of"]) for b in blocks]
            out[(name, cfg)] = tile_area(name, uses, {b["name"]: self.areas[b["key"]] for b in blocks})
        return out


@dataclasses.dataclass(frozen=True)
class _Use:
    name: str
    count: int
    part_of: str | None


# ------------------------------------------------------------------------------------------
# the model: one capture, every configuration; cached
# ------------------------------------------------------------------------------------------

def model_config(config: TileConfig) -> TileConfig:
    """``config`` without the hardware-only fields (the model's counts do not depend on them)."""
    return replace(config, weight_select=TileConfig().weight_select)


def _model_key(net, profile, images, config: TileConfig) -> str:
    import dstripes.sim as sim

    h = hashlib.sha256()
    for part in (net.name, str(net.size), net.preprocess, getattr(net, "source", ""),
                 json.dumps([l.describe() for l in net.layers()]),
                 json.dumps(profile.as_dict(), sort_keys=True, default=str),
                 json.dumps(config.as_dict(), sort_keys=True), _source_hash(Path(sim.__file__).parent)):
        h.update(part.encode())
        h.update(b"\0")
    path = getattr(net, "path", None)
    if path and os.path.isfile(path):
        h.update(hashlib.sha256(Path(path).read_bytes()).digest())
    for name, im in images:
        h.update(name.encode())
        h.update(hashlib.sha256(np.ascontiguousarray(im).tobytes()).digest())
    return h.hexdigest()[:32]


def _model_cycles(net, profile, images, configs, cache_root: Path, client, progress) -> dict:
    """``{model config: {"dadn", "stripes", "dstripes"}}`` network totals of every config."""
    from dstripes.sim.nets.evaluate import evaluate_network

    wanted = list(dict.fromkeys(model_config(c) for c in configs))
    root = cache_root / "model"
    out, todo = {}, {}
    for cfg in wanted:
        key = _model_key(net, profile, images, cfg)
        try:
            out[cfg] = json.loads((root / f"{key}.json").read_text())["total"]
        except (OSError, ValueError, KeyError):
            todo[cfg] = key
    if todo:
        named = {f"p{i}": cfg for i, cfg in enumerate(todo)}
        ev = evaluate_network(net, profile, images, next(iter(todo)), configs=named, client=client,
                              progress=progress)
        root.mkdir(parents=True, exist_ok=True)
        for name, cfg in named.items():
            t = ev.network_cycles(name).total()
            total = {k: int(t[k]) for k in (DADN.name, STRIPES.name, DSTRIPES.name)}
            write_atomic(root / f"{todo[cfg]}.json", json.dumps({"config": cfg.as_dict(), "total": total}))
            out[cfg] = total
    return out


# ------------------------------------------------------------------------------------------
# the exploration
# ------------------------------------------------------------------------------------------

def pareto_front(speedups, areas) -> list[int]:
    """Indices of the points no other point beats: at least as fast and at most as large,
    better in one (ties: the first of equal points)."""
    idx = []
    for i, (s, a) in enumerate(zip(speedups, areas)):
        dominated = any((s2 >= s and a2 <= a and (s2 > s or a2 < a)) or (s2 == s and a2 == a and j < i)
                        for j, (s2, a2) in enumerate(zip(speedups, areas)) if j != i)
        if not dominated:
            idx.append(i)
    return sorted(idx, key=lambda i: areas[i])


def _area_dict(t) -> dict:
    d = {"ge": t.ge, "transistors": t.transistors, "cells": t.cells}
    if t.liberty_area is not None:
        d["liberty"] = t.liberty_area
    return d


def explore(model: str, sweep: dict, *, images: int = 4, base: TileConfig = TileConfig(),
            liberty=None, jobs: int | None = None, scheduler: str | None = None, out=None,
            target: str = "100", size: int = 224, profile=None, image_dir=None,
            cache_root=None, progress: bool = True, log=None) -> dict:
    """Explore ``sweep`` on network ``model``; returns the JSON-ready result (see the module).

    Parameters
    ----------
    model : str
        A built-in network name or an ``.onnx`` file.
    sweep : dict
        ``{TileConfig field: [values]}`` (:func:`parse_sweep`).
    images : int
        Held-out photos the model counts (of ``image_dir``: its odd-numbered files, the even ones
        profile when a profile must be made first).
    base : TileConfig
        Values of the parameters the sweep does not vary.
    liberty : path, optional
        Also map every block onto this liberty (area in its units).
    jobs : int, optional
        Local Dask worker processes (default: CPUs); ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler.
    out : path, optional
        Write ``explore.json``, ``explore.csv``, ``explore.txt`` and ``explore.png`` here.
    target, size, profile, image_dir
        Precision profile target (shipped profiles), input size, a profile file, a folder of
        the user's photos.
    cache_root : path, optional
        Cache folder (default :func:`dstripes.synth.cache.default_cache_root`).
    log : callable, optional
        Receives one-line progress notes.
    """
    from dstripes.sim.nets.cluster import dask_client
    from dstripes.sim.nets.evaluate import check_act_bits
    from dstripes.sim.nets.images import check_count, check_readable, load_images, photos_in_dir
    from dstripes.sim.nets.models import load_network
    from dstripes.sim.nets.profile import network_profile

    from .workers import StopYosys
    from dstripes.tb.tools import yosys_version

    note = log or (lambda msg: None)
    t0 = time.perf_counter()
    if isinstance(images, bool) or not isinstance(images, int) or images < 1:
        raise ConfigError(f"--images must be a positive integer, not {images!r}")
    configs = sweep_configs(sweep, base)
    liberty = resolve_liberty(liberty)
    cache = SynthCache(cache_root)
    root = cache.root
    if liberty is not None:
        from .flow import probe_liberty

        probe_liberty(liberty_path(liberty))
    if image_dir:  # the user's folder in two halves, as profile and evaluate split it
        where = f"image folder {image_dir}"
        folder = check_readable(photos_in_dir(image_dir), where)
        halves = {"profile": (folder[0::2], "profiling"), "heldout": (folder[1::2], "held-out")}

        def photos(n, split):
            ps, what = halves[split]
            check_count(n, len(ps), f"{where} ({what} half: every second file)")
            return [(p.name, p.read()) for p in ps[:n]]
    else:
        def photos(n, split):
            return load_images(split, n)
    # the counted photos are checked (and read) before any profiling: never the profiling ones
    pics = photos(images, "heldout")
    net = load_network(model, size=size)
    prof = network_profile(net, model, target, profile, photos=lambda n: photos(n, "profile"),
                           progress=progress, note=note)
    for cfg in configs:
        check_act_bits(prof, cfg.act_bits)
    t_setup = time.perf_counter()

    from dstripes.hw.kinds import kind

    references = {lockstep_of(c) for c in configs} - set(configs)
    everything = configs + sorted(references, key=configs_order(configs))
    tiles_needed = list(dict.fromkeys((name, kind(name).own(c)) for c in everything for name in KINDS_PER_POINT))
    note(f"{len(configs)} points ({len(references)} lock-step references), {len(tiles_needed)} tiles")
    with warnings.catch_warnings():
        # a local cluster's HTTP port may be taken by another one; it picks another by itself
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        # each layer's activations go to one counting task, once: nothing to deduplicate
        warnings.filterwarnings("ignore", message="Sending large graph")
        with dask_client(scheduler, jobs) as client:
            # an interrupt leaves this block, which closes the workers; their yosys runs stop
            client.register_plugin(StopYosys(), name="dstripes-stop-yosys")
            # emission and synthesis first (the long tasks), the model's counts meanwhile
            work = _Areas(client, tiles_needed, _VerilogMemo(root), cache, liberty, progress)
            cycles = _model_cycles(net, prof, pics, everything, root, client, progress)
            t_model = time.perf_counter()
            tiles = work.join()
    t_areas = time.perf_counter()
    result = _assemble(configs, sweep, base, tiles, cycles, net, prof, pics, liberty)
    result["yosys"] = yosys_version()
    result["seconds"] = {"setup": round(t_setup - t0, 1), "model": round(t_model - t_setup, 1),
                         "areas_after_model": round(t_areas - t_model, 1),
                         "total": round(time.perf_counter() - t0, 1)}
    result["blocks"] = {"distinct": len(work.areas), "synthesised": work.synthesised,
                        "from_cache": len(work.areas) - work.synthesised}
    result["cpu_seconds"] = {k: round(v, 1) for k, v in work.cpu.items()}
    if out is not None:
        result["files"] = write_outputs(result, out)
    return result


def configs_order(configs):
    order = {c: i for i, c in enumerate(configs)}
    return lambda c: (order.get(c, len(order)), describe(c))


def _assemble(configs, sweep, base, tiles, cycles, net, prof, pics, liberty) -> dict:
    from dstripes.hw.kinds import kind

    def area(name, cfg):
        return tiles[(name, kind(name).own(cfg))]

    published = kind(DSTRIPES.name).own(TileConfig())
    varying = [k for k, v in sweep.items() if len(v) > 1]
    points = []
    for cfg in configs:
        c = cycles[model_config(cfg)]
        t, s, d = area(DSTRIPES.name, cfg), area(STRIPES.name, cfg), area(DADN.name, cfg)
        lock = lockstep_of(cfg)
        tl, cl = area(DSTRIPES.name, lock), cycles[model_config(lock)]
        sp_s = c[STRIPES.name] / c[DSTRIPES.name]
        sp_d = c[DADN.name] / c[DSTRIPES.name]
        sp_lock = cl[DSTRIPES.name] / c[DSTRIPES.name]
        p = {
            "params": {k: getattr(cfg, k) for k in sweep},
            "config": cfg.as_dict(),
            "label": short_label({k: getattr(cfg, k) for k in sweep}, varying),
            "description": describe(cfg),
            "published": cfg == published,
            "cycles": c,
            "speedup_over_stripes": sp_s,
            "speedup_over_dadn": sp_d,
            "speedup_over_lockstep": sp_lock,
            "area": _area_dict(t),
            "depth": t.depth,
            "blocks": {b.name: {"count": b.count, "ge": b.ge, "transistors": b.transistors,
                                "depth": b.area.depth, **({"part_of": b.part_of} if b.part_of else {})}
                       for b in t.blocks},
            "area_over_stripes": {"ge": t.ge / s.ge, "transistors": t.transistors / s.transistors},
            "area_over_dadn": {"ge": t.ge / d.ge, "transistors": t.transistors / d.transistors},
            "area_over_lockstep": {"ge": t.ge / tl.ge, "transistors": t.transistors / tl.transistors},
            "perf_per_area_over_stripes": sp_s / (t.ge / s.ge),
            "perf_per_area_over_dadn": sp_d / (t.ge / d.ge),
            "perf_per_area_over_lockstep": sp_lock / (t.ge / tl.ge),
            "perf_per_transistor_over_stripes": sp_s / (t.transistors / s.transistors),
            "perf_per_transistor_over_dadn": sp_d / (t.transistors / d.transistors),
            "perf_per_transistor_over_lockstep": sp_lock / (t.transistors / tl.transistors),
            "references": {STRIPES.name: _area_dict(s), DADN.name: _area_dict(d),
                           "lockstep": {**_area_dict(tl), "cycles": cl[DSTRIPES.name]}},
        }
        points.append(p)
    front = pareto_front([p["speedup_over_stripes"] for p in points], [p["area"]["ge"] for p in points])
    best = max(range(len(points)), key=lambda i: points[i]["perf_per_area_over_stripes"])
    fastest = max(range(len(points)), key=lambda i: points[i]["speedup_over_stripes"])
    return {
        "network": net.name,
        "source": getattr(net, "source", ""),
        "images": [n for n, _ in pics],
        "profile": {"target": prof.target, "criterion": prof.criterion},
        "sweep": sweep,
        "varying": varying,
        "base": base.as_dict(),
        "liberty": liberty,
        "points": points,
        "pareto": front,
        "best": {"perf_per_area": best, "speedup": fastest},
    }


# ------------------------------------------------------------------------------------------
# outputs
# ------------------------------------------------------------------------------------------

#: Columns of ``explore.csv`` and the table: (header, getter).
COLUMNS = (
    ("point", lambda i, p: i),
    ("label", lambda i, p: p["label"]),
    ("speedup_over_stripes", lambda i, p: p["speedup_over_stripes"]),
    ("speedup_over_dadn", lambda i, p: p["speedup_over_dadn"]),
    ("ge", lambda i, p: p["area"]["ge"]),
    ("transistors", lambda i, p: p["area"]["transistors"]),
    ("depth", lambda i, p: p["depth"]),
    ("area_over_stripes", lambda i, p: p["area_over_stripes"]["ge"]),
    ("perf_per_area_over_stripes", lambda i, p: p["perf_per_area_over_stripes"]),
    ("perf_per_area_over_dadn", lambda i, p: p["perf_per_area_over_dadn"]),
    ("perf_per_area_over_lockstep", lambda i, p: p["perf_per_area_over_lockstep"]),
    ("perf_per_transistor_over_stripes", lambda i, p: p["perf_per_transistor_over_stripes"]),
)


def table(result: dict) -> str:
    """The points as a plain-text table (Pareto points and the published design marked)."""
    from dstripes.sim.table import render

    front = set(result["pareto"])
    headers = ["#", "point", "x Stripes", "x DaDN", "GE", "transistors", "depth", "area x STR",
               "perf/GE x STR", "perf/GE x DaDN", "perf/GE x lock", "pareto"]
    rows = []
    for i, p in enumerate(result["points"]):
        rows.append([i, p["label"] + (" (published)" if p["published"] else ""), p["speedup_over_stripes"],
                     p["speedup_over_dadn"], round(p["area"]["ge"]), p["area"]["transistors"], p["depth"],
                     p["area_over_stripes"]["ge"], p["perf_per_area_over_stripes"], p["perf_per_area_over_dadn"],
                     p["perf_per_area_over_lockstep"], i in front])
    best = result["points"][result["best"]["perf_per_area"]]
    fixed = {k: v[0] for k, v in result["sweep"].items() if len(v) == 1}
    title = (f"{result['network']}: {len(result['images'])} photos, profile {result['profile']['target']}; "
             f"area: yosys {result.get('yosys', '?')}, NAND2 gate equivalents"
             + (f"; {short_label(fixed, fixed)}" if fixed else ""))
    lines = [render(headers, rows, title), "",
             f"best performance per area: #{result['best']['perf_per_area']} ({best['description']}): "
             f"{best['perf_per_area_over_stripes']:.3f}x Stripes per GE, "
             f"{best['perf_per_area_over_lockstep']:.3f}x lock-step Dynamic Stripes per GE "
             f"({best['speedup_over_lockstep']:.3f}x faster, {best['area_over_lockstep']['ge']:.3f}x the area)"]
    return "\n".join(lines)


def write_csv(result: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    keys = list(result["sweep"])
    w.writerow(keys + [h for h, _ in COLUMNS] + ["pareto", "published"])
    front = set(result["pareto"])
    for i, p in enumerate(result["points"]):
        w.writerow([p["params"][k] for k in keys] + [g(i, p) for _, g in COLUMNS] + [i in front, p["published"]])
    return buf.getvalue()


def plot(result: dict, path) -> str:
    """Speed-up over Stripes against area (GE), the Pareto front joined, the published design
    starred, the Stripes tile of each shape as a reference."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = result["points"]
    big = max(p["area"]["ge"] for p in pts) >= 1e6
    unit, scale = ("million", 1e6) if big else ("thousand", 1e3)
    x = [p["area"]["ge"] / scale for p in pts]
    y = [p["speedup_over_stripes"] for p in pts]
    many = len(pts) > 8   # then the points are numbered and listed beside the axes
    fig, ax = plt.subplots(figsize=(10.5 if many else 7.5, 5))
    ax.scatter(x, y, color="tab:blue", zorder=3, label="swept points")
    placed = []   # labels that would overlap earlier ones are stacked below them
    dx, dy = (0.03 if many else 0.15) * (max(x) - min(x) or max(x)), 0.04 * (max(y) - min(y) or max(y))
    for i, p in enumerate(pts):
        near = sum(1 for (px, py) in placed if abs(px - x[i]) <= dx and abs(py - y[i]) <= dy)
        placed.append((x[i], y[i]))
        ax.annotate(str(i) if many else p["label"], (x[i], y[i]), fontsize=7, xytext=(4, 3 - 9 * near),
                    textcoords="offset points")
    if many:
        fig.text(0.755, 0.92, "\n".join(f"{i}: {p['label']}" for i, p in enumerate(pts)), fontsize=7,
                 va="top", family="monospace")
    # the performance per area of the best lock-step point, as a line through the origin
    lock = [i for i, p in enumerate(pts) if p["config"]["run_ahead"] == 0]
    if lock:
        k = max(lock, key=lambda i: y[i] / x[i])
        xs = np.linspace(min(x) * 0.98, max(x) * 1.02, 2)
        ax.plot(xs, xs * y[k] / x[k], ls="--", color="grey", lw=1, zorder=1,
                label=f"perf/area of {pts[k]['label']}")
    front = result["pareto"]
    ax.plot([x[i] for i in front], [y[i] for i in front], color="tab:orange", lw=1.5, zorder=2,
            label="Pareto front")
    for i, p in enumerate(pts):
        if p["published"]:
            ax.scatter([x[i]], [y[i]], marker="*", s=260, color="tab:red", zorder=4,
                       label="published design (G=1, lock-step)")
    refs = {round(p["references"][STRIPES.name]["ge"]) for p in pts}
    for j, ge in enumerate(sorted(refs)):
        ax.scatter([ge / scale], [1.0], marker="s", color="grey", zorder=3, label=STRIPES.title if j == 0 else None)
    ax.set_xlabel(f"tile area ({unit} NAND2 gate equivalents)")
    ax.set_ylabel("speed-up over Stripes")
    ax.set_title(f"{result['network']}: speed-up against area ({len(result['images'])} photos)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout(rect=(0, 0, 0.74, 1) if many else (0, 0, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def write_outputs(result: dict, out) -> list[str]:
    """``explore.json``, ``explore.csv``, ``explore.txt`` and ``explore.png`` in ``out``."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    files = [d / "explore.json", d / "explore.csv", d / "explore.txt", d / "explore.png"]
    write_atomic(files[0], json.dumps({**result, "files": [str(f) for f in files]}, indent=2) + "\n")
    write_atomic(files[1], write_csv(result))
    write_atomic(files[2], table(result) + "\n")
    plot(result, files[3])
    return [str(f) for f in files]
