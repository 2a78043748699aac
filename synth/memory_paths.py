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
    info = check_timing_liberty(workdir / "user.lib")
    net = read_netlist(workdir / "user.v", info)
    period = PROBE_PERIOD_NS / info.time_unit_ns
    pin, pout = select_ports(ins, net.ports), select_ports(outs, net.ports)
    sel = lambda ps: "[get_ports {" + " ".join(f"{p}[*]" if net.ports[p][1] > 1 else p for p in ps) + "}]"  # noqa: E731
    script = ["read_liberty user.lib", "read_verilog user.v", f"link_design {top}",
              *port_constraints(net.ports, period)]
    reports = {}
    if pin and net.registers:
        script.append(f"report_checks -path_delay max -format full -digits 4 -from {sel(pin)} "
                      f"-to [all_registers -data_pins] > sram_in.rpt")
        reports["in"] = workdir / "sram_in.rpt"
    if pout and net.registers:
        script.append(f"report_checks -path_delay max -format full -digits 4 -from [all_registers -clock_pins] "
                      f"-to {sel(pout)} > sram_out.rpt")
        reports["out"] = workdir / "sram_out.rpt"
    if pin and pout:
        script.append(f"report_checks -path_delay max -format full -digits 4 -from {sel(pin)} -to {sel(pout)} "
                      f"> sram_thru.rpt")
        reports["thru"] = workdir / "sram_thru.rpt"
    if not reports:
        return None, None, None
    for f in reports.values():
        f.unlink(missing_ok=True)
    run_sta("\n".join(script), workdir, name="sram_sta", what=what, sta=sta, timeout=timeout)
    out = []
    for k in ("in", "out", "thru"):
        path = worst_path(read_report(reports[k], what), period, what=what) if k in reports else None
        out.append(path.min_period * info.time_unit_ns if path is not None else None)
    return tuple(out)
