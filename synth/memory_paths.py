"""Paths between a block's memory-facing ports and its registers, timed by OpenSTA on the block's
netlist (``synth --chip``, the bounds of :mod:`synth.chip`)."""
from __future__ import annotations

from pathlib import Path

from .liberty import check_timing_liberty
from .netlist import read_netlist
from .sta import port_constraints, read_report, run_sta, worst_path
from .timing import PROBE_PERIOD_NS


def select_ports(names, ports) -> list:
    """The netlist ``ports`` named ``names`` (a name, or its flattened members ``name__*``)."""
    return sorted(p for p in ports if any(p == n or p.startswith(n + "__") for n in names))


def sram_paths(workdir: Path, top: str, ins, outs, *, what: str, sta: str | None = None,
               timeout: float | None = None) -> tuple:
    """``(d_in, d_out, d_thru)`` in ns of the block netlist ``workdir/user.v`` (:mod:`synth.chip` docstring):
    the worst path from the ports named ``ins`` into registers, from registers to the ports named
    ``outs``, from the ports ``ins`` to the ports ``outs`` through logic only (``None``: no such
    path)."""
    return sram_paths_of(workdir, top, {"": (ins, outs)}, what=what, sta=sta, timeout=timeout)[""]


def sram_paths_of(workdir: Path, top: str, queries: dict, *, what: str, sta: str | None = None,
                  timeout: float | None = None) -> dict:
    """:func:`sram_paths` of several ``{key: (ins, outs)}`` or ``{key: (ins, outs, kinds)}`` (of
    ``"in"``, ``"out"``, ``"thru"``; all by default) on one netlist, in one OpenSTA run (reading a
    large netlist, such as the chip's top level with its 200,000 port bits, is most of a run's
    time): ``{key: (d_in, d_out, d_thru)}``, ``None`` where not asked or no path. ``key`` must be a
    plain word (it names the reports ``sram_<kind>_<key>.rpt``)."""
    info = check_timing_liberty(workdir / "user.lib")
    net = read_netlist(workdir / "user.v", info)
    period = PROBE_PERIOD_NS / info.time_unit_ns
    sel = lambda ps: "[get_ports {" + " ".join(f"{p}[*]" if net.ports[p][1] > 1 else p for p in ps) + "}]"  # noqa: E731
    script = ["read_liberty user.lib", "read_verilog user.v", f"link_design {top}",
              *port_constraints(net.ports, period)]
    reports = {}
    for key, (ins, outs, *kinds) in queries.items():
        kinds = set(kinds[0]) if kinds else {"in", "out", "thru"}
        if key and not key.isidentifier():
            raise ValueError(f"a query key must be a plain word, not {key!r}")
        pin, pout = select_ports(ins, net.ports), select_ports(outs, net.ports)
        suffix = f"_{key}" if key else ""
        if pin and net.registers and "in" in kinds:
            reports[key, "in"] = f"-from {sel(pin)} -to [all_registers -data_pins]", f"sram_in{suffix}.rpt"
        if pout and net.registers and "out" in kinds:
            reports[key, "out"] = f"-from [all_registers -clock_pins] -to {sel(pout)}", f"sram_out{suffix}.rpt"
        if pin and pout and "thru" in kinds:
            reports[key, "thru"] = f"-from {sel(pin)} -to {sel(pout)}", f"sram_thru{suffix}.rpt"
    for cond, name in reports.values():
        (workdir / name).unlink(missing_ok=True)
        script.append(f"report_checks -path_delay max -format full -digits 4 {cond} > {name}")
    if reports:
        run_sta("\n".join(script), workdir, name="sram_sta", what=what, sta=sta, timeout=timeout)
    out = {}
    for key in queries:
        row = []
        for k in ("in", "out", "thru"):
            path = (worst_path(read_report(workdir / reports[key, k][1], what), period, what=what)
                    if (key, k) in reports else None)
            row.append(path.min_period * info.time_unit_ns if path is not None else None)
        out[key] = tuple(row)
    return out
