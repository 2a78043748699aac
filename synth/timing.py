"""Static timing with OpenSTA: one block on its own, and a whole tile assembled from its blocks.

Conventions (both levels)
-------------------------
* **Ideal clock, no wires.** One clock on ``clk`` with no latency, skew or uncertainty; nets have
  no wire capacitance or resistance (no placement). Cell delays come from the Liberty NLDM
  tables with the pin capacitances of the real fan-out.
* **Fan-out buffering.** The user-liberty mapping ends with ABC's ``buffer -p -N 10``
  (:data:`synth.recipe.ABC_LIB_SCRIPT`, buffering and sizing where ABC's gain model says it pays),
  then :func:`synth.fanout.repair_fanout` splits every net a cell still drives into more than 12
  pins (a register's output above all: flip-flops stay minimum size), as a synthesis tool's
  design-rule repair would before timing. Block inputs are driven ideally (see below).
* **Critical path** = the shortest clock period the worst setup path allows: arrival at the
  endpoint plus its setup time (register) or output delay (port), i.e. ``period - slack`` for
  any probe period. ``fmax = 1 / critical path``.

A block on its own (:func:`block_timing`)
-----------------------------------------
Inputs arrive at the clock edge (input delay 0, ideal drivers) and outputs are due at the next
edge (output delay 0): ports count as registers. This is the figure per block, and the bound a
block sets *if* every block boundary were registered.

A tile (:func:`tile_timing`)
----------------------------
Boundaries are not all registered: the dispatcher's bit-select logic drives the SIPs' adder
trees, the controller's ``advance`` gates the SIPs and the dispatcher, a SIP's ``result`` is an
adder the result buffer loads. So a tile is timed **whole**: the tile's own top level is
emitted with every block instance replaced by a black box of the block's module
(:func:`tile_glue`), that glue is mapped onto the library like a block, and OpenSTA links it
with the block netlists (each distinct block once, instantiated ``count`` times) and times every
path, across block boundaries included.

The nets of the tile's top level (the wires between blocks) are made ideal:
``set_load -subtract_pin_load 0`` gives them no load. A real layout buffers them (the
controller's ``advance`` reaches every SIP: ~2,800 pins), and those buffer trees and wires are
outside this analysis, like the clock tree. Inside the blocks every net keeps its full pin load.

Validation: the tile's critical path is never below the largest block-internal one, and on a
small tile it agrees with OpenSTA on the *flat* netlist of the whole tile synthesised in one
piece (``tests/test_synth_timing.py``).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from amaranth.hdl import ClockSignal, Instance, ResetSignal
from amaranth.lib import wiring

from dstripes.hw.design import TileDesign
from dstripes.hw.emit import to_verilog
from dstripes.sim.errors import ToolError
from dstripes.tb.tools import run_script

from .liberty import LibertyInfo, link_liberty
from .netlist import Netlist, Port, read_netlist
from .recipe import ABC_LIB_SCRIPT, glue_script
from .reports import cell_stats, chip_area
from .sta import WorstPath, port_constraints, read_report, run_sta, tcl_quote, worst_path

#: Period of the clock used to probe paths (ns). Any period gives the same critical path
#: (``period - slack``); a long one keeps every slack positive in the reports.
PROBE_PERIOD_NS = 100.0


@dataclass(frozen=True)
class Timing:
    """The worst setup path of a block or a tile (see the module docstring).

    Members
    -------
    critical_path_ns : float
        Shortest clock period the design allows (arrival + setup), ns.
    startpoint, endpoint : str
        Where the path starts and ends: ``block:register-or-port`` on a tile,
        ``register-or-port`` on a block.
    through : tuple of str
        Blocks the path crosses, in order (a tile; empty for a block).
    block_bound_ns : float or None
        A tile: its blocks' largest own critical path (ports as registers).
    internal_ns : float or None
        A block: its worst register-to-register path alone (no port involved); a tile can
        never be faster than any of its blocks' ``internal_ns``.
    """

    critical_path_ns: float
    startpoint: str
    endpoint: str
    through: tuple = ()
    block_bound_ns: float | None = None
    internal_ns: float | None = None

    @property
    def fmax_mhz(self) -> float | None:
        """``1000 / critical_path_ns``; ``None`` when nothing is timed (no path at all)."""
        return 1000.0 / self.critical_path_ns if self.critical_path_ns > 0 else None

    def as_dict(self) -> dict:
        d = {"critical_path_ns": self.critical_path_ns, "fmax_mhz": self.fmax_mhz,
             "critical_path": {"from": self.startpoint, "to": self.endpoint}}
        if self.through:
            d["critical_path"]["through"] = list(self.through)
        if self.block_bound_ns is not None:
            d["block_bound_ns"] = self.block_bound_ns
        if self.internal_ns is not None:
            d["internal_ns"] = self.internal_ns
        return d


def _check_names(names, what: str) -> None:
    for n in names:
        if not re.match(r"^[A-Za-z_][\w$]*$", n):
            raise ToolError(f"port {n!r} of {what} is not a plain identifier OpenSTA can be given")


def block_timing(workdir: str | os.PathLike, top: str, info: LibertyInfo, *, what: str, sta: str | None = None,
                 timeout: float | None = None, ideal_nets: bool = False) -> Timing:
    """Time the block netlist ``workdir/user.v`` (module ``top``) mapped onto ``workdir/user.lib``
    (:class:`synth.liberty.LibertyInfo` ``info``) on its own, ports ideal; also its worst
    register-to-register path (:attr:`Timing.internal_ns`). ``ideal_nets``: every net without
    load (the validation of :func:`tile_timing` compares both ways with all nets ideal)."""
    wd = Path(workdir)
    net = read_netlist(wd / "user.v", info)
    _check_names(net.ports, what)
    period = PROBE_PERIOD_NS / info.time_unit_ns
    script = ["read_liberty user.lib", "read_verilog user.v", f"link_design {top}",
              *port_constraints(net.ports, period)]
    if ideal_nets:
        script.append("set_load -subtract_pin_load 0 [get_nets *]")
    script.append("report_checks -path_delay max -format full -digits 4 > block_path.rpt")
    if net.registers:
        script.append("report_checks -path_delay max -format full -digits 4 -from [all_registers "
                      "-clock_pins] -to [all_registers -data_pins] > block_internal.rpt")
    for f in ("block_path.rpt", "block_internal.rpt"):
        (wd / f).unlink(missing_ok=True)
    run_sta("\n".join(script), wd, name="block_sta", what=what, sta=sta, timeout=timeout)
    path = worst_path(read_report(wd / "block_path.rpt", what), period, what=what)
    internal = (worst_path(read_report(wd / "block_internal.rpt", what), period, what=what)
                if net.registers else None)
    internal_ns = internal.min_period * info.time_unit_ns if internal is not None else None
    if path is None:  # nothing constrained: no register, or no path between ports
        return Timing(0.0, "-", "-", internal_ns=internal_ns)
    return Timing(path.min_period * info.time_unit_ns, _point(path.startpoint, net),
                  _point(path.endpoint, net), internal_ns=internal_ns)


def _point(point: str, net: Netlist) -> str:
    """A path end as a reader knows it: a register by the net it drives, or a port."""
    inst = point.split("/")[0]
    reg = net.register_of(inst)
    return reg if reg is not None else point


# ---------------------------------------------------------------------------------------------
# Tiles

@dataclass(frozen=True)
class Glue:
    """A tile's top level with black-box block instances.

    Members
    -------
    top : str
        The module's name.
    verilog : str
        The top module; each block instance is a module named after its block.
    instances : mapping
        Instance name -> block name.
    """

    top: str
    verilog: str
    instances: Mapping[str, str]


def _counted(blocks) -> list:
    """The blocks a tile instantiates (not those inside another block)."""
    return [b for b in blocks if b.part_of is None]


def _instances(module, counted) -> Mapping[str, object]:
    """``{submodule name: (submodule, block)}`` of ``module``'s direct submodules that the tile
    lists as instances of a counted block (:attr:`hw.params.SynthBlock.instances`)."""
    by_name = {name: b for b in counted for name in b.instances}
    return {name: (obj, by_name[name]) for name, (obj, _) in module._named_submodules.items() if name in by_name}


def block_instances(design: TileDesign, blocks) -> Mapping[str, str]:
    """``{instance name: block name}`` of the tile's submodules that are instances of its counted
    ``blocks``, as the tile lists them (nothing is built; :func:`tile_glue` checks the list
    against the elaborated tile, and the hardware's tests check every listed instance)."""
    return {name: b.name for b in _counted(blocks) for name in b.instances}


def _check_found(found: Mapping[str, str], counted, tile: str) -> None:
    for b in counted:
        n = sum(1 for v in found.values() if v == b.name)
        if n != b.count:
            raise ToolError(f"tile {tile}: block {b.name} is listed {b.count} time(s) but found as "
                            f"{n} direct submodule(s); the tile cannot be assembled from its blocks")


def tile_glue(design: TileDesign, blocks, ports: Mapping[str, Mapping[str, Port]]) -> Glue:
    """Emit the tile's top level (module ``design.top``) with every instance of a counted block as
    a black box.

    The direct submodules of the tile that are instances of a counted block (as its
    ``synth_blocks`` list them) are replaced, for this conversion only, by an ``Instance`` of a module
    named after the block with the same ports; each counted block must be found exactly
    ``b.count`` times, otherwise the tile cannot be timed from its blocks.

    Parameters
    ----------
    design : TileDesign
        The tile whose ``synth_blocks()`` gave ``blocks``.
    blocks : list
        Its blocks (``part_of`` ones are inside others and are not instantiated).
    ports : mapping
        ``{block name: ports of its netlist}``; ``clk`` / ``rst`` are connected when the
        block's module has them.
    """
    tile, top = design.component, design.top
    counted = _counted(blocks)
    found: dict = {}
    patched: list = []

    def stub(obj, block):
        bports = ports[block.name]

        def elaborate(platform):
            conns = {}
            if "clk" in bports:
                conns["i_clk"] = ClockSignal()
            if "rst" in bports:
                conns["i_rst"] = ResetSignal()
            for path, member, value in obj.signature.flatten(obj):
                name = "__".join(str(p) for p in path)
                if name not in bports:
                    raise ToolError(f"block {block.name} netlist has no port {name}")
                conns[("i_" if member.flow == wiring.In else "o_") + name] = value
            return Instance(block.name, **conns)
        return elaborate

    original = tile.elaborate

    def elaborate(platform):
        m = original(platform)
        for name, (obj, b) in _instances(m, counted).items():
            obj.elaborate = stub(obj, b)
            patched.append(obj)
            found[name] = b.name
        return m

    tile.elaborate = elaborate
    try:
        text = to_verilog(tile, top)
    finally:
        del tile.elaborate
        for obj in patched:  # the tile may be elaborated again (simulation): real blocks back
            del obj.elaborate
    _check_found(found, counted, top)
    return Glue(top, text, dict(found))


def stub_modules(ports: Mapping[str, Mapping[str, Port]]) -> str:
    """Verilog black boxes: one module with only its port declarations per block."""
    out = []
    for name, bports in ports.items():
        decl = []
        for p, (d, w) in bports.items():  # escaped: a port may be a keyword (``signed``)
            decl.append(f"  {d} {'' if w == 1 else f'[{w - 1}:0] '}\\{p} ;")
        out.append(f"(* blackbox *)\nmodule {name}(" + ", ".join(f"\\{p} " for p in bports)
                   + ");\n" + "\n".join(decl) + "\nendmodule\n")
    return "\n".join(out)


def tile_sta_script(top: str, netlists: Mapping[str, str], ports: Mapping[str, Port], period: float,
                    ideal: str = "boundary") -> str:
    """OpenSTA script timing the linked tile (``glue.v`` + each block's netlist).

    ``ideal``: ``"boundary"`` (the nets between blocks have no load, the default analysis),
    ``"all"`` (no net has a load: the validation against a flat netlist) or ``"none"``."""
    lines = ["read_liberty user.lib", "read_verilog glue.v"]
    lines += [f"read_verilog {tcl_quote(str(p))}" for p in netlists.values()]
    lines += [f"link_design {top}", *port_constraints(ports, period)]
    if ideal == "boundary":
        # wires between blocks: no load (a layout would buffer them; not part of this analysis)
        lines.append("set_load -subtract_pin_load 0 [get_nets *]")
    elif ideal == "all":
        lines.append("set_load -subtract_pin_load 0 [get_nets -hierarchical *]")
    lines.append("report_checks -path_delay max -format full -digits 4 > tile_path.rpt")
    return "\n".join(lines)


def describe_tile_path(path: WorstPath, instances: Mapping[str, str], netlists: Mapping) -> tuple:
    """``(startpoint, endpoint, through)`` of a tile path, named by block and register
    (``netlists``: by block name, the glue's under ``None``)."""
    def where(point: str) -> str:
        parts = point.split("/")
        if len(parts) >= 2 and parts[0] in instances:
            block = instances[parts[0]]
            net = netlists.get(block)
            reg = net.register_of(parts[1]) if net is not None else None
            return f"{parts[0]}:{reg or parts[1]}"
        if len(parts) >= 2:
            glue = netlists.get(None)
            reg = glue.register_of(parts[0]) if glue is not None else None
            return f"top:{reg or parts[0]}"
        return f"port:{point}"

    through = []
    for s in path.steps:
        head = s.pin.split("/")[0]
        blk = instances[head] if head in instances else ("top" if "/" in s.pin else "port")
        if not through or through[-1] != blk:
            through.append(blk)
    return where(path.startpoint), where(path.endpoint), tuple(through)


def block_netlists(blocks, areas: Mapping, info: LibertyInfo, top: str) -> Mapping[str, Netlist]:
    """``{block: Netlist}`` of a tile's counted blocks (``areas``: ``{block: BlockArea}``, whose
    netlists must still exist)."""
    nets = {}
    for b in _counted(blocks):
        a = areas[b.name]
        if a.netlist is None or not Path(a.netlist).is_file():
            raise ToolError(f"block {b.name} of tile {top} has no netlist to time")
        nets[b.name] = read_netlist(a.netlist, info)
        if nets[b.name].top != b.name:
            raise ToolError(f"netlist {a.netlist} holds module {nets[b.name].top}, not {b.name}")
    return nets


@dataclass(frozen=True)
class TileTiming:
    """A tile timed whole (:func:`tile_timing`).

    Members
    -------
    timing : Timing
        Its critical path.
    glue_area : float
        Area of its top level in the library's units.
    glue_cells : mapping
        ``{cell: count}`` of its top level.
    """

    timing: Timing
    glue_area: float
    glue_cells: Mapping[str, int]


def tile_timing(design: TileDesign, blocks, areas: Mapping, workdir: str | os.PathLike, info: LibertyInfo, *,
                yosys: str | None = None, sta: str | None = None, timeout: float | None = None,
                ideal: str = "boundary", glue: Glue | None = None,
                nets: Mapping[str, Netlist] | None = None) -> TileTiming:
    """Time a whole tile from its blocks' netlists (see the module docstring).

    Parameters
    ----------
    design, blocks
        The tile and its ``synth_blocks()``.
    areas : mapping
        ``{block name: BlockArea}`` with ``netlist`` set (the block netlists must still exist).
    workdir : path
        Folder for the glue, its netlist, scripts and reports (created).
    info : LibertyInfo
        The library (``user.lib`` is linked into ``workdir``).
    ideal : str
        Which nets have no load (:func:`tile_sta_script`).
    glue, nets : optional
        :func:`tile_glue` and :func:`block_netlists` already made (the Amaranth emission of the
        glue can then stay in the caller's thread).
    """
    top = design.top
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    if nets is None:
        nets = block_netlists(blocks, areas, info, top)
    ports = {n: net.ports for n, net in nets.items()}
    if glue is None:
        glue = tile_glue(design, blocks, ports)
    what = f"tile {top}"
    link_liberty(info.path, wd / "user.lib")
    (wd / "abc_lib.script").write_text(ABC_LIB_SCRIPT)
    (wd / "glue_rtl.v").write_text(glue.verilog)
    (wd / "stubs.v").write_text(stub_modules(ports))
    for stale in ("glue.v", "glue.rpt", "tile_path.rpt"):
        (wd / stale).unlink(missing_ok=True)
    run_script(glue_script(top, "stubs.v", info.buffer()), wd, what=f"the top level of {what}",
               yosys=yosys, timeout=timeout)
    rpt = read_report(wd / "glue.rpt", f"the top level of {what}")
    glue_area = chip_area(rpt, top, report="glue area report", what=what)
    glue_cells = dict(cell_stats(rpt, report="glue cell report", what=what).types)
    glue_net = read_netlist(wd / "glue.v", info)
    _check_names(glue_net.ports, what)
    period = PROBE_PERIOD_NS / info.time_unit_ns
    run_sta(tile_sta_script(top, {n: areas[n].netlist for n in nets}, glue_net.ports, period, ideal),
            wd, name="tile_sta", what=what, sta=sta, timeout=timeout)
    path = worst_path(read_report(wd / "tile_path.rpt", what), period, what=what)
    bound = max((areas[b.name].timing.critical_path_ns for b in blocks
                 if areas[b.name].timing is not None), default=0.0)
    if path is None:
        return TileTiming(Timing(0.0, "-", "-", (), bound), glue_area, glue_cells)
    start, end, through = describe_tile_path(path, glue.instances, {**nets, None: glue_net})
    return TileTiming(Timing(path.min_period * info.time_unit_ns, start, end, through, bound),
                      glue_area, glue_cells)
