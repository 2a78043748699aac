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
    result.points[result.best_perf_per_area]
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import os
import resource
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, fields, replace
from importlib.metadata import version
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
from dask.distributed import as_completed
from tqdm import tqdm

import dstripes.hw
import dstripes.sim
from dstripes.hw.design import TileDesign
from dstripes.hw.emit import to_verilog
from dstripes.sim.checked import FORMAT, check, file_digest, load, seal, write_entry
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.files import write_atomic
from dstripes.sim.nets.cluster import dask_client
from dstripes.sim.nets.evaluate import check_act_bits, evaluate_network
from dstripes.sim.nets.images import decoded, take
from dstripes.sim.nets.models import load_network
from dstripes.sim.nets.profile import model_profile, network_profile
from dstripes.sim.schemes import DADN, DSTRIPES, STRIPES
from dstripes.sim.table import render
from dstripes.tb.tools import yosys_version

from .cache import SynthCache
from .flow import BlockArea, probe_liberty, synth_verilog
from .liberty import BUILTIN, check_liberty, resolve_liberty as resolve
from .tile import TileArea, tile_area
from .workers import StopYosys

#: Parameters a sweep may vary: every field of the tile configuration.
SWEEP_KEYS = tuple(f.name for f in fields(TileConfig))
#: Kinds synthesised for each point: the point's own tile and the two references of its shape.
KINDS_PER_POINT = (DSTRIPES.name, STRIPES.name, DADN.name)


# ------------------------------------------------------------------------------------------
# the sweep
# ------------------------------------------------------------------------------------------

def _check_axis(key: str, values: list, text: str) -> None:
    if key not in SWEEP_KEYS:
        raise ConfigError(f"unknown sweep key {key!r} (keys: {', '.join(SWEEP_KEYS)})")
    if not values:
        raise ConfigError(f"sweep key {key!r} has no values")
    if len(set(values)) != len(values):
        raise ConfigError(f"sweep key {key!r} repeats a value: {text}")


def _check_sweep(axes) -> None:
    if not axes:
        raise ConfigError("the sweep is empty: give at least one KEY=V1,V2,... (e.g. run_ahead=0,1,2)")


@dataclass(frozen=True)
class Sweep:
    """Values of tile parameters to try in every combination, the first key outermost
    (:func:`parse_sweep`, :meth:`of`).

    Members
    -------
    axes : tuple
        ``((key, (value, ...)), ...)``: each key a :class:`TileConfig` field.
    """

    axes: tuple

    @classmethod
    def of(cls, values: Mapping[str, Iterable]) -> "Sweep":
        """The sweep of ``{TileConfig field: values}``, checked (known keys, values given and
        distinct)."""
        _check_sweep(values)
        for key, vs in values.items():
            vs = list(vs)
            _check_axis(key, vs, ",".join(map(str, vs)))
        return cls(tuple((k, tuple(vs)) for k, vs in values.items()))

    @property
    def keys(self) -> tuple:
        return tuple(k for k, _ in self.axes)

    @property
    def varying(self) -> tuple:
        """The keys with more than one value."""
        return tuple(k for k, vs in self.axes if len(vs) > 1)

    def as_dict(self) -> dict:
        return {k: list(vs) for k, vs in self.axes}


def parse_sweep(items) -> Sweep:
    """``["group=1,4,16", "run_ahead=0,1,2"]`` -> the :class:`Sweep` of ``group`` over
    ``(1, 4, 16)`` and ``run_ahead`` over ``(0, 1, 2)``.

    Values are converted to the type of the :class:`TileConfig` field (a dash in a key is an
    underscore). Unknown keys, repeated keys, empty value lists, malformed items and an empty
    sweep are :class:`ConfigError`\\ s.
    """
    if isinstance(items, str):
        items = items.split()
    items = list(items or [])
    _check_sweep(items)
    default = TileConfig()
    out: dict = {}
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError(f"sweep item {item!r} is not KEY=V1,V2,...")
        key, _, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if key in out:
            raise ConfigError(f"sweep key {key!r} is given twice")
        values = [v.strip() for v in text.split(",") if v.strip()]
        if key in SWEEP_KEYS and values and isinstance(getattr(default, key), bool):  # fc_dispatch=0,1
            switch = {"0": False, "1": True, "off": False, "on": True}
            bad = next((v for v in values if v.lower() not in switch), None)
            if bad is not None:
                raise ConfigError(f"sweep value {key}={bad} is not 0/1 or off/on")
            values = [switch[v.lower()] for v in values]
        elif key in SWEEP_KEYS and values and isinstance(getattr(default, key), int):
            try:
                values = [int(v) for v in values]
            except ValueError:
                bad = next(v for v in values if not v.lstrip("-").isdigit())
                raise ConfigError(f"sweep value {key}={bad} is not an integer") from None
        _check_axis(key, values, text)
        out[key] = tuple(values)
    return Sweep(tuple(out.items()))


def _build(name: str, config: TileConfig, built: set) -> TileDesign:
    """The design of kind ``name`` for a sweep point, described once (its manifest: signature and
    latency, no component built), so that a value the generator rejects fails here, before any
    work."""
    try:
        design = TileDesign.of(name, config)
        if design not in built:   # the reference tiles are shared by many points
            design.manifest
            built.add(design)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"the {name} tile rejects {describe(config)}: {e}") from None
    return design


def sweep_configs(sweep: Sweep, base: TileConfig = TileConfig()) -> list[TileConfig]:
    """The points of ``sweep`` over ``base``, each validated by the configuration and the
    generator (every tile of the point is built); points that build the same hardware and model
    (e.g. a weight selection in lock-step) are kept once. Each is the configuration of its
    Dynamic Stripes tile (:attr:`TileDesign.config`)."""
    if not isinstance(sweep, Sweep):
        raise TypeError(f"sweep must be a Sweep (parse_sweep, Sweep.of), not {sweep!r}")
    out, seen, built = [], set(), set()
    for values in itertools.product(*(vs for _, vs in sweep.axes)):
        params = dict(zip(sweep.keys, values))
        try:
            cfg = replace(base, **params)
        except ConfigError as e:
            raise ConfigError(f"sweep point {_params_text(params)}: {e}") from None
        cfg = _build(DSTRIPES.name, cfg, built).config   # e.g. no weight selection in lock-step
        if cfg in seen:
            continue
        seen.add(cfg)
        for name in KINDS_PER_POINT[1:]:
            _build(name, cfg, built)
        out.append(cfg)
    return out


def _params_text(params: Mapping) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


#: Short names of the parameters in labels.
SHORT = {"lanes": "L", "columns": "Nc", "rows": "Nr", "tiles": "T", "act_bits": "A", "weight_bits": "W",
         "group": "G", "trim": "trim", "run_ahead": "R", "weight_select": "sel", "max_reduction": "red",
         "fc_dispatch": "fc"}


def short_label(params: Mapping, varying) -> str:
    """``G=1 R=2``: the parameters of a point that the sweep varies (a lock-step point has no
    weight selection)."""
    keys = [k for k in varying if not (k == "weight_select" and params.get("run_ahead") == 0)]
    return " ".join(f"{SHORT.get(k, k)}={params[k]}" for k in keys) or "(single point)"


def describe(config: TileConfig) -> str:
    """One line: the shape and the Dynamic Stripes parameters of ``config``."""
    s = (f"L={config.lanes} Nc={config.columns} Nr={config.rows} A={config.act_bits} "
         f"W={config.weight_bits} G={config.group} trim={config.trim} R={config.run_ahead}")
    return (s + (f" select={config.weight_select}" if config.run_ahead else "")
            + (" fc_dispatch" if config.fc_dispatch else ""))


def lockstep_of(config: TileConfig) -> TileConfig:
    """The configuration of the lock-step Dynamic Stripes tile of the same parameters."""
    return TileDesign.of(DSTRIPES.name, replace(config, run_ahead=0)).config


def resolve_liberty(liberty) -> str | None:
    """``None``, or the liberty file ``liberty`` names (a built-in library such as ``sky130``, or
    a file), checked."""
    if liberty is None:
        return None
    if str(liberty) in BUILTIN:
        return str(liberty)  # each worker decompresses its own copy (a library is tens of MB)
    return str(check_liberty(resolve(liberty)))


def liberty_path(liberty) -> Path | None:
    """The file of a liberty :func:`resolve_liberty` returned."""
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
    return _source_hash(Path(dstripes.hw.__file__).parent) + version("amaranth")


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (Amaranth's yosys runs as one)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _emit_task(design: TileDesign) -> tuple[list, float]:
    """One Dask task: the blocks of one tile, ``[{"name", "count", "part_of", "verilog"}]`` (the
    memo's form), and the CPU seconds it took."""
    t0 = _cpu_seconds()
    blocks = [{"name": b.name, "count": b.count, "part_of": b.part_of, "verilog": to_verilog(b.component, b.name)}
              for b in design.synth_blocks()]
    return blocks, _cpu_seconds() - t0


def _synth_task(job: tuple) -> BlockArea:
    """One Dask task: synthesise one block (the liberty travels as text, so the task runs on
    any worker of a cluster)."""
    name, verilog, liberty_text = job
    if liberty_text is None:
        return synth_verilog(verilog, name)
    if liberty_text in BUILTIN:  # a built-in library: the worker has it
        return synth_verilog(verilog, name, liberty=liberty_path(liberty_text))
    with tempfile.TemporaryDirectory(prefix="explore-lib-") as d:
        lib = Path(d) / "user.lib"
        lib.write_text(liberty_text)
        return synth_verilog(verilog, name, liberty=lib)


class _VerilogMemo:
    """The blocks' Verilog of each tile, remembered on disk (keyed by the generator's source,
    the Amaranth version, the tile kind and its configuration), so a warm sweep does not
    elaborate the hardware again. A tile's index is a manifest (:mod:`dstripes.sim.checked`) of
    its blocks' Verilog files (one per distinct text, shared by the tiles that have the block):
    a damaged entry is reported in one line on stderr, and the tile emitted again."""

    def __init__(self, root: Path):
        self.root = root / "verilog"
        self.version = _hw_version()

    def _index(self, design: TileDesign) -> Path:
        key = json.dumps([self.version, design.name, design.config.as_dict(), FORMAT], sort_keys=True)
        return self.root / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def get(self, design: TileDesign) -> list | None:
        """The tile's blocks as :meth:`put` was given them, or ``None``."""
        index = self._index(design)
        record = check(index, "the explore Verilog memo entry", action="emitting the tile again")
        if record is None:
            return None
        try:
            return [{**{k: b[k] for k in ("name", "count", "part_of")},
                     "verilog": (self.root / b["file"]).read_text()} for b in record["blocks"]]
        except (OSError, ValueError, KeyError, TypeError):  # checked: only a concurrent change
            return None

    def put(self, design: TileDesign, blocks: list) -> None:
        """Remember the tile's blocks (``[{"name", "count", "part_of", "verilog"}]``)."""
        self.root.mkdir(parents=True, exist_ok=True)
        listed = []
        for b in blocks:
            sha = hashlib.sha256(b["verilog"].encode()).hexdigest()
            file = f"{sha[:32]}.v"   # named by its content: rewritten unless it still holds it
            if not (self.root / file).is_file() or file_digest(self.root / file) != sha:
                write_atomic(self.root / file, b["verilog"])
            listed.append({**{k: v for k, v in b.items() if k != "verilog"}, "file": file})
        seal(self._index(design), sorted({b["file"] for b in listed}), record={"blocks": listed})


@dataclass(frozen=True)
class _Use:
    name: str
    count: int
    part_of: str | None


class _Areas:
    """The tiles' areas, on Dask: each tile's blocks are emitted (or read from the memo) and
    every distinct block not in the synthesis cache is synthesised as soon as its Verilog is
    known; each result is stored in the cache as it arrives (an interrupted sweep resumes).
    Runs in a thread of its own, so the model's counts run on the same workers meanwhile."""

    def __init__(self, client, designs, memo: _VerilogMemo, cache: SynthCache, liberty, progress: bool):
        self.client, self.memo, self.cache, self.liberty = client, memo, cache, liberty
        self.lib_text = (None if liberty is None else liberty if liberty in BUILTIN
                         else Path(liberty).read_text())
        self.tiles = {d: None for d in designs}   # design -> its blocks, each with its cache "key"
        self.areas: dict = {}                     # cache key -> BlockArea
        self.synthesised = 0
        self.submitted: set = set()
        self.cpu = {"emit": 0.0, "synthesis": 0.0}   # of the tasks run here (not the cached ones)
        self.error = None
        self.progress = progress
        self.thread = threading.Thread(target=self._run, name="areas", daemon=True)
        self.thread.start()

    def _run(self):
        bar = tqdm(total=0, desc="tiles and blocks", unit="task", disable=None if self.progress else True,
                   leave=False)
        try:
            pending = as_completed()
            what = {}
            for design in self.tiles:
                blocks = self.memo.get(design)
                if blocks is not None:
                    self._listed(design, blocks, pending, what, bar)
                else:
                    fut = self.client.submit(_emit_task, design, pure=False,
                                             key=f"emit-{design.name}-{id(design)}-{time.time_ns()}")
                    what[fut.key] = ("emit", design)
                    pending.add(fut)
                    bar.total += 1
            for fut in pending:
                kind_, item = what.pop(fut.key)
                result = fut.result()
                if kind_ == "emit":
                    blocks, cpu = result
                    self.cpu["emit"] += cpu
                    self.memo.put(item, blocks)
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

    def _listed(self, design, blocks, pending, what, bar):
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
        self.tiles[design] = blocks

    def join(self) -> Mapping[TileDesign, TileArea]:
        """Wait for every tile; ``{design: TileArea}``."""
        while self.thread.is_alive():
            self.thread.join(0.5)   # in steps, so that an interrupt gets through
        if self.error is not None:
            raise self.error
        out = {}
        for design, blocks in self.tiles.items():
            uses = [_Use(b["name"], b["count"], b["part_of"]) for b in blocks]
            out[design] = tile_area(design, uses, {b["name"]: self.areas[b["key"]] for b in blocks})
        return out


# ------------------------------------------------------------------------------------------
# the model: one capture, every configuration; cached
# ------------------------------------------------------------------------------------------

def model_config(config: TileConfig) -> TileConfig:
    """``config`` without the hardware-only fields (the model's counts do not depend on them)."""
    return replace(config, weight_select=TileConfig().weight_select, fc_dispatch=TileConfig().fc_dispatch)


def _model_key(net, profile, images, config: TileConfig) -> str:
    h = hashlib.sha256()
    for part in (net.name, str(net.size), net.preprocess, getattr(net, "source", ""),
                 json.dumps([l.describe() for l in net.layers()]),
                 json.dumps(profile.as_dict(), sort_keys=True, default=str),
                 json.dumps(config.as_dict(), sort_keys=True), _source_hash(Path(dstripes.sim.__file__).parent),
                 str(FORMAT)):
        h.update(part.encode())
        h.update(b"\0")
    path = getattr(net, "path", None)
    if path and os.path.isfile(path):
        h.update(hashlib.sha256(Path(path).read_bytes()).digest())
    for name, im in images:
        h.update(name.encode())
        h.update(hashlib.sha256(np.ascontiguousarray(im).tobytes()).digest())
    return h.hexdigest()[:32]


def _totals(total) -> dict:
    """A model-cycles entry's network totals, ``{scheme: int}`` (``ValueError`` if they are not)."""
    names = (DADN.name, STRIPES.name, DSTRIPES.name)
    if not isinstance(total, dict) or sorted(total) != sorted(names) or \
            not all(isinstance(total[k], int) for k in names):
        raise ValueError("not the totals of the three schemes")
    return total


def _model_cycles(net, profile, images, configs, cache_root: Path, client, progress) -> dict:
    """``{model config: {"dadn", "stripes", "dstripes"}}`` network totals of every config."""
    wanted = list(dict.fromkeys(model_config(c) for c in configs))
    root = cache_root / "model"
    out, todo = {}, {}
    for cfg in wanted:
        key = _model_key(net, profile, images, cfg)
        total = load(root / f"{key}.json", "the explore model-cycles entry", lambda b: _totals(json.loads(b)["total"]),
                     action="counting again")
        if total is None:
            todo[cfg] = key
        else:
            out[cfg] = total
    if todo:
        named = {f"p{i}": cfg for i, cfg in enumerate(todo)}
        ev = evaluate_network(net, profile, images, next(iter(todo)), configs=named, client=client,
                              progress=progress)
        root.mkdir(parents=True, exist_ok=True)
        for name, cfg in named.items():
            t = ev.network_cycles(name).total()
            total = {k: int(t[k]) for k in (DADN.name, STRIPES.name, DSTRIPES.name)}
            write_entry(root / f"{todo[cfg]}.json", json.dumps({"config": cfg.as_dict(), "total": total}))
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


def _area_dict(t: TileArea) -> dict:
    d = {"ge": t.ge, "transistors": t.transistors, "cells": t.cells}
    if t.liberty_area is not None:
        d["liberty"] = t.liberty_area
    return d


def _over(t: TileArea, ref: TileArea) -> dict:
    return {"ge": t.ge / ref.ge, "transistors": t.transistors / ref.transistors}


@dataclass(frozen=True)
class Point:
    """One point of a sweep: its Dynamic Stripes tile against the Stripes and bit-parallel tiles
    of its shape and the lock-step tile of its parameters.

    Members
    -------
    config : TileConfig
        The point's configuration (its Dynamic Stripes tile's).
    params : mapping
        The swept keys' values.
    label : str
        The varying ones, short (:func:`short_label`).
    published : bool
        Whether it is the published design.
    cycles : mapping
        The network's total cycles on the point's shape, ``{"dadn", "stripes", "dstripes"}``.
    lockstep_cycles : int
        The lock-step tile's.
    tile, stripes, dadn, lockstep : TileArea
    """

    config: TileConfig
    params: Mapping[str, object]
    label: str
    published: bool
    cycles: Mapping[str, int]
    lockstep_cycles: int
    tile: TileArea
    stripes: TileArea
    dadn: TileArea
    lockstep: TileArea

    @property
    def description(self) -> str:
        return describe(self.config)

    @property
    def speedup_over_stripes(self) -> float:
        return self.cycles[STRIPES.name] / self.cycles[DSTRIPES.name]

    @property
    def speedup_over_dadn(self) -> float:
        return self.cycles[DADN.name] / self.cycles[DSTRIPES.name]

    @property
    def speedup_over_lockstep(self) -> float:
        return self.lockstep_cycles / self.cycles[DSTRIPES.name]

    @property
    def perf_per_area_over_stripes(self) -> float:
        """Speed-up over Stripes per GE, relative to Stripes."""
        return self.speedup_over_stripes / (self.tile.ge / self.stripes.ge)

    @property
    def perf_per_area_over_dadn(self) -> float:
        return self.speedup_over_dadn / (self.tile.ge / self.dadn.ge)

    @property
    def perf_per_area_over_lockstep(self) -> float:
        return self.speedup_over_lockstep / (self.tile.ge / self.lockstep.ge)

    def as_dict(self) -> dict:
        t, s, d, tl = self.tile, self.stripes, self.dadn, self.lockstep
        sp_s, sp_d, sp_lock = self.speedup_over_stripes, self.speedup_over_dadn, self.speedup_over_lockstep
        return {
            "params": dict(self.params),
            "config": self.config.as_dict(),
            "label": self.label,
            "description": self.description,
            "published": self.published,
            "cycles": dict(self.cycles),
            "speedup_over_stripes": sp_s,
            "speedup_over_dadn": sp_d,
            "speedup_over_lockstep": sp_lock,
            "area": _area_dict(t),
            "depth": t.depth,
            "blocks": {b.name: {"count": b.count, "ge": b.ge, "transistors": b.transistors,
                                "depth": b.area.depth, **({"part_of": b.part_of} if b.part_of else {})}
                       for b in t.blocks},
            "area_over_stripes": _over(t, s),
            "area_over_dadn": _over(t, d),
            "area_over_lockstep": _over(t, tl),
            "perf_per_area_over_stripes": self.perf_per_area_over_stripes,
            "perf_per_area_over_dadn": self.perf_per_area_over_dadn,
            "perf_per_area_over_lockstep": self.perf_per_area_over_lockstep,
            "perf_per_transistor_over_stripes": sp_s / (t.transistors / s.transistors),
            "perf_per_transistor_over_dadn": sp_d / (t.transistors / d.transistors),
            "perf_per_transistor_over_lockstep": sp_lock / (t.transistors / tl.transistors),
            "references": {STRIPES.name: _area_dict(s), DADN.name: _area_dict(d),
                           "lockstep": {**_area_dict(tl), "cycles": self.lockstep_cycles}},
        }


@dataclass(frozen=True)
class ExploreWork:
    """What an exploration took.

    Members
    -------
    setup_seconds, model_seconds, areas_after_model_seconds, total_seconds : float
        Wall time of the checks, photos and profile; of the model's counts; of the areas after
        those (they run meanwhile); of everything.
    distinct_blocks, synthesised_blocks : int
        Distinct blocks of all the tiles, and those synthesised (not found in the cache).
    emit_cpu_seconds, synthesis_cpu_seconds : float
        CPU time of the emission and synthesis tasks run.
    """

    setup_seconds: float
    model_seconds: float
    areas_after_model_seconds: float
    total_seconds: float
    distinct_blocks: int
    synthesised_blocks: int
    emit_cpu_seconds: float
    synthesis_cpu_seconds: float

    def as_dict(self) -> dict:
        """``{"seconds", "blocks", "cpu_seconds"}`` as in ``explore.json``."""
        return {"seconds": {"setup": self.setup_seconds, "model": self.model_seconds,
                            "areas_after_model": self.areas_after_model_seconds, "total": self.total_seconds},
                "blocks": {"distinct": self.distinct_blocks, "synthesised": self.synthesised_blocks,
                           "from_cache": self.distinct_blocks - self.synthesised_blocks},
                "cpu_seconds": {"emit": self.emit_cpu_seconds, "synthesis": self.synthesis_cpu_seconds}}


@dataclass(frozen=True)
class Exploration:
    """The result of :func:`explore`.

    Members
    -------
    network, source : str
        The network's name and where it came from.
    images : tuple of str
        The photos counted.
    target, criterion : str
        Of the precision profile.
    sweep : Sweep
    base : TileConfig
        Values of the parameters the sweep does not vary.
    liberty : str or None
    points : tuple of Point
    pareto : tuple of int
        Indices of the points on the Pareto front of speed-up over Stripes against GE.
    best_perf_per_area, fastest : int
        Indices of the best point by performance per GE over Stripes, and by speed-up.
    yosys : str
    work : ExploreWork
    files : tuple of str
        What was written (``out``).
    """

    network: str
    source: str
    images: tuple
    target: str
    criterion: str
    sweep: Sweep
    base: TileConfig
    liberty: str | None
    points: tuple
    pareto: tuple
    best_perf_per_area: int
    fastest: int
    yosys: str
    work: ExploreWork
    files: tuple = ()

    def as_dict(self) -> dict:
        """The JSON form (``explore.json``, ``dstripes explore --json``)."""
        d = {"network": self.network, "source": self.source, "images": list(self.images),
             "profile": {"target": self.target, "criterion": self.criterion}, "sweep": self.sweep.as_dict(),
             "varying": list(self.sweep.varying), "base": self.base.as_dict(), "liberty": self.liberty,
             "points": [p.as_dict() for p in self.points], "pareto": list(self.pareto),
             "best": {"perf_per_area": self.best_perf_per_area, "speedup": self.fastest},
             "yosys": self.yosys, **self.work.as_dict()}
        if self.files:
            d["files"] = list(self.files)
        return d


def explore(model: str, sweep: Sweep, *, images: int = 4, base: TileConfig = TileConfig(),
            liberty=None, jobs: int | None = None, scheduler: str | None = None, out=None,
            target: str = "100", size: int = 224, profile=None, profile_photos=None,
            cache_root=None, progress: bool = True, log=None) -> Exploration:
    """Explore ``sweep`` on network ``model`` (see the module docstring).

    Parameters
    ----------
    model : str
        A built-in network name or an ``.onnx`` file.
    sweep : Sweep
        :func:`parse_sweep`, :meth:`Sweep.of`.
    images : int or list of Photo
        The held-out photos the model counts: the first ``images`` of the shipped held-out split,
        or these photos (``dstripes explore`` chooses them, ``--image-dir`` included).
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
    target, size, profile
        Precision profile target (shipped profiles), input size, a profile file.
    profile_photos : list of Photo, optional
        The photos to profile on when the network has neither ``profile`` nor a shipped profile
        at its size (default: the first 16 of the shipped profiling split).
    cache_root : path, optional
        Cache folder (default :func:`dstripes.synth.cache.default_cache_root`).
    log : callable, optional
        Receives one-line progress notes.
    """
    note = log or (lambda msg: None)
    t0 = time.perf_counter()
    if isinstance(images, int) and (isinstance(images, bool) or images < 1):
        raise ConfigError(f"--images must be a positive integer, not {images!r}")
    configs = sweep_configs(sweep, base)
    liberty = resolve_liberty(liberty)
    cache = SynthCache(cache_root)
    root = cache.root
    if liberty is not None:
        probe_liberty(liberty_path(liberty))
    counted = take("heldout", images) if isinstance(images, int) else images
    net = load_network(model, size=size)
    # the counted photos are read before any profiling (never the profiling ones), decoded as
    # evaluate decodes them, so explore's counts are evaluate's
    pics = decoded(counted, net.size)
    # an int8 QDQ model runs on its own codes (base: the tile of their widths, model_widths)
    prof = model_profile(net) if getattr(net, "int8", False) else \
        network_profile(net, model, target, profile, photos=profile_photos, progress=progress, note=note)
    for cfg in configs:
        check_act_bits(prof, cfg.act_bits)
    t_setup = time.perf_counter()

    references = {lockstep_of(c) for c in configs} - set(configs)
    everything = configs + sorted(references, key=configs_order(configs))
    tiles_needed = list(dict.fromkeys(TileDesign.of(name, c) for c in everything for name in KINDS_PER_POINT))
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
    points = _points(configs, sweep, tiles, cycles)
    cost = ExploreWork(round(t_setup - t0, 1), round(t_model - t_setup, 1), round(t_areas - t_model, 1),
                       round(time.perf_counter() - t0, 1), len(work.areas), work.synthesised,
                       round(work.cpu["emit"], 1), round(work.cpu["synthesis"], 1))
    result = Exploration(
        network=net.name, source=getattr(net, "source", ""), images=tuple(n for n, _ in pics),
        target=prof.target, criterion=prof.criterion, sweep=sweep, base=base, liberty=liberty,
        points=points,
        pareto=tuple(pareto_front([p.speedup_over_stripes for p in points], [p.tile.ge for p in points])),
        best_perf_per_area=max(range(len(points)), key=lambda i: points[i].perf_per_area_over_stripes),
        fastest=max(range(len(points)), key=lambda i: points[i].speedup_over_stripes),
        yosys=yosys_version(), work=cost)
    if out is not None:
        result = replace(result, files=tuple(write_outputs(result, out)))
    return result


def configs_order(configs):
    order = {c: i for i, c in enumerate(configs)}
    return lambda c: (order.get(c, len(order)), describe(c))


def _points(configs, sweep: Sweep, tiles: Mapping[TileDesign, TileArea], cycles) -> tuple:
    def area(name, cfg):
        return tiles[TileDesign.of(name, cfg)]

    published = TileDesign.of(DSTRIPES.name).config
    points = []
    for cfg in configs:
        lock = lockstep_of(cfg)
        params = {k: getattr(cfg, k) for k in sweep.keys}
        points.append(Point(cfg, params, short_label(params, sweep.varying), cfg == published,
                            cycles[model_config(cfg)], cycles[model_config(lock)][DSTRIPES.name],
                            area(DSTRIPES.name, cfg), area(STRIPES.name, cfg), area(DADN.name, cfg),
                            area(DSTRIPES.name, lock)))
    return tuple(points)


# ------------------------------------------------------------------------------------------
# outputs
# ------------------------------------------------------------------------------------------

#: Columns of ``explore.csv`` and the table: (header, getter).
COLUMNS = (
    ("point", lambda i, p: i),
    ("label", lambda i, p: p.label),
    ("speedup_over_stripes", lambda i, p: p.speedup_over_stripes),
    ("speedup_over_dadn", lambda i, p: p.speedup_over_dadn),
    ("ge", lambda i, p: p.tile.ge),
    ("transistors", lambda i, p: p.tile.transistors),
    ("depth", lambda i, p: p.tile.depth),
    ("area_over_stripes", lambda i, p: p.tile.ge / p.stripes.ge),
    ("perf_per_area_over_stripes", lambda i, p: p.perf_per_area_over_stripes),
    ("perf_per_area_over_dadn", lambda i, p: p.perf_per_area_over_dadn),
    ("perf_per_area_over_lockstep", lambda i, p: p.perf_per_area_over_lockstep),
    ("perf_per_transistor_over_stripes", lambda i, p: p.speedup_over_stripes / (p.tile.transistors
                                                                                 / p.stripes.transistors)),
)


def table(result: Exploration) -> str:
    """The points as a plain-text table (Pareto points and the published design marked)."""
    front = set(result.pareto)
    headers = ["#", "point", "x Stripes", "x DaDN", "GE", "transistors", "depth", "area x STR",
               "perf/GE x STR", "perf/GE x DaDN", "perf/GE x lock", "pareto"]
    rows = []
    for i, p in enumerate(result.points):
        rows.append([i, p.label + (" (published)" if p.published else ""), p.speedup_over_stripes,
                     p.speedup_over_dadn, round(p.tile.ge), p.tile.transistors, p.tile.depth,
                     p.tile.ge / p.stripes.ge, p.perf_per_area_over_stripes, p.perf_per_area_over_dadn,
                     p.perf_per_area_over_lockstep, i in front])
    best = result.points[result.best_perf_per_area]
    fixed = {k: vs[0] for k, vs in result.sweep.axes if len(vs) == 1}
    title = (f"{result.network}: {len(result.images)} photos, profile {result.target}; "
             f"area: yosys {result.yosys}, NAND2 gate equivalents"
             + (f"; {short_label(fixed, fixed)}" if fixed else ""))
    lines = [render(headers, rows, title), "",
             f"best performance per area: #{result.best_perf_per_area} ({best.description}): "
             f"{best.perf_per_area_over_stripes:.3f}x Stripes per GE, "
             f"{best.perf_per_area_over_lockstep:.3f}x lock-step Dynamic Stripes per GE "
             f"({best.speedup_over_lockstep:.3f}x faster, {best.tile.ge / best.lockstep.ge:.3f}x the area)"]
    return "\n".join(lines)


def write_csv(result: Exploration) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    keys = list(result.sweep.keys)
    w.writerow(keys + [h for h, _ in COLUMNS] + ["pareto", "published"])
    front = set(result.pareto)
    for i, p in enumerate(result.points):
        w.writerow([p.params[k] for k in keys] + [g(i, p) for _, g in COLUMNS] + [i in front, p.published])
    return buf.getvalue()


def plot(result: Exploration, path) -> str:
    """Speed-up over Stripes against area (GE), the Pareto front joined, the published design
    starred, the Stripes tile of each shape as a reference."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = result.points
    big = max(p.tile.ge for p in pts) >= 1e6
    unit, scale = ("million", 1e6) if big else ("thousand", 1e3)
    x = [p.tile.ge / scale for p in pts]
    y = [p.speedup_over_stripes for p in pts]
    many = len(pts) > 8   # then the points are numbered and listed beside the axes
    fig, ax = plt.subplots(figsize=(10.5 if many else 7.5, 5))
    ax.scatter(x, y, color="tab:blue", zorder=3, label="swept points")
    placed = []   # labels that would overlap earlier ones are stacked below them
    dx, dy = (0.03 if many else 0.15) * (max(x) - min(x) or max(x)), 0.04 * (max(y) - min(y) or max(y))
    for i, p in enumerate(pts):
        near = sum(1 for (px, py) in placed if abs(px - x[i]) <= dx and abs(py - y[i]) <= dy)
        placed.append((x[i], y[i]))
        ax.annotate(str(i) if many else p.label, (x[i], y[i]), fontsize=7, xytext=(4, 3 - 9 * near),
                    textcoords="offset points")
    if many:
        fig.text(0.755, 0.92, "\n".join(f"{i}: {p.label}" for i, p in enumerate(pts)), fontsize=7,
                 va="top", family="monospace")
    # the performance per area of the best lock-step point, as a line through the origin
    lock = [i for i, p in enumerate(pts) if p.config.run_ahead == 0]
    if lock:
        k = max(lock, key=lambda i: y[i] / x[i])
        xs = np.linspace(min(x) * 0.98, max(x) * 1.02, 2)
        ax.plot(xs, xs * y[k] / x[k], ls="--", color="grey", lw=1, zorder=1,
                label=f"perf/area of {pts[k].label}")
    front = result.pareto
    ax.plot([x[i] for i in front], [y[i] for i in front], color="tab:orange", lw=1.5, zorder=2,
            label="Pareto front")
    for i, p in enumerate(pts):
        if p.published:
            ax.scatter([x[i]], [y[i]], marker="*", s=260, color="tab:red", zorder=4,
                       label="published design (G=1, lock-step)")
    refs = {round(p.stripes.ge) for p in pts}
    for j, ge in enumerate(sorted(refs)):
        ax.scatter([ge / scale], [1.0], marker="s", color="grey", zorder=3, label=STRIPES.title if j == 0 else None)
    ax.set_xlabel(f"tile area ({unit} NAND2 gate equivalents)")
    ax.set_ylabel("speed-up over Stripes")
    ax.set_title(f"{result.network}: speed-up against area ({len(result.images)} photos)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout(rect=(0, 0, 0.74, 1) if many else (0, 0, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def write_outputs(result: Exploration, out) -> list[str]:
    """``explore.json``, ``explore.csv``, ``explore.txt`` and ``explore.png`` in ``out``."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    files = [d / "explore.json", d / "explore.csv", d / "explore.txt", d / "explore.png"]
    write_atomic(files[0], json.dumps({**result.as_dict(), "files": [str(f) for f in files]}, indent=2) + "\n")
    write_atomic(files[1], write_csv(result))
    write_atomic(files[2], table(result) + "\n")
    plot(result, files[3])
    return [str(f) for f in files]
