"""Timing with OpenSTA in a real library (synth/timing.py, synth/liberty.py, synth/sta.py):
blocks and whole tiles in sky130, the tile bound validated against the flat netlist of the whole
tile, and one-line errors for unusable libraries and a missing OpenSTA."""
from __future__ import annotations

import gc
import re

import pytest
from amaranth.hdl import Fragment

from dstripes.hw.design import TileDesign, designs
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError, ToolError
from dstripes.synth import sta as sta_mod
from dstripes.synth.flow import synth_verilog
from dstripes.synth.liberty import liberty_info, parse_liberty, resolve_liberty
from dstripes.synth.recipe import GE_LIBERTY
from dstripes.synth.tile import synth_tiles
from dstripes.synth.timing import block_instances, block_timing, tile_glue, tile_timing

SMALL = TileConfig(lanes=4, columns=2, rows=2, act_bits=8, weight_bits=8)
SCHEMES = ("dadn", "stripes", "dstripes")


@pytest.fixture(scope="module")
def sky130():
    return resolve_liberty("sky130")


@pytest.fixture(scope="module")
def small(sky130, tmp_path_factory):
    out = tmp_path_factory.mktemp("silicon")
    return out, synth_tiles(designs(SCHEMES, SMALL), liberty="sky130", out=out, jobs=2).tiles


def test_builtin_library_is_shipped_and_decompressed(sky130):
    info = liberty_info(sky130)
    assert sky130.is_file() and sky130.name == "sky130_fd_sc_hd__tt_025C_1v80.lib"
    assert len(info.cells) == 372 and info.timing and info.power and info.time_unit_ns == 1.0
    assert info.buffer() == ("sky130_fd_sc_hd__buf_1", "A", "X")
    assert info.cells["sky130_fd_sc_hd__probec_p_8"].dont_use  # a probe cell is no buffer
    assert resolve_liberty("sky130") == sky130  # decompressed once


def test_tiles_have_area_clock_and_a_path(small):
    _, tiles = small
    for s, t in tiles.items():
        assert t.area_um2 > t.liberty_area > 0 and 0 < t.ff_share < 1
        assert t.timing.critical_path_ns > 0 and t.timing.fmax_mhz == pytest.approx(1000 / t.timing.critical_path_ns)
        assert ":" in t.timing.startpoint and ":" in t.timing.endpoint and t.timing.through
        for b in t.blocks:
            assert b.area.liberty_area > 0 and 0 <= b.area.liberty_ff_area <= b.area.liberty_area
            assert b.timing is not None and b.timing.critical_path_ns > 0, (s, b.name)
        # a tile is never faster than a register-to-register path inside one of its blocks
        internal = [b.timing.internal_ns for b in t.counted if b.timing.internal_ns is not None]
        assert t.timing.critical_path_ns >= max(internal) - 1e-9
    # the serial tiles' worst path crosses from the dispatcher's registers into a SIP
    for s in ("stripes", "dstripes"):
        assert tiles[s].timing.through[:2] == ("dispatcher", "sip_array"), tiles[s].timing
    assert tiles["dstripes"].block("detector").timing.internal_ns is None  # combinational


def test_area_figures_add_up(small):
    _, tiles = small
    t = tiles["dstripes"]
    det = t.block("detector")
    assert det.part_of == "dispatcher" and det.area.liberty_area < t.block("dispatcher").area.liberty_area
    assert t.liberty_area == pytest.approx(sum(b.area_um2 for b in t.counted))
    assert t.area_um2 == pytest.approx(t.liberty_area + t.glue_area)
    d = t.as_dict()
    for key in ("area_um2", "critical_path_ns", "fmax_mhz"):
        assert key in d and all(key in b for b in d["blocks"].values()), key
    sip = d["blocks"]["sip_array"]
    assert sip["area_um2"] == pytest.approx(sip["count"] * sip["instance"]["area_um2"])


def _where(point: str, instances: dict) -> str:
    """The block a path end belongs to: ``sip_r0_c0:partial[3]`` (tile) and
    ``sip_r1_c1.partial[3]`` (flat netlist) both give ``sip_array``; a port gives ``port``."""
    head = re.split(r"[:.]", point.replace("port:", ""), maxsplit=1)
    return instances.get(head[0], head[0]) if len(head) == 2 else "port"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_tile_timing_agrees_with_the_flat_tile(scheme, sky130, small, tmp_path):
    """The tile assembled from its blocks against the whole tile synthesised and timed in one
    piece, all nets ideal in both (the flat netlist has no block boundary to idealise): the
    same path (from the same block, to the same block) within 20 % (two ABC runs of different
    extent map the same logic differently)."""
    out, tiles = small
    design = TileDesign.of(scheme, SMALL)
    flat = synth_verilog(design.verilog(), design.top, liberty=sky130, timing=True, workdir=tmp_path / "flat")
    info = liberty_info(sky130)
    flat_t = block_timing(tmp_path / "flat", design.top, info, what="flat tile", ideal_nets=True)
    blocks = design.synth_blocks()
    areas = {b.name: b.area for b in tiles[scheme].blocks}
    hier = tile_timing(design, blocks, areas, tmp_path / "hier", info, ideal="all").timing
    assert hier.critical_path_ns == pytest.approx(flat_t.critical_path_ns, rel=0.20)
    inst = block_instances(design, blocks)
    assert [_where(p, inst) for p in (hier.startpoint, hier.endpoint)] == \
        [_where(p, inst) for p in (flat_t.startpoint, flat_t.endpoint)]
    # the flat tile's area is the blocks' (cross-boundary optimisation aside)
    assert flat.liberty_area == pytest.approx(tiles[scheme].area_um2, rel=0.10)


# the glue below is refused half-way through its conversion on purpose: the blocks that tile's
# elaborate() had made by then are never elaborated, which is what this warning reports
@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_glue_instances_are_the_listed_blocks():
    """The instances the tile lists for its counted blocks are exactly its elaborated direct
    submodules (what the glue replaces by black boxes), and a failed glue leaves the tile usable."""
    design = TileDesign.of("stripes", SMALL)
    blocks = design.synth_blocks()
    inst = block_instances(design, blocks)
    direct = {name for _, name, _ in Fragment.get(design.component, None).subfragments}
    assert set(inst) == direct
    assert {b: list(inst.values()).count(b) for b in set(inst.values())} == \
        {b.name: b.count for b in blocks if b.part_of is None}
    with pytest.raises(ToolError, match="netlist has no port") as refused:
        tile_glue(design, blocks, {b.name: {} for b in blocks})
    del refused  # its traceback holds the half-made blocks: let them go while the warning is ignored
    gc.collect()
    assert "elaborate" not in vars(design.component)
    assert {name for _, name, _ in Fragment.get(design.component, None).subfragments} == direct


# --- bad input ------------------------------------------------------------------------------

def _without_sequential(text: str) -> str:
    starts = [m.start() for m in re.finditer(r'\n    cell \("', text)]
    keep = [text[:starts[0]]]
    for i, s in enumerate(starts):
        body = text[s:starts[i + 1] if i + 1 < len(starts) else text.rindex("}")]
        if not re.search(r"\bff\s*\(", body):
            keep.append(body)
    return "".join(keep) + "\n}\n"


def test_liberty_without_timing_or_flip_flop_is_rejected_before_synthesis(sky130, tmp_path):
    calls = []

    def spy(design):
        calls.append(design)
        raise AssertionError("synthesis started")

    with pytest.raises(ConfigError, match=r"^liberty .*ge.lib has no timing arcs"):
        synth_tiles([TileDesign.of("stripes", SMALL)], liberty=GE_LIBERTY, blocks=spy)
    comb = tmp_path / "comb.lib"
    comb.write_text(_without_sequential(sky130.read_text()))
    assert not any(c.flip_flop for c in parse_liberty(comb.read_text()).cells.values())
    with pytest.raises(ConfigError, match=r"^liberty .*comb.lib has no flip-flop"):
        synth_tiles([TileDesign.of("stripes", SMALL)], liberty=comb, blocks=spy)
    assert calls == []


def test_missing_opensta_is_a_tool_error(monkeypatch, tmp_path):
    monkeypatch.setenv(sta_mod.STA_ENV, str(tmp_path / "no-sta"))
    with pytest.raises(ToolError, match="OpenSTA executable not found"):
        synth_tiles([TileDesign.of("stripes", SMALL)], liberty="sky130",
                    blocks=lambda d: pytest.fail("synthesis started"))


def test_sta_errors_are_tool_errors(tmp_path):
    with pytest.raises(ToolError, match=r"^OpenSTA failed on probe: cannot read file"):
        sta_mod.run_sta("read_liberty /nonexistent.lib", tmp_path, name="x", what="probe")
    # a script that stops half-way (a Tcl error) is caught by the end marker
    with pytest.raises(ToolError, match="OpenSTA failed on probe"):
        sta_mod.run_sta("puts [expr 1/0]", tmp_path, name="y", what="probe")


def test_sta_timeout_stops_the_run(tmp_path):
    """OpenSTA runs through the shared tool runner (tb/tools.run_tool): a run past its timeout
    is stopped with its process group and reported in one line, with its CPU time measured."""
    import time

    t0 = time.perf_counter()
    with pytest.raises(ToolError, match=r"^OpenSTA timed out after 1 s on probe; log: .*slow.log$"):
        sta_mod.run_sta("after 20000", tmp_path, name="slow", what="probe", timeout=1)
    assert time.perf_counter() - t0 < 10
    run = sta_mod.run_sta("puts hello", tmp_path, name="quick", what="probe")
    assert "hello" in run.log and run.returncode == 0 and run.cpu_seconds >= 0
    assert sta_mod.sta_version()[0].isdigit()
