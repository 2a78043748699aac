"""The accelerator's exact cycle count (``docs/design.md`` §10.6): a pass from its step costs
``c``, fetch cycles ``f`` and write-back cycles ``o``; a layer from its passes and the weights'
arrival over the off-chip port; the breakdown into compute and stalls.

A pass is evaluated in one of three ways, all exact (``tests/test_chip_model.py`` checks each
against a cycle-by-cycle simulator of the rule):

* the fetch never stalls (``f_s <= c_{s-1}``): per window-set, ``X_w = X_{w-1} + max(C_w, o_{w-1})``
  — a cumulative sum;
* the fetch may stall but the writer keeps up: the fetch slack ``u_s = K_s + 2 - L_{s-1}`` follows
  ``u_s = clamp(u_{s-1} + f_s - c_{s-2}, 2 - c_{s-2}, f_s)``; shift-and-clamp maps compose, so
  every prefix comes from one associative scan (log2 of the steps numpy passes);
* both: the rule step by step (:func:`pass_loop`).

A run-ahead tile's pass (its costs per precision group, ``c`` of shape ``(steps, groups)``) is
evaluated step by step (:func:`pass_loop_ahead`): its groups' step starts depend on each other
through the ``R + 1`` slots, which no scan of scalar maps captures.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..checks import check_integer
from .dram import Dram, DramConfig

#: Cycles from the command's transfer to the end of the set-up (cycle 0 is the transfer).
SETUP = 2
NEVER = -(1 << 60)


def pass_loop(c: np.ndarray, f: np.ndarray, o: np.ndarray, steps: int, add: int = 1) -> int:
    """Cycles of one pass (from its configuration's acceptance ``P = 0`` to the cycle after its last
    window-set's release, ``Y_last + 1``), the rule of §10.6 step by step. ``add``: cycles from a
    step's last plane to its add (1 on a bit-serial tile, 0 on the bit-parallel one, whose
    step is its one plane)."""
    c, f, o = (np.asarray(v, dtype=np.int64).tolist() for v in (c, f, o))
    k, t, l, lp, cprev = 1, NEVER, NEVER, NEVER, 0
    x_prev = y = NEVER
    s = 0
    for w in range(len(o)):
        for j in range(steps):
            k = max(k + f[s], t)
            # the bit-parallel tile's item waits in its input register while the array is frozen
            t_s = max(k + 1, l if add else lp)
            l_s = max(k + 2, lp + cprev)
            lp = max(l_s, x_prev - add) if j == 0 and w > 0 else l_s
            t, l, cprev = t_s, l_s, c[s]
            s += 1
        x_prev = max(lp + cprev + add, y)
        y = x_prev + o[w]
    return y + 1


def pass_loop_ahead(cost: np.ndarray, f: np.ndarray, o: np.ndarray, steps: int, run_ahead: int) -> int:
    """Cycles of one pass on the run-ahead tile (``docs/design.md`` §10.6), from its configuration's
    acceptance ``P = 0`` to the cycle after its last window-set's release.

    Parameters
    ----------
    cost : array (window_sets * steps, groups)
        Each precision group's cycles in each step, ``max(1, bits_g)``, in the pass's step order.
    f : array (window_sets * steps,)
        The fetch cycles of every step.
    o : array (window_sets,)
        The write-back cycles of every window-set.
    steps : int
        Steps per window-set.
    run_ahead : int
        ``R >= 1``: the tile holds ``R + 1`` steps in its slots.

    Returns
    -------
    int
        ``Y_last + 1``.

    The fetch and broadcast are the lock-step rule's (``K_s``, ``T_s``); the tile's input register
    moves step ``s`` into a slot at ``D_s = max(T_s + 1, E(s - R - 1) - 1)`` (a slot frees in the
    cycle the slowest group's last plane of its step is consumed, ``E`` = the cycle after it);
    group ``g`` starts it at ``max(D_s + 1, ready_g)`` and ends it ``cost`` cycles later; a
    window-set's close waits for the previous one's release (``Y_{w-1}``).
    """
    c = np.maximum(1, np.asarray(cost, dtype=np.int64)).tolist()
    f, o = (np.asarray(v, dtype=np.int64).tolist() for v in (f, o))
    r1 = check_integer("run_ahead", run_ahead, 1) + 1
    groups = len(c[0]) if c else 1
    k, t, d, y = 1, NEVER, NEVER, NEVER
    ready = [NEVER] * groups          # per group: the cycle it may start its next step
    slowest = []                      # slowest[s]: the cycle after the last group's last plane of s
    s = 0
    for w in range(len(o)):
        for _ in range(steps):
            k = max(k + f[s], t)      # committed once read and once the output register is free
            t = max(k + 1, d)         # taken once the tile's input register is free (D_{s-1})
            d = max(t + 1, slowest[s - r1] - 1) if s >= r1 else t + 1
            st = d + 1
            ready = [(r if r > st else st) + x for r, x in zip(ready, c[s])]
            slowest.append(max(ready))
            s += 1
        # the closing add waits (freezing the group) until the previous results have left
        ready = [r if r > y else y for r in ready]
        y = max(ready) + o[w]
    return y + 1


def clamp_scan(a: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Every prefix composition of the maps ``x -> clamp(x + a_i, lo_i, hi_i)`` (map 0 first):
    ``(A, Lo, Hi)`` with ``prefix_i(x) = clamp(x + A_i, Lo_i, Hi_i)``. Doubling: log2(n) passes."""
    a, lo, hi = (np.array(v, dtype=np.int64) for v in (a, lo, hi))
    k, n = 1, len(a)
    while k < n:
        a2, lo2, hi2 = a[k:], lo[k:], hi[k:]
        a1, lo1, hi1 = a[:-k], lo[:-k], hi[:-k]
        a_new = a1 + a2
        lo_new = np.clip(lo1 + a2, lo2, hi2)
        hi_new = np.clip(hi1 + a2, lo2, hi2)
        a[k:], lo[k:], hi[k:] = a_new, lo_new, hi_new
        k *= 2
    return a, lo, hi


def pass_cycles(c: np.ndarray, f: np.ndarray, o: np.ndarray, steps: int, add: int = 1) -> int:
    """Cycles of one pass (as :func:`pass_loop`), without a Python loop per step when possible."""
    c = np.asarray(c, dtype=np.int64)
    f = np.asarray(f, dtype=np.int64)
    o = np.asarray(o, dtype=np.int64)
    nws = len(o)
    cw = c.reshape(nws, steps).sum(axis=1)
    ones = f.strides == (0,) and int(f[0]) == 1            # a broadcast of ones: no read ever waits
    if len(c) < 2 or ones or (f[1:] <= c[:-1]).all():
        # the fetch never stalls: L_s = L_0 + the costs before s (+ freezes), L_0 = f_0 + 3
        gaps = np.maximum(cw[1:], o[:-1])
        return int(f[0]) + 3 + int(cw[0]) + add + int(gaps.sum()) + int(o[-1]) + 1
    if not add:
        return pass_loop(c, f, o, steps, add)
    # u_1 = f_1; u_s = clamp(u_{s-1} + f_s - c_{s-2}, 2 - c_{s-2}, f_s) for s >= 2
    a, lo, hi = clamp_scan(f[2:] - c[:-2], 2 - c[:-2], f[2:])
    u = np.empty(len(c), dtype=np.int64)
    u[0] = 0
    u[1] = f[1]
    u[2:] = np.clip(f[1] + a, lo, hi)
    delta = np.maximum(u[1:], c[:-1])
    load = np.empty(len(c), dtype=np.int64)
    load[0] = int(f[0]) + 3
    load[1:] = load[0] + np.cumsum(delta)
    last = np.arange(nws) * steps + steps - 1
    x = load[last] + c[last] + add
    if (x[1:] >= x[:-1] + o[:-1]).all():
        return int(x[-1] + o[-1]) + 1
    return pass_loop(c, f, o, steps, add)


@dataclass(frozen=True)
class PassWork:
    """One pass as the timing sees it: its steps' costs ``c`` and fetch cycles ``f``, its
    window-sets' write-back cycles ``o``, ``steps`` per window-set, the ``beats`` of its
    weights (and biases) over the off-chip port, the tile's ``add`` offset and ``run_ahead``
    (``> 0``: ``c`` holds each precision group's cost, ``(steps, groups)``)."""

    c: np.ndarray
    f: np.ndarray
    o: np.ndarray
    steps: int
    beats: int
    add: int = 1
    run_ahead: int = 0

    def cycles(self) -> int:
        """The pass's cycles (:func:`pass_loop_ahead` or :func:`pass_cycles`)."""
        if self.run_ahead:
            return pass_loop_ahead(self.c, self.f, self.o, self.steps, self.run_ahead)
        return pass_cycles(self.c, self.f, self.o, self.steps, self.add)

    def with_memory(self, f: np.ndarray, o: np.ndarray) -> "PassWork":
        """The same pass with other fetch and write-back cycles (the breakdown's idealisations)."""
        return replace(self, f=f, o=o)


@dataclass(frozen=True)
class LayerTiming:
    """The cycle count of one ``LAYER`` command.

    Members
    -------
    cycles : int
        From the command's transfer (cycle 0) to its end.
    starts, ends : tuple of int
        Each pass's ``P`` and ``Y_last + 1``.
    weights : tuple of int or None
        The cycle each pass's last weight beat arrived (``None``: already in SB).
    """

    cycles: int
    starts: tuple
    ends: tuple
    weights: tuple


def layer_timing(passes, dram: DramConfig | None, beat_bytes: int, *, w0_loaded: bool = False,
                 durations=None) -> LayerTiming:
    """Cycles of a ``LAYER`` command running ``passes`` (:class:`PassWork`) with weights from
    ``dram`` (``None``: every pass's weights already in SB). ``durations``: the passes' cycles,
    when already known (:meth:`PassWork.cycles`)."""
    durations = [p.cycles() for p in passes] if durations is None else list(durations)
    mem = Dram(dram, beat_bytes) if dram is not None else None
    starts, ends, arrived = [], [], []
    w = None if (mem is None or w0_loaded) else mem.read(SETUP, passes[0].beats)
    arrived.append(w)
    p_start = max(SETUP, (w if w is not None else NEVER) + 1)
    for i, d in enumerate(durations):
        starts.append(p_start)
        nxt = None
        if i + 1 < len(passes) and mem is not None:
            nxt = mem.read(max(w if w is not None else NEVER, p_start) + 1, passes[i + 1].beats)
        end = p_start + d
        ends.append(end)
        if i + 1 < len(passes):
            arrived.append(nxt)
            p_start = max(end, (nxt if nxt is not None else NEVER) + 1)
            w = nxt
    return LayerTiming(ends[-1], tuple(starts), tuple(ends), tuple(arrived))


def prefetch_cycles(beats: int, dram: DramConfig, beat_bytes: int) -> int:
    """Cycles of a ``LAYER`` command with ``prefetch``: pass 0's weights into SB half 0."""
    return max(SETUP, Dram(dram, beat_bytes).read(SETUP, beats) + 1)


@dataclass(frozen=True)
class Breakdown:
    """A layer's cycles split by successive idealisation (``docs/design.md`` §10.6).

    ``nm_write_stall`` is the part of ``nm_stall`` the write-back alone causes (the count with
    NM reads ideal, minus ``compute``); the rest of ``nm_stall`` is due to the reads."""

    cycles: int
    compute: int
    nm_stall: int
    weight_stall: int
    offchip_stall: int
    nm_write_stall: int = 0

    def as_dict(self) -> dict:
        return {"cycles": self.cycles, "compute": self.compute, "nm_stall": self.nm_stall,
                "weight_stall": self.weight_stall, "offchip_stall": self.offchip_stall,
                "nm_write_stall": self.nm_write_stall}


def _memory_key(v: np.ndarray):
    """A hashable stand-in for fetch or write-back cycles: a broadcast of ones by its length (no
    copy of the view), otherwise its bytes."""
    if v.strides == (0,) and v.size and int(v[0]) == 1:
        return ("ones", v.size)
    return v.tobytes()


def pass_durations(passes, memo: dict | None = None) -> list:
    """Each pass's cycles (:meth:`PassWork.cycles`), evaluated once per distinct pass: the passes
    of one convolution group share their step costs (the same array), and often their fetch and
    write-back cycles; a run-ahead pass is a loop per step, worth not repeating. ``memo`` carries
    the evaluations across calls on the same passes."""
    memo = {} if memo is None else memo
    out = []
    for p in passes:
        key = (id(p.c), _memory_key(np.asarray(p.f)), _memory_key(np.asarray(p.o)), p.steps, p.add, p.run_ahead)
        if key not in memo:
            memo[key] = (p.c, p.cycles())        # the array is kept so that its id stays its own
        out.append(memo[key][1])
    return out


def breakdown(passes, dram: DramConfig | None, beat_bytes: int, *, w0_loaded: bool = False) -> Breakdown:
    """The exact count of a layer and its split: ``compute`` (every ``f_s = o_w = 1``, weights in
    SB), ``nm_stall`` (NM as configured), ``weight_stall`` (the off-chip bandwidth alone),
    ``offchip_stall`` (its latency and back-pressure)."""
    ones = [np.broadcast_to(np.int64(1), (len(p.c),)) for p in passes]
    memo = {}
    ideal = [p.with_memory(f, np.ones_like(p.o)) for p, f in zip(passes, ones)]
    compute = layer_timing(ideal, None, beat_bytes, durations=pass_durations(ideal, memo)).cycles
    writes = [p.with_memory(f, p.o) for p, f in zip(passes, ones)]
    written = layer_timing(writes, None, beat_bytes, durations=pass_durations(writes, memo)).cycles
    durations = pass_durations(passes, memo)
    nm = layer_timing(passes, None, beat_bytes, durations=durations).cycles
    if dram is None:
        return Breakdown(nm, compute, nm - compute, 0, 0, written - compute)
    bw = layer_timing(passes, dram.ideal(), beat_bytes, w0_loaded=w0_loaded, durations=durations).cycles
    total = layer_timing(passes, dram, beat_bytes, w0_loaded=w0_loaded, durations=durations).cycles
    return Breakdown(total, compute, nm - compute, bw - nm, total - bw, written - compute)
