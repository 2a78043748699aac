"""Power of a block with OpenSTA, from measured switching activity.

For one block netlist (``user.v`` of a timed synthesis, :mod:`synth.flow`), OpenSTA's
``report_power`` at a given clock period, with

* every **input port** bit annotated with its measured toggle rate and duty
  (``sta::set_power_input_port_activity``);
* every **register** annotated with its measured toggle rate and duty. OpenSTA 2.0.17 ignores
  an activity set on a flip-flop's pins (it recomputes the output from the data input's
  propagated activity), so the power netlist (``power.v``) gives each measured flip-flop a
  pseudo input port ``dstripes_reg_<n>`` that drives both its data pin and the net its output
  drove (the flip-flop's own output then drives nothing): the register's measured activity
  reaches its own pins and every gate it feeds. The cells, and so the power groups, are
  unchanged;
* the clock toggling twice per period (OpenSTA's clock activity), no clock tree;
* OpenSTA propagating activity through the combinational cells from their Boolean functions.

OpenSTA reads the **power copy** of the library (:func:`synth.liberty.power_liberty`): OpenSTA
2.0.17 charges an output or clock pin twice its Liberty ``internal_power`` energy per
transition and a data input pin half of it, and the copy's tables compensate
(``tests/test_synth_power.py`` checks a block against a hand calculation from the original
tables). Timing never reads that copy.

Without measured activity (``activity=None``) every input gets :data:`DEFAULT_TOGGLE` and duty
0.5 and registers are left to OpenSTA's propagation: a placeholder, flagged as such.

Power = internal + switching (``C V² / 2`` per transition on each net's pin capacitance; no
wires) + leakage. Energy per cycle at period ``T``: ``P x T``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from dstripes.sim.errors import ConfigError

from .activity import BlockActivity, SignalActivity, split_bit
from .flow import BlockArea
from .liberty import LibertyInfo, link_liberty, power_liberty
from .netlist import CONNECTION, INSTANCE, Port, clean_name, module_ports
from .sta import Power, port_constraints, power_report, read_report, run_sta, tcl_quote

#: Toggle rate of unannotated inputs (transitions per cycle) when no activity was measured.
DEFAULT_TOGGLE = 0.1
PSEUDO = "dstripes_reg_"


@dataclass(frozen=True)
class BlockPower:
    """OpenSTA power of one block instance at ``period_ns``.

    Members
    -------
    power : synth.sta.Power
        Watts by group (sequential, combinational, total) and kind (internal, switching,
        leakage).
    period_ns : float
    annotated_inputs, annotated_registers : float
        Fraction of input-port bits and of flip-flops given a measured activity.
    measured : bool
        Whether the activity came from a simulation (otherwise :data:`DEFAULT_TOGGLE`).
    """

    power: Power
    period_ns: float
    annotated_inputs: float
    annotated_registers: float
    measured: bool

    @property
    def total_w(self) -> float:
        return self.power.total

    @property
    def energy_per_cycle_pj(self) -> float:
        return self.power.total * self.period_ns * 1e3

    def as_dict(self) -> dict:
        return {"power_w": self.total_w, "energy_per_cycle_pj": self.energy_per_cycle_pj,
                "leakage_w": self.power.leakage, "period_ns": self.period_ns,
                "annotated_inputs": self.annotated_inputs, "annotated_registers": self.annotated_registers,
                "measured_activity": self.measured, "groups": self.power.as_dict()}


def _fmt(x: float) -> str:
    return f"{max(0.0, float(x)):.6g}"


def cut_registers(text: str, info: LibertyInfo, activity: Mapping[str, SignalActivity]) -> tuple:
    """The power netlist: each flip-flop whose output net has a measured activity gets a pseudo
    input port driving its data pin and that net (module docstring).

    Parameters
    ----------
    text : str
        The block netlist (``write_verilog -noattr``).
    info : LibertyInfo
    activity : mapping
        ``{register signal: SignalActivity}``.

    Returns
    -------
    (netlist text, {pseudo port: (toggle, duty)}, flip-flops, flip-flops annotated)
    """
    out, pseudo = [], {}
    n_ff = 0
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = INSTANCE.match(lines[i])
        cell = info.cells.get(m.group(2)) if m else None
        if cell is None or not cell.sequential:
            out.append(lines[i])
            i += 1
            continue
        n_ff += 1
        j = i + 1
        body = []
        while j < len(lines) and lines[j].strip() != ");":
            body.append(lines[j])
            j += 1
        conns = [CONNECTION.match(b) for b in body]
        outs = [c for c in conns if c and c.group(2) in {p.name for p in cell.outputs} and c.group(3).strip()]
        data = cell.data_pin
        act = None
        if data is not None and len(outs) == 1:
            base, bit = split_bit(clean_name(outs[0].group(3)))
            s = activity.get(base)
            if s is not None and bit < s.width:
                act = (float(s.toggle[bit]), float(s.duty[bit]))
        if act is None:
            out.append(lines[i])
            out += body
            i = j
            continue
        port = f"{PSEUDO}{len(pseudo)}"
        pseudo[port] = act
        out.append(lines[i])
        for b, c in zip(body, conns):
            out.append(f"{c.group(1)}.{data}({port}){c.group(4)}" if c and c.group(2) == data else b)
        i = j
    if not pseudo:
        return text, pseudo, n_ff, 0
    result = "\n".join(out)
    head = re.search(r"\bmodule\s+\S+\s*\(", result)
    close = result.index(");", head.end())
    names = list(pseudo)
    decl = "".join(f"  input {p};\n" for p in names)
    result = (result[:close] + ", " + ", ".join(names) + result[close:close + 2] + "\n" + decl
              + result[close + 2:])
    return result, pseudo, n_ff, len(pseudo)


def power_script(ports: Mapping[str, Port], top: str, period: float, activity: BlockActivity | None,
                 pseudo: dict) -> tuple:
    """OpenSTA script of :func:`block_power` (reading ``power.lib`` and ``power.v``) and the
    fraction of input bits annotated."""
    lines = ["read_liberty power.lib", "read_verilog power.v", f"link_design {top}",
             *port_constraints({p: v for p, v in ports.items() if not p.startswith(PSEUDO)}, period)]
    sig = activity.signals if activity is not None else {}
    mean = activity.mean_toggle() if activity is not None and sig else DEFAULT_TOGGLE
    lines.append(f"set_power_activity -input -activity {_fmt(mean)} -duty 0.5")
    n_in = done_in = 0
    for p, (d, w) in ports.items():
        if d != "input" or p == "clk" or p.startswith(PSEUDO):
            continue
        n_in += w
        s = sig.get(p)
        if s is None or s.width != w:
            continue
        for i in range(w):
            port = f"{p}[{i}]" if w > 1 else p
            lines.append(f"sta::set_power_input_port_activity [get_ports {tcl_quote(port)}] "
                         f"{_fmt(s.toggle[i])} {_fmt(s.duty[i])}")
        done_in += w
    for p, (tg, du) in pseudo.items():
        lines.append(f"sta::set_power_input_port_activity [get_ports {p}] {_fmt(tg)} {_fmt(du)}")
    lines.append("report_power -digits 8 > power.rpt")
    return "\n".join(lines), (done_in / n_in if n_in else 1.0)


def block_power(area: BlockArea, info: LibertyInfo, activity: BlockActivity | None, period_ns: float, *,
                sta: str | None = None, timeout: float | None = None) -> BlockPower:
    """OpenSTA power of one instance of a synthesised block (:class:`synth.flow.BlockArea` with
    its ``netlist``) at clock period ``period_ns`` with ``activity`` (module docstring)."""
    if area.netlist is None or not Path(area.netlist).is_file():
        raise ConfigError(f"block {area.name} has no netlist for power analysis (synthesise it "
                          f"with a timed liberty and keep its work folder)")
    if not info.power:
        raise ConfigError(f"liberty {info.path} has no power tables (internal_power / "
                          f"leakage_power): no power analysis")
    if not (isinstance(period_ns, (int, float)) and period_ns > 0):
        raise ConfigError(f"clock period must be positive, not {period_ns!r}")
    wd = Path(area.netlist).parent
    text = Path(area.netlist).read_text(errors="replace")
    sig = activity.signals if activity is not None else {}
    power_text, pseudo, n_ff, n_cut = cut_registers(text, info, sig)
    (wd / "power.v").write_text(power_text)
    link_liberty(power_liberty(info.path), wd / "power.lib")
    period = period_ns / info.time_unit_ns
    script, f_in = power_script(module_ports(power_text), area.name, period, activity, pseudo)
    (wd / "power.rpt").unlink(missing_ok=True)
    what = f"block {area.name} (power)"
    run_sta(script, wd, name="power", what=what, sta=sta, timeout=timeout)
    return BlockPower(power_report(read_report(wd / "power.rpt", what), what=what), period_ns, f_in,
                      n_cut / n_ff if n_ff else 1.0, activity is not None)
