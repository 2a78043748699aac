"""Tile area: synthesise each distinct block of a tile once and count it per instance.

A tile design lists its distinct blocks (:meth:`dstripes.hw.design.TileDesign.synth_blocks`),
each with one instance's component and its instance count. Emitting the whole tile would give
one Verilog module per SIP instance (256 on the published tile, ~4 minutes per tile on two cores);
synthesising one instance and multiplying is exact for area, because the instances are
identical and unconnected logic does not merge across them.

Blocks whose Verilog is identical (the same block in two tiles) are synthesised once. Each
block goes to a pool of yosys runs (threads, each driving its own yosys process) as soon as its
Verilog is emitted, so emission of the next block overlaps synthesis of the previous ones.
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from tqdm import tqdm

from dstripes.hw.design import TileDesign
from dstripes.hw.emit import to_verilog
from dstripes.sim.errors import ConfigError
from dstripes.sim.limits import worker_count
from dstripes.tb.tools import stop_running

from .cache import SynthCache
from .flow import BlockArea, check_top, probe_liberty, synth_verilog
from .liberty import check_liberty, check_timing_liberty, resolve_liberty
from .sta import sta_path
from .timing import Timing, TileTiming, block_netlists, tile_glue, tile_timing


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

    @property
    def area_um2(self) -> float | None:
        return self.liberty_area

    @property
    def ff_area_um2(self) -> float | None:
        return None if self.area.liberty_ff_area is None else self.count * self.area.liberty_ff_area

    @property
    def timing(self) -> Timing | None:
        """One instance's own timing (:class:`synth.timing.Timing`), or ``None``."""
        return self.area.timing

    def as_dict(self) -> dict:
        d = {"count": self.count, "transistors": self.transistors, "ge": self.ge,
             "cells": self.cells, "depth": self.area.depth, "instance": self.area.as_dict()}
        if self.part_of is not None:
            d["part_of"] = self.part_of
        if self.liberty_area is not None:
            d["liberty_area"] = self.liberty_area
            d["area_um2"] = self.area_um2
            d["ff_area_um2"] = self.ff_area_um2
        if self.timing is not None:
            d.update(self.timing.as_dict())
        return d


@dataclass(frozen=True)
class TileArea:
    """Area of one tile: the sum over its top-level blocks (those not ``part_of`` another) of
    count x instance area.

    With a timed liberty, also the tile's own top level (``glue_area``: the logic between the
    blocks, mapped like a block) and the tile's :class:`~dstripes.synth.timing.Timing`
    (:func:`synth.timing.tile_timing`: the whole tile linked from its block netlists).

    Members
    -------
    design : TileDesign
    blocks : tuple of BlockUse
    timing : Timing or None
    glue_area, glue_ff_area : float or None
        The top level's area and its flip-flops' part, in the liberty's units.
    """

    design: TileDesign
    blocks: tuple
    timing: Timing | None = None
    glue_area: float | None = None
    glue_ff_area: float | None = None

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
        """Sum of the counted blocks' user-liberty areas (the tile's top level not included)."""
        parts = [b.liberty_area for b in self.counted]
        return None if any(p is None for p in parts) else sum(parts)

    @property
    def area_um2(self) -> float | None:
        """User-liberty area of the tile: its blocks and, when timed, its top level."""
        a = self.liberty_area
        return None if a is None else a + (self.glue_area or 0.0)

    @property
    def ff_area_um2(self) -> float | None:
        parts = [b.ff_area_um2 for b in self.counted]
        if self.area_um2 is None or any(p is None for p in parts):
            return None
        return sum(parts) + (self.glue_ff_area or 0.0)

    @property
    def ff_share(self) -> float | None:
        """Fraction of :attr:`area_um2` in flip-flops."""
        a, f = self.area_um2, self.ff_area_um2
        return None if a is None or f is None or a <= 0 else f / a

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
            d["area_um2"] = self.area_um2
            d["ff_area_um2"] = self.ff_area_um2
            d["ff_share"] = self.ff_share
            if self.glue_area is not None:
                d["glue_area_um2"] = self.glue_area
        if self.timing is not None:
            d.update(self.timing.as_dict())
        return d


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


@dataclass(frozen=True)
class SynthStats:
    """How one :func:`synth_tiles` call went.

    Members
    -------
    blocks : int
        Blocks listed by the tiles.
    unique : int
        Distinct blocks (by Verilog): the syntheses needed.
    cached : int
        Of those, found in the cache.
    emit_seconds : float
        Until the last block was emitted (synthesis overlaps it).
    synth_seconds : float
        Until the last block was synthesised.
    timing_seconds : float or None
        After that, until the last tile was timed (a tile is timed as soon as its own blocks are
        done); ``None`` when no tile was timed.
    wall_seconds : float
        Everything.
    """

    blocks: int
    unique: int
    cached: int
    emit_seconds: float
    synth_seconds: float
    timing_seconds: float | None
    wall_seconds: float


@dataclass(frozen=True)
class TileSynthesis:
    """What :func:`synth_tiles` made.

    Members
    -------
    tiles : mapping
        ``{kind: TileArea}``, in the order the designs were given.
    stats : SynthStats
    """

    tiles: Mapping[str, TileArea]
    stats: SynthStats


def synth_tiles(designs, *, liberty=None, jobs: int | None = None, out=None, progress: bool = False,
                blocks=None, yosys: str | None = None, timeout: float | None = None,
                timing: bool | None = None, sta: str | None = None, cache: SynthCache | None = None) -> TileSynthesis:
    """Synthesise tiles, each distinct block once.

    Parameters
    ----------
    designs : iterable of TileDesign
        The tiles, at most one of each kind (:func:`dstripes.hw.design.designs`).
    liberty : str or path, optional
        A liberty file, or a built-in library name (``"sky130"``,
        :data:`synth.liberty.BUILTIN`): area in its units (µm²) next to the built-in units.
    jobs : int, optional
        Parallel yosys runs (default: the number of CPUs).
    out : path, optional
        Keep ``out/<kind>/<block>/{block.v, synth.ys, yosys.log, *.rpt, user.v}`` (and the
        tile's top level and timing in ``out/<kind>/_tile/``). The netlists of a timed run
        stay there for :mod:`synth.power`.
    progress : bool
        Show a progress bar on stderr (when it is a terminal).
    blocks : callable, optional
        ``blocks(design) -> list`` of objects with ``name``, ``component``, ``count`` (and
        optionally ``part_of``); default: the design's ``synth_blocks()``. A custom source has no
        tile to link, so its tiles get no tile timing (blocks are still timed).
    yosys : str, optional
        Yosys executable.
    timeout : float, optional
        Seconds allowed per yosys or OpenSTA run.
    timing : bool, optional
        Time blocks and tiles with OpenSTA (default: whenever ``liberty`` is given); needs a
        library with timing arcs and ``sta``.
    sta : str, optional
        OpenSTA executable.
    cache : synth.cache.SynthCache, optional
        Reuse earlier results of identical blocks (same Verilog, tools and libraries) and store
        the new ones; ``out`` then holds files only of the blocks synthesised in this call. Not
        used when timing (OpenSTA times the tile on the blocks' netlists of this run).

    Raises
    ------
    TypeError
        If a design is not a :class:`~dstripes.hw.design.TileDesign`.
    ConfigError
        No design, two of one kind, a bad block list, an unusable liberty.
    ToolError
        yosys or OpenSTA failed, or a report is missing.
    """
    t0 = time.perf_counter()
    designs = list(designs)
    for d in designs:
        if not isinstance(d, TileDesign):
            raise TypeError(f"designs must be dstripes.hw.design.TileDesign objects, not {d!r}")
    if not designs:
        raise ConfigError("no tile to synthesise")
    names = [d.name for d in designs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        # their work folders (out/<kind>) and results are named by kind
        raise ConfigError(f"two {twice[0]} tiles in one synthesis: synthesise them in separate runs")
    jobs = worker_count(jobs)
    timing = liberty is not None if timing is None else bool(timing)
    if timing and liberty is None:
        raise ConfigError("timing needs a liberty with timing arcs (e.g. liberty='sky130')")
    info = None
    if liberty is not None:
        liberty = resolve_liberty(liberty)
        check_liberty(liberty)
        if timing:
            sta = sta_path(sta)  # a missing OpenSTA fails before any synthesis
            info = check_timing_liberty(liberty)
        probe_liberty(liberty, yosys=yosys, timeout=timeout, timing=timing, sta=sta)

    source = blocks if blocks is not None else TileDesign.synth_blocks
    listed = {d.name: check_blocks(source(d), d.name) for d in designs}
    # a custom block source has no tile to link
    whole = {d.name: d for d in designs} if timing and blocks is None else {}
    n_blocks = sum(len(v) for v in listed.values())
    bar = _progress(n_blocks + len(whole), progress, "synth")
    tmp = tempfile.TemporaryDirectory(prefix="synth-") if out is None else None
    root = Path(out) if out is not None else Path(tmp.name)

    def timer(name, areas):
        """Called in this thread as soon as the tile's last block is synthesised: the glue is
        emitted here (Amaranth), yosys and OpenSTA run in the pool."""
        design = whole[name]
        nets = block_netlists(listed[name], areas, info, design.top)
        glue = tile_glue(design, listed[name], {n: v.ports for n, v in nets.items()})
        return lambda: tile_timing(design, listed[name], areas, root / name / "_tile", info, yosys=yosys,
                                   sta=sta, timeout=timeout, glue=glue, nets=nets)

    try:
        run = _synth_all(listed, jobs=jobs, root=root, keep=out is not None, liberty=liberty, yosys=yosys,
                         timeout=timeout, bar=bar, timing=timing, sta=sta, time_tile=timer if whole else None,
                         cache=None if timing else cache)
    finally:
        bar.close()
        if tmp is not None:
            tmp.cleanup()
    tiles = {}
    for d in designs:
        tile = tile_area(d, listed[d.name], {b.name: run.areas[(d.name, b.name)] for b in listed[d.name]})
        timed = run.timed.get(d.name)
        if timed is not None:
            _, glue_ff = info.area_split(timed.glue_cells)
            tile = dataclasses.replace(tile, timing=timed.timing, glue_area=timed.glue_area, glue_ff_area=glue_ff)
        tiles[d.name] = tile
    return TileSynthesis(tiles, dataclasses.replace(run.stats, wall_seconds=time.perf_counter() - t0))


def tile_area(design: TileDesign, blocks, areas: Mapping[str, BlockArea]) -> TileArea:
    """The :class:`TileArea` of a tile whose ``blocks`` (name, count, ``part_of``) have the
    per-instance ``areas`` ``{name: BlockArea}``."""
    return TileArea(design, tuple(BlockUse(b.name, b.count, areas[b.name], getattr(b, "part_of", None))
                                  for b in blocks))


def _progress(total: int, enabled: bool, desc: str) -> tqdm:
    # disable=None: the bar hides itself when stderr is not a terminal
    return tqdm(total=total, desc=desc, unit="step", disable=None if enabled else True, leave=False)


def _synth_cached(cache, key, text, name, **kwargs):
    area = synth_verilog(text, name, **kwargs)
    cache.put(key, area)
    return area


@dataclass(frozen=True)
class _Run:
    areas: Mapping[tuple, BlockArea]        # (kind, block) -> BlockArea
    timed: Mapping[str, TileTiming]         # kind -> its tile timed whole
    stats: SynthStats


def _synth_all(listed, *, jobs, root: Path, keep: bool, liberty, yosys, timeout, bar, timing=False, sta=None,
               time_tile=None, cache=None) -> _Run:
    """Emit each block's Verilog in turn and hand it to the pool at once (emission of the next
    block overlaps the synthesis of the previous ones); identical Verilog is synthesised once.
    With ``time_tile``, a tile is timed in the same pool as soon as its last block is done
    (while the other tiles' blocks are still being synthesised)."""
    where: dict[tuple[str, str], str] = {}     # (kind, block) -> Verilog key
    dirs: dict[str, list[Path]] = {}          # key -> work directories wanting its files
    futures: dict[str, cf.Future] = {}
    timing_futures: dict[str, cf.Future] = {}
    t0 = time.perf_counter()
    t_timed = None
    cached = 0

    def submit_ready(pool) -> None:
        for s, blocks in listed.items():
            if time_tile is None or s in timing_futures:
                continue
            if all(futures[where[(s, b.name)]].done() for b in blocks):
                areas = {b.name: futures[where[(s, b.name)]].result() for b in blocks}
                timing_futures[s] = pool.submit(time_tile(s, areas))

    with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            for s, blocks in listed.items():
                for b in blocks:
                    bar.set_postfix_str(f"emit {s}/{b.name}")
                    text = to_verilog(b.component, b.name)
                    key = hashlib.sha256(f"{b.name}\0{text}".encode()).hexdigest()
                    where[(s, b.name)] = key
                    wd = root / s / b.name if keep else root / key[:16]
                    dirs.setdefault(key, []).append(wd)
                    if key not in futures:
                        kw = dict(liberty=liberty, workdir=wd, yosys=yosys, timeout=timeout, timing=timing, sta=sta)
                        ckey = cache.key(b.name, text, liberty) if cache is not None else None
                        hit = cache.get(ckey) if cache is not None else None
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
                submit_ready(pool)
            t_synth = time.perf_counter()
            submit_ready(pool)
            for fut in cf.as_completed(timing_futures.values()):
                fut.result()
                bar.update(1)
            if timing_futures:
                t_timed = time.perf_counter()
        except BaseException:
            for f in (*futures.values(), *timing_futures.values()):
                f.cancel()
            stop_running()  # do not wait minutes for runs whose result is no longer wanted
            raise
    if keep:
        for paths in dirs.values():
            if not paths[0].is_dir():
                continue  # from the cache: nothing synthesised here
            for extra in paths[1:]:  # identical block in another tile: same files
                shutil.rmtree(extra, ignore_errors=True)
                shutil.copytree(paths[0], extra, symlinks=True)
    # the tiles' timing overlaps the synthesis of other tiles' blocks
    stats = SynthStats(len(where), len(futures), cached, t_emitted - t0, t_synth - t0,
                       None if t_timed is None else t_timed - t_synth, 0.0)
    return _Run({sb: futures[key].result() for sb, key in where.items()},
                {s: f.result() for s, f in timing_futures.items()}, stats)
