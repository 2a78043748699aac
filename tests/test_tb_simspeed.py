"""What keeps the accelerator's Verilator model fast (``docs/verification.md``, simulation speed):
the harness registers its reset, so no logic of the chip reads a top-level input and Verilator's
per-edge input region (``ico``) is empty; measured on two tiles of 16x16x16 (VGG-16 at 32x32),
39,461 -> 48,161 simulated cycles per CPU-second, every cycle count and code unchanged. The
tiny chain of ``tests/test_tb_chain.py`` checks the registered-reset harness end to end."""
from __future__ import annotations

import re

from dstripes.hw.chip.design import ChipDesign
from dstripes.sim.chip import ChipConfig
from dstripes.sim.config import TileConfig
from dstripes.tb.host.chip_path import harness_design

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
