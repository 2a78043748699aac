"""The chip's own top level as a block of ``synth --chip`` (``docs/design.md`` §10.8): the command
register and state machine, the pass counters, the broadcast to the tiles and the multiplexers of
NM's and the weight buffers' ports — everything of :class:`~dstripes.hw.chip.chip.Chip` that is
not a block of its own.

How: the chip is emitted (its tiles as instances of the tile module, declared from the tile's
ports), and yosys' ``expose -evert`` turns every instance (tiles, memories, glue blocks) into
ports of the top named ``<instance>__pin__<port>`` (the clock and reset pins dropped). That
netlist is synthesised and timed as every glue block (ports ideal). Three figures join the chip's
bounds (:class:`~dstripes.synth.chip.ChipSynthesis`):

* its own worst path (bound ``glue_top``) and its area;
* its registers into a memory's input pins (``top.register_to_sram``: the port multiplexers'
  selects, from the command register);
* per memory-facing block, the worst path through the top from the block's output pins to a
  memory's input pins (:attr:`TopBlock.into_memory`: the multiplexers of NM's write and read
  ports) and from a memory's output pins to the block's input pins
  (:attr:`TopBlock.from_memory`), added to that block's register → SRAM and SRAM → register bounds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from dstripes.hw.chip.design import ChipDesign
from dstripes.hw.design import ports
from dstripes.hw.emit import to_verilog
from dstripes.sim.errors import ToolError
from dstripes.tb.tools import run_script

from .flow import BlockArea, synth_verilog
from .liberty import check_timing_liberty
from .memory_paths import sram_paths_of
from .netlist import read_netlist

#: Separator of an exposed pin's instance and port names.
PIN = "__pin__"
#: The blocks whose memory ports go through the top's multiplexers.
MEMORY_FACING = ("fetch", "writer", "dma", "pool")


def _instance(name: str) -> re.Pattern:
    """Exposed pins of instance ``name`` (Amaranth may number a name it had to make unique)."""
    return re.compile(r"^" + re.escape(name) + r"(\$\d+)?" + re.escape(PIN))


MEMORY = re.compile(r"^(nm|sb\d+)(\$\d+)?" + re.escape(PIN))


def tile_stub(design: ChipDesign) -> str:
    """A Verilog declaration of the tile module (its ports only), for yosys to know which of an
    instance's pins are inputs."""
    tile = design.tile.component
    tile._MustUse__silence = True                     # made for its ports only: never elaborated
    decl = [f"  {'input' if p['direction'] == 'in' else 'output'} [{p['width'] - 1}:0] {n}"
            for n, p in ports(tile.signature).items()]
    return f"module {design.tile.top} (\n" + ",\n".join(decl) + "\n);\nendmodule\n"


def top_verilog(design: ChipDesign, workdir: Path, *, timeout: float | None = None) -> str:
    """Verilog of the chip's top level alone (module ``design.top``), every instance's pins ports
    (module docstring); files in ``workdir``."""
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    (wd / "chip.v").write_text(to_verilog(design.component(), design.top))
    (wd / "tile_stub.v").write_text(tile_stub(design))
    top = design.top
    script = [
        "read_verilog -lib tile_stub.v",
        "read_verilog chip.v",
        f"hierarchy -top {top}",
        "proc",
        f"expose -evert -sep {PIN} {top}/t:*",
        # the clock and reset reach every block through the top: not data
        f"delete -port {top}/w:*{PIN}clk {top}/w:*{PIN}rst",
        f"hierarchy -top {top}",
        "opt_clean",
        "write_verilog -noattr top.v",
    ]
    run_script("\n".join(script), wd, what=f"the top level of chip {top}", timeout=timeout)
    return (wd / "top.v").read_text()


@dataclass(frozen=True)
class TopBlock:
    """The chip's top level, synthesised and timed (module docstring).

    Members
    -------
    area : BlockArea
        Its area and own worst path (ports ideal).
    sram_out_ns : float or None
        Worst path from its registers to a memory's input pin.
    into_memory, from_memory : dict
        ``{block: ns or None}``: worst path through the top from the block's pins to a memory's
        input pins, and from a memory's output pins to the block's pins (``None``: none).
    """

    area: BlockArea
    sram_out_ns: float | None
    into_memory: dict = field(default_factory=dict)
    from_memory: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"area_um2": self.area.liberty_area, "cells": self.area.liberty_cells,
                "critical_path_ns": self.area.timing.critical_path_ns if self.area.timing else None,
                "sram_out_ns": self.sram_out_ns, "into_memory_ns": dict(self.into_memory),
                "from_memory_ns": dict(self.from_memory)}


def top_block(design: ChipDesign, workdir: Path, lib, *, sta: str | None = None,
              timeout: float | None = None) -> TopBlock:
    """Synthesise and time the chip's top level in ``workdir`` on the timing liberty ``lib``."""
    wd = Path(workdir)
    text = top_verilog(design, wd / "expose", timeout=timeout)
    area = synth_verilog(text, design.top, liberty=lib, workdir=wd, timing=True, sta=sta, timeout=timeout)
    info = check_timing_liberty(wd / "user.lib")
    net = read_netlist(wd / "user.v", info)
    direction = {p: d for p, (d, _) in net.ports.items()}
    mem_in = [p for p, d in direction.items() if MEMORY.match(p) and d == "output"]
    mem_out = [p for p, d in direction.items() if MEMORY.match(p) and d == "input"]
    if not mem_in:
        raise ToolError(f"the top level of chip {design.top} has no memory pins (names {MEMORY.pattern})")
    queries = {"top": ((), mem_in, ("out",))}
    for name in MEMORY_FACING:
        pins = [p for p in direction if _instance(name).match(p)]
        if not pins:
            raise ToolError(f"the top level of chip {design.top} has no pins of block {name}")
        queries[f"{name}_in"] = ([p for p in pins if direction[p] == "input"], mem_in, ("thru",))  # its outputs
        queries[f"{name}_out"] = (mem_out, [p for p in pins if direction[p] == "output"], ("thru",))
    got = sram_paths_of(wd, design.top, queries, what="the chip's top level", sta=sta, timeout=timeout)
    into = {name: got[f"{name}_in"][2] for name in MEMORY_FACING}
    out_of = {name: got[f"{name}_out"][2] for name in MEMORY_FACING}
    d_out = got["top"][1]
    return TopBlock(area, d_out, into, out_of)
