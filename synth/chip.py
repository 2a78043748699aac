"""The whole accelerator in sky130 (``dstripes synth --chip --liberty sky130``,
``docs/design.md`` §10.8): area per block and in total, and the clock with the SRAM macros.

* **Tiles**: one tile synthesised and timed as ``dstripes synth`` does
  (:func:`synth.tile.synth_tiles`), its area times ``T``.
* **Reducers**: each tile's reducer (its column multiplexer, bias registers, residual shifters and
  requantisers, :class:`~dstripes.hw.chip.reducer.Reducer`) synthesised once, its area times ``T``.
* **Glue**: the set-up, the walker, the fetch unit, the writer, the DMA engine and the pool unit,
  each synthesised with yosys onto the standard cells and timed with OpenSTA on its own (ports
  ideal, as a tile block).
* **Top level**: the chip's own logic — command register and state, pass control, the broadcast,
  the multiplexers of the memories' ports — with every instance's pins made ports
  (:mod:`synth.chip_top`), synthesised and timed as a glue block; its multiplexers' delays join
  the SRAM-facing bounds of the blocks whose paths cross them.
* **Output path**: the writer's netlist linked with ``T`` instances of the reducer's (a
  structural wrapper, :func:`outpath_wrapper`) and timed whole by OpenSTA, as a tile is from its
  blocks: the writer's column register through a reducer's multiplexer and requantiser into the
  writer's alignment and NM's write port; the nets between the blocks ideal.
* **Memories**: NM and the weight buffers from the SRAM macros (:mod:`synth.sram`): count ×
  LEF outline, plus the estimated decoder and read-multiplexer glue of deep memories.

Clock (the shortest period every path meets). Every block whose ports face a memory
(:data:`SRAM_PORTS`: the fetch unit, the writer, the DMA engine, the pool unit; the output path;
SB's read data into the tile) is timed on each of the three kinds of path below, one named
bound per block and kind (``"<block>.<kind>"``, :attr:`ChipSynthesis.sram_paths`; the largest of
each kind is ``paths[kind]``):

* the tile's critical path and every glue block's own worst path (:mod:`synth.timing`);
* **SRAM → register** (``sram_to_register``): a macro launches its read data after the clock's
  *falling* edge (Liberty ``timing_type : falling_edge``), clock-to-out ``t_co`` later; a block's
  worst path from its read-data ports into its registers (``d_in``, setup included, OpenSTA)
  must then fit the half period left: ``T >= 2 (t_co + d_in)`` — the fetch unit's NM read data,
  the writer's residual, the DMA's and the pool unit's NM read data, and SB's read data into the
  tile's weight input register (block ``sb_weights``: :func:`sb_weight_path`);
* **register → SRAM** (``register_to_sram``): a block's worst path from a register to an
  address, enable or data port of a memory (``d_out``, OpenSTA) plus the macro's setup:
  ``T >= d_out + t_setup`` — the fetch unit's NM and SB read addresses, the writer's residual
  read address, the output path's NM write, the DMA's, the pool unit's reads and write;
* **SRAM → SRAM** (``sram_to_sram``), if a block (or the linked output path) has one: read data
  (launched after the falling edge) through logic into a memory's address, enable or data port
  (``d_thru``) with the macro's setup in the half period left:
  ``T >= 2 (t_co + d_thru + t_setup)``. The writer registers the residual's codes and the pool
  unit its read data, so there is none; before, the residual's set the clock;
* the macros' ``minimum_period``.
"""
from __future__ import annotations

import math
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from amaranth.hdl import Shape
from amaranth.lib.wiring import In

from dstripes.hw.chip.design import ChipDesign
from dstripes.hw.chip.dma import Dma
from dstripes.hw.chip.fetch import Fetch
from dstripes.hw.chip.pool import PoolUnit
from dstripes.hw.chip.reducer import Reducer
from dstripes.hw.chip.setup import Setup
from dstripes.hw.chip.walker import Walker
from dstripes.hw.chip.writer import Writer
from dstripes.hw.emit import to_verilog
from dstripes.sim.errors import ConfigError

from .flow import BlockArea, synth_verilog
from .liberty import check_timing_liberty, resolve_liberty
from .netlist import Port, read_netlist
from .chip_top import TopBlock, top_block
from .memory_paths import select_ports, sram_paths
from .sram import ChipMemories, chip_memories
from .sta import port_constraints, read_report, run_sta, tcl_quote, worst_path
from .tile import TileArea, synth_tiles
from .timing import PROBE_PERIOD_NS

#: The library the macros belong to: ``synth --chip`` needs it.
CHIP_LIBERTY = "sky130"
#: Per glue block: (ports carrying SRAM read data in, ports driving an SRAM out); an array port
#: ``p`` is ``p__0``, ``p__1``...
SRAM_PORTS = {
    "walker": ((), ()),
    "fetch": (("rdata",), ("raddr", "ren", "sb_raddr", "sb_ren")),
    "writer": (("res_rdata",), ("waddr", "wen", "wdata", "res_raddr", "res_ren")),
    "reducer": ((), ()),
    "setup": ((), ()),
    "dma": (("nm_rdata",), ("sb_waddr", "sb_wdata", "sb_wen", "nm_waddr", "nm_wen", "nm_wdata", "nm_raddr", "nm_ren")),
    "pool": (("rdata",), ("raddr", "ren", "waddr", "wen", "wdata")),
}


#: Most input bits Amaranth 0.5 emits for a block on its own (its netlist numbers the bits of the
#: top's input ports with 16 bits): a glue block with wider inputs cannot be synthesised alone.
EMIT_INPUT_BITS = 1 << 16


def input_bits(component) -> int:
    """Bits of ``component``'s input ports (every ``In`` member of its signature, arrays counted)."""
    return sum(Shape.cast(m.shape).width * math.prod(m.dimensions)
               for _, m in component.signature.members.flatten() if m.is_port and m.flow == In)


def check_glue(design: ChipDesign) -> None:
    """Every glue block of ``design`` can be emitted on its own (:data:`EMIT_INPUT_BITS`); a
    :class:`ConfigError` naming the block and its input bits otherwise, before any synthesis. The
    widest is a tile's reducer (its results: ``Nr x Nc x acc_bits`` bits; 12,288 on the published
    tile) or the writer (``T x Nr`` codes and the residual bricks)."""
    comps = glue_components(design)
    for comp in comps.values():
        comp._MustUse__silence = True              # made for their ports only: never elaborated
    for name, comp in comps.items():
        bits = input_bits(comp)
        if bits > EMIT_INPUT_BITS:
            raise ConfigError(
                f"synth --chip: the {name}'s input ports are {bits:,} bits, beyond the {EMIT_INPUT_BITS:,} input bits "
                f"Amaranth emits for a block synthesised on its own: fewer rows, columns or tiles")


def glue_components(design: ChipDesign) -> dict:
    """``{name: component}`` of the chip's glue blocks (fresh components); the reducer is one
    tile's (the chip has ``T``: :func:`glue_count`)."""
    c = design.chip
    return {"walker": Walker(c), "fetch": Fetch(c, sb_words=c.sb_words), "writer": Writer(c),
            "dma": Dma(c, sb_words=c.sb_words), "pool": PoolUnit(c), "reducer": Reducer(c), "setup": Setup(c)}


def glue_count(design: ChipDesign, name: str) -> int:
    """Instances of glue block ``name`` in the chip: ``T`` reducers, one of every other block."""
    return design.chip.tiles if name == "reducer" else 1


@dataclass(frozen=True)
class GlueBlock:
    """One glue block: its synthesis (area, own worst path) and its SRAM-facing paths.

    Members
    -------
    sram_in_ns : float or None
        Worst path from an SRAM read-data port into a register, setup included (``d_in``).
    sram_out_ns : float or None
        Worst path from a register to a port that drives an SRAM (``d_out``).
    sram_thru_ns : float or None
        Worst path from an SRAM read-data port to a port that drives an SRAM, registers
        bypassed (``d_thru``: an SRAM -> SRAM path in one cycle).
    """

    name: str
    area: BlockArea
    sram_in_ns: float | None
    sram_out_ns: float | None
    count: int = 1
    sram_thru_ns: float | None = None

    @property
    def area_um2(self) -> float:
        """All its instances."""
        return self.count * self.area.liberty_area

    def as_dict(self) -> dict:
        return {"count": self.count, "area_um2_each": self.area.liberty_area, "area_um2": self.area_um2,
                "cells": self.area.liberty_cells,
                "critical_path_ns": self.area.timing.critical_path_ns if self.area.timing else None,
                "sram_in_ns": self.sram_in_ns, "sram_out_ns": self.sram_out_ns, "sram_thru_ns": self.sram_thru_ns}


@dataclass(frozen=True)
class ChipSynthesis:
    """The accelerator's area and clock (module docstring).

    Members
    -------
    design : ChipDesign
    tile : TileArea
        One tile (synthesised and timed).
    glue : tuple of GlueBlock
    memories : ChipMemories
    """

    design: ChipDesign
    tile: TileArea
    glue: tuple
    memories: ChipMemories
    outpath: "OutPathTiming | None" = None
    sb_in_ns: float | None = None
    top: TopBlock | None = None

    @property
    def tiles_um2(self) -> float:
        return self.design.chip.tiles * self.tile.area_um2

    @property
    def reducers_um2(self) -> float:
        """The ``T`` reducers."""
        return sum(g.area_um2 for g in self.glue if g.name == "reducer")

    @property
    def glue_um2(self) -> float:
        """The shared glue blocks (set-up, walker, fetch unit, writer, DMA, pool unit; not the
        reducers) and the chip's top level."""
        top = self.top.area.liberty_area if self.top is not None else 0.0
        return sum(g.area_um2 for g in self.glue if g.name != "reducer") + top

    @property
    def logic_um2(self) -> float:
        """Standard-cell logic: tiles, reducers, glue blocks, the memories' estimated decoders and muxes."""
        return self.tiles_um2 + self.reducers_um2 + self.glue_um2 + self.memories.glue_um2

    @property
    def sram_um2(self) -> float:
        return self.memories.area_um2

    @property
    def area_um2(self) -> float:
        return self.logic_um2 + self.sram_um2

    @property
    def sram_paths(self) -> dict:
        """``{"<block>.<kind>": ns}``: every SRAM-facing bound, one per block and kind
        (``sram_to_register``, ``register_to_sram``, ``sram_to_sram``; the output path's as block
        ``output_path``) — module docstring."""
        m, o, top = self.memories, self.outpath, self.top
        into = top.into_memory if top is not None else {}
        out_of = top.from_memory if top is not None else {}

        def via(d, *extra):             # a path through the top's multiplexers
            return None if d is None else d + sum(x or 0.0 for x in extra)

        rows = [(g.name, via(g.sram_in_ns, out_of.get(g.name)), via(g.sram_out_ns, into.get(g.name)),
                 via(g.sram_thru_ns, out_of.get(g.name), into.get(g.name))) for g in self.glue]
        if o is not None:
            rows.append(("output_path", None, via(o.sram_out_ns, into.get("writer")),
                         via(o.sram_thru_ns, out_of.get("writer"), into.get("writer"))))
        rows.append(("sb_weights", self.sb_in_ns, None, None))
        if top is not None:
            rows.append(("top", None, top.sram_out_ns, None))
        out = {}
        for name, d_in, d_out, d_thru in rows:
            if d_in is not None:
                out[f"{name}.sram_to_register"] = 2 * (m.clk_to_out_ns + d_in)
            if d_out is not None:
                out[f"{name}.register_to_sram"] = d_out + m.setup_ns
            if d_thru is not None:
                out[f"{name}.sram_to_sram"] = 2 * (m.clk_to_out_ns + d_thru + m.setup_ns)
        return out

    @property
    def paths(self) -> dict:
        """``{name: ns}`` of every bound on the clock period; ``sram_to_register``,
        ``register_to_sram`` and ``sram_to_sram`` are the largest of their kind in :attr:`sram_paths`."""
        o = self.outpath
        out = {"tile": self.tile.timing.critical_path_ns}
        out.update({f"glue_{g.name}": g.area.timing.critical_path_ns for g in self.glue})
        if self.top is not None:
            out["glue_top"] = self.top.area.timing.critical_path_ns
        if o is not None:
            out["output_path"] = o.critical_path_ns
        sp = self.sram_paths
        for kind in ("sram_to_sram", "sram_to_register", "register_to_sram"):
            vals = [v for k, v in sp.items() if k.endswith("." + kind)]
            if vals:
                out[kind] = max(vals)
        out["sram_min_period"] = self.memories.min_period_ns
        return out

    @property
    def critical_path_ns(self) -> float:
        return max(self.paths.values())

    @property
    def critical(self) -> str:
        p = self.paths
        return max(p, key=p.get)

    def blocks(self) -> list:
        """``(block, count, µm² each, µm² total, kind)`` rows."""
        c, m = self.design.chip, self.memories
        rows = [(f"tile ({self.design.tile.title})", c.tiles, self.tile.area_um2, self.tiles_um2, "logic")]
        rows += [(g.name, g.count, g.area.liberty_area, g.area_um2, "logic") for g in self.glue]
        if self.top is not None:
            rows.append(("top level", 1, self.top.area.liberty_area, self.top.area.liberty_area, "logic"))
        for mm in m.maps:
            rows.append((f"{mm.name} macros ({mm.macro.name})", mm.macros, mm.macro.area_um2, mm.area_um2, "sram"))
            rows.append((f"{mm.name} decoders / muxes (estimated)", mm.instances, mm.glue_um2 / mm.instances,
                         mm.glue_um2, "logic"))
        return rows

    def as_dict(self) -> dict:
        mm2 = 1e-6
        return {"chip": {"area_mm2": self.area_um2 * mm2, "logic_area_mm2": self.logic_um2 * mm2,
                         "sram_area_mm2": self.sram_um2 * mm2, "sram_macros": self.memories.macros,
                         "critical_path_ns": self.critical_path_ns, "fmax_mhz": 1000.0 / self.critical_path_ns,
                         "critical": self.critical, "paths_ns": self.paths, "sram_paths_ns": self.sram_paths,
                         "tiles_area_mm2": self.tiles_um2 * mm2, "reducers_area_mm2": self.reducers_um2 * mm2,
                         "glue_area_mm2": self.glue_um2 * mm2,
                         "sram_glue_area_mm2": self.memories.glue_um2 * mm2},
                "config": self.design.chip.as_dict(),
                "blocks": [{"block": b, "count": n, "area_um2_each": e, "area_um2": t, "kind": k}
                           for b, n, e, t, k in self.blocks()],
                "tile": self.tile.as_dict(), "glue": {g.name: g.as_dict() for g in self.glue},
                "output_path": self.outpath.as_dict() if self.outpath is not None else None,
                "top": self.top.as_dict() if self.top is not None else None,
                "memories": self.memories.as_dict()}


@dataclass(frozen=True)
class OutPathTiming:
    """The output path timed whole: the writer linked with the ``T`` reducers (module docstring).

    Members
    -------
    critical_path_ns : float
        Its worst path (ports ideal, as a block's), ns.
    startpoint, endpoint : str
    sram_out_ns : float or None
        Worst path from a register to NM's write port (``d_out``).
    sram_thru_ns : float or None
        Worst path from the residual's read data to NM's write port (``d_thru``).
    """

    critical_path_ns: float
    startpoint: str
    endpoint: str
    sram_out_ns: float | None
    sram_thru_ns: float | None

    def as_dict(self) -> dict:
        return {"critical_path_ns": self.critical_path_ns, "from": self.startpoint, "to": self.endpoint,
                "sram_out_ns": self.sram_out_ns, "sram_thru_ns": self.sram_thru_ns}


#: Reducer ports the writer drives or reads, one per filter (``name__r`` of tile ``t`` is the
#: writer's ``name__{t * Nr + r}``), and the one it shares with all (``col``).
OUTPATH_PER_FILTER = ("codes", "res_pat", "bias_wen")
OUTPATH_SHARED = ("col",)


def _decl(d: str, w: int, name: str) -> str:
    return f"  {d} {'' if w == 1 else f'[{w - 1}:0] '}{name};"


def outpath_wrapper(chip, writer: dict, reducer: dict, *, top: str = "chip_outpath",
                    writer_top: str = "chip_writer", reducer_top: str = "chip_reducer") -> tuple:
    """A structural Verilog module ``top``: one ``writer_top`` and ``chip.tiles`` ``reducer_top``
    instances wired as the chip wires them (:data:`OUTPATH_PER_FILTER`, :data:`OUTPATH_SHARED`);
    every other port of a reducer is a top-level input ``r<t>_<port>``, every other port of the
    writer a top-level port of its name.

    Parameters
    ----------
    chip : ChipConfig
    writer, reducer : mapping
        ``{port: Port}`` of the two netlists.

    Returns
    -------
    (str, dict)
        The Verilog and its ports ``{name: Port}``.
    """
    rows = chip.tile.rows
    linked = {}                                      # writer port -> wire
    conns = []
    for ti in range(chip.tiles):
        pins = []
        for name, (d, w) in reducer.items():
            base, _, idx = name.rpartition("__")
            if name in ("clk", "rst"):
                net = name
            elif name in OUTPATH_SHARED:
                net = linked.setdefault(name, f"w_{name}")
            elif base in OUTPATH_PER_FILTER and idx.isdigit():
                wname = f"{base}__{ti * rows + int(idx)}"
                if wname not in writer or writer[wname].width != w:
                    raise ConfigError(f"the writer's netlist has no {w}-bit port {wname} for reducer {ti}'s {name}")
                net = linked.setdefault(wname, f"w_{wname}")
            else:
                net = f"r{ti}_{name}"
            pins.append(f".{name}({net})")
        conns.append(f"  {reducer_top} reducer{ti} (" + ", ".join(pins) + ");")
    ports = {n: p for n, p in writer.items() if n not in linked}
    for ti in range(chip.tiles):
        ports.update({f"r{ti}_{n}": p for n, p in reducer.items()
                      if n not in ("clk", "rst") and n not in OUTPATH_SHARED
                      and n.rpartition("__")[0] not in OUTPATH_PER_FILTER})
    for n in ("clk", "rst"):
        if n in reducer and n not in ports:
            ports[n] = Port("input", 1)
    missing = [n for n in writer if n.rpartition("__")[0] in OUTPATH_PER_FILTER and n not in linked]
    if missing:
        raise ConfigError(f"the writer's ports {missing[:3]} are connected to no reducer")
    lines = [f"module {top}(" + ", ".join(ports) + ");"]
    lines += [_decl(d, w, n) for n, (d, w) in ports.items()]
    lines += [_decl("wire", writer[n].width, wire) for n, wire in linked.items()]
    lines.append(f"  {writer_top} writer (" + ", ".join(
        f".{n}({linked.get(n, n)})" for n in writer) + ");")
    lines += conns
    lines.append("endmodule")
    return "\n".join(lines) + "\n", ports


def outpath_timing(workdir: Path, chip, writer: BlockArea, reducer: BlockArea, *, sta: str | None = None,
                   timeout: float | None = None) -> OutPathTiming:
    """Time the writer's netlist linked with ``T`` instances of the reducer's (:func:`outpath_wrapper`)
    with OpenSTA: the worst path, register → NM write port, residual read data → NM write port.
    The wrapper's nets (between the blocks) are ideal (no load), as a tile's are."""
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    info = check_timing_liberty(Path(writer.netlist).parent / "user.lib")
    wnet, rnet = read_netlist(writer.netlist, info), read_netlist(reducer.netlist, info)
    text, ports = outpath_wrapper(chip, wnet.ports, rnet.ports, writer_top=wnet.top, reducer_top=rnet.top)
    (wd / "outpath.v").write_text(text)
    period = PROBE_PERIOD_NS / info.time_unit_ns
    sel = lambda ps: "[get_ports {" + " ".join(f"{p}[*]" if ports[p][1] > 1 else p for p in ps) + "}]"  # noqa: E731
    outs, ins = select_ports(SRAM_PORTS["writer"][1], ports), select_ports(("res_rdata",), ports)
    script = [f"read_liberty {tcl_quote(str(Path(writer.netlist).parent / 'user.lib'))}",
              f"read_verilog {tcl_quote(str(writer.netlist))}", f"read_verilog {tcl_quote(str(reducer.netlist))}",
              "read_verilog outpath.v", "link_design chip_outpath", *port_constraints(ports, period),
              "set_load -subtract_pin_load 0 [get_nets *]",
              "report_checks -path_delay max -format full -digits 4 > outpath.rpt",
              f"report_checks -path_delay max -format full -digits 4 -from [all_registers -clock_pins] "
              f"-to {sel(outs)} > sram_out.rpt",
              f"report_checks -path_delay max -format full -digits 4 -from {sel(ins)} -to {sel(outs)} > sram_thru.rpt"]
    for f in ("outpath.rpt", "sram_out.rpt", "sram_thru.rpt"):
        (wd / f).unlink(missing_ok=True)
    what = "the chip's output path (writer and reducers)"
    run_sta("\n".join(script), wd, name="outpath_sta", what=what, sta=sta, timeout=timeout)
    ns = lambda f: (lambda p: p.min_period * info.time_unit_ns if p is not None else None)(  # noqa: E731
        worst_path(read_report(wd / f, what), period, what=what))
    whole = worst_path(read_report(wd / "outpath.rpt", what), period, what=what)
    if whole is None:
        raise ConfigError(f"OpenSTA found no timed path in {what}")
    return OutPathTiming(whole.min_period * info.time_unit_ns, whole.startpoint, whole.endpoint,
                         ns("sram_out.rpt"), ns("sram_thru.rpt"))


#: The tile's weight input (SB read data, one weight brick): the block netlist port it becomes.
SB_PORT = "weight__payload"


def sb_weight_path(design: ChipDesign, tile: TileArea, root: Path, lib, *, sta: str | None = None,
                   timeout: float | None = None) -> float | None:
    """``d_in`` of SB's read data into the tile's weight input register (ns, setup included): the
    worst path from :data:`SB_PORT` of the tile block that takes it (the tile passes its
    ``weight`` stream to that block unchanged) into a register, on that block's netlist of
    ``tile``'s run, or — when that run kept no netlists — on the block synthesised again in
    ``root/sb_weights``. ``None`` if no block has the port."""
    info = check_timing_liberty(lib)
    for b in tile.blocks:
        nl = b.area.netlist
        if nl is not None and Path(nl).is_file():
            net = read_netlist(nl, info)
            if SB_PORT in net.ports:
                return sram_paths(Path(nl).parent, net.top, (SB_PORT,), (),
                                  what=f"the tile's {b.name}", sta=sta, timeout=timeout)[0]
    blocks = design.tile.synth_blocks()
    for blk in blocks:
        blk.component._MustUse__silence = True     # made for their ports; one is emitted below
    for blk in blocks:
        if "weight" in dict(blk.component.signature.members):
            wd = root / "sb_weights"
            top = f"sb_{blk.name}"
            synth_verilog(to_verilog(blk.component, top), top, liberty=lib, workdir=wd, timing=True, sta=sta,
                          timeout=timeout)
            return sram_paths(wd, top, (SB_PORT,), (), what=f"the tile's {blk.name}", sta=sta, timeout=timeout)[0]
    return None


def check_chip_liberty(liberty) -> None:
    """The macros are sky130's: ``synth --chip`` maps the logic onto the same library."""
    if str(liberty) != CHIP_LIBERTY:
        raise ConfigError(f"--chip needs --liberty {CHIP_LIBERTY} (the SRAM macros are sky130's), not {liberty}")


def synth_chip(design: ChipDesign, *, jobs: int | None = None, out=None, progress: bool = False,
               sta: str | None = None, timeout: float | None = None, tile: TileArea | None = None) -> ChipSynthesis:
    """Synthesise and time the accelerator ``design`` on sky130 with its SRAM macros.

    Parameters
    ----------
    design : ChipDesign
    jobs : int, optional
        Parallel yosys runs.
    out : path, optional
        Keep the tile's files in ``out/<kind>/``, the glue blocks' (and the reducer's) in
        ``out/chip/<block>/``, the output path's timing in ``out/chip/outpath/``.
    progress : bool
        A progress bar for the tile's blocks.
    tile : TileArea, optional
        The tile of ``design`` already synthesised and timed on sky130 (it does not depend on
        the memories): reused instead of synthesised again.

    Returns
    -------
    ChipSynthesis

    Raises
    ------
    ConfigError
        A memory no macro can build, a glue block too wide to emit on its own (before any
        synthesis).
    """
    memories = chip_memories(design.chip)          # a configuration the macros cannot build fails here
    check_glue(design)
    lib = resolve_liberty(CHIP_LIBERTY)
    if tile is not None and (tile.design != design.tile or tile.timing is None):
        raise ConfigError(f"the tile given is not the timed {design.tile.title} tile of this chip")
    tmp = tempfile.TemporaryDirectory(prefix="synth-chip-") if out is None else None
    root = Path(tmp.name if tmp is not None else os.path.join(out, "chip"))
    try:
        if tile is None:                           # its netlists kept (in tmp) for the SB -> tile path
            tile = synth_tiles([design.tile], liberty=CHIP_LIBERTY, jobs=jobs, out=out if out is not None else tmp.name,
                               progress=progress, sta=sta, timeout=timeout).tiles[design.tile.name]
        comps = glue_components(design)
        verilog = {n: to_verilog(c, f"chip_{n}") for n, c in comps.items()}

        def one(name: str) -> GlueBlock:
            wd = root / name
            top = f"chip_{name}"
            area = synth_verilog(verilog[name], top, liberty=lib, workdir=wd, timing=True, sta=sta, timeout=timeout)
            ins, outs = SRAM_PORTS[name]
            d_in, d_out, d_thru = sram_paths(wd, top, ins, outs, what=f"chip block {name}", sta=sta, timeout=timeout)
            return GlueBlock(name, area, d_in, d_out, glue_count(design, name), d_thru)

        with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
            top = pool.submit(top_block, design, root / "top", lib, sta=sta, timeout=timeout)
            glue = tuple(pool.map(one, list(comps)))
            top = top.result()
        byname = {g.name: g for g in glue}
        outpath = outpath_timing(root / "outpath", design.chip, byname["writer"].area, byname["reducer"].area,
                                 sta=sta, timeout=timeout)
        sb_in = sb_weight_path(design, tile, root, lib, sta=sta, timeout=timeout)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return ChipSynthesis(design, tile, glue, memories, outpath, sb_in, top)
