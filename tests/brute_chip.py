"""Brute-force references for the accelerator's model (``docs/design.md`` §10), written from the
blocks' behaviour, cycle by cycle, never from the recurrences of ``sim/chip/timing.py``.

* :func:`pass_sim` — one pass: the fetch unit (a step's reads in ``f_s`` cycles, its data merged a
  cycle later, a commit into the output register when that is empty or being taken, the next
  step's reads from the commit on), the tile (input register, current-step register, bit planes,
  the add stage that freezes the array while a closing window-set finds the result buffer full)
  and the writer (``o_w`` cycles per window-set from the cycle its results are offered, releasing
  them in the last);
* :func:`pass_sim_ahead` — the same pass on the run-ahead tile: its input register, ``R + 1``
  slots (one loaded when one is free or freeing, one freed when every group has consumed its last
  plane of the oldest), per group a plane counter and an add stage that freezes the group while
  its closing add finds its part of the result buffer full, the parts offered together;
* :func:`reads` — a step's NM reads by walking every column (reuse, padding, missing windows);
* :func:`conv_requant` — outputs by loops over filters, windows and taps.
"""
from __future__ import annotations

import numpy as np


def pass_sim(c, f, o, steps: int, parallel: bool = False) -> int:
    """Cycles from a pass's configuration (cycle 0) to the cycle after its last release.
    ``parallel``: the bit-parallel tile, which consumes the item of its input register as its one
    plane in the cycle it takes it (no current-step register)."""
    c, f, o = list(map(int, c)), list(map(int, f)), list(map(int, o))
    n = len(c)
    # fetch
    fs, g = 0, 1            # step being fetched and the cycle its reads started
    out = None              # step in the output register
    # tile
    inreg = None            # step in the input register
    cur, tpl = None, 0      # step in the current register, plane index
    pending = None          # step whose add is due (after its last plane)
    full = None             # window-set in the result buffer
    # writer
    spent = 0
    released = 0
    t = 0
    while True:
        t += 1
        if t > 10_000_000:
            raise RuntimeError("pass did not finish")
        ready = full is not None and spent == o[full] - 1           # writer releases this cycle
        can_load = full is None or ready
        closes = pending is not None and (pending % steps == steps - 1)
        advance = not (pending is not None and closes and not can_load)
        if parallel:
            # the input register's item is the plane: taken when the array advances
            finishing = False
            load = inreg is not None and advance
        else:
            finishing = cur is not None and advance and tpl == c[cur] - 1
            load = inreg is not None and (cur is None or finishing)
        in_ready = inreg is None or load
        take = out is not None and in_ready and t >= 1          # the tile accepts from cycle 1
        out_free = out is None or take
        commit = fs < n and t >= g + f[fs] and out_free
        # -- updates at the end of cycle t --
        if ready:
            released += 1
            last = full
            full = None
            spent = 0
            if last == len(o) - 1:
                return t + 1
        elif full is not None:
            spent += 1
        if pending is not None and advance:
            if closes:
                full = pending // steps
            pending = None
        if cur is not None and advance:
            if tpl == c[cur] - 1:
                pending = cur
                cur = None
            else:
                tpl += 1
        if load and parallel:
            pending = inreg               # its add follows in the next cycle
            inreg = None
        elif load:
            cur, tpl = inreg, 0
            inreg = None
        if take:
            inreg = out
            out = None
        if commit:
            out = fs
            fs += 1
            g = t


def pass_sim_ahead(cost, f, o, steps: int, run_ahead: int) -> int:
    """Cycles from a pass's configuration (cycle 0) to the cycle after its last release, on the
    run-ahead tile; ``cost`` ``(n, groups)``: each group's cycles in each step."""
    cost = [[max(1, int(x)) for x in row] for row in cost]
    f, o = list(map(int, f)), list(map(int, o))
    n, groups = len(cost), len(cost[0])
    # fetch
    fs, g = 0, 1
    out = None
    # tile
    inreg = None
    slots = []                        # steps in flight, oldest first
    cur = [0] * groups                # each group's next step
    tpl = [0] * groups                # its plane index in that step
    pending = [None] * groups         # step whose add is due
    full = [None] * groups            # window-set in the group's part of the result buffer
    # writer
    spent = 0
    t = 0
    while True:
        t += 1
        if t > 10_000_000:
            raise RuntimeError("pass did not finish")
        offered = all(x is not None for x in full)
        leave = offered and spent == o[full[0]] - 1
        can_load = [x is None or leave for x in full]
        closes = [p is not None and p % steps == steps - 1 for p in pending]
        advance = [not (closes[k] and not can_load[k]) for k in range(groups)]
        valid = [cur[k] < n and cur[k] in slots for k in range(groups)]
        fin = [valid[k] and advance[k] and tpl[k] == cost[cur[k]][k] - 1 for k in range(groups)]
        free = bool(slots) and all(cur[k] > slots[0] or fin[k] for k in range(groups))
        load = inreg is not None and (len(slots) < run_ahead + 1 or free)
        in_ready = inreg is None or load
        take = out is not None and in_ready
        out_free = out is None or take
        commit = fs < n and t >= g + f[fs] and out_free
        # -- updates at the end of cycle t --
        if leave:
            if full[0] == len(o) - 1:
                return t + 1
            full = [None] * groups
            spent = 0
        elif offered:
            spent += 1
        for k in range(groups):
            if not advance[k]:
                continue
            if closes[k]:
                full[k] = pending[k] // steps
            pending[k] = None
            if valid[k]:
                if fin[k]:
                    pending[k] = cur[k]
                    cur[k] += 1
                    tpl[k] = 0
                else:
                    tpl[k] += 1
        if free:
            slots.pop(0)
        if load:
            slots.append(inreg)
            inreg = None
        if take:
            inreg = out
            out = None
        if commit:
            out = fs
            fs += 1
            g = t


def reads(layer, columns: int, ws: int, ky: int, kx: int) -> int:
    """NM reads of step ``(ws, ky, *, kx)``, column by column."""
    q = layer.dx // layer.sx if layer.dx % layer.sx == 0 else 0
    total = 0
    for c in range(columns):
        n = ws * columns + c
        if n >= layer.windows:
            continue
        oy, ox = divmod(n, layer.ow)
        y = oy * layer.sy + ky * layer.dy - layer.py
        x = ox * layer.sx + kx * layer.dx - layer.px
        if not (0 <= y < layer.h and 0 <= x < layer.w):
            continue
        m = n + q
        if kx >= 1 and q and c + q < columns and m < layer.windows and m // layer.ow == oy:
            continue
        total += 1
    return total


def conv_requant(acts, weights, layer, shift, window, bias=None, residual=None, res_shift=0):
    """``(K, oh, ow)`` codes: exact sums by loops (plus the bias and the residual shifted left by
    ``res_shift``), then round half to even and saturate."""
    a = np.asarray(acts, dtype=np.int64)
    w = np.asarray(weights, dtype=np.int64)
    out = np.zeros((layer.k, layer.oh, layer.ow), dtype=np.int64)
    for k in range(layer.k):
        g = k // layer.kg
        for oy in range(layer.oh):
            for ox in range(layer.ow):
                acc = 0
                for ci in range(layer.cg):
                    for ky in range(layer.kh):
                        for kx in range(layer.kw):
                            y = oy * layer.sy + ky * layer.dy - layer.py
                            x = ox * layer.sx + kx * layer.dx - layer.px
                            if 0 <= y < layer.h and 0 <= x < layer.w:
                                acc += int(a[g * layer.cg + ci, y, x]) * int(w[k, ci, ky, kx])
                if bias is not None:
                    acc += int(bias[k])
                if residual is not None:
                    acc += int(residual[k, oy, ox]) * 2 ** res_shift
                out[k, oy, ox] = requant_one(acc, shift, window)
    return out


def requant_one(y: int, shift: int, window) -> int:
    """One value: divide by ``2**(shift+lsb)`` rounding half to even (Python's ``round`` on a
    Fraction), clamp to the window, scale back."""
    from fractions import Fraction

    q = round(Fraction(y, 1 << (shift + window.lsb)))
    lo = (-(1 << window.msb) if window.signed else 0) >> window.lsb
    hi = (((1 << window.msb) if window.signed else (1 << (window.msb + 1))) - (1 << window.lsb)) >> window.lsb
    return min(max(q, lo), hi) << window.lsb


def pool_starts(n, k, s, p, ceil=False):
    """The window starts along one axis, enumerated: floor mode, every window inside the padded
    input; ceil mode, every window starting inside the input whose predecessor did not reach the
    padded input's end (ONNX / PyTorch ``ceil_mode``)."""
    starts, o = [], 0
    while True:
        start = o * s - p
        if ceil:
            ok = start < n and (o == 0 or start - s + k < n + p)
        else:
            ok = start + k <= n + p
        if not ok:
            return starts
        starts.append(start)
        o += 1


def max_pool_loops(codes, kernel, stride, pad, ceil=False):
    """``(C, oh, ow)``: the max over each window's positions inside the input, by loops."""
    c, h, w = codes.shape
    (kh, kw), (sy, sx), (py, px) = kernel, stride, pad
    ys, xs = pool_starts(h, kh, sy, py, ceil), pool_starts(w, kw, sx, px, ceil)
    out = np.zeros((c, len(ys), len(xs)), dtype=np.int64)
    for ch in range(c):
        for oy, y0 in enumerate(ys):
            for ox, x0 in enumerate(xs):
                vals = [int(codes[ch, y, x]) for y in range(y0, y0 + kh)
                        for x in range(x0, x0 + kw) if 0 <= y < h and 0 <= x < w]
                out[ch, oy, ox] = max(vals)
    return out


def pool_walk(shape, kernel, stride, pad, lanes, nm_read, ceil=False):
    """The pool unit's walk, chunk by chunk: ``(cycles, reads, writes)`` of a ``POOL`` command
    (transfer, set-up, one cycle per chunk of ``nm_read`` kernel positions, the last write, the
    end)."""
    c, h, w = shape
    (kh, kw), (sy, sx), (py, px) = kernel, stride, pad
    ys, xs = pool_starts(h, kh, sy, py, ceil), pool_starts(w, kw, sx, px, ceil)
    cycle, reads, writes = 1, 0, 0
    for _ in range(-(-c // lanes)):
        for y0 in ys:
            for x0 in xs:
                positions = [(ky, kx) for ky in range(kh) for kx in range(kw)]
                for i in range(0, len(positions), nm_read):
                    cycle += 1
                    reads += sum(0 <= y0 + ky < h and 0 <= x0 + kx < w
                                 for ky, kx in positions[i:i + nm_read])
                writes += 1
    return cycle + 2, reads, writes
