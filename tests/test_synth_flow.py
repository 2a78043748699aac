"""The per-block yosys flow (synth/flow.py, synth/recipe.py, synth/reports.py, tb/tools.py) on
small components defined here, independent of the accelerator RTL."""
from __future__ import annotations

import os
import stat

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.errors import ConfigError, ToolError
from dstripes.synth import reports
from dstripes.synth.flow import synth_component, synth_verilog
from dstripes.synth.liberty import liberty_cells
from dstripes.synth.recipe import GE_LIBERTY
from dstripes.tb.tools import yosys_path, yosys_version


class AdderTree(wiring.Component):
    """``lanes`` unsigned ``width``-bit inputs summed into an accumulator (a SIP-like load)."""

    def __init__(self, lanes: int, width: int):
        self.lanes, self.width = lanes, width
        super().__init__({"a": In(lanes * width), "en": In(1), "q": Out(width + 8)})

    def elaborate(self, platform):
        m = Module()
        total = sum(self.a[i * self.width:(i + 1) * self.width] for i in range(self.lanes))
        acc = Signal(self.width + 8)
        with m.If(self.en):
            m.d.sync += acc.eq(acc + total)
        m.d.comb += self.q.eq(acc)
        return m


class Counter(wiring.Component):
    """A free-running counter: registers plus an incrementer."""

    def __init__(self, width: int):
        self.width = width
        super().__init__({"q": Out(width)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.q.eq(self.q + 1)
        return m


@pytest.fixture(scope="module")
def tree4():
    return synth_component(AdderTree(4, 8), "tree")


def test_yosys_is_the_debian_build():
    assert yosys_version().startswith("0.")
    assert os.path.basename(yosys_path()) == "yosys"


def test_reports_parsed_and_positive(tree4):
    assert tree4.transistors > 0 and tree4.ge > 0 and tree4.cells > 0 and tree4.depth > 0
    # 16 accumulator bits; the output is driven straight from them
    assert tree4.flip_flops == 16
    assert sum(tree4.cell_types.values()) == tree4.cells


def test_ge_liberty_cells_are_the_ones_used(tree4):
    lib_cells = set(liberty_cells(GE_LIBERTY.read_text()))
    assert {"BUF", "INV", "NAND2", "NOR2", "XOR2", "DFF"} <= lib_cells
    assert set(tree4.cell_types) <= lib_cells
    assert tree4.cell_types["DFF"] == 16
    # an adder tree maps onto XOR/XNOR cells: the richer library was really used
    assert tree4.cell_types.get("XOR2", 0) + tree4.cell_types.get("XNOR2", 0) > 0


def test_ge_figure_matches_cell_areas(tree4):
    text = GE_LIBERTY.read_text()
    import re
    area = {name: float(a) for name, a in
            re.findall(r"cell\((\w+)\)\s*\{\s*area\s*:\s*([0-9.]+)", text)}
    assert tree4.ge == pytest.approx(sum(area[t] * n for t, n in tree4.cell_types.items()), abs=1e-3)


@pytest.mark.parametrize("param", ["lanes", "width"])
def test_area_grows_with_size(param):
    sizes = (2, 4, 8)
    results = [synth_component(AdderTree(**({"lanes": n, "width": 8} if param == "lanes"
                                            else {"lanes": 4, "width": n})), "tree")
               for n in sizes]
    tr = [r.transistors for r in results]
    ge = [r.ge for r in results]
    assert tr == sorted(tr) and len(set(tr)) == len(tr), tr
    assert ge == sorted(ge) and len(set(ge)) == len(ge), ge


def test_counter_depth_and_registers():
    small, large = synth_component(Counter(4), "ctr"), synth_component(Counter(32), "ctr")
    assert (small.flip_flops, large.flip_flops) == (4, 32)
    assert small.depth < large.depth
    # a 4-bit counter: 4 flops at 16 transistors each (yosys' CMOS cost) plus some logic
    assert 4 * 16 < small.transistors < large.transistors


def test_user_liberty_reported(tmp_path):
    r = synth_component(AdderTree(2, 4), "tree", liberty=GE_LIBERTY, workdir=tmp_path)
    # the same library twice: same mapping, same area
    assert r.liberty_area == pytest.approx(r.ge)
    assert r.liberty_cells == r.cells
    for name in ("block.v", "synth.ys", "yosys.log", "cmos.rpt", "ge.rpt", "depth.rpt", "user.rpt"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_broken_verilog_is_a_tool_error():
    with pytest.raises(ToolError, match=r"^yosys failed on block broken .*") as e:
        synth_verilog("module broken(input a, output b);\n assign b = a +;\nendmodule\n", "broken")
    assert "\n" not in str(e.value)


def test_missing_top_is_a_tool_error():
    with pytest.raises(ToolError, match="yosys failed on block other"):
        synth_verilog("module tree(input a, output b); assign b = a; endmodule\n", "other")


def test_truncated_liberty_is_a_config_error(tmp_path):
    # yosys 0.23 reads a truncated library silently and ABC aborts later: caught up front
    bad = tmp_path / "bad.lib"
    bad.write_text("library(bad) { cell(NAND2) { area : 1.0; pin(A) { direction : input; }\n")
    with pytest.raises(ConfigError, match=r"^liberty file .*bad.lib is truncated or malformed: 2 unmatched \{$"):
        synth_component(AdderTree(2, 4), "tree", liberty=bad)


def test_liberty_syntax_error_is_reported(tmp_path):
    """Directly through the flow, a yosys failure is a tool failure naming the library; the
    user-facing path probes the library first and calls it the user's (next test)."""
    bad = tmp_path / "syntax.lib"
    bad.write_text("library(bad) {\n"
                   "  cell(INV) { area : 1; pin(A) { direction : input; } }\n"
                   "  cell(BUF) { area : 1 pin(A) { direction : input; } }\n}\n")
    with pytest.raises(ToolError, match=r"^yosys failed on block tree with liberty .*syntax.lib "
                                          r"\(exit 1\): Syntax error in liberty file on line 3") as e:
        synth_component(AdderTree(2, 4), "tree", liberty=bad)
    assert "\n" not in str(e.value)


def test_liberty_probe_names_the_library(tmp_path):
    from dstripes.synth.flow import probe_liberty

    bad = tmp_path / "syntax.lib"
    bad.write_text("library(bad) {\n  cell(BUF) { area : 1 pin(A) { direction : input; } }\n}\n")
    with pytest.raises(ConfigError, match=r"^liberty .*syntax.lib is unusable: Syntax error"):
        probe_liberty(bad)
    assert probe_liberty(GE_LIBERTY).liberty_area == pytest.approx(probe_liberty(GE_LIBERTY).ge)


def test_liberty_without_flip_flop_is_a_config_error(tmp_path):
    from dstripes.synth.flow import probe_liberty

    comb = tmp_path / "comb.lib"
    text = GE_LIBERTY.read_text()
    comb.write_text(text[:text.index("  cell(DFF)")] + "}\n")
    # yosys itself refuses (dfflibmap finds no flip-flop), naming the cell kind it could not map
    with pytest.raises(ToolError, match=r"^yosys failed on block tree with liberty .*comb.lib.*D flip-flops"):
        synth_component(AdderTree(2, 4), "tree", liberty=comb)
    with pytest.raises(ConfigError, match=r"^liberty .*comb.lib is unusable: .*D flip-flops"):
        probe_liberty(comb)


def test_missing_or_empty_liberty(tmp_path):
    with pytest.raises(ConfigError, match="liberty file not found"):
        synth_component(AdderTree(2, 4), "tree", liberty=tmp_path / "nope.lib")
    empty = tmp_path / "empty.lib"
    empty.write_text("library(x) { }\n")
    with pytest.raises(ConfigError, match="defines no cells"):
        synth_component(AdderTree(2, 4), "tree", liberty=empty)


def test_yosys_exiting_cleanly_without_reports_is_caught(tmp_path):
    # a yosys that accepts the script and exits 0 but writes nothing (as a WebAssembly build
    # that stops at ABC does): the flow must not report zeros
    fake = tmp_path / "yosys"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(ToolError, match=r"^yosys wrote no transistor report \(stat -tech cmos\) for block tree$"):
        synth_component(AdderTree(2, 4), "tree", yosys=str(fake))


def test_truncated_report_is_caught(tmp_path):
    # a real run, then a report with its figure cut off: parsing must fail, not read zero
    from dstripes.synth.flow import parse_block

    synth_component(AdderTree(2, 4), "tree", workdir=tmp_path)
    text = (tmp_path / "ge.rpt").read_text()
    (tmp_path / "ge.rpt").write_text(text[:text.index("Chip area")])
    with pytest.raises(ToolError, match=r"yosys wrote no gate-equivalent area"):
        parse_block(tmp_path, "tree", what="block tree")


def test_stale_reports_do_not_survive_a_failed_run(tmp_path):
    synth_component(AdderTree(2, 4), "tree", workdir=tmp_path)
    assert (tmp_path / "cmos.rpt").exists()
    with pytest.raises(ToolError):
        synth_verilog("module tree(input a, output b); assign b = ; endmodule\n", "tree", workdir=tmp_path)
    assert not (tmp_path / "cmos.rpt").exists()


def test_lower_bound_transistor_estimate_rejected():
    text = ("   Number of cells:                  2\n     $_DFFE_PP_                     1\n"
            "     $_NAND_                        1\n\n   Estimated number of transistors:          4+\n")
    with pytest.raises(ToolError, match=r"lower bound \(4\+\).*\$_DFFE_PP_"):
        reports.transistors(text, what="block x")


def test_bad_names_and_inputs():
    with pytest.raises(ConfigError, match="plain Verilog identifier"):
        synth_verilog("module a; endmodule", "a; shell")
    with pytest.raises(ConfigError, match="no Verilog given"):
        synth_verilog("  ", "a")
    with pytest.raises(ToolError, match="yosys executable not found"):
        synth_verilog("module a; endmodule", "a", yosys="/nonexistent/yosys")



def test_yosys_timeout_stops_the_run(tmp_path):
    """A yosys run past its timeout is stopped (with the ABC it started) and reported in one
    line naming the block and its log."""
    import time

    t0 = time.perf_counter()
    with pytest.raises(ToolError, match=r"^yosys timed out after 0.5 s on block tree; log: .*yosys.log$"):
        synth_component(AdderTree(16, 32), "tree", workdir=tmp_path, timeout=0.5)
    assert time.perf_counter() - t0 < 30
