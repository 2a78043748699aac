"""Reading the Verilog the flow handles: a module's ports, and what timing, power and activity
need of a mapped netlist (``write_verilog -noattr``): its ports and the nets its registers drive.

The netlist rewriters (:mod:`synth.fanout`, :mod:`synth.power`) edit the same text line by line
with :data:`INSTANCE` and :data:`CONNECTION`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, NamedTuple

from .liberty import LibertyInfo

#: A cell instance's first line: ``(indent, cell, instance)``.
INSTANCE = re.compile(r"^(\s+)(\S+)\s+(\S+)\s*\($")
#: A pin connection of an instance: ``(indent, pin, net, trailing comma)``.
CONNECTION = re.compile(r"^(\s*)\.(\w+)\((.*)\)(,?)$")

_PORT = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?(?:\[(\d+):(\d+)\]\s*)?"
                   r"(\\\S+|[A-Za-z_][\w$]*)\s*;", re.M)


class Port(NamedTuple):
    """A module port."""

    direction: str   # "input", "output" or "inout"
    width: int


def module_ports(verilog: str) -> Mapping[str, Port]:
    """The ports of the first module of a Verilog text by name (Amaranth's and yosys'
    one-declaration-per-line style), in declaration order."""
    end = verilog.find("endmodule")
    ports = {}
    for m in _PORT.finditer(verilog, 0, end if end >= 0 else len(verilog)):
        width = abs(int(m.group(2)) - int(m.group(3))) + 1 if m.group(2) is not None else 1
        ports[clean_name(m.group(4))] = Port(m.group(1), width)
    return ports


def clean_name(name: str) -> str:
    """A Verilog identifier as OpenSTA and the RTL name it: ``\\next.acts [5]`` -> ``next.acts[5]``."""
    name = name.strip()
    if name.startswith("\\"):
        name = name[1:]
    return re.sub(r"\s+\[", "[", name).strip()


@dataclass(frozen=True)
class Netlist:
    """What the flow reads of a mapped netlist.

    Members
    -------
    top : str
        The module's name.
    ports : mapping
        ``{name: Port}``.
    registers : mapping
        ``{instance: {output pin: net}}`` of its sequential cells.
    cells : int
        Cell instances.
    """

    top: str
    ports: Mapping[str, Port]
    registers: Mapping[str, Mapping[str, str]]
    cells: int

    def register_of(self, instance: str) -> str | None:
        """The net a register instance drives (its RTL name, e.g. ``partial[5]``)."""
        outs = self.registers.get(instance)
        return next(iter(outs.values())) if outs else None


def read_netlist(path: str | os.PathLike, info: LibertyInfo) -> Netlist:
    """Parse a ``write_verilog -noattr`` netlist of cells of the library ``info``."""
    text = Path(path).read_text(errors="replace")
    head = text[:text.find(");") + 2] if ");" in text else ""
    mod = re.search(r"\bmodule\s+(\\\S+|\w+)", head)
    sequential, outputs = info.sequential, info.output_pins
    registers = {}
    cells = 0
    cur = None
    for line in text.splitlines():
        if cur is None:
            m = INSTANCE.match(line)
            if m and m.group(2) not in ("module", "input", "output", "wire", "assign"):
                cells += 1
                cur = (m.group(2), clean_name(m.group(3)), {})
            continue
        if line.strip() == ");":
            if cur[0] in sequential:
                registers[cur[1]] = cur[2]
            cur = None
            continue
        c = CONNECTION.match(line)
        if c and cur[0] in sequential and c.group(2) in outputs.get(cur[0], ()):
            net = c.group(3).strip()
            if net:
                cur[2][c.group(2)] = clean_name(net)
    return Netlist(clean_name(mod.group(1)) if mod else "?", module_ports(text), registers, cells)
