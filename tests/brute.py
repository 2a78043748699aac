"""Brute-force references for the golden model, written from docs/design.md §2–5 only.

Everything here is plain Python loops over windows, steps, columns and lanes, deliberately slow
and obviously correct; it never calls the vectorised code in ``sim/`` (only the plain data
classes ``Layer``/``Window``/``TileConfig`` are read for their fields). Other tests may import it
(``from brute import ...``; ``tests/`` is put on ``sys.path`` by ``conftest.py``).

Conventions
-----------
* ``window`` is anything with ``msb``, ``lsb``, ``signed`` (a :class:`sim.fixed.Window`).
* A *layer* is a :class:`sim.layer.Layer`; a *config* a :class:`sim.config.TileConfig`.
* Activations are integer codes ``(C, H, W)`` (or ``(N, C, H, W)`` where noted).
"""
from __future__ import annotations

import math

import numpy as np


# --------------------------------------------------------------------------------------------
# bits
# --------------------------------------------------------------------------------------------

def bit_length_msb(v: int) -> int:
    """Highest set bit of a non-negative int (``-1`` for 0), by shifting."""
    assert v >= 0
    i = -1
    while v:
        v >>= 1
        i += 1
    return i


def trailing_lsb(v: int) -> int:
    """Lowest set bit of a non-negative int (``-1`` for 0), by testing each bit."""
    assert v >= 0
    if v == 0:
        return -1
    i = 0
    while not (v >> i) & 1:
        i += 1
    return i


def representable(x: int, lo: int, n: int, signed: bool) -> bool:
    """Can ``x`` be written with exactly the bits ``lo .. lo+n-1`` (signed: the top one is the
    two's-complement sign bit)? ``n == 0`` represents only zero."""
    if n == 0:
        return x == 0
    if x % (1 << lo):
        return False
    m = x >> lo  # exact: x is a multiple of 2**lo
    if signed:
        return -(1 << (n - 1)) <= m < (1 << (n - 1))
    return 0 <= m < (1 << n)


def group_need(values, window, mode: str) -> tuple[int, int]:
    """``(bits, top)`` a group of codes needs under ``mode`` (docs/design.md §5), by search.

    ``static``: the whole window. ``leading``: the lowest processed bit is ``lsb_L`` and the
    smallest ``n`` such that every value is representable in bits ``lsb_L .. lsb_L+n-1``.
    ``both``: the smallest such ``n`` over every choice of lowest bit ``lo >= lsb_L`` (ties: the
    highest ``lo``). All-zero group: ``(0, lsb_L - 1)``. ``top = lo + n - 1``.
    """
    values = [int(x) for x in values]
    p = window.msb - window.lsb + 1
    if mode == "static":
        return p, window.msb
    if all(x == 0 for x in values):
        return 0, window.lsb - 1
    los = [window.lsb] if mode == "leading" else range(window.lsb, window.msb + 1)
    best = None
    for lo in los:
        for n in range(0, window.msb - lo + 2):
            if all(representable(x, lo, n, window.signed) for x in values):
                if best is None or n < best[0] or (n == best[0] and lo > best[1]):
                    best = (n, lo)
                break
    assert best is not None, (values, window)
    n, lo = best
    return n, lo + n - 1


def group_bits(values, window, mode: str) -> int:
    return group_need(values, window, mode)[0]


def essential(x: int, signed: bool) -> int:
    """Pragmatic-style cost of one code: its non-zero magnitude bits (+1 sign bit if negative
    in a signed layer)."""
    x = int(x)
    return bin(abs(x)).count("1") + (1 if signed and x < 0 else 0)


# --------------------------------------------------------------------------------------------
# pallet order and functional results
# --------------------------------------------------------------------------------------------

def _dilation(layer) -> tuple[int, int]:
    return getattr(layer, "dy", 1), getattr(layer, "dx", 1)


def out_size(layer) -> tuple[int, int]:
    """``(oh, ow)``: the windows of stride ``(sy, sx)`` whose every (dilated) tap lies in the
    padded input."""
    dy, dx = _dilation(layer)
    hp, wp = layer.h + 2 * layer.py, layer.w + 2 * layer.px
    oh = sum(1 for oy in range(hp) if oy * layer.sy + dy * (layer.kh - 1) < hp)
    ow = sum(1 for ox in range(wp) if ox * layer.sx + dx * (layer.kw - 1) < wp)
    return oh, ow


def tap(layer, oy: int, ox: int, ky: int, kx: int) -> tuple[int, int]:
    """Input position ``(y, x)`` (unpadded coordinates) that window ``(oy, ox)`` reads at kernel
    position ``(ky, kx)``."""
    dy, dx = _dilation(layer)
    return oy * layer.sy + ky * dy - layer.py, ox * layer.sx + kx * dx - layer.px


def out_windows(layer) -> list[tuple[int, int]]:
    """Output windows ``(oy, ox)`` row-major."""
    oh, ow = out_size(layer)
    return [(oy, ox) for oy in range(oh) for ox in range(ow)]


def pallets(acts, layer, lanes: int, columns: int, group: int = 0) -> np.ndarray:
    """The pallet stream ``(window_sets, steps, Nc, L)`` of one convolution group.

    Window-sets of ``Nc`` row-major windows (crossing rows); inside one, ``ky`` then ``kx`` then
    channel block ``cb`` innermost; zero for padding, missing channels and missing windows.
    """
    a = np.asarray(acts).reshape(layer.c, layer.h, layer.w)
    cg = layer.c // layer.conv_groups
    cb_n = -(-cg // lanes)
    wins = out_windows(layer)
    nws = -(-len(wins) // columns)
    out = np.zeros((nws, layer.kh * layer.kw * cb_n, columns, lanes), dtype=np.int64)
    for ws in range(nws):
        s = 0
        for ky in range(layer.kh):
            for kx in range(layer.kw):
                for cb in range(cb_n):
                    for col in range(columns):
                        wi = ws * columns + col
                        if wi >= len(wins):
                            continue
                        y, x = tap(layer, *wins[wi], ky, kx)
                        if not (0 <= y < layer.h and 0 <= x < layer.w):
                            continue
                        for lane in range(lanes):
                            ch = cb * lanes + lane
                            if ch < cg:
                                out[ws, s, col, lane] = a[group * cg + ch, y, x]
                    s += 1
    return out


def fc_bricks(acts, lanes: int) -> list[list[int]]:
    """Bricks of a flat FC input: ``L`` consecutive values each, the last one zero-padded."""
    flat = [int(x) for x in np.asarray(acts).ravel()]
    nb = -(-len(flat) // lanes)
    flat += [0] * (nb * lanes - len(flat))
    return [flat[i * lanes:(i + 1) * lanes] for i in range(nb)]


def conv_float(acts, weights, layer) -> np.ndarray:
    """``(K, oh, ow)`` results by float64 loops (exact for the small codes the tests use)."""
    a = np.asarray(acts, dtype=np.float64).reshape(layer.c, layer.h, layer.w)
    cg, kg = layer.c // layer.conv_groups, layer.k // layer.conv_groups
    w = np.asarray(weights, dtype=np.float64).reshape(layer.k, cg, layer.kh, layer.kw)
    wins = out_windows(layer)
    oh, ow = out_size(layer)
    out = np.zeros((layer.k, oh, ow), dtype=np.float64)
    for k in range(layer.k):
        g = k // kg
        for oy, ox in wins:
            s = 0.0
            for c in range(cg):
                for ky in range(layer.kh):
                    for kx in range(layer.kw):
                        y, x = tap(layer, oy, ox, ky, kx)
                        if 0 <= y < layer.h and 0 <= x < layer.w:
                            s += a[g * cg + c, y, x] * w[k, c, ky, kx]
            out[k, oy, ox] = s
    return out


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------

def step_cost(pallet, window, mode: str, group: int) -> int:
    """Lock-step cost of one pallet ``(Nc, L)``: ``max(1, max over groups of bits)``."""
    nc = len(pallet)
    worst = 0
    for g0 in range(0, nc, group):
        vals = [int(v) for col in range(g0, g0 + group) for v in pallet[col]]
        worst = max(worst, group_bits(vals, window, mode))
    return max(1, worst)


def pallet_group_bits(pallet, window, mode: str, group: int) -> list[int]:
    nc = len(pallet)
    return [group_bits([int(v) for col in range(g0, g0 + group) for v in pallet[col]], window, mode)
            for g0 in range(0, nc, group)]


def run_ahead_sim(costs, run_ahead: int, steps: int | None = None) -> int:
    """Cycle-by-cycle simulation of groups running a step sequence ``costs[step][group]``
    (already ``>= 1``), ``steps`` steps per window-set (default: one window-set of them all).

    Cycle 0 is the first bit plane. A group may start step ``s`` once it finished ``s - 1`` and
    every group has finished step ``s - R - 1`` (at most ``R`` steps ahead of the slowest);
    completions become visible at the next cycle. The cycle after a group's last plane of a
    window-set it *closes* that window-set into its one-entry result stage, which must be empty
    or be emptied in that cycle; until the close the group starts nothing. The stages empty
    (the window-set's results leave) in the cycle after every group has closed it. Returns the
    cycle of the last close (the results leave one cycle later)."""
    n = len(costs)
    if n == 0:
        return 0
    steps = n if steps is None else steps
    assert n % steps == 0
    ng = len(costs[0])
    done = [0] * ng        # steps completed
    left = [0] * ng        # cycles left on the current step (0: idle)
    unclosed = [None] * ng  # window-set finished but not yet closed
    staged = [None] * ng   # window-set held in the group's result stage
    last_close = 0
    t = 0
    while min(done) < n or any(u is not None for u in unclosed):
        if all(x is not None for x in staged):
            assert len(set(staged)) == 1
            staged = [None] * ng             # the window-set leaves this cycle
        for g in range(ng):
            if unclosed[g] is not None and staged[g] is None:
                staged[g], unclosed[g] = unclosed[g], None
                last_close = t
        slowest = min(done)
        for g in range(ng):
            s = done[g]
            if left[g] == 0 and unclosed[g] is None and s < n and slowest >= s - run_ahead:
                left[g] = costs[s][g]
        for g in range(ng):
            if left[g]:
                left[g] -= 1
                if left[g] == 0:
                    done[g] += 1
                    if done[g] % steps == 0:
                        unclosed[g] = done[g] // steps - 1
        t += 1
        assert t < 10_000_000
    return last_close


def fc_sim(costs, columns: int) -> int:
    """Cycle-by-cycle FC dispatch: at most one brick issued per cycle, in order, to column
    ``i % Nc``, which must be idle; it stays busy ``max(1, cost)`` cycles. Returns the cycle
    the last column goes idle."""
    busy_until = [0] * columns
    i, t = 0, 0
    costs = [max(1, int(c)) for c in costs]
    while i < len(costs):
        col = i % columns
        if busy_until[col] <= t:
            busy_until[col] = t + costs[i]
            i += 1
        t += 1
    return max(busy_until) if costs else 0


def layer_cycles(acts, layer, window, config) -> dict:
    """Every count of :func:`sim.cycles.layer_cycles`, by brute force.

    Returns ``dict(dadn, stripes, dstripes, ideal, pragmatic, hist, steps)``. Filter-sets repeat
    the activation stream, so every count of one pass is multiplied by them; with run-ahead each
    (input, convolution group) pass is simulated on its own.
    """
    L, nc, G = config.lanes, config.columns, config.group
    mode = config.trim
    p = window.msb - window.lsb + 1
    fsets = -(-(layer.k // layer.conv_groups) // (config.rows * config.tiles))
    a = np.asarray(acts).reshape(-1, layer.c, layer.h, layer.w)
    dadn = stripes = dst = pra = steps = 0
    ideal_bits = 0
    hist = [0] * (p + 1)
    for img in a:
        if layer.fc:
            bricks = fc_bricks(img, L)
            dadn += len(bricks)
            steps += len(bricks)
            stripes += fc_sim([p] * len(bricks), nc)
            bits = [group_bits(b, window, mode) for b in bricks]
            for b in bits:
                hist[b] += 1
            dst += fc_sim(bits, nc)
            pra += fc_sim([max(essential(x, window.signed) for x in b) for b in bricks], nc)
            ideal_bits += sum(group_bits([x], window, mode) for b in bricks for x in b)
            continue
        n_windows = len(out_windows(layer))
        for g in range(layer.conv_groups):
            ps = pallets(img, layer, L, nc, g)
            seq = []
            for ws in range(ps.shape[0]):
                for s in range(ps.shape[1]):
                    pal = ps[ws, s]
                    steps += 1
                    # DaDN: one brick per cycle for every real window of this step
                    dadn += sum(1 for col in range(nc) if ws * nc + col < n_windows)
                    stripes += p
                    gb = pallet_group_bits(pal, window, mode, G)
                    for b in gb:
                        hist[b] += 1
                    seq.append([max(1, b) for b in gb])
                    pra += max(1, max(essential(x, window.signed) for col in pal for x in col))
                    ideal_bits += sum(group_bits([int(x)], window, mode) for col in pal for x in col)
            if config.run_ahead:
                dst += run_ahead_sim(seq, config.run_ahead, ps.shape[1])
            else:
                dst += sum(max(c) for c in seq)
    return {
        "dadn": dadn * fsets,
        "stripes": stripes * fsets,
        "dstripes": dst * fsets,
        "ideal": ideal_bits / (L * nc) * fsets,
        "pragmatic": pra * fsets,
        "hist": [h * fsets for h in hist],
        "steps": steps * fsets,
    }


def dadn_formula(layer, config, images: int = 1) -> int:
    """docs/design.md §5 closed form, per convolution group: windows·Kx·Ky·ceil(C/L)·ceil(K/(Nr·T))."""
    cg, kg = layer.c // layer.conv_groups, layer.k // layer.conv_groups
    wins = len(out_windows(layer))
    return (images * layer.conv_groups * wins * layer.kh * layer.kw * math.ceil(cg / config.lanes)
            * math.ceil(kg / (config.rows * config.tiles)))


# --------------------------------------------------------------------------------------------
# random scenarios for property tests (hypothesis strategies)
# --------------------------------------------------------------------------------------------

def random_codes(rng: np.random.Generator, shape, window, zero_prob: float = 0.3) -> np.ndarray:
    """Codes inside ``window`` with varied magnitudes and trailing zeros (so detection varies)."""
    p = window.msb - window.lsb + 1
    if window.signed:
        m = rng.integers(-(1 << (p - 1)), 1 << (p - 1), size=shape)
    else:
        m = rng.integers(0, 1 << p, size=shape)
    m = m >> rng.integers(0, p + 1, size=shape)          # smaller magnitudes (arithmetic shift)
    tz = rng.integers(0, p, size=shape) * (rng.random(shape) < 0.3)
    m = (m >> tz) << tz                                     # some extra trailing zeros
    m = np.where(rng.random(shape) < zero_prob, 0, m)
    return (m << window.lsb).astype(np.int64)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


try:
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    st = None

if st is not None:
    @st.composite
    def windows(draw, act_bits: int = 12, signed=None):
        from dstripes.sim.fixed import Window
        signed = draw(st.booleans()) if signed is None else signed
        msb = draw(st.integers(1 if signed else 0, act_bits - 1))
        lsb = draw(st.integers(0, msb - (1 if signed else 0)))
        return Window(msb, lsb, signed)

    @st.composite
    def configs(draw, trim=None, run_ahead=None):
        from dstripes.sim.config import TileConfig
        lanes = draw(st.sampled_from([1, 2, 3, 4]))
        columns = draw(st.sampled_from([1, 2, 3, 4, 6]))
        group = draw(st.sampled_from(divisors(columns)))
        # act_bits on both sides of 16: the model may take table-driven shortcuts for short codes
        return TileConfig(lanes=lanes, columns=columns, rows=draw(st.integers(1, 3)),
                          tiles=draw(st.integers(1, 2)), act_bits=draw(st.sampled_from([8, 12, 16, 20, 32])),
                          group=group,
                          trim=draw(st.sampled_from(["leading", "both"])) if trim is None else trim,
                          run_ahead=draw(st.integers(0, 3)) if run_ahead is None else run_ahead)

    @st.composite
    def conv_layers(draw, max_hw: int = 6, fc=None):
        from dstripes.sim.layer import Layer
        if fc is None:
            fc = draw(st.integers(0, 5)) == 0
        if fc:
            return Layer(draw(st.integers(1, 30)), 1, 1, draw(st.integers(1, 5)), fc=True)
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        cg = draw(st.integers(1, 5))
        depthwise = draw(st.integers(0, 4)) == 0
        if depthwise:
            groups, cg = draw(st.integers(1, 4)), 1
        kg = draw(st.integers(1, 3))
        h, w = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
        py, px = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        kh = draw(st.integers(1, min(3, h + 2 * py)))
        kw = draw(st.integers(1, min(3, w + 2 * px)))
        sy, sx = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        # dilated in about a third of the layers: up to 3, as far as the padded input allows
        dy = dx = 1
        if draw(st.integers(0, 2)) == 0:
            dy = draw(st.integers(1, min(3, (h + 2 * py - 1) // (kh - 1) if kh > 1 else 3)))
            dx = draw(st.integers(1, min(3, (w + 2 * px - 1) // (kw - 1) if kw > 1 else 3)))
        return Layer(cg * groups, h, w, kg * groups, kh, kw, sy, sx, py, px, groups, dy=dy, dx=dx)

    @st.composite
    def scenarios(draw, fc=None, trim=None, run_ahead=None, signed=None, images=False):
        """``(acts, layer, window, config)``; ``acts`` is ``(C,H,W)`` or, with ``images``,
        ``(N,C,H,W)``."""
        layer = draw(conv_layers(fc=fc))
        config = draw(configs(trim=trim, run_ahead=run_ahead))
        window = draw(windows(config.act_bits, signed))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        n = draw(st.integers(1, 2)) if images else None
        shape = ((n,) if n else ()) + (layer.c, layer.h, layer.w)
        acts = random_codes(rng, shape, window, draw(st.sampled_from([0.0, 0.3, 0.8, 1.0])))
        return acts, layer, window, config
