"""Synthesis of one block: Verilog in, transistor count, gate equivalents and logic depth out.

One yosys run per block does the generic ``synth -flatten -noabc`` once, saves the result and
maps it three ways (docs/references.md, "yosys area practice"):

* **transistors** — ``dffunmap; abc -g cmos2; opt_clean; stat -tech cmos``: NAND/NOR/NOT plus
  plain flip-flops, every one of which has a CMOS cost in yosys 0.23, so the count is exact
  (the parser rejects a ``+`` lower bound);
* **gate equivalents** — ``dfflibmap``/``abc -liberty`` onto ``synth/ge.lib`` (NAND2 = 1), then
  ``stat -liberty``; the cells of that mapping are the reported cell count and the
  ``ltp -noff`` longest path through them (flip-flops excluded) the logic depth;
* **a user liberty** (optional) — the same mapping onto the user's library, ``stat -liberty``
  giving area in that library's units.

Each report is written to its own file with ``tee -o`` and parsed from there; a missing file or
line raises :class:`~dstripes.synth.reports.ReportError` (a :class:`~dstripes.sim.errors.ToolError`).
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field, asdict
from pathlib import Path

from dstripes.sim.errors import ConfigError, ToolError

from . import reports
from dstripes.tb.tools import run_script

#: The gate-equivalent library kept in the repository (see the comments in the file).
GE_LIBERTY = Path(__file__).with_name("ge.lib")

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Only sequential cell of ge.lib; excluded from the path search so paths end at registers.
_GE_FLIP_FLOP = "DFF"

#: ABC script of every mapping: yosys 0.23's default minus its first step, ``&fraig -x`` (SAT
#: sweeping), and minus ``scorr``/``dretime``, which only act on registers and ABC sees none
#: here. SAT sweeping runs for many minutes on the bit-parallel multipliers (over 5 minutes on one
#: 16-lane 16-bit inner product, against 15 s without it) and changed no area by more than a
#: few percent on the blocks we measured.
ABC_SCRIPT = "strash\ndc2\nstrash\n&get -n\n&dch -f\n&nf\n&put\n"
#: The same, then ABC's buffering of every net with more than 10 loads, block inputs and
#: register outputs included (``-p``), with the gate sizing it does on the way: without it a
#: register enable drives thousands of pins through one minimum-size gate and OpenSTA reports
#: hundreds of ns. Used for a timed user liberty (its area includes those buffers).
ABC_LIB_SCRIPT = ABC_SCRIPT + "buffer -p -N 10\n"


@dataclass(frozen=True)
class BlockArea:
    """Area and depth of one instance of a block.

    Attributes
    ----------
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
    cell_types : dict
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
    cell_types: dict = field(default_factory=dict)
    liberty_area: float | None = None
    liberty_cells: int | None = None
    liberty_ff_area: float | None = None
    fanout_buffers: int | None = None
    timing: object = None
    seconds: float = field(default=0.0, compare=False)
    cpu_seconds: float = field(default=0.0, compare=False)
    netlist: str | None = field(default=None, compare=False)

    @property
    def area_um2(self) -> float | None:
        """Area of the user-liberty mapping (µm² by Liberty convention)."""
        return self.liberty_area

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


def synth_script(top: str, user_liberty: bool = False, netlist: tuple | None = None) -> str:
    """The yosys script for one block, reading ``block.v``, ``abc.script`` and ``ge.lib`` from
    its directory (and ``user.lib`` when ``user_liberty``); see the module docstring.

    ``netlist`` (with ``user_liberty``): ``(buffer cell, input pin, output pin)`` of the user
    library; the mapping then also buffers high fan-out nets (``abc_lib.script``) and writes
    ``user.v``, the netlist OpenSTA reads (:mod:`synth.timing`).
    """
    lines = [
        "read_verilog block.v",
        f"hierarchy -check -top {top}",
        # -noabc: synth's own generic gate mapping would be thrown away by both technology
        # mappings below; skipping it saves ~15 % of the CPU time at the same areas (+-1 %)
        f"synth -flatten -noabc -top {top}",
        "design -save generic",
        # transistors: unmap enables/resets into logic so every cell has a CMOS cost
        "dffunmap",
        "abc -script abc.script -g cmos2",
        "opt_clean",
        "tee -o cmos.rpt stat -tech cmos",
        # gate equivalents and depth
        "design -load generic",
        "read_liberty -lib ge.lib",
        "dfflibmap -liberty ge.lib",
        "abc -script abc.script -liberty ge.lib",
        "opt_clean",
        "tee -o ge.rpt stat -liberty ge.lib",
        f"tee -o depth.rpt ltp -noff t:{_GE_FLIP_FLOP} %n",
    ]
    if user_liberty:
        script = "abc.script" if netlist is None else "abc_lib.script"
        lines += [
            "design -load generic",
            "read_liberty -lib user.lib",
            "dfflibmap -liberty user.lib",
            f"abc -script {script} -liberty user.lib",
            "opt_clean",
            "tee -o user.rpt stat -liberty user.lib",
        ]
        if netlist is not None:
            buf, a, y = netlist
            lines += [
                # one name per net (OpenSTA's reader takes no concatenation on the left of an
                # assign); the remaining port-to-port connections become buffers, after the
                # area report so they are not counted
                "opt_clean -purge",
                f"insbuf -buf {buf} {a} {y}",
                "write_verilog -noattr user.v",
            ]
    return "\n".join(lines) + "\n"


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
            from .liberty import liberty_info

            _, lib_ff = liberty_info(liberty_file).area_split(u_stats.types)
    return BlockArea(name=top, transistors=n_tr, ge=ge, cells=ge_stats.total, depth=depth,
                     flip_flops=ge_stats.types.get(_GE_FLIP_FLOP, 0), cell_types=dict(ge_stats.types),
                     liberty_area=lib_area, liberty_cells=lib_cells, liberty_ff_area=lib_ff)


def check_top(top: str) -> str:
    """Validate a module name used on the yosys command line."""
    if not isinstance(top, str) or not _IDENT.match(top):
        raise ConfigError(f"block name must be a plain Verilog identifier, not {top!r}")
    return top


def _link_or_copy(src, dst: Path) -> None:
    """``dst`` names the file ``src`` (a symbolic link: a timed library is ~10 MB per block)."""
    dst.unlink(missing_ok=True)
    try:
        os.symlink(Path(src).resolve(), dst)
    except OSError:
        shutil.copyfile(src, dst)


def check_liberty(path: str | os.PathLike) -> Path:
    """Check that ``path`` is a readable liberty file with at least one cell (cheap, no yosys);
    yosys' own parser is the final judge when the file is read."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"liberty file not found: {path}")
    st = p.stat()
    _check_liberty_text(str(p), st.st_size, st.st_mtime_ns, str(path))
    return p


@functools.lru_cache(maxsize=16)
def _check_liberty_text(p: str, size: int, mtime: int, path: str) -> None:
    try:
        text = Path(p).read_text(errors="replace")
    except OSError as e:
        raise ConfigError(f"cannot read liberty file {path}: {e.strerror}") from None
    if not re.search(r"^\s*library\s*\(", _strip_comments(text), re.M):
        raise ConfigError(f"liberty file {path} has no library(...) group")
    if not reports.liberty_cells(text):
        raise ConfigError(f"liberty file {path} defines no cells")
    depth = _brace_balance(_strip_comments(text))
    if depth:
        # yosys 0.23 reads a truncated library without complaint and ABC then aborts
        raise ConfigError(f"liberty file {path} is truncated or malformed: "
                          f"{abs(depth)} unmatched {'{' if depth > 0 else '}'}")


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def _brace_balance(text: str) -> int:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)  # braces inside strings do not count
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return depth
    return depth


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
            _link_or_copy(lib, wd / "user.lib")
            if timing:
                from .liberty import check_timing_liberty

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
            from .fanout import repair_fanout
            from .timing import block_timing

            if not (wd / "user.v").is_file():
                raise reports.ReportError(f"yosys wrote no netlist (user.v) for {what}")
            # split the nets ABC left with a large fan-out; the buffers are real cells
            text, n_buf, buf_area = repair_fanout((wd / "user.v").read_text(errors="replace"), info)
            if n_buf:
                (wd / "user.v").write_text(text)
            extra = dict(timing=block_timing(wd, top, info, what=what, sta=sta, timeout=timeout),
                         netlist=str(wd / "user.v"), liberty_area=area.liberty_area + buf_area,
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


def to_verilog(component, name: str) -> str:
    """Verilog of one block (:func:`dstripes.hw.emit.to_verilog`), with an elaboration failure
    reported in one line."""
    from dstripes.hw.emit import to_verilog as emit

    check_top(name)
    try:
        return emit(component, name)
    except (ConfigError, ToolError):
        raise
    except Exception as e:  # elaboration errors come in many types; report them in one line
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ToolError(f"cannot convert block {name} to Verilog: {msg}") from e


def synth_component(component, name: str, **kwargs) -> BlockArea:
    """:func:`to_verilog` then :func:`synth_verilog` (same keyword arguments)."""
    return synth_verilog(to_verilog(component, name), name, **kwargs)
