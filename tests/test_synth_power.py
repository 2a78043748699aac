"""Power with OpenSTA (synth/power.py): the figure of a small block against a hand calculation
from the Liberty tables of sky130, and the register annotation."""
from __future__ import annotations

import re

import numpy as np
import pytest

from dstripes.sim.errors import ConfigError
from dstripes.synth.activity import BlockActivity, SignalActivity
from dstripes.synth.flow import synth_verilog
from dstripes.synth.liberty import liberty_info, power_tables_scaled, resolve_liberty
from dstripes.synth.power import block_power, cut_registers

# Four registers and a NAND2 of two of them: clock pins, data pins, flip-flop outputs with and
# without load, a combinational gate with two related inputs, and switching power on two nets.
BLOCK = """module pblock(input clk, input [3:0] d, output reg [3:0] q, output y);
  always @(posedge clk) q <= d;
  assign y = ~(q[0] & q[1]);
endmodule
"""
FF, NAND = "sky130_fd_sc_hd__dfxtp_1", "sky130_fd_sc_hd__nand2_1"
PERIOD = 10.0
TOGGLE = np.array([0.30, 0.10, 0.45, 0.05])   # registers q[0..3], transitions per cycle


@pytest.fixture(scope="module")
def lib():
    path = resolve_liberty("sky130")
    return path, liberty_info(path), path.read_text()


@pytest.fixture(scope="module")
def block(lib, tmp_path_factory):
    path, _, _ = lib
    return synth_verilog(BLOCK, "pblock", liberty=path, timing=True, workdir=tmp_path_factory.mktemp("pblock"))


def _numbers(s: str) -> np.ndarray:
    return np.array([float(x) for x in re.findall(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", s)])


def _cell(text: str, cell: str) -> str:
    start = text.index(f'cell ("{cell}")')
    return text[start:text.index("cell (", start + 10)]


def _pin(cell_text: str, pin: str) -> str:
    start = cell_text.index(f'pin ("{pin}")')
    nxt = cell_text.find("pin (", start + 5)
    return cell_text[start:nxt if nxt > 0 else len(cell_text)]


def _tables(group_text: str, name: str) -> list:
    """Every ``name (template) { index_1(...); [index_2(...);] values(...); }`` in order."""
    out = []
    for m in re.finditer(name + r'\s*\("[^"]*"\)\s*\{(.*?)\}', group_text, re.S):
        body = m.group(1)
        i1 = _numbers(re.search(r'index_1\("([^"]*)"\)', body).group(1))
        i2m = re.search(r'index_2\("([^"]*)"\)', body)
        vals = _numbers(re.search(r'values\((.*?)\);', body, re.S).group(1))
        if i2m is None:
            out.append((i1, None, vals))
        else:
            i2 = _numbers(i2m.group(1))
            out.append((i1, i2, vals.reshape(len(i1), len(i2))))
    return out


def _interp1(x, xs, ys):
    # linear inside the table, extended linearly from the two nearest points outside it
    i = int(np.clip(np.searchsorted(xs, x) - 1, 0, len(xs) - 2))
    return ys[i] + (x - xs[i]) * (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])


def lookup(table, x, y=None) -> float:
    i1, i2, v = table
    if i2 is None:
        return float(_interp1(x, i1, v))
    rows = [_interp1(y, i2, v[r]) for r in range(len(i1))]
    return float(_interp1(x, i1, np.array(rows)))


def _internal(pin_text: str, related: str | None = None) -> tuple:
    """(rise_power, fall_power) tables of the pin's internal_power group (related to ``related``)."""
    for m in re.finditer(r"internal_power\s*\(\s*\)\s*\{", pin_text):
        depth, k = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(pin_text[k], 0)
            k += 1
        g = pin_text[m.end():k]
        rel = re.search(r'related_pin\s*:\s*"(\w+)"', g)
        if related is None or (rel and rel.group(1) == related):
            return _tables(g, "rise_power")[0], _tables(g, "fall_power")[0]
    raise AssertionError(f"no internal_power related to {related}")


def hand_power(text: str, toggles: np.ndarray) -> dict:
    """Power of BLOCK from the Liberty tables, with the Liberty meaning of each number:
    ``rise_power`` per rising and ``fall_power`` per falling transition (so the mean per
    transition at duty 0.5), ``C V^2 / 2`` per transition of a loaded net, cell leakage."""
    ff, nd = _cell(text, FF), _cell(text, NAND)
    v = 1.8
    cap_a = float(re.search(r"capacitance\s*:\s*([0-9.]+)", _pin(nd, "A")).group(1))
    cap_b = float(re.search(r"capacitance\s*:\s*([0-9.]+)", _pin(nd, "B")).group(1))
    loads = [cap_a, cap_b, 0.0, 0.0]            # q[0] -> NAND A, q[1] -> NAND B, q[2..3] -> ports
    clk_r, clk_f = _internal(_pin(ff, "CLK"))
    d_r, d_f = _internal(_pin(ff, "D"))
    q_r, q_f = _internal(_pin(ff, "Q"), "CLK")
    qpin = _pin(ff, "Q")
    tr_r = _tables(qpin, "rise_transition")[0]
    tr_f = _tables(qpin, "fall_transition")[0]
    e_cycle = 0.0                               # pJ per cycle
    slews = []
    for k, a in enumerate(toggles):
        c = loads[k]
        e_cycle += lookup(clk_r, 0.0) + lookup(clk_f, 0.0)                     # ideal clock: slew 0
        e_cycle += a * (lookup(d_r, 0.0) + lookup(d_f, 0.0)) / 2               # D from a port: slew 0
        e_cycle += a * (lookup(q_r, 0.0, c) + lookup(q_f, 0.0, c)) / 2
        e_cycle += a * 0.5 * c * v * v                                         # switching on q[k]
        slews.append((lookup(tr_r, 0.0, c), lookup(tr_f, 0.0, c)))
    for pin, k in (("A", 0), ("B", 1)):
        r, f = _internal(_pin(nd, pin))
        e_cycle += toggles[k] * (lookup(r, slews[k][0]) + lookup(f, slews[k][1])) / 2
        yr, yf = _internal(_pin(nd, "Y"), pin)
        # NAND: y toggles with an input when the other is 1 (probability 0.5); inverting, so a
        # rising y follows a falling input
        e_cycle += 0.5 * toggles[k] * (lookup(yr, slews[k][1], 0.0) + lookup(yf, slews[k][0], 0.0)) / 2
    leak_nw = 4 * float(re.search(r"cell_leakage_power\s*:\s*([0-9.eE+-]+)", ff).group(1)) + \
        float(re.search(r"cell_leakage_power\s*:\s*([0-9.eE+-]+)", nd).group(1))
    return {"dynamic_w": e_cycle / PERIOD * 1e-3, "leakage_w": leak_nw * 1e-9}


def test_block_maps_to_the_cells_the_hand_calculation_uses(block):
    assert block.liberty_cells == 5
    assert block.timing is not None and block.timing.critical_path_ns > 0


def test_power_matches_a_hand_calculation_from_the_liberty_tables(lib, block):
    """OpenSTA's figure (with the power copy of the library) within 10 % of the hand
    calculation; without the copy OpenSTA 2.0.17 is far off (twice the clock energy)."""
    path, info, text = lib
    assert set(block.netlist and open(block.netlist).read().split()) >= {FF, NAND}
    act = BlockActivity("pblock", ("x",), {"q": SignalActivity(TOGGLE, np.full(4, 0.5)),
                                           "d": SignalActivity(TOGGLE, np.full(4, 0.5))})
    p = block_power(block, info, act, PERIOD)
    hand = hand_power(text, TOGGLE)
    assert p.annotated_registers == 1.0 and p.annotated_inputs == 1.0
    assert p.power.dynamic == pytest.approx(hand["dynamic_w"], rel=0.10)
    assert p.power.leakage == pytest.approx(hand["leakage_w"], rel=0.10)
    # the registers' activity drives the figure: a quieter block draws less
    quiet = block_power(block, info, BlockActivity("pblock", ("x",), {
        "q": SignalActivity(TOGGLE / 10, np.full(4, 0.5)), "d": SignalActivity(TOGGLE / 10, np.full(4, 0.5))}),
        PERIOD)
    hand_quiet = hand_power(text, TOGGLE / 10)
    assert quiet.power.dynamic == pytest.approx(hand_quiet["dynamic_w"], rel=0.10)
    assert quiet.total_w < p.total_w
    # energy per cycle is power x period
    assert p.energy_per_cycle_pj == pytest.approx(p.total_w * PERIOD * 1e3)


def test_power_copy_scales_only_internal_power_tables(lib):
    _, _, text = lib
    ff = _cell(text, FF)
    scaled = _cell(power_tables_scaled(text[text.index(f'cell ("{FF}")') - 200:]), FF)
    clk, clk2 = _internal(_pin(ff, "CLK")), _internal(_pin(scaled, "CLK"))
    d, d2 = _internal(_pin(ff, "D")), _internal(_pin(scaled, "D"))
    q, q2 = _internal(_pin(ff, "Q"), "CLK"), _internal(_pin(scaled, "Q"), "CLK")
    assert np.allclose(clk2[0][2], clk[0][2] * 0.5) and np.allclose(q2[1][2], q[1][2] * 0.5)
    assert np.allclose(d2[0][2], d[0][2] * 2.0)
    # timing tables untouched
    assert _tables(_pin(ff, "Q"), "cell_rise")[0][2].tolist() == _tables(_pin(scaled, "Q"), "cell_rise")[0][2].tolist()


def test_registers_are_annotated_through_their_data_pins(lib, block):
    _, info, _ = lib
    text = open(block.netlist).read()
    act = {"q": SignalActivity(TOGGLE, np.full(4, 0.5))}
    out, pseudo, n_ff, n_cut = cut_registers(text, info, act)
    assert (n_ff, n_cut) == (4, 4) and len(pseudo) == 4
    assert sorted(t for t, _ in pseudo.values()) == sorted(TOGGLE.tolist())
    # the cells are the same; only the data pins moved to the pseudo ports
    assert out.count(FF) == text.count(FF) and out.count(NAND) == text.count(NAND)
    assert out.count(".D(dstripes_reg_") == 4
    # a register without a measurement keeps its netlist connection
    _, pseudo2, _, n_cut2 = cut_registers(text, info, {})
    assert n_cut2 == 0 and not pseudo2


def test_power_needs_a_netlist_and_a_period(lib, block):
    from dataclasses import replace

    _, info, _ = lib
    with pytest.raises(ConfigError, match="has no netlist"):
        block_power(replace(block, netlist=None), info, None, PERIOD)
    with pytest.raises(ConfigError, match="clock period must be positive"):
        block_power(block, info, None, 0.0)
