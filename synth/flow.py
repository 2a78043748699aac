"""Synthesis of one block: Verilog in; transistor count, gate equivalents, logic depth and,
with a user liberty, its area (and, timed, its critical path) out.

One yosys run per block (:func:`synth.recipe.synth_script`): the generic design is mapped to
transistors, to gate equivalents and optionally to the user's library. Each report is written to
its own file with ``tee -o`` and parsed from there; a missing file or line raises
:class:`~dstripes.synth.reports.ReportError` (a :class:`~dstripes.sim.errors.ToolError`). A timed
liberty's netlist gets its fan-out repaired (:mod:`synth.fanout`) and is timed with OpenSTA
(:func:`synth.timing.block_timing`).
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field, asdict
from pathlib import Path
from typing import Mapping

from amaranth.lib import wiring

from dstripes.hw.emit import to_verilog
from dstripes.sim.errors import ConfigError, ToolError
from dstripes.tb.tools import run_script

from . import reports
from .fanout import repair_fanout
from .liberty import check_liberty, check_timing_liberty, liberty_info, link_liberty
from .recipe import ABC_LIB_SCRIPT, ABC_SCRIPT, GE_FLIP_FLOP, GE_LIBERTY, synth_script
from .timing import Timing, block_timing

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class BlockArea:
    """Area and depth of one instance of a block.

    Members
    -------
    name : str
        Top module name.
    transistors : int
        Exact ``stat -tech cmos`` estimate after mapping to NAND/NOR/NOT and plain flip-flops.
    ge : float
        Area in NAND2 gate equivalents (``synth/ge.lib``).
    cells : int
        Cells of the ``ge.lib`` mapping.
    depth : int
        Longest register-to-register / port-to-port path in ``ge.lib`` cells (``ltp -noff``).
    flip_flops : int
        Flip-flops of the ``ge.lib`` mapping.
    cell_types : mapping
        ``ge.lib`` cell type -> count.
    liberty_area : float or None
        Area in the user liberty's units (µm² for a Liberty file that follows the usual
        convention, as sky130's does), when one was given.
    liberty_cells : int or None
        Cells of the user-liberty mapping.
    liberty_ff_area : float or None
        The part of ``liberty_area`` in sequential cells (flip-flops, latches).
    fanout_buffers : int or None
        Buffers the fan-out repair added after ABC (:mod:`synth.fanout`; their area is in
        ``liberty_area``), when the liberty was timed.
    timing : synth.timing.Timing or None
        OpenSTA's worst path of the block on its own (ports ideal, see :mod:`synth.timing`),
        when the liberty was timed.
    netlist : str or None
        Path of the mapped netlist OpenSTA read (``user.v``); only meaningful while the work
        directory exists. Not part of equality.
    seconds, cpu_seconds : float
        Wall time and CPU time (yosys and ABC) of the yosys run; not part of equality.
    """

    name: str
    transistors: int
    ge: float
    cells: int
    depth: int
    flip_flops: int
    cell_types: Mapping[str, int] = field(default_factory=dict)
    liberty_area: float | None = None
    liberty_cells: int | None = None
    liberty_ff_area: float | None = None
    fanout_buffers: int | None = None
    timing: Timing | None = None
    seconds: float = field(default=0.0, compare=False)
    cpu_seconds: float = field(default=0.0, compare=False)
    netlist: str | None = field(default=None, compare=False)

    def as_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("timing", "netlist")}
        if self.fanout_buffers is None:
            del d["fanout_buffers"]
        if self.liberty_area is None:
            del d["liberty_area"], d["liberty_cells"], d["liberty_ff_area"]
        else:
            d["area_um2"] = self.liberty_area
            d["ff_area_um2"] = self.liberty_ff_area
        if self.timing is not None:
            d.update(self.timing.as_dict())
        return d


def _read_report(workdir: Path, name: str, report: str, what: str) -> str:
    path = workdir / name
    if not path.exists():
        raise reports.ReportError(f"yosys wrote no {report} for {what}")
    return path.read_text(errors="replace")


def _check_mapped(stats: reports.CellStats, lib: str, what: str) -> None:
    if stats.internal:
        kinds = ", ".join(f"{t} x{n}" for t, n in sorted(stats.internal.items()))
        raise ConfigError(f"liberty {lib} cannot map every cell of {what} (left: {kinds}); "
                          f"it needs a plain D flip-flop and basic gates")


def parse_block(workdir: str | os.PathLike, top: str, *, what: str,
                user_liberty: str | None = None, liberty_file: str | os.PathLike | None = None) -> BlockArea:
    """Read the reports :func:`synth_script` left in ``workdir`` into a :class:`BlockArea`.

    Raises
    ------
    ReportError
        If any report file or figure is missing.
    ConfigError
        If a liberty mapping left unmapped cells.
    """
    workdir = Path(workdir)
    cmos = _read_report(workdir, "cmos.rpt", "transistor report (stat -tech cmos)", what)
    n_tr = reports.transistors(cmos, what=what)
    ge_text = _read_report(workdir, "ge.rpt", "gate-equivalent report (stat -liberty ge.lib)", what)
    ge_stats = reports.cell_stats(ge_text, report="gate-equivalent cell report", what=what)
    _check_mapped(ge_stats, "ge.lib", what)
    ge = reports.chip_area(ge_text, top, report="gate-equivalent area (stat -liberty ge.lib)", what=what)
    depth_text = _read_report(workdir, "depth.rpt", "logic-depth report (ltp)", what)
    depth = reports.longest_path(depth_text, top, what=what)
    lib_area = lib_cells = lib_ff = None
    if user_liberty is not None:
        u = _read_report(workdir, "user.rpt", f"area report for liberty {user_liberty}", what)
        u_stats = reports.cell_stats(u, report=f"cell report for liberty {user_liberty}", what=what)
        _check_mapped(u_stats, user_liberty, what)
        lib_area = reports.chip_area(u, top, report=f"area report for liberty {user_liberty}", what=what)
        lib_cells = u_stats.total
        if liberty_file is not None:
            _, lib_ff = liberty_info(liberty_file).area_split(u_stats.types)
    return BlockArea(name=top, transistors=n_tr, ge=ge, cells=ge_stats.total, depth=depth,
                     flip_flops=ge_stats.types.get(GE_FLIP_FLOP, 0), cell_types=dict(ge_stats.types),
                     liberty_area=lib_area, liberty_cells=lib_cells, liberty_ff_area=lib_ff)


def check_top(top: str) -> str:
    """Validate a module name used on the yosys command line."""
    if not isinstance(top, str) or not _IDENT.match(top):
        raise ConfigError(f"block name must be a plain Verilog identifier, not {top!r}")
    return top


def synth_verilog(verilog: str, top: str, *, liberty: str | os.PathLike | None = None,
                  workdir: str | os.PathLike | None = None, yosys: str | None = None,
                  timeout: float | None = None, timing: bool = False,
                  sta: str | None = None) -> BlockArea:
    """Synthesise one block's Verilog and return its area and depth.

    Parameters
    ----------
    verilog : str
        Verilog source holding module ``top`` (and any submodules it instantiates).
    top : str
        Top module name.
    liberty : path, optional
        A user liberty file; its area is reported as :attr:`BlockArea.liberty_area`.
    workdir : path, optional
        Directory to keep the Verilog, script, log and reports in (created if needed);
        a temporary directory, removed afterwards, when omitted.
    yosys : str, optional
        Yosys executable (default: :func:`tb.tools.yosys_path`).
    timeout : float, optional
        Seconds before the yosys run is abandoned.
    timing : bool
        With ``liberty``: map with fan-out buffering, write the netlist and time the block
        with OpenSTA (:attr:`BlockArea.timing`); the library must have timing arcs.
    sta : str, optional
        OpenSTA executable (default: :func:`synth.sta.sta_path`).

    Raises
    ------
    ConfigError
        Bad name, missing or broken liberty, yosys failure, or a missing report.
    """
    check_top(top)
    if not isinstance(verilog, str) or not verilog.strip():
        raise ConfigError(f"no Verilog given for block {top}")
    lib = check_liberty(liberty) if liberty is not None else None
    what = f"block {top}"
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix=f"synth-{top}-")
        wd = Path(tmp.name)
    else:
        wd = Path(workdir)
        wd.mkdir(parents=True, exist_ok=True)
        for stale in ("cmos.rpt", "ge.rpt", "depth.rpt", "user.rpt", "user.v", "yosys.log", "yosys.stderr"):
            (wd / stale).unlink(missing_ok=True)  # a report from an earlier run must not pass the check
    try:
        (wd / "block.v").write_text(verilog)
        (wd / "abc.script").write_text(ABC_SCRIPT)
        shutil.copyfile(GE_LIBERTY, wd / "ge.lib")
        netlist = info = None
        if lib is not None:
            link_liberty(lib, wd / "user.lib")
            if timing:
                info = check_timing_liberty(lib)
                netlist = info.buffer()
                (wd / "abc_lib.script").write_text(ABC_LIB_SCRIPT)
                (wd / "user.v").unlink(missing_ok=True)
        run_what = what if lib is None else f"{what} with liberty {liberty}"
        run = run_script(synth_script(top, lib is not None, netlist), wd, what=run_what, yosys=yosys,
                         timeout=timeout)
        area = parse_block(wd, top, what=what, user_liberty=str(liberty) if lib is not None else None,
                           liberty_file=lib)
        extra = {}
        if info is not None:
            if not (wd / "user.v").is_file():
                raise reports.ReportError(f"yosys wrote no netlist (user.v) for {what}")
            # split the nets ABC left with a large fan-out; the buffers are real cells
            text, n_buf, buf_area = repair_fanout((wd / "user.v").read_text(errors="replace"), info)
            if n_buf:
                (wd / "user.v").write_text(text)
            extra = dict(timing=block_timing(wd, top, info, what=what, sta=sta, timeout=timeout),
                         netlist=str((wd / "user.v").resolve()), liberty_area=area.liberty_area + buf_area,
                         liberty_cells=area.liberty_cells + n_buf, fanout_buffers=n_buf)
        return dataclasses.replace(area, seconds=run.seconds, cpu_seconds=run.cpu_seconds, **extra)
    finally:
        if tmp is not None:
            tmp.cleanup()


# A register, a sum and a comparison: enough to need flip-flops, XORs and basic gates.
_PROBE = """module liberty_probe(input clk, input [3:0] a, input [3:0] b, output reg [4:0] q, output lt);
  always @(posedge clk) q <= a + b;
  assign lt = a < b;
endmodule
"""


def probe_liberty(liberty, *, yosys: str | None = None, timeout: float | None = None,
                  timing: bool = False, sta: str | None = None) -> BlockArea:
    """Map a tiny design onto ``liberty`` (and time it, with ``timing``) so that an unusable
    library fails once, early, with a message naming it, rather than in every block of a tile
    run."""
    try:
        return synth_verilog(_PROBE, "liberty_probe", liberty=liberty, yosys=yosys, timeout=timeout,
                             timing=timing, sta=sta)
    except reports.ReportError:
        raise
    except ToolError as e:
        # yosys and OpenSTA run on this tiny design unless the user's library breaks them
        msg = str(e)
        for prefix in ("yosys failed on block liberty_probe with liberty", "OpenSTA failed on block liberty_probe"):
            if msg.startswith(prefix):
                msg = msg.split(": ", 1)[1] if ": " in msg else msg
                tool = "OpenSTA: " if prefix.startswith("OpenSTA") else ""
                raise ConfigError(f"liberty {liberty} is unusable: {tool}{msg}") from None
        raise


def synth_component(component: wiring.Component, name: str, **kwargs) -> BlockArea:
    """:func:`synth_verilog` of ``component``'s Verilog (:func:`dstripes.hw.emit.to_verilog`),
    top module ``name`` (same keyword arguments)."""
    return synth_verilog(to_verilog(component, name), name, **kwargs)
