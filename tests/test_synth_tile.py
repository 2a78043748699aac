# amaranth: UnusedElaboratable=no
# (the bad-block tests make toy components that the synthesis refuses before it elaborates them)
"""Tile-level synthesis (synth/tile.py) and performance per area (synth/perf_area.py).

Block lists come from small components defined here, and — once the RTL generator provides
``hw.synth_blocks`` — from the real tiles in a small configuration."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.design import TileDesign, designs
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.synth.perf_area import (dstripes_overhead, perf_per_area, reference_workload,
                             sample_workloads, select_workloads, total_cycles, workload_cycles)
from dstripes.synth.report import synth_report
from dstripes.synth.tile import TileArea, BlockUse, synth_tiles
from dstripes.synth.flow import BlockArea
from dstripes.synth.recipe import GE_LIBERTY as GE_LIB

SMALL = TileConfig(lanes=4, columns=2, rows=2, act_bits=8, weight_bits=8)
KINDS = ("dadn", "stripes", "dstripes")


class Lanes(wiring.Component):
    """A registered sum of ``lanes`` 4-bit inputs: stands in for an array element."""

    def __init__(self, lanes: int):
        self.lanes = lanes
        super().__init__({"a": In(4 * lanes), "q": Out(12)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.q.eq(sum(self.a[4 * i:4 * i + 4] for i in range(self.lanes)))
        return m


class Flag(wiring.Component):
    """A 3-bit counter: stands in for a small control block."""

    def __init__(self):
        super().__init__({"q": Out(3)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.q.eq(self.q + 1)
        return m


@dataclass
class Part:
    name: str
    component: object
    count: int
    part_of: str | None = None


def toy_blocks(design):
    """A serial tile is Nr*Nc small elements; the parallel one Nr wide ones (not real RTL)."""
    scheme, config = design.name, design.config
    if scheme == "dadn":
        return [Part("ip_array", Lanes(4 * config.lanes), config.rows), Part("controller", Flag(), 1)]
    parts = [Part("sip_array", Lanes(config.lanes), config.rows * config.columns),
             Part("controller", Flag(), 1)]
    if scheme == "dstripes":
        parts.append(Part("detector", Lanes(2), 1, part_of="controller"))
    return parts


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy")
    return out, synth_tiles(designs(KINDS, SMALL), blocks=toy_blocks, out=out, jobs=2).tiles


def test_instances_counted_and_parts_not_double_counted(toy):
    _, tiles = toy
    s, d = tiles["stripes"], tiles["dstripes"]
    sip = s.block("sip_array")
    assert sip.count == 4 and sip.transistors == 4 * sip.area.transistors
    assert s.transistors == sip.transistors + s.block("controller").transistors
    assert s.ge == pytest.approx(sip.ge + s.block("controller").ge)
    # the detector is listed (and really synthesised) but lives inside the controller
    det = d.block("detector")
    assert det.part_of == "controller" and det.area.transistors > 0
    assert d.transistors == s.transistors and d.ge == pytest.approx(s.ge)
    assert d.depth == max(b.area.depth for b in d.blocks)


def test_identical_blocks_shared_across_schemes(toy):
    out, tiles = toy
    # same component in two schemes: one yosys run, same figures, files in both places
    assert tiles["stripes"].block("sip_array").area == tiles["dstripes"].block("sip_array").area
    for scheme in ("stripes", "dstripes"):
        for f in ("block.v", "synth.ys", "yosys.log", "cmos.rpt", "ge.rpt", "depth.rpt"):
            assert (out / scheme / "sip_array" / f).is_file(), (scheme, f)


def test_cache_skips_identical_blocks(tmp_path):
    """A second synthesis of the same tiles finds every distinct block in the cache (same
    areas, nothing run); a block whose Verilog changes is a miss, so it is synthesised."""
    from dstripes.synth.cache import SynthCache

    cache = SynthCache(tmp_path / "cache")
    first = synth_tiles(designs(KINDS[:2], SMALL), blocks=toy_blocks, jobs=2, cache=cache)
    assert first.stats.cached == 0 and first.stats.unique > 0
    assert first.stats.blocks == 4 and first.stats.timing_seconds is None
    again = synth_tiles(designs(KINDS[:2], SMALL), blocks=toy_blocks, jobs=2, cache=cache)
    assert again.stats.cached == again.stats.unique
    assert {s: t.as_dict() for s, t in again.tiles.items()} == {s: t.as_dict() for s, t in first.tiles.items()}
    wider = TileConfig(lanes=5, columns=2, rows=2, act_bits=8, weight_bits=8)
    run = synth_tiles([TileDesign.of("stripes", wider)], blocks=toy_blocks, jobs=2, cache=cache)
    assert 0 < run.stats.cached < run.stats.unique   # the control block is the same, the lanes not
    key = cache.key("flag", "module flag(); endmodule\n")
    assert key != cache.key("flag", "module flag(); endmodule\n", GE_LIB)   # a liberty is in the key
    assert cache.get(key) is None


def test_area_grows_with_lanes():
    small, large = (synth_tiles([TileDesign.of("stripes", replace(SMALL, lanes=n))],
                                blocks=toy_blocks).tiles["stripes"] for n in (2, 8))
    assert small.transistors < large.transistors and small.ge < large.ge


def test_json_shape(toy):
    _, tiles = toy
    d = tiles["dstripes"].as_dict()
    assert set(d) >= {"transistors", "ge", "cells", "depth", "blocks"}
    assert d["blocks"]["detector"]["part_of"] == "controller"
    assert d["blocks"]["sip_array"]["instance"]["transistors"] * 4 == d["blocks"]["sip_array"]["transistors"]


def test_bad_block_lists_are_config_errors():
    def dup(design):
        return [Part("a", Flag(), 1), Part("a", Flag(), 1)]

    def zero(design):
        return [Part("a", Flag(), 0)]

    def orphan(design):
        return [Part("a", Flag(), 1, part_of="b")]

    stripes = [TileDesign.of("stripes", SMALL)]
    for fn, msg in ((dup, "appears twice"), (zero, "instance count 0"), (orphan, "part of 'b'"),
                    (lambda d: [], "has no blocks")):
        with pytest.raises(ConfigError, match=msg):
            synth_tiles(stripes, blocks=fn)
    with pytest.raises(TypeError, match="designs must be dstripes.hw.design.TileDesign objects, not 'stripes'"):
        synth_tiles(["stripes"], blocks=toy_blocks)
    with pytest.raises(ConfigError, match="no tile to synthesise"):
        synth_tiles([], blocks=toy_blocks)
    with pytest.raises(ConfigError, match="two stripes tiles in one synthesis"):
        synth_tiles(stripes + [TileDesign.of("stripes", replace(SMALL, lanes=2))], blocks=toy_blocks)
    with pytest.raises(ConfigError, match="jobs must be a positive integer"):
        synth_tiles(stripes, blocks=toy_blocks, jobs=0)


def test_broken_liberty_fails_before_any_block(tmp_path):
    calls = []

    def spy(design):
        calls.append(design)
        return toy_blocks(design)

    bad = tmp_path / "bad.lib"
    bad.write_text("library(bad) {\n  cell(INV) { area : 1; pin(A) { direction : input; }\n")
    with pytest.raises(ConfigError, match=r"liberty file .*bad.lib is truncated or malformed"):
        synth_tiles([TileDesign.of("stripes", SMALL)], blocks=spy, liberty=bad)
    assert calls == []


# --- performance per area ---------------------------------------------------------------

def _tile(scheme, tr, ge):
    area = BlockArea(name="x", transistors=tr, ge=ge, cells=1, depth=1, flip_flops=0)
    return TileArea(TileDesign.of(scheme, SMALL), (BlockUse("x", 1, area),))


def test_perf_per_area_arithmetic():
    tiles = {"dadn": _tile("dadn", 1000, 100.0), "stripes": _tile("stripes", 1500, 120.0),
             "dstripes": _tile("dstripes", 1560, 126.0)}
    pa = perf_per_area(tiles, {"dadn": 800, "stripes": 400, "dstripes": 250})
    assert pa["dadn"].perf_per_area_ge == 1.0
    assert pa["stripes"].speedup == 2.0 and pa["stripes"].area_ratio_ge == pytest.approx(1.2)
    assert pa["stripes"].perf_per_area_ge == pytest.approx(2.0 / 1.2)
    assert pa["dstripes"].perf_per_area_transistors == pytest.approx(3.2 / 1.56)
    over = dstripes_overhead(tiles)
    assert over.ge == pytest.approx(0.05) and over.transistors == pytest.approx(0.04)
    assert over.area_um2 is None and over.critical_path is None and set(over.as_dict()) == {"ge", "transistors"}
    assert dstripes_overhead({"stripes": tiles["stripes"]}) is None
    with pytest.raises(ConfigError, match="needs the bit-parallel"):
        perf_per_area({"stripes": tiles["stripes"]}, {"stripes": 1})


def test_report_json_shape():
    """``dstripes synth --json``: each tile's figures with its ratios to the bit-parallel tile,
    the workload, the overhead, the tools, in this order."""
    tiles = {"dadn": _tile("dadn", 1000, 100.0), "stripes": _tile("stripes", 1500, 120.0),
             "dstripes": _tile("dstripes", 1560, 126.0)}
    work = reference_workload(SMALL, shape={"c": 16, "h": 4, "w": 4, "k": 16})
    r = synth_report(tiles, SMALL, [work], yosys="0.23", liberty=None)
    d = r.as_dict()
    assert list(d) == ["tiles", "config", "workload", "dstripes_over_stripes", "yosys", "liberty"]
    assert d["tiles"]["stripes"]["vs_dadn"] == r.vs_dadn["stripes"].as_dict()
    assert d["workload"]["cycles"] == dict(total_cycles([work], SMALL)) and not r.timed
    alone = synth_report({"stripes": tiles["stripes"]}, SMALL, yosys="0.23", liberty=None, sta="OpenSTA 2.0.17")
    assert list(alone.as_dict()) == ["tiles", "config", "yosys", "liberty", "sta"] and alone.vs_dadn is None


def test_reference_workload_is_documented_and_reproducible():
    a, b = reference_workload(SMALL), reference_workload(SMALL)
    assert np.array_equal(a.acts, b.acts)
    assert a.acts.shape == (256, 56, 56) and (a.layer.kh, a.layer.kw, a.layer.k) == (3, 3, 256)
    assert (a.window.msb, a.window.lsb) == (7, 0) and a.acts.max() == a.window.hi
    assert 0.4 < np.mean(a.acts == 0) < 0.8  # ReLU-like: many exact zeros
    assert "seed 0" in a.description and "[7:0]" in a.description
    assert reference_workload(TileConfig(act_bits=4)).window.msb == 3


def test_reference_cycles_order():
    cfg = TileConfig()
    w = reference_workload(cfg, shape={"c": 64, "h": 16, "w": 16, "k": 64})
    c = workload_cycles(w, cfg).cycles
    # an 8-bit window on a 16-column tile: Stripes is exactly 16/8 faster than DaDN
    assert c["dadn"] == 2 * c["stripes"]
    assert c["dstripes"] < c["stripes"]


def test_workload_selection():
    samples = sample_workloads(SMALL)
    auto = select_workloads(SMALL)
    if samples:
        assert [w.name for w in auto] == [w.name for w in samples]
        assert all(w.window.msb < SMALL.act_bits for w in samples)
    else:  # sample data not installed: the documented synthetic layer stands in
        assert [w.name for w in auto] == ["reference"]
        with pytest.raises(ConfigError, match="no bundled activation sample fits"):
            select_workloads(SMALL, "samples")
    assert [w.name for w in select_workloads(SMALL, "synthetic")] == ["reference"]
    with pytest.raises(ConfigError, match="workload must be one of"):
        select_workloads(SMALL, "imagenet")


def test_total_cycles_sums_layers():
    cfg = TileConfig()
    w = reference_workload(cfg, shape={"c": 32, "h": 8, "w": 8, "k": 32})
    one = workload_cycles(w, cfg).cycles
    two = total_cycles([w, w], cfg)
    assert two == {s: 2 * one[s] for s in ("dadn", "stripes", "dstripes")}


# --- the real tiles ---------------------------------------------------------------------------



@pytest.fixture(scope="module")
def real_small():
    return synth_tiles(designs(KINDS, SMALL), jobs=2).tiles


def test_real_small_tiles_all_schemes(real_small):
    for scheme, tile in real_small.items():
        assert tile.transistors > 0 and tile.ge > 0 and tile.cells > 0 and tile.depth > 0, scheme
        for b in tile.blocks:
            assert b.area.transistors > 0 and b.area.ge > 0, (scheme, b.name)
    s, d = real_small["stripes"], real_small["dstripes"]
    assert s.block("sip_array").count == SMALL.rows * SMALL.columns
    # Dynamic Stripes adds the detector and its control to the Stripes tile
    assert d.ge > s.ge and d.transistors > s.transistors
    assert d.block("detector").part_of == "dispatcher"
