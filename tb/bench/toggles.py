"""Switching activity measured in RTL simulation: a cocotb monitor that samples signals once per
clock cycle and counts, per bit, the cycles in which it changed and the cycles it was 1.

Sampling point: ``ReadOnly`` after each falling edge, where every register has its new value
and the combinational logic (and the testbench's inputs) have settled: the value each flip-flop
will load at the next rising edge. A bit that changes between two samples toggled once in that
cycle (glitches inside a cycle are not seen; OpenSTA does not model them either).

The runner side (:mod:`dstripes.synth.activity`, through
:func:`dstripes.tb.host.cycle_path.simulate_tile`) names the signals by hierarchical path below
the DUT (``sip_r0_c0.bits``, ``dispatcher.next.acts``); a path the simulator does not expose is
skipped and reported, never guessed. The per-cycle testbench saves :meth:`ToggleMonitor.result`
as ``results["toggles"]``.
"""
from __future__ import annotations

import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly


def resolve(dut, path: str):
    """The handle at ``path`` (dots separate hierarchy levels), or ``None``."""
    h = dut
    for part in path.split("."):
        try:
            h = getattr(h, part)
        except AttributeError:
            try:
                h = h._id(part, extended=False)  # an escaped or unusual Verilog name
            except (AttributeError, KeyError, ValueError):
                return None
    return h


def _bits(strings: list, width: int) -> tuple:
    """``(n, width)`` 0/1 matrix of ``n`` binary strings (MSB first, as the simulator gives
    them) with bit 0 in column 0, and the number of samples holding X or Z bits (those bits
    keep their previous value: no toggle is counted on an unknown)."""
    raw = np.frombuffer("".join(strings).encode("ascii"), dtype=np.uint8).reshape(len(strings), width)
    m = raw[:, ::-1]
    known = (m == ord("0")) | (m == ord("1"))
    bits = (m == ord("1")).astype(np.uint8)
    unknown = int(np.count_nonzero(~known.all(axis=1)))
    if unknown:
        for i in range(len(bits)):
            if not known[i].all():
                prev = bits[i - 1] if i else np.zeros(width, np.uint8)
                bits[i] = np.where(known[i], bits[i], prev)
    return bits, unknown


class ToggleMonitor:
    """Sample ``paths`` every cycle between :meth:`run` and :meth:`stop`.

    The simulator's binary strings are kept as they come (one string per signal and cycle) and
    turned into bits once at the end: a 12,000-bit result bus costs a string copy per cycle,
    not an integer conversion.

    Parameters
    ----------
    dut
        The cocotb top-level handle.
    clk
        The clock handle.
    paths : list of str
        Hierarchical signal paths below ``dut``.
    """

    def __init__(self, dut, clk, paths):
        self.clk = clk
        self.handles = {}
        self.missing = []
        for p in paths:
            h = resolve(dut, p)
            if h is None or not hasattr(h, "_handle"):
                self.missing.append(p)
            else:
                self.handles[p] = h
        self._raw = [(p, h._handle) for p, h in self.handles.items()]
        self.values = {p: [] for p in self.handles}
        self.cycles = 0
        self._running = False

    async def run(self) -> None:
        """Sample until :meth:`stop` (start it with ``cocotb.start_soon``)."""
        self._running = True
        values = self.values
        while self._running:
            await FallingEdge(self.clk)
            await ReadOnly()
            if not self._running:
                break
            for p, h in self._raw:
                values[p].append(h.get_signal_val_binstr())
            self.cycles += 1

    def stop(self) -> None:
        self._running = False

    def result(self) -> dict:
        """``{"cycles", "missing", "signals": {path: {"width", "toggles", "ones", "unknown"}}}``
        with per-bit counts (bit 0 first)."""
        out = {}
        for p, vals in self.values.items():
            if not vals:
                continue
            width = len(vals[0])
            if any(len(v) != width for v in vals):
                self.missing.append(p)
                continue
            m, unknown = _bits(vals, width)
            toggles = np.count_nonzero(m[1:] != m[:-1], axis=0) if len(vals) > 1 else np.zeros(width, int)
            out[p] = {"width": width, "toggles": toggles.tolist(), "ones": m.sum(axis=0).tolist(),
                      "unknown": unknown}
        return {"cycles": self.cycles, "missing": self.missing, "signals": out}
