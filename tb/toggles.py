"""Switching activity measured in RTL simulation: a cocotb monitor that samples signals once per
clock cycle and counts, per bit, the cycles in which it changed and the cycles it was 1.

Sampling point: ``ReadOnly`` after each falling edge, where every register has its new value
and the combinational logic (and the testbench's inputs) have settled: the value each flip-flop
will load at the next rising edge. A bit that changes between two samples toggled once in that
cycle (glitches inside a cycle are not seen; OpenSTA does not model them either).

The runner side (:mod:`synth.activity`) names the signals by hierarchical path below the DUT
(``sip_r0_c0.bits``, ``dispatcher.next.acts``); a path the simulator does not expose is skipped
and reported, never guessed.
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


def _bits(values: list, width: int) -> np.ndarray:
    """``(n, width)`` 0/1 matrix of ``n`` unsigned ints, bit 0 first."""
    nbytes = (width + 7) // 8
    raw = b"".join(v.to_bytes(nbytes, "little") for v in values)
    m = np.frombuffer(raw, dtype=np.uint8).reshape(len(values), nbytes)
    return np.unpackbits(m, axis=1, bitorder="little")[:, :width]


class ToggleMonitor:
    """Sample ``paths`` every cycle between :meth:`start` and :meth:`stop`.

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
            if h is None:
                self.missing.append(p)
            else:
                self.handles[p] = h
        self.values = {p: [] for p in self.handles}
        self.unknown = {p: 0 for p in self.handles}
        self.cycles = 0
        self._running = False

    async def run(self) -> None:
        """Sample until :meth:`stop` (start it with ``cocotb.start_soon``)."""
        self._running = True
        while self._running:
            await FallingEdge(self.clk)
            await ReadOnly()
            if not self._running:
                break
            for p, h in self.handles.items():
                v = h.value
                if v.is_resolvable:
                    self.values[p].append(int(v))
                else:  # X/Z: keep the previous value (no toggle counted)
                    self.unknown[p] += 1
                    self.values[p].append(self.values[p][-1] if self.values[p] else 0)
            self.cycles += 1

    def stop(self) -> None:
        self._running = False

    def result(self) -> dict:
        """``{"cycles", "missing", "signals": {path: {"width", "toggles", "ones", "unknown"}}}``
        with per-bit counts (bit 0 first)."""
        out = {}
        for p, vals in self.values.items():
            width = len(self.handles[p])
            if not vals:
                continue
            m = _bits(vals, width)
            toggles = np.count_nonzero(m[1:] != m[:-1], axis=0) if len(vals) > 1 else np.zeros(width, int)
            out[p] = {"width": width, "toggles": toggles.tolist(), "ones": m.sum(axis=0).tolist(),
                      "unknown": self.unknown[p]}
        return {"cycles": self.cycles, "missing": self.missing, "signals": out}
