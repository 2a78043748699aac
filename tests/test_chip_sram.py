"""The accelerator's memories from the sky130 SRAM macros (``synth/sram.py``), the exact access
counts of the chip model (``sim/chip/model.py``), whole-chip energy (``synth/chip_energy.py``)
and ``dstripes synth --chip`` / ``evaluate --chip --energy`` on tiny configurations."""
from __future__ import annotations

import json
import math
import re
import shutil

import pytest

from brute_chip import reads as brute_reads
from dstripes.scripts.cli import main
from dstripes.sim.chip import ChipConfig, LayerPlan
from dstripes.sim.chip.model import Accesses, layer_accesses
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.layer import Layer
from dstripes.synth.chip_energy import DRAM_PJ_PER_BIT, access_energy
from dstripes.synth.sram import (MACROS, SRAM_DIR, chip_memories, glue_cell_areas, load_macros, map_memory,
                                 read_macro)

M256, M1024, M512 = MACROS


def macro(name):
    return {m.name: m for m in load_macros()}[name]


# ------------------------------------------------------------------------------- the macros

def test_the_macros_are_shipped_with_license_and_source():
    for n in MACROS:
        for f in (f"{n}_TT_1p8V_25C.lib", f"{n}.lef", f"{n}.v"):
            assert (SRAM_DIR / f).stat().st_size > 1000, f
    assert "Apache License" in (SRAM_DIR / "LICENSE").read_text()
    readme = (SRAM_DIR / "README.md").read_text()
    assert "VLSIDA/sky130_sram_macros" in readme and "/shared/" not in readme


def test_per_access_energy_is_the_clock_pins_rise_plus_fall_in_pj():
    """Hand calculation from the numbers in the file: the Liberty energy unit is
    capacitive_load_unit x voltage_unit^2 = 1 pF x (1 V)^2 = 1 pJ per edge; one access is a
    rising and a falling clock edge with the port selected."""
    text = (SRAM_DIR / f"{M256}_TT_1p8V_25C.lib").read_text()
    assert re.search(r"capacitive_load_unit\s*\(\s*1\s*,\s*pF\s*\)", text)
    assert re.search(r'voltage_unit\s*:\s*"1V"', text)
    assert 'leakage_power_unit : "1mW"' in text
    m = macro(M256)
    assert m.read_pj == pytest.approx(9.589466 + 9.589466)       # clk1, when "!csb1"
    assert m.write_pj == pytest.approx(9.589466 + 9.589466)      # clk0, when "!csb0 & !web0"
    assert m.leakage_w == pytest.approx(0.009516e-3)               # cell_leakage_power, mW
    assert macro(M512).read_pj == pytest.approx(2 * 13.8084)
    # timing: dout after the falling edge (worst table entry), setup, minimum period
    assert (m.clk_to_out_ns, m.setup_ns, m.min_period_ns) == (0.484, 0.103, 1.791)


def test_outline_from_the_lef_equals_the_liberty_area():
    m = macro(M512)
    assert (m.width_um, m.height_um, m.words, m.bits, m.mask_bits) == (683.1, 416.54, 512, 32, 8)
    assert m.area_um2 == pytest.approx(683.1 * 416.54) == pytest.approx(284538.474, rel=1e-6)
    assert macro(M1024).area_um2 == pytest.approx(455.3 * 446.46)


@pytest.mark.parametrize("fault", ["lef_size", "energy_unit", "no_power", "no_area"])
def test_a_damaged_macro_file_is_refused(tmp_path, fault):
    for f in (f"{M256}_TT_1p8V_25C.lib", f"{M256}.lef"):
        shutil.copy(SRAM_DIR / f, tmp_path / f)
    lib, lef = tmp_path / f"{M256}_TT_1p8V_25C.lib", tmp_path / f"{M256}.lef"
    if fault == "lef_size":
        lef.write_text(lef.read_text().replace("SIZE 479.78 BY 397.5", "SIZE 479.78 BY 297.5"))
    elif fault == "energy_unit":
        lib.write_text(lib.read_text().replace("capacitive_load_unit(1, pF)", "capacitive_load_unit(1, xF)"))
    elif fault == "no_power":
        lib.write_text(lib.read_text().replace('when : "!csb1";', 'when : "x";'))
    else:
        lib.write_text(re.sub(r"\n\s*area : [0-9.]+;", "\n", lib.read_text()))
    with pytest.raises(ConfigError):
        read_macro(lib, lef)
    if fault == "energy_unit":      # a femtofarad unit scales the energy by 1/1000
        lib.write_text(lib.read_text().replace("capacitive_load_unit(1, xF)", "capacitive_load_unit(1, ff)"))
        assert read_macro(lib, lef).read_pj == pytest.approx(2 * 9.589466e-3)


# ------------------------------------------------------------------------------- the mapping

def test_a_memory_of_several_rows_and_banks_takes_the_macro_of_least_area():
    # 1000 x 100: 32x256 -> 4 banks x 4 rows (16 macros); 8x1024 -> 13 x 1; 32x512 -> 4 x 2 (8)
    areas = {M256: 16 * 190712.55, M1024: 13 * 203273.238, M512: 8 * 284538.474}
    mm = map_memory("X", 1000, 100, instances=3)
    assert min(areas, key=areas.get) == M512
    assert (mm.macro.name, mm.banks, mm.rows, mm.macros) == (M512, 4, 2, 24)
    assert mm.area_um2 == pytest.approx(3 * areas[M512], rel=1e-6)
    a = glue_cell_areas()
    assert mm.glue_um2 == pytest.approx(3 * (1 * 100 * a["mux"] + 2 * 2 * a["decode"] + 1 * a["flop"]))
    assert mm.read_pj == pytest.approx(4 * macro(M512).read_pj)   # one row: its 4 banks
    assert mm.leakage_w == pytest.approx(24 * macro(M512).leakage_w)
    # shallow: the 1 KiB macro wins; one row has no glue
    small = map_memory("Y", 200, 64)
    assert (small.macro.name, small.banks, small.rows, small.glue_um2) == (M256, 2, 1, 0.0)
    # an 8-bit-wide memory 1024 deep: the 8x1024 macro (one) beats 32-bit ones
    assert map_memory("Z", 1024, 8).macro.name == M1024


def test_beat_writes_touch_only_their_banks():
    sb = map_memory("SB", 64, 256, granule=64)
    assert sb.banks == 8
    assert sb.granule_write_pj == pytest.approx(2 * sb.macro.write_pj)
    # a 24-bit granule straddles 32-bit macros: slices cover 1, 2, 2, 1 ... banks
    odd = map_memory("W", 64, 96, granule=24)
    assert odd.granule_write_pj == pytest.approx((1 + 2 + 2 + 1) / 4 * odd.macro.write_pj)


def test_chip_memories_nm_banks_and_sb_per_tile():
    c = ChipConfig(tile=TileConfig(rows=4, columns=4, lanes=4, tiles=2), nm_read=2, nm_kib=64, sb_kib=8)
    m = chip_memories(c)
    assert (m.nm.instances, m.nm.words, m.nm.bits) == (2, -(-c.nm_words // 2), c.brick_bits)
    assert (m.sb.instances, m.sb.words, m.sb.bits, m.sb.granule) == (2, 2 * c.sb_words, c.weight_brick_bits,
                                                                      c.brick_bits)
    assert m.macros == m.nm.macros + m.sb.macros
    assert m.area_um2 == pytest.approx(sum(x.macros * x.macro.area_um2 for x in (m.nm, m.sb)))
    # the published DaDianNao-style memories: 4 MB NM, 2 MB SB per tile, 16 tiles, 2 KiB macros
    pub = chip_memories(ChipConfig(nm_kib=4096, sb_kib=2048))
    assert (pub.nm.macros, pub.sb.macros) == (2048, 16 * 1024)
    assert pub.area_um2 / 1e6 == pytest.approx(18432 * 284538.474 / 1e6, rel=1e-6)


def test_memories_the_macros_cannot_build():
    c = ChipConfig(tile=TileConfig(rows=4, columns=4, lanes=4, tiles=2, act_bits=4, weight_bits=4), nm_read=2,
                   nm_kib=4, sb_kib=4)
    with pytest.raises(ConfigError, match="no sky130 SRAM macro can build NM .*4-bit"):
        chip_memories(c)
    with pytest.raises(ConfigError, match="would need"):
        map_memory("huge", 1 << 30, 4096)
    with pytest.raises(ConfigError, match="is no memory"):
        map_memory("bad", 16, 30, granule=8)


# ------------------------------------------------------------------------------- exact counts

LAYERS = [Layer(c=6, h=7, w=9, k=10, kh=3, kw=3, sy=1, sx=1, py=1, px=1),
          Layer(c=8, h=9, w=8, k=6, kh=3, kw=2, sy=2, sx=1, py=0, px=1),
          Layer(c=8, h=6, w=6, k=8, kh=3, kw=3, sy=1, sx=1, py=2, px=2, dy=2, dx=2, conv_groups=2)]


@pytest.mark.parametrize("scheme", ["dadn", "stripes", "dstripes"])
@pytest.mark.parametrize("layer", LAYERS, ids=["pad", "stride", "dilated-groups"])
@pytest.mark.parametrize("reuse", [True, False])
def test_access_counts_equal_a_walk_of_every_step(scheme, layer, reuse):
    chip = ChipConfig(scheme=scheme, tile=TileConfig(rows=2, columns=4, lanes=4, tiles=2), nm_read=2, nm_kib=16,
                      sb_kib=4, reuse=reuse)
    plan = LayerPlan(layer, chip)
    t, cols = chip.tile, chip.columns
    cb = -(-(layer.c // layer.conv_groups) // t.lanes)
    nws = -(-layer.oh * layer.ow // cols)
    per_pass_reads = cb * sum(brute_reads(layer, cols, ws, ky, kx) if reuse else _no_reuse(layer, cols, ws, ky, kx)
                              for ws in range(nws) for ky in range(layer.kh) for kx in range(layer.kw))
    kg, per = layer.k // layer.conv_groups, t.rows * t.tiles
    passes = []
    for g in range(layer.conv_groups):
        for f0 in range(0, kg, per):
            ks = range(g * kg + f0, g * kg + min(kg, f0 + per))
            passes.append(len({k // t.lanes for k in ks}))
    steps = layer.kh * layer.kw * cb
    want = Accesses(nm_reads=len(passes) * per_pass_reads,
                    nm_writes=layer.oh * layer.ow * sum(passes),
                    sb_reads=len(passes) * nws * steps * t.tiles,
                    sb_fills=len(passes) * steps * t.tiles * (t.rows * t.lanes * t.weight_bits) // (t.lanes * t.act_bits),
                    offchip_beats=len(passes) * steps * t.tiles * (t.rows * t.weight_bits) // t.act_bits)
    assert layer_accesses(plan) == want
    assert layer_accesses(plan, offchip=False) == Accesses(want.nm_reads, want.nm_writes, want.sb_reads, 0, 0)
    # with bias, the bias beats come over the port too (not into SB)
    bias = layer_accesses(plan, bias=True)
    assert bias.sb_fills == want.sb_fills
    assert bias.offchip_beats == want.offchip_beats + len(passes) * -(-(t.rows * t.tiles) // chip.bias_per_beat)


def _no_reuse(layer, cols, ws, ky, kx):
    n = 0
    for c in range(cols):
        w = ws * cols + c
        if w >= layer.oh * layer.ow:
            continue
        oy, ox = divmod(w, layer.ow)
        y, x = oy * layer.sy + ky * layer.dy - layer.py, ox * layer.sx + kx * layer.dx - layer.px
        n += 0 <= y < layer.h and 0 <= x < layer.w
    return n


def test_access_energy_is_counts_times_per_access_energy():
    c = ChipConfig(tile=TileConfig(rows=4, columns=4, lanes=4, tiles=2), nm_read=2, nm_kib=64, sb_kib=8)
    m = chip_memories(c)
    acc = Accesses(nm_reads=7, nm_writes=3, sb_reads=11, sb_fills=5, offchip_beats=13)
    e = access_energy(acc, m, cycles=1000, clock_ns=10.0, brick_bits=c.brick_bits)
    assert e["nm_read"] == pytest.approx(7 * m.nm.banks * m.nm.macro.read_pj)
    assert e["nm_write"] == pytest.approx(3 * m.nm.banks * m.nm.macro.write_pj)
    assert e["sb_read"] == pytest.approx(11 * m.sb.banks * m.sb.macro.read_pj)
    assert e["sb_fill"] == pytest.approx(5 * math.ceil(c.brick_bits / m.sb.macro.bits) * m.sb.macro.write_pj)
    assert e["sram_leakage"] == pytest.approx(m.leakage_w * 1000 * 10e-9 * 1e12)
    assert e["offchip"] == pytest.approx(13 * c.brick_bits * DRAM_PJ_PER_BIT)


# ------------------------------------------------------------------------------- the commands

TINY_CHIP = ["--tiles", "2", "--rows", "4", "--columns", "4", "--lanes", "4", "--act-bits", "8", "--weight-bits", "8",
             "--nm-kib", "2", "--nm-read", "2", "--sb-kib", "2"]


def _cli(capsys, *argv):
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.mark.parametrize("argv, needle", [
    (["--chip", "--scheme", "dstripes"], "--chip needs --liberty sky130"),
    (["--chip", "--scheme", "dstripes", "--liberty", "my.lib"], "not my.lib"),
    (["--chip", "--scheme", "dstripes", "--liberty", "sky130", "--act-bits", "4", "--weight-bits", "4", "--tiles",
      "2", "--rows", "4", "--columns", "4", "--lanes", "4", "--nm-kib", "4", "--sb-kib", "4"],
     "no sky130 SRAM macro can build NM"),
    (["--nm-kib", "4"], "--nm-kib applies only with --chip"),
    # a tile whose results (40 rows x 34 columns x 48 bits) fit one Amaranth value but whose reducer's
    # inputs (with the layer's fields, biases and residual codes) do not
    (["--chip", "--scheme", "dstripes", "--liberty", "sky130", "--rows", "40", "--columns", "34", "--tiles", "2",
      "--nm-kib", "1024"],
     "the reducer's input ports are 68,395 bits, beyond the 65,536 input bits"),
])
def test_synth_chip_bad_input_is_one_line_before_any_synthesis(capsys, monkeypatch, argv, needle):
    import dstripes.synth.chip as sc

    def refuse(*a, **k):
        raise AssertionError("synthesis started for bad input")
    monkeypatch.setattr(sc, "synth_tiles", refuse)
    rc, out, err = _cli(capsys, "synth", *argv)
    assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_synth_chip_json_on_a_tiny_chip(capsys, tmp_path):
    rc, out, err = _cli(capsys, "synth", "--chip", "--scheme", "dstripes", "--liberty", "sky130", *TINY_CHIP,
                        "--jobs", "2", "--json", "--out", str(tmp_path / "s"))
    assert rc == 0, err
    d = json.loads(out)
    c = d["chip"]
    assert set(c) >= {"area_mm2", "logic_area_mm2", "sram_area_mm2", "sram_macros", "critical_path_ns"}
    assert c["area_mm2"] == pytest.approx(c["logic_area_mm2"] + c["sram_area_mm2"])
    assert sum(b["area_um2"] for b in d["blocks"]) / 1e6 == pytest.approx(c["area_mm2"])
    assert sum(b["area_um2"] for b in d["blocks"] if b["kind"] == "sram") / 1e6 == pytest.approx(c["sram_area_mm2"])
    mem = chip_memories(ChipConfig(tile=TileConfig(rows=4, columns=4, lanes=4, tiles=2, act_bits=8, weight_bits=8),
                                   nm_read=2, nm_kib=2, sb_kib=2))
    assert c["sram_macros"] == mem.macros and c["sram_area_mm2"] == pytest.approx(mem.area_um2 / 1e6)
    tile = next(b for b in d["blocks"] if b["block"].startswith("tile"))
    assert tile["count"] == 2 and tile["area_um2"] == pytest.approx(2 * d["tile"]["area_um2"])
    assert {"walker", "fetch", "writer", "dma", "pool", "setup"} <= set(d["glue"])
    p, sp = c["paths_ns"], c["sram_paths_ns"]
    assert c["critical_path_ns"] == pytest.approx(max(p.values()))
    # every memory-facing path of the chip, one named bound per block and kind, each positive:
    # NM read data into the fetch unit's, the writer's (the residual) and the pool unit's
    # registers, SB's into the tile's weight register; the fetch unit's, the writer's (residual
    # address), the pool unit's, the output path's and the DMA's registers into a memory's ports
    want = {"fetch.sram_to_register", "writer.sram_to_register", "pool.sram_to_register",
            "sb_weights.sram_to_register", "fetch.register_to_sram", "writer.register_to_sram",
            "pool.register_to_sram", "dma.register_to_sram", "output_path.register_to_sram"}
    assert want <= set(sp) and all(v > 0 for v in sp.values()), sp
    assert sp["sb_weights.sram_to_register"] > 2 * mem.clk_to_out_ns
    # a tile whose run kept no netlists (synth_chip(tile=...) of another run): the block taking
    # SB's read data is synthesised again on its own, the same path
    from types import SimpleNamespace as N

    from dstripes.hw.chip.design import ChipDesign
    from dstripes.synth.chip import sb_weight_path
    from dstripes.synth.liberty import resolve_liberty
    cfg = ChipConfig(scheme="dstripes", tile=TileConfig(rows=4, columns=4, lanes=4, tiles=2, act_bits=8, weight_bits=8),
                     nm_read=2, nm_kib=2, sb_kib=2)
    again = sb_weight_path(ChipDesign.of(cfg), N(blocks=()), tmp_path / "again", resolve_liberty("sky130"))
    assert 2 * (mem.clk_to_out_ns + again) == pytest.approx(sp["sb_weights.sram_to_register"], abs=0.1)
    assert "weight__payload" in (tmp_path / "again" / "sb_weights" / "sram_in.rpt").read_text()
    for kind in ("sram_to_register", "register_to_sram"):
        assert p[kind] == pytest.approx(max(v for k, v in sp.items() if k.endswith("." + kind)))
    assert c["critical_path_ns"] == pytest.approx(max([*p.values(), *sp.values()]))
    assert c["critical_path_ns"] >= max(g["critical_path_ns"] for g in d["glue"].values())
    # the pool unit registers NM's read data: no read data -> NM write/address path in one cycle
    assert d["glue"]["pool"]["sram_in_ns"] > 0 and d["glue"]["pool"]["sram_thru_ns"] is None
    assert c["critical_path_ns"] >= p["tile"] > 0
    assert p["sram_to_register"] > 2 * mem.clk_to_out_ns and p["register_to_sram"] > mem.setup_ns
    assert p["sram_min_period"] == mem.min_period_ns
    # the residual's read data enter registers (timed as SRAM -> register): no path from NM's read
    # data through a requantiser into its write port in one cycle, no SRAM -> SRAM bound
    assert d["glue"]["writer"]["sram_in_ns"] > 0 and d["output_path"]["sram_thru_ns"] is None
    assert "sram_to_sram" not in p and not any(k.endswith(".sram_to_sram") for k in sp)
    # the chip's top level (command, pass control, broadcast, port multiplexers) is a block too:
    # counted, timed, and its multiplexers added to every path that crosses them into a memory
    top = d["top"]
    assert top["area_um2"] > 0 and top["critical_path_ns"] > 0 and p["glue_top"] == pytest.approx(top["critical_path_ns"])
    assert any(b["block"] == "top level" and b["area_um2"] == pytest.approx(top["area_um2"]) for b in d["blocks"])
    assert set(top["into_memory_ns"]) == {"fetch", "writer", "dma", "pool"}
    assert all(v is not None and v > 0 for v in top["into_memory_ns"].values())
    assert sp["output_path.register_to_sram"] == pytest.approx(
        d["output_path"]["sram_out_ns"] + top["into_memory_ns"]["writer"] + mem.setup_ns)
    assert sp["dma.register_to_sram"] == pytest.approx(
        d["glue"]["dma"]["sram_out_ns"] + top["into_memory_ns"]["dma"] + mem.setup_ns)
    assert sp["top.register_to_sram"] == pytest.approx(top["sram_out_ns"] + mem.setup_ns)
    assert (tmp_path / "s" / "synth_chip.json").is_file()


@pytest.fixture(scope="module")
def tiny_energy_model(tmp_path_factory):
    from dstripes.hw.design import designs
    from dstripes.synth.energy import energy_model

    out = tmp_path_factory.mktemp("chip-energy")
    cfg = TileConfig(lanes=4, columns=2, rows=1)
    m = energy_model(designs(("dadn", "stripes", "dstripes"), cfg), config=cfg, out=out, jobs=2, window_sets=1,
                     samples=("vgg16_conv1_2",), max_instances=2)
    m.save(out / "energy_model.json")
    return out / "energy_model.json"


@pytest.mark.nets
def test_evaluate_chip_energy_json(capsys, tmp_path, tiny_energy_model):
    from dstripes.sim.nets.profile import builtin_profile_path

    common = ["evaluate", "--chip", "--model", "vgg16-hed", "--size", "32", "--images", "1",
              "--profile", str(builtin_profile_path("vgg16-hed", "100")), "--lanes", "4", "--columns", "2",
              "--rows", "1", "--tiles", "4", "--nm-kib", "64", "--sb-kib", "16", "--nm-read", "4",
              "--no-progress", "--energy", "--energy-model", str(tiny_energy_model)]
    rc, out, err = _cli(capsys, *common, "--dram-bytes-per-cycle", "8", "--json", "--out", str(tmp_path / "e"))
    assert rc == 0, err
    d = json.loads(out)
    eff = d["energy_efficiency_over_dadn"]
    assert set(eff) == {"dadn", "stripes", "dstripes"} and eff["dadn"] == 1.0
    m = d["memories"]
    for s in ("dadn", "stripes", "dstripes"):
        parts = d["energy_parts_pj"][s]
        assert d["total"]["energy_pj"][s] == pytest.approx(sum(parts.values()))
        assert d["total"]["energy_pj"][s] == pytest.approx(sum(l["energy_pj"][s] for l in d["layers"]))
        for l in d["layers"]:
            a, p = l["accesses"][s], l["energy_parts_pj"][s]
            assert p["nm_read"] == pytest.approx(a["nm_reads"] * m["nm"]["read_pj"])
            assert p["sb_read"] == pytest.approx(a["sb_reads"] * m["sb"]["read_pj"])
            assert p["sb_fill"] == pytest.approx(a["sb_fills"] * m["sb"]["write_pj"])
            assert p["offchip"] == pytest.approx(a["offchip_beats"] * 64 * DRAM_PJ_PER_BIT)
            assert p["offchip"] > 0
            assert a["sb_fills"] > 0
    # the bit-parallel chip reads SB once per window, the bit-serial ones once per Nc = 2 windows
    # (32x32 outputs: an even count); the NM writes are the same on every chip
    l0 = d["layers"][0]["accesses"]
    assert l0["dadn"]["sb_reads"] == 2 * l0["stripes"]["sb_reads"] == 2 * l0["dstripes"]["sb_reads"]
    assert l0["dadn"]["nm_writes"] == l0["stripes"]["nm_writes"] == l0["dstripes"]["nm_writes"]
    # weights on chip: no fills, no off-chip traffic
    rc, out, err = _cli(capsys, *common, "--json", "--out", str(tmp_path / "e2"))
    assert rc == 0, err
    d2 = json.loads(out)
    assert all(d2["energy_parts_pj"][s]["offchip"] == 0 == d2["energy_parts_pj"][s]["sb_fill"] for s in eff)
    # another library is refused before the evaluation
    rc, out, err = _cli(capsys, *common, "--liberty", "x.lib", "--out", str(tmp_path / "e3"))
    assert rc == 2 and "--chip needs --liberty sky130" in err


def test_chip_report_of_several_kinds_and_its_table():
    """The JSON and the table of ``synth --chip`` from given block figures: sums, the clock's
    largest bound, ``--scheme all`` keeps the Dynamic Stripes chip's fields at the top."""
    from types import SimpleNamespace as N

    from dstripes.hw.chip.design import ChipDesign
    from dstripes.scripts.chip_synth import chip_report, render_chip
    from dstripes.synth.chip import ChipSynthesis, GlueBlock, OutPathTiming

    runs = {}
    for k, tile_um2 in (("dadn", 1000.0), ("stripes", 3000.0), ("dstripes", 3100.0)):
        c = ChipConfig(scheme=k, tile=TileConfig(rows=4, columns=4, lanes=4, tiles=2), nm_read=2, nm_kib=64, sb_kib=8)
        tile = N(area_um2=tile_um2, timing=N(critical_path_ns=10.0), as_dict=lambda: {})
        glue = tuple(GlueBlock(n, N(liberty_area=50.0, liberty_cells=5, timing=N(critical_path_ns=3.0)),
                               1.5 if n == "fetch" else None, 2.0) for n in ("walker", "fetch", "writer", "dma"))
        # one reducer per tile: 70 µm² each, counted twice
        glue += (GlueBlock("reducer", N(liberty_area=70.0, liberty_cells=7, timing=N(critical_path_ns=4.0)),
                           None, None, 2),
                 GlueBlock("pool", N(liberty_area=20.0, liberty_cells=2, timing=N(critical_path_ns=3.0)),
                           1.7, 1.9, 1, 0.5))
        runs[k] = ChipSynthesis(ChipDesign.of(c), tile, glue, chip_memories(c),
                                OutPathTiming(6.0, "a", "b", 2.5, 1.0), sb_in_ns=1.2)
    r = chip_report(runs, {})
    assert r["config"]["scheme"] == "dstripes" and set(r["chips"]) == {"dadn", "stripes", "dstripes"}
    m = runs["dstripes"].memories
    c = r["chip"]
    assert c["logic_area_mm2"] == pytest.approx((2 * 3100 + 2 * 70 + 4 * 50 + 20 + m.glue_um2) / 1e6)
    assert c["reducers_area_mm2"] == pytest.approx(2 * 70 / 1e6) and c["glue_area_mm2"] == pytest.approx(220 / 1e6)
    assert sum(b["area_um2"] for b in r["blocks"]) / 1e6 == pytest.approx(c["area_mm2"])
    red = next(b for b in r["blocks"] if b["block"] == "reducer")
    assert (red["count"], red["area_um2_each"], red["area_um2"]) == (2, 70.0, 140.0)
    assert c["sram_area_mm2"] == pytest.approx(m.area_um2 / 1e6)
    # one named bound per block and kind; each kind's largest is the aggregate
    sp = c["sram_paths_ns"]
    assert sp["pool.sram_to_register"] == pytest.approx(2 * (m.clk_to_out_ns + 1.7))
    assert sp["pool.sram_to_sram"] == pytest.approx(2 * (m.clk_to_out_ns + 0.5 + m.setup_ns))
    assert sp["sb_weights.sram_to_register"] == pytest.approx(2 * (m.clk_to_out_ns + 1.2))
    assert sp["fetch.register_to_sram"] == pytest.approx(2.0 + m.setup_ns)
    assert "walker.register_to_sram" in sp and "reducer.register_to_sram" not in sp
    assert c["paths_ns"]["sram_to_register"] == pytest.approx(2 * (m.clk_to_out_ns + 1.7))
    # the output path's register -> NM write (2.5 ns) beats the blocks' own 2.0; the residual's
    # read data through a requantiser into NM's write port: half a period with clock-to-out and setup
    assert c["paths_ns"]["register_to_sram"] == pytest.approx(2.5 + m.setup_ns)
    assert c["paths_ns"]["sram_to_sram"] == pytest.approx(2 * (m.clk_to_out_ns + 1.0 + m.setup_ns))
    assert c["paths_ns"]["output_path"] == 6.0
    assert c["critical_path_ns"] == 10.0 and c["critical"] == "tile"
    assert r["area_over_dadn"]["dstripes"] == pytest.approx(c["area_mm2"] / r["chips"]["dadn"]["chip"]["area_mm2"])
    text = render_chip(runs["dstripes"])
    assert f"{c['area_mm2']:.3f} mm²" in text and "set by tile" in text and "NM macros" in text
    assert "pool.sram_to_sram" in text and "sb_weights.sram_to_register" in text


def test_outpath_wrapper_links_each_reducer_to_its_filters():
    """The output path's structural wrapper wires reducer ``t``'s per-row ports to the writer's
    filter ``t * Nr + r``, the column to all, and every other reducer port to a top-level input of
    its own; a writer without a reducer's filter port is refused."""
    import re as re_

    from dstripes.synth.chip import outpath_wrapper
    from dstripes.synth.netlist import Port

    c = ChipConfig(tile=TileConfig(rows=2, columns=4, lanes=2, tiles=3), nm_read=2, nm_kib=64, sb_kib=8)
    reducer = {"clk": Port("input", 1), "rst": Port("input", 1), "results": Port("input", 384),
               "col": Port("input", 2), "geometry": Port("input", 9),
               **{f"codes__{r}": Port("output", 16) for r in range(2)},
               **{f"res_pat__{r}": Port("input", 16) for r in range(2)},
               **{f"bias_wen__{r}": Port("input", 1) for r in range(2)}}
    writer = {"clk": Port("input", 1), "rst": Port("input", 1), "col": Port("output", 2),
              "wdata__0": Port("output", 64), "geometry": Port("input", 9),
              **{f"codes__{i}": Port("input", 16) for i in range(6)},
              **{f"res_pat__{i}": Port("output", 16) for i in range(6)},
              **{f"bias_wen__{i}": Port("output", 1) for i in range(6)}}
    text, ports = outpath_wrapper(c, writer, reducer)
    assert set(ports) == {"clk", "rst", "wdata__0", "geometry"} | {f"r{t}_{p}" for t in range(3)
                                                                    for p in ("results", "geometry")}
    inst = {m.group(1): dict(re_.findall(r"\.(\w+)\((\w+)\)", m.group(2)))
            for m in re_.finditer(r"^\s+\w+ (\w+) \((.*)\);$", text, re_.M)}
    assert set(inst) == {"writer", "reducer0", "reducer1", "reducer2"}
    for t in range(3):
        r = inst[f"reducer{t}"]
        assert r["col"] == inst["writer"]["col"] == "w_col" and r["results"] == f"r{t}_results"
        for row in range(2):
            for p in ("codes", "res_pat", "bias_wen"):
                assert r[f"{p}__{row}"] == inst["writer"][f"{p}__{t * 2 + row}"] == f"w_{p}__{t * 2 + row}"
    assert "wire [15:0] w_codes__5;" in text and "input [383:0] r2_results;" in text
    del writer["codes__5"]
    with pytest.raises(ConfigError, match="no 16-bit port codes__5 for reducer 2's codes__1"):
        outpath_wrapper(c, writer, reducer)


def test_the_chip_top_level_alone_has_every_instance_as_pins(tmp_path):
    """The chip's top level for ``synth --chip``: no instance left, each tile's, memory's and glue
    block's pins ports of the top (clock and reset dropped), the top's own logic kept: the NM
    write multiplexer reaches NM's write data from the writer, the pool unit and the DMA."""
    import re as re_

    from dstripes.hw.chip.design import ChipDesign
    from dstripes.synth.chip_top import MEMORY, PIN, top_verilog

    cfg = ChipConfig(scheme="stripes", tile=TileConfig(rows=2, columns=2, lanes=2, tiles=2), nm_read=2,
                     nm_kib=2, sb_kib=2)
    design = ChipDesign.of(cfg)
    text = top_verilog(design, tmp_path)
    assert re_.findall(r"^module (\\?[^\s(]+)", text, re_.M) == [design.top]
    ports = dict((n.lstrip("\\"), d) for d, n in re_.findall(r"^\s+(input|output) (?:\[\d+:0\] )?(\S+) ?;", text, re_.M))
    owners = {p.split(PIN)[0].split("$")[0] for p in ports if PIN in p}
    assert owners == {"tile0", "tile1", "nm", "sb0", "sb1", "walker", "fetch", "writer", "dma", "pool",
                      "reducer0", "reducer1", "setup"}
    assert not any(p.endswith(PIN + "clk") or p.endswith(PIN + "rst") for p in ports)
    assert ports["tile0" + PIN + "result__payload"] == "input" and ports["tile1" + PIN + "act__valid"] == "output"
    assert any(MEMORY.match(p) and "wdata" in p and d == "output" for p, d in ports.items())
    assert {"cmd__payload", "mem_req__payload", "busy"} <= set(ports)


def test_a_timed_block_in_a_relative_folder_leaves_an_absolute_netlist(tmp_path, monkeypatch):
    """``synth --chip --out build/x`` (a relative folder): OpenSTA runs in other folders (the
    tile's, the output path's), so a block's netlist path must not depend on the current folder."""
    from pathlib import Path

    from dstripes.synth.flow import synth_verilog
    from dstripes.synth.liberty import resolve_liberty

    monkeypatch.chdir(tmp_path)
    v = "module r(input clk, input [3:0] a, output reg [3:0] q); always @(posedge clk) q <= a + 1; endmodule\n"
    area = synth_verilog(v, "r", liberty=resolve_liberty("sky130"), workdir="rel/r", timing=True)
    assert Path(area.netlist).is_absolute() and Path(area.netlist) == (tmp_path / "rel" / "r" / "user.v")
    assert Path(area.netlist).is_file()
