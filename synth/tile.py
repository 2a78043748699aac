"""Tile area: synthesise each distinct block of a tile once and count it per instance.

Each tile kind of the registry (:data:`dstripes.hw.kinds.KINDS`) lists its distinct blocks
(``TileKind.synth_blocks``), each with one instance's component and its instance count. Emitting the whole tile would give one
Verilog module per SIP instance (256 on the published tile, ~4 minutes per tile on two cores);
synthesising one instance and multiplying is exact for area, because the instances are
identical and unconnected logic does not merge across them.

Blocks whose Verilog is identical (the same block in two schemes) are synthesised once. Each
block goes to a pool of yosys runs (threads, each driving its own yosys process) as soon as its
Verilog is emitted, so emission of the next block overlaps synthesis of the previous ones.
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from dstripes.hw.kinds import kind
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError

from .flow import BlockArea, check_top, probe_liberty, synth_verilog, to_verilog
from .yosys import stop_running


@dataclass(frozen=True)
class BlockUse:
    """One distinct block of a tile: its per-instance area and instance count.

    ``part_of`` names the block that already contains this one; such a block is reported but
    not added to the tile total.
    """

    name: str
    count: int
    area: BlockArea
    part_of: str | None = None

    @property
    def transistors(self) -> int:
        return self.count * self.area.transistors

    @property
    def ge(self) -> float:
        return self.count * self.area.ge

    @property
    def cells(self) -> int:
        return self.count * self.area.cells

    @property
    def liberty_area(self) -> float | None:
        return None if self.area.liberty_area is None else self.count * self.area.liberty_area

    def as_dict(self) -> dict:
        d = {"count": self.count, "transistors": self.transistors, "ge": self.ge,
             "cells": self.cells, "depth": self.area.depth, "instance": self.area.as_dict()}
        if self.part_of is not None:
            d["part_of"] = self.part_of
        if self.liberty_area is not None:
            d["liberty_area"] = self.liberty_area
        return d


@dataclass(frozen=True)
class TileArea:
    """Area of one tile of one scheme: the sum over its top-level blocks (those not
    ``part_of`` another) of count x instance area."""

    scheme: str
    blocks: tuple

    @property
    def counted(self) -> tuple:
        """The blocks that make up the total (parts of other blocks excluded)."""
        return tuple(b for b in self.blocks if b.part_of is None)

    @property
    def transistors(self) -> int:
        return sum(b.transistors for b in self.counted)

    @property
    def ge(self) -> float:
        return sum(b.ge for b in self.counted)

    @property
    def cells(self) -> int:
        return sum(b.cells for b in self.counted)

    @property
    def depth(self) -> int:
        """The deepest block's logic depth: blocks are separated by registers or ports."""
        return max(b.area.depth for b in self.blocks)

    @property
    def liberty_area(self) -> float | None:
        parts = [b.liberty_area for b in self.counted]
        return None if any(p is None for p in parts) else sum(parts)

    def block(self, name: str) -> BlockUse:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(name)

    def as_dict(self) -> dict:
        d = {"transistors": self.transistors, "ge": self.ge, "cells": self.cells,
             "depth": self.depth, "blocks": {b.name: b.as_dict() for b in self.blocks}}
        if self.liberty_area is not None:
            d["liberty_area"] = self.liberty_area
        return d


def hw_blocks(scheme: str, config: TileConfig) -> list:
    """The blocks of tile kind ``scheme`` for ``config`` (:meth:`TileKind.synth_blocks`), the
    options the kind does not use left at their defaults."""
    k = kind(scheme)
    try:
        return k.synth_blocks(config)
    except (TypeError, ValueError) as e:  # hw validates with TypeError/ValueError
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"bad configuration for the {scheme} tile: {e}") from None


def check_blocks(blocks, scheme: str) -> list:
    """Validate what a block source returned: named, counted, unique, each with a component."""
    try:
        blocks = list(blocks)
    except TypeError:
        raise ConfigError(f"block list of the {scheme} tile is not iterable: {blocks!r}") from None
    if not blocks:
        raise ConfigError(f"the {scheme} tile has no blocks to synthesise")
    names = {getattr(b, "name", None) for b in blocks}
    seen = set()
    for b in blocks:
        for attr in ("name", "component", "count"):
            if not hasattr(b, attr):
                raise ConfigError(f"block {b!r} of the {scheme} tile has no {attr!r}")
        check_top(b.name)
        if b.name in seen:
            raise ConfigError(f"block name {b.name!r} appears twice in the {scheme} tile")
        seen.add(b.name)
        if not isinstance(b.count, int) or isinstance(b.count, bool) or b.count < 1:
            raise ConfigError(f"block {b.name} of the {scheme} tile has instance count {b.count!r}, "
                              f"not a positive integer")
        parent = getattr(b, "part_of", None)
        if parent is not None and parent not in names:
            raise ConfigError(f"block {b.name} of the {scheme} tile is part of {parent!r}, "
                              f"which the tile does not list")
    return blocks


def _progress(total: int, enabled: bool, desc: str):
    from tqdm import tqdm

    # disable=None: the bar hides itself when stderr is not a terminal
    return tqdm(total=total, desc=desc, unit="step", disable=None if enabled else True, leave=False)


def synth_tiles(schemes, config: TileConfig, *, liberty=None, jobs: int | None = None, out=None,
                progress: bool = False, blocks=None, yosys: str | None = None,
                timeout: float | None = None, stats: dict | None = None, cache=None) -> dict:
    """Synthesise the tiles of several schemes; return ``{scheme: TileArea}``.

    Parameters
    ----------
    schemes : iterable of str
        Tile kinds (:data:`dstripes.hw.kinds.KINDS`).
    config : TileConfig
        Tile configuration.
    liberty : path, optional
        User liberty file, reported as ``liberty_area`` next to the built-in units.
    jobs : int, optional
        Parallel yosys runs (default: the number of CPUs).
    out : path, optional
        Keep ``out/<scheme>/<block>/{block.v, synth.ys, yosys.log, *.rpt}``.
    progress : bool
        Show a progress bar on stderr (when it is a terminal).
    blocks : callable, optional
        ``blocks(scheme, config) -> list`` of objects with ``name``, ``component``, ``count``;
        default :func:`hw_blocks` (the registry's blocks of each kind).
    yosys : str, optional
        Yosys executable.
    timeout : float, optional
        Seconds allowed per yosys run.
    stats : dict, optional
        Filled with ``blocks`` (listed), ``unique`` (distinct Verilog), ``cached`` (of those,
        found in ``cache``), ``emit_seconds`` (until the last block was emitted; synthesis
        overlaps it) and ``wall_seconds`` (emission and synthesis).
    cache : synth.cache.SynthCache, optional
        Reuse earlier results of identical blocks (same Verilog, tools and libraries) and store
        the new ones; ``out`` then holds files only of the blocks synthesised in this call.

    Raises
    ------
    ConfigError
        Unknown scheme, bad configuration, broken liberty, yosys failure or a missing report.
    """
    schemes = list(schemes)
    for s in schemes:
        kind(s)
    if not schemes:
        raise ConfigError("no scheme to synthesise")
    if not isinstance(config, TileConfig):
        raise ConfigError(f"config must be a sim.config.TileConfig, not {config!r}")
    if jobs is None:
        jobs = os.cpu_count() or 1
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ConfigError(f"jobs must be a positive integer, not {jobs!r}")
    if liberty is not None:
        probe_liberty(liberty, yosys=yosys, timeout=timeout)
    source = blocks or hw_blocks

    listed = {s: check_blocks(source(s, config), s) for s in schemes}
    n_blocks = sum(len(v) for v in listed.values())
    bar = _progress(n_blocks, progress, "synth")
    try:
        results = _synth_all(schemes, listed, jobs=jobs, out=out, liberty=liberty, yosys=yosys,
                             timeout=timeout, bar=bar, stats=stats, cache=cache)
    finally:
        bar.close()
    return {s: tile_area(s, listed[s], {b.name: results[(s, b.name)] for b in listed[s]}) for s in schemes}


def tile_area(scheme: str, blocks, areas: dict) -> TileArea:
    """The :class:`TileArea` of a tile whose ``blocks`` (name, count, ``part_of``) have the
    per-instance ``areas`` ``{name: BlockArea}``."""
    return TileArea(scheme, tuple(BlockUse(b.name, b.count, areas[b.name], getattr(b, "part_of", None))
                                  for b in blocks))


def _synth_cached(cache, key, text, name, **kwargs):
    area = synth_verilog(text, name, **kwargs)
    cache.put(key, area)
    return area


def _synth_all(schemes, listed, *, jobs, out, liberty, yosys, timeout, bar, stats, cache=None) -> dict:
    """Emit each block's Verilog in turn and hand it to the yosys pool at once (emission of the
    next block overlaps the synthesis of the previous ones); identical Verilog is synthesised
    once. Returns ``{(scheme, block): BlockArea}``."""
    tmp = tempfile.TemporaryDirectory(prefix="synth-") if out is None else None
    where: dict[tuple[str, str], str] = {}     # (scheme, block) -> Verilog key
    dirs: dict[str, list[Path]] = {}          # key -> work directories wanting its files
    futures: dict[str, cf.Future] = {}
    cached = 0
    t0 = time.perf_counter()
    try:
        with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
            try:
                for s in schemes:
                    for b in listed[s]:
                        bar.set_postfix_str(f"emit {s}/{b.name}")
                        text = to_verilog(b.component, b.name)
                        key = hashlib.sha256(f"{b.name}\0{text}".encode()).hexdigest()
                        where[(s, b.name)] = key
                        wd = Path(out) / s / b.name if out is not None else Path(tmp.name) / key[:16]
                        dirs.setdefault(key, []).append(wd)
                        if key not in futures:
                            kw = dict(liberty=liberty, workdir=wd, yosys=yosys, timeout=timeout)
                            hit = None
                            if cache is not None:
                                ckey = cache.key(b.name, text, liberty)
                                hit = cache.get(ckey)
                            if hit is not None:
                                futures[key] = cf.Future()
                                futures[key].set_result(hit)
                                cached += 1
                            elif cache is not None:
                                futures[key] = pool.submit(_synth_cached, cache, ckey, text, b.name, **kw)
                            else:
                                futures[key] = pool.submit(synth_verilog, text, b.name, **kw)
                            bar.total += 1
                        bar.update(1)
                t_emitted = time.perf_counter()
                for fut in cf.as_completed(futures.values()):
                    area = fut.result()
                    bar.set_postfix_str(f"done {area.name}")
                    bar.update(1)
            except BaseException:
                for f in futures.values():
                    f.cancel()
                stop_running()  # do not wait minutes for runs whose result is no longer wanted
                raise
        if stats is not None:
            stats.update(blocks=len(where), unique=len(futures), cached=cached, emit_seconds=t_emitted - t0,
                         wall_seconds=time.perf_counter() - t0)
        if out is not None:
            for paths in dirs.values():
                if not paths[0].is_dir():
                    continue  # from the cache: nothing synthesised here
                for extra in paths[1:]:  # identical block in another scheme: same files
                    shutil.copytree(paths[0], extra, dirs_exist_ok=True)
        return {sb: futures[key].result() for sb, key in where.items()}
    finally:
        if tmp is not None:
            tmp.cleanup()
