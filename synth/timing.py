"""Static timing with OpenSTA: one block on its own, and a whole tile assembled from its blocks.

Conventions (both levels)
-------------------------
* **Ideal clock, no wires.** One clock on ``clk`` with no latency, skew or uncertainty; nets have
  no wire capacitance or resistance (no placement). Cell delays come from the Liberty NLDM
  tables with the pin capacitances of the real fan-out.
* **Fan-out buffering.** The user-liberty mapping ends with ABC's ``buffer -p -N 10``
  (:data:`synth.flow.ABC_LIB_SCRIPT`, buffering and sizing where ABC's gain model says it pays),
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

from amaranth.hdl import Fragment

from dstripes.sim.errors import ToolError

from .sta import WorstPath, run_sta, tcl_quote, worst_path

#: Period of the clock used to probe paths (ns). Any period gives the same critical path
#: (``period - slack``); a long one keeps every slack positive in the reports.
PROBE_PERIOD_NS = 100.0

_PORT = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?(?:\[(\d+):(\d+)\]\s*)?"
                   r"(\\\S+|[A-Za-z_][\w$]*)\s*;", re.M)


def module_ports(verilog: str) -> dict:
    """``{port: (direction, width)}`` of the first module of a Verilog text (Amaranth's and
    yosys' one-declaration-per-line style)."""
    end = verilog.find("endmodule")
    ports = {}
    for m in _PORT.finditer(verilog, 0, end if end >= 0 else len(verilog)):
        width = abs(int(m.group(2)) - int(m.group(3))) + 1 if m.group(2) is not None else 1
        ports[clean_name(m.group(4))] = (m.group(1), width)
    return ports


def clean_name(name: str) -> str:
    """A Verilog identifier as OpenSTA and the RTL name it: ``\\next.acts [5]`` -> ``next.acts[5]``."""
    name = name.strip()
    if name.startswith("\\"):
        name = name[1:]
    return re.sub(r"\s+\[", "[", name).strip()


@dataclass(frozen=True)
class Netlist:
    """What the flow reads of a mapped netlist: ports, and each register cell's output nets."""

    top: str
    ports: dict
    registers: dict    # instance name -> {output pin: net name}
    cells: int

    def register_of(self, instance: str) -> str | None:
        """The net a register instance drives (its RTL name, e.g. ``partial[5]``)."""
        outs = self.registers.get(instance)
        return next(iter(outs.values())) if outs else None


_INST = re.compile(r"^\s+(\S+)\s+(\S+)\s*\($")
_CONN = re.compile(r"^\s*\.(\w+)\((.*)\),?$")


def read_netlist(path: str | os.PathLike, sequential: set, outputs: dict) -> Netlist:
    """Parse a ``write_verilog -noattr`` netlist.

    Parameters
    ----------
    sequential : set
        Sequential cell names of the library.
    outputs : dict
        ``{cell: set of output pin names}`` of the library.
    """
    text = Path(path).read_text(errors="replace")
    head = text[:text.find(");") + 2] if ");" in text else ""
    mod = re.search(r"\bmodule\s+(\\\S+|\w+)", head)
    ports = module_ports(text)
    registers = {}
    cells = 0
    cur = None
    for line in text.splitlines():
        if cur is None:
            m = _INST.match(line)
            if m and m.group(1) not in ("module", "input", "output", "wire", "assign"):
                cells += 1
                cur = (m.group(1), clean_name(m.group(2)), {})
            continue
        if line.strip() == ");":
            if cur[0] in sequential:
                registers[cur[1]] = cur[2]
            cur = None
            continue
        c = _CONN.match(line)
        if c and cur[0] in sequential and c.group(1) in outputs.get(cur[0], ()):
            net = c.group(2).strip()
            if net:
                cur[2][c.group(1)] = clean_name(net)
    return Netlist(clean_name(mod.group(1)) if mod else "?", ports, registers, cells)


@dataclass(frozen=True)
class Timing:
    """The worst setup path of a block or a tile (see the module docstring).

    Attributes
    ----------
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


def _constraints(ports: dict, period: float) -> list:
    """Clock, input and output delays of a design with ``ports`` (library time units)."""
    lines = []
    if "clk" in ports:
        lines.append(f"create_clock -name clk -period {period:g} [get_ports clk]")
    else:  # a combinational block: a virtual clock times its in-to-out paths
        lines.append(f"create_clock -name clk -period {period:g}")
    ins = [p for p, (d, _) in ports.items() if d == "input" and p != "clk"]
    outs = [p for p, (d, _) in ports.items() if d == "output"]
    if ins:
        lines.append("set_input_delay 0 -clock clk [get_ports {" + " ".join(
            f"{p}[*]" if ports[p][1] > 1 else p for p in ins) + "}]")
    if outs:
        lines.append("set_output_delay 0 -clock clk [get_ports {" + " ".join(
            f"{p}[*]" if ports[p][1] > 1 else p for p in outs) + "}]")
    return lines


def _check_names(names, what: str) -> None:
    for n in names:
        if not re.match(r"^[A-Za-z_][\w$]*$", n):
            raise ToolError(f"port {n!r} of {what} is not a plain identifier OpenSTA can be given")


def block_timing(workdir: str | os.PathLike, top: str, info, *, what: str, sta: str | None = None,
                 timeout: float | None = None, ideal_nets: bool = False) -> Timing:
    """Time the block netlist ``workdir/user.v`` (module ``top``) mapped onto ``workdir/user.lib``
    (:class:`synth.liberty.LibertyInfo` ``info``) on its own, ports ideal; also its worst
    register-to-register path (:attr:`Timing.internal_ns`). ``ideal_nets``: every net without
    load (the validation of :func:`tile_timing` compares both ways with all nets ideal)."""
    wd = Path(workdir)
    net = read_netlist(wd / "user.v", info.sequential, _outputs(info))
    _check_names(net.ports, what)
    period = PROBE_PERIOD_NS / info.time_unit_ns
    script = ["read_liberty user.lib", "read_verilog user.v", f"link_design {top}",
              *_constraints(net.ports, period)]
    if ideal_nets:
        script.append("set_load -subtract_pin_load 0 [get_nets *]")
    script.append("report_checks -path_delay max -format full -digits 4 > block_path.rpt")
    if net.registers:
        script.append("report_checks -path_delay max -format full -digits 4 -from [all_registers "
                      "-clock_pins] -to [all_registers -data_pins] > block_internal.rpt")
    for f in ("block_path.rpt", "block_internal.rpt"):
        (wd / f).unlink(missing_ok=True)
    run_sta("\n".join(script), wd, name="block_sta", what=what, sta=sta, timeout=timeout)
    path = worst_path(_read(wd / "block_path.rpt", what), period, what=what)
    internal = worst_path(_read(wd / "block_internal.rpt", what), period, what=what) if net.registers else None
    internal_ns = internal.min_period * info.time_unit_ns if internal is not None else None
    if path is None:  # nothing constrained: no register, or no path between ports
        return Timing(0.0, "-", "-", internal_ns=internal_ns)
    return Timing(path.min_period * info.time_unit_ns, _point(path.startpoint, net),
                  _point(path.endpoint, net), internal_ns=internal_ns)


def _outputs(info) -> dict:
    return {n: {p.name for p in c.outputs} for n, c in info.cells.items()}


def _read(path: Path, what: str) -> str:
    if not path.is_file():
        from .sta import StaReportError

        raise StaReportError(f"OpenSTA wrote no timing report ({path.name}) for {what}")
    return path.read_text(errors="replace")


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

    Attributes
    ----------
    verilog : str
        The top module (named ``top``); each block instance is a module named after its block.
    instances : dict
        Instance name -> block name.
    """

    top: str
    verilog: str
    instances: dict


def same_block(obj, block) -> bool:
    """Whether submodule ``obj`` is an instance of ``block``: the class and the signature of the
    block's component (the instances of an array are built alike)."""
    comp = block.component
    return type(obj) is type(comp) and getattr(obj, "signature", None) == comp.signature


def block_instances(tile, blocks) -> dict:
    """``{instance name: block name}`` of the tile's direct submodules that are instances of its
    counted blocks (:func:`same_block`); each block must be found ``count`` times.

    Raises
    ------
    ToolError
        If a block is not found as often as the tile lists it.
    """
    fragment = Fragment.get(tile, None)  # the whole tile, so every block it makes is used
    counted = [b for b in blocks if getattr(b, "part_of", None) is None]
    found = {}
    for sub, name, _ in fragment.subfragments:
        obj = sub.origins[0]
        for b in counted:
            if same_block(obj, b):
                found[name] = b.name
                break
    _check_found(found, counted, type(tile).__name__)
    return found


def _check_found(found: dict, counted, tile: str) -> None:
    for b in counted:
        n = sum(1 for v in found.values() if v == b.name)
        if n != b.count:
            raise ToolError(f"tile {tile}: block {b.name} is listed {b.count} time(s) but found as "
                            f"{n} direct submodule(s); the tile cannot be assembled from its blocks")


def tile_glue(tile, blocks, top: str, ports: dict) -> Glue:
    """Emit ``tile``'s top level with every instance of a counted block as a black box.

    The direct submodules of the tile that are instances of a counted block
    (:func:`same_block`) are replaced, for this conversion only, by an ``Instance`` of a module
    named after the block with the same ports; each counted block must be found exactly
    ``b.count`` times, otherwise the tile cannot be timed from its blocks.

    Parameters
    ----------
    tile : wiring.Component
        The tile whose ``synth_blocks()`` gave ``blocks``.
    blocks : list
        Its blocks (``part_of`` ones are inside others and are not instantiated).
    top : str
        Name of the top module.
    ports : dict
        ``{block name: module_ports of its netlist}``; ``clk`` / ``rst`` are connected when the
        block's module has them.
    """
    from amaranth.hdl import ClockSignal, Instance, ResetSignal
    from amaranth.lib import wiring

    from .flow import to_verilog

    counted = [b for b in blocks if getattr(b, "part_of", None) is None]
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
        for name, (obj, _) in list(m._named_submodules.items()):
            for b in counted:
                if same_block(obj, b):
                    obj.elaborate = stub(obj, b)
                    patched.append(obj)
                    found[name] = b.name
                    break
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


def glue_script(top: str, stubs: str, netlist: tuple) -> str:
    """yosys script mapping the glue (``glue_rtl.v``) onto ``user.lib``, the blocks black boxes
    (``stubs``: a file of their port declarations)."""
    buf, a, y = netlist
    return "\n".join([
        f"read_verilog -lib {stubs}",
        "read_verilog glue_rtl.v",
        f"hierarchy -check -top {top}",
        f"synth -flatten -noabc -top {top}",
        "read_liberty -lib user.lib",
        "dfflibmap -liberty user.lib",
        "abc -script abc_lib.script -liberty user.lib",
        "opt_clean",
        "tee -o glue.rpt stat -liberty user.lib",
        "opt_clean -purge",
        f"insbuf -buf {buf} {a} {y}",
        "write_verilog -noattr glue.v",
    ]) + "\n"


def stub_modules(ports: dict) -> str:
    """Verilog black boxes: one module with only its port declarations per block."""
    out = []
    for name, bports in ports.items():
        decl = []
        for p, (d, w) in bports.items():  # escaped: a port may be a keyword (``signed``)
            decl.append(f"  {d} {'' if w == 1 else f'[{w - 1}:0] '}\\{p} ;")
        out.append(f"(* blackbox *)\nmodule {name}(" + ", ".join(f"\\{p} " for p in bports)
                   + ");\n" + "\n".join(decl) + "\nendmodule\n")
    return "\n".join(out)


def tile_sta_script(top: str, netlists: dict, ports: dict, period: float, ideal: str = "boundary") -> str:
    """OpenSTA script timing the linked tile (``glue.v`` + each block's netlist).

    ``ideal``: ``"boundary"`` (the nets between blocks have no load, the default analysis),
    ``"all"`` (no net has a load: the validation against a flat netlist) or ``"none"``."""
    lines = ["read_liberty user.lib", "read_verilog glue.v"]
    lines += [f"read_verilog {tcl_quote(str(p))}" for p in netlists.values()]
    lines += [f"link_design {top}", *_constraints(ports, period)]
    if ideal == "boundary":
        # wires between blocks: no load (a layout would buffer them; not part of this analysis)
        lines.append("set_load -subtract_pin_load 0 [get_nets *]")
    elif ideal == "all":
        lines.append("set_load -subtract_pin_load 0 [get_nets -hierarchical *]")
    lines.append("report_checks -path_delay max -format full -digits 4 > tile_path.rpt")
    return "\n".join(lines)


def describe_tile_path(path: WorstPath, instances: dict, netlists: dict) -> tuple:
    """``(startpoint, endpoint, through)`` of a tile path, named by block and register."""
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


def block_netlists(blocks, areas: dict, info, top: str) -> dict:
    """``{block: Netlist}`` of a tile's counted blocks (their netlists must still exist)."""
    outputs = _outputs(info)
    nets = {}
    for b in blocks:
        if getattr(b, "part_of", None) is not None:
            continue
        a = areas[b.name]
        if a.netlist is None or not Path(a.netlist).is_file():
            raise ToolError(f"block {b.name} of tile {top} has no netlist to time")
        nets[b.name] = read_netlist(a.netlist, info.sequential, outputs)
        if nets[b.name].top != b.name:
            raise ToolError(f"netlist {a.netlist} holds module {nets[b.name].top}, not {b.name}")
    return nets


def tile_timing(tile, blocks, areas: dict, workdir: str | os.PathLike, info, *, top: str,
                yosys: str | None = None, sta: str | None = None,
                timeout: float | None = None, ideal: str = "boundary", glue: Glue | None = None,
                nets: dict | None = None) -> tuple:
    """Time a whole tile from its blocks' netlists (see the module docstring).

    Parameters
    ----------
    tile, blocks
        The tile and its ``synth_blocks()``.
    areas : dict
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

    Returns
    -------
    (Timing, glue area, {glue cell type: count})
    """
    from .flow import ABC_LIB_SCRIPT, _link_or_copy
    from .reports import cell_stats, chip_area
    from dstripes.tb.tools import run_script

    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    outputs = _outputs(info)
    if nets is None:
        nets = block_netlists(blocks, areas, info, top)
    ports = {n: net.ports for n, net in nets.items()}
    if glue is None:
        glue = tile_glue(tile, blocks, top, ports)
    what = f"tile {top}"
    _link_or_copy(info.path, wd / "user.lib")
    (wd / "abc_lib.script").write_text(ABC_LIB_SCRIPT)
    (wd / "glue_rtl.v").write_text(glue.verilog)
    (wd / "stubs.v").write_text(stub_modules(ports))
    for stale in ("glue.v", "glue.rpt", "tile_path.rpt"):
        (wd / stale).unlink(missing_ok=True)
    run_script(glue_script(top, "stubs.v", info.buffer()), wd, what=f"the top level of {what}",
               yosys=yosys, timeout=timeout)
    rpt = _read(wd / "glue.rpt", f"the top level of {what}")
    glue_area = chip_area(rpt, top, report="glue area report", what=what)
    glue_cells = dict(cell_stats(rpt, report="glue cell report", what=what).types)
    glue_net = read_netlist(wd / "glue.v", info.sequential, outputs)
    _check_names(glue_net.ports, what)
    period = PROBE_PERIOD_NS / info.time_unit_ns
    run_sta(tile_sta_script(top, {n: areas[n].netlist for n in nets}, glue_net.ports, period, ideal),
            wd, name="tile_sta", what=what, sta=sta, timeout=timeout)
    path = worst_path(_read(wd / "tile_path.rpt", what), period, what=what)
    bound = max((areas[b.name].timing.critical_path_ns for b in blocks
                 if areas[b.name].timing is not None), default=0.0)
    if path is None:
        return Timing(0.0, "-", "-", (), bound), glue_area, glue_cells
    named = {**nets, None: glue_net}
    start, end, through = describe_tile_path(path, glue.instances, named)
    return (Timing(path.min_period * info.time_unit_ns, start, end, through, bound),
            glue_area, glue_cells)
