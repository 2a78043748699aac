"""What keeps the accelerator's Verilator model fast (``docs/verification.md``, simulation speed):
the harness registers its reset, so no logic of the chip reads a top-level input and Verilator's
per-edge input region (``ico``) is empty; measured on two tiles of 16x16x16 (VGG-16 at 32x32),
39,461 -> 48,161 simulated cycles per CPU-second, every cycle count and code unchanged. The
tiny chain of ``tests/test_tb_chain.py`` checks the registered-reset harness end to end."""
from __future__ import annotations

import re

import pytest

from dstripes.hw.chip.design import ChipDesign
from dstripes.sim.chip import ChipConfig
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.tb.host import chip_path
from dstripes.tb.host.chain_path import simulate_chain
from dstripes.tb.host.chip_path import harness_design, thread_args

from .test_tb_chain import design as chain_design, plan as chain_plan

CHIP = ChipConfig(scheme="stripes", tile=TileConfig(lanes=4, columns=4, rows=4, tiles=2), nm_read=2, nm_kib=128,
                  sb_kib=96)


def top_module(text: str, top: str) -> str:
    m = re.search(r"^module " + re.escape(top) + r"\(.*?^endmodule", text, re.M | re.S)
    assert m, f"no module {top}"
    return m.group(0)


def test_only_one_register_reads_the_harness_reset_port():
    verilog, _ = harness_design(ChipDesign.of(CHIP))
    top = top_module(verilog.verilog, verilog.top)
    uses = [line.strip() for line in top.split("\n")[1:] if re.search(r"\brst\b", line)]
    declarations = {"input rst;", "wire rst;"}
    assert [u for u in uses if u not in declarations] == ["rst_q <= rst;"], uses
    # the chip (and the tiles inside it) are reset by that register
    assert re.search(r"\.\w*rst\(rst_q\)", top)


def test_threads_are_an_option_of_the_chain_build(monkeypatch):
    """``--threads`` reaches Verilator only when asked (faster only with an idle core; the
    default stays one thread), with the hierarchical option too; bad counts refused."""
    assert thread_args(1) == () and thread_args(2) == ("--threads", "2")
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ConfigError, match="threads must be a positive integer"):
            thread_args(bad)

    class Stop(Exception):
        pass

    seen = []

    def fake_build(verilog, simulator, **kw):
        seen.append(tuple(kw["build_args"]))
        raise Stop

    monkeypatch.setattr(chip_path, "build", fake_build)
    for kw in ({}, {"threads": 2}, {"threads": 2, "hierarchical": True}):
        with pytest.raises(Stop):
            simulate_chain(chain_design(), chain_plan(), quick=True, **kw)
    assert seen == [(), ("--threads", "2"), (*chip_path.HIER_ARGS, "--threads", "2")]
