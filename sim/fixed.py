"""Fixed-point activation codes and the per-layer precision window.

An activation *code* is an integer. A layer's window ``[lsb, msb]`` says which bits may be set:

* unsigned (after ReLU): ``0 <= code <= 2**(msb+1) - 2**lsb`` and ``code % 2**lsb == 0``;
* signed (a network's first layer): two's complement in ``msb+1`` bits,
  ``-2**msb <= code <= 2**msb - 2**lsb`` and ``code % 2**lsb == 0``.

The layer precision is ``p = msb - lsb + 1`` (for signed layers it includes the sign bit).

Quantisation (:func:`quantize`) maps a real tensor ``x`` to codes with a power-of-two step:
``code = 2**lsb * round(x / (scale * 2**lsb))`` with round-half-to-even, then *saturates* to the
window's range. ``scale`` is the real value of code ``1``.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

from .checks import check_integer
from .config import check_width
from .errors import ConfigError
from .limits import check_memory
from .precision import msb as _msb, lsb as _lsb


@dataclass(frozen=True)
class Window:
    """A layer's activation window ``[lsb, msb]``.

    Parameters
    ----------
    msb, lsb : int
        Highest and lowest bit that may be set; ``0 <= lsb <= msb``.
    signed : bool
        Two's-complement codes (``msb`` is then the sign bit).
    """

    msb: int
    lsb: int = 0
    signed: bool = False

    def __post_init__(self):
        for name in ("msb", "lsb"):
            check_integer(f"window {name}", getattr(self, name), 0, numpy=True)
        if self.lsb > self.msb:
            raise ConfigError(f"window lsb {self.lsb} is above msb {self.msb}")
        if self.signed and self.msb == self.lsb:
            raise ConfigError(f"a signed window needs at least two bits, not [{self.msb}:{self.lsb}]")

    @classmethod
    def parse(cls, text: str, signed: bool = False) -> "Window":
        """Parse ``"MSB:LSB"`` (or ``"MSB"``, meaning ``lsb = 0``)."""
        parts = str(text).split(":")
        try:
            nums = [int(p) for p in parts]
        except ValueError:
            nums = []
        if len(nums) not in (1, 2):
            raise ConfigError(f"window must be MSB:LSB with integers, not {text!r}")
        return cls(nums[0], nums[1] if len(nums) == 2 else 0, signed)

    @property
    def bits(self) -> int:
        """Layer precision ``p = msb - lsb + 1``."""
        return self.msb - self.lsb + 1

    @property
    def lo(self) -> int:
        """Smallest code in the window."""
        return -(1 << self.msb) if self.signed else 0

    @property
    def hi(self) -> int:
        """Largest code in the window."""
        return (1 << self.msb) - (1 << self.lsb) if self.signed else (1 << (self.msb + 1)) - (1 << self.lsb)

    def check(self, codes: np.ndarray, act_bits: int, what: str = "activation") -> np.ndarray:
        """Return ``codes`` after checking they are integers inside this window.

        Integer arrays come back as they are (their own dtype, no copy: a large ``uint8`` file
        stays one byte per code); integral floats are converted to the narrowest integer type
        holding the window (:func:`as_codes`). Raises :class:`ConfigError` naming the first
        offending value.
        """
        if self.msb + 1 > act_bits:
            raise ConfigError(f"window [{self.msb}:{self.lsb}] does not fit {act_bits}-bit activations")
        a = as_codes(codes, what, self)
        if a.size == 0:
            return a
        # min/max first: one pass each, without temporaries, on the (common) valid input
        ok = int(a.min()) >= self.lo and int(a.max()) <= self.hi
        if ok and self.lsb:
            mask = (1 << self.lsb) - 1
            ok = not any(np.any(c & mask) for c in _chunks(a))
        if not ok:
            v = self._first_outside(a)
            kind = "signed" if self.signed else "unsigned"
            raise ConfigError(f"{what} code {v} is outside the {kind} window [{self.msb}:{self.lsb}]"
                              f" (allowed {self.lo}..{self.hi} in steps of {1 << self.lsb})")
        return a

    def _first_outside(self, a: np.ndarray) -> int:
        mask = (1 << self.lsb) - 1
        for c in _chunks(a):
            c = c.astype(np.int64)
            out = (c < self.lo) | (c > self.hi) | (c & mask != 0)
            if out.any():
                return int(c[out][0])
        raise AssertionError("no code outside the window")  # pragma: no cover

    @property
    def dtype(self) -> np.dtype:
        """The narrowest integer type holding every code of the window."""
        return narrowest_int(self.lo, self.hi)


#: Elements per chunk of the element-wise checks (bounded temporaries on large inputs).
CHUNK = 1 << 22


def narrowest_int(lo: int, hi: int) -> np.dtype:
    """The narrowest numpy integer type holding ``lo .. hi``."""
    for t in (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32):
        info = np.iinfo(t)
        if info.min <= lo and hi <= info.max:
            return np.dtype(t)
    return np.dtype(np.int64)


def _chunks(a: np.ndarray):
    """Flat chunks of ``a`` in memory order (views when ``a`` is contiguous either way)."""
    flat = a.ravel(order="K")
    for i in range(0, flat.size, CHUNK):
        yield flat[i:i + CHUNK]


def as_codes(codes, what: str = "activation", window: "Window | None" = None) -> np.ndarray:
    """Integer codes of an integer or float array, without widening them.

    Integer arrays (and memory maps) are returned as they are; booleans as ``uint8``; floats
    must hold integers and are converted, in chunks, to ``window.dtype`` (without a window:
    the narrowest integer type holding their range). Anything else is a :class:`ConfigError`
    naming the first offending value or the dtype.
    """
    a = np.asarray(codes)
    if a.dtype.kind == "b":
        return a.view(np.uint8)
    if a.dtype.kind in "iu":
        if a.dtype.kind == "u" and a.dtype.itemsize >= 8 and a.size and int(a.max()) > np.iinfo(np.int64).max:
            raise ConfigError(f"{what} code {int(a.max())} is out of range")
        return a
    if a.dtype.kind != "f":
        raise ConfigError(f"{what} codes must be integers, not dtype {a.dtype}")
    lo = hi = 0
    for c in _chunks(a):
        bad = ~np.isfinite(c) | (c != np.round(c))
        if bad.any():
            raise ConfigError(f"{what} codes must be finite integers, found {float(c[bad][0])!r}")
        if c.size:
            lo, hi = min(lo, float(c.min())), max(hi, float(c.max()))
    for v in (lo, hi):
        if abs(v) >= 2.0 ** 62 or (window is not None and not window.lo <= v <= window.hi):
            where = f"outside the window [{window.msb}:{window.lsb}]" if window is not None else "out of range"
            raise ConfigError(f"{what} code {v!r} is {where}")
    dtype = window.dtype if window is not None else narrowest_int(int(lo), int(hi))
    copy = 0 if a.flags.c_contiguous else a.dtype.itemsize
    check_memory(a.size * (dtype.itemsize + copy) + CHUNK * 16,
                 f"converting the {what} codes from {a.dtype} to integers")
    a = np.ascontiguousarray(a)  # a copy only for the rare non-C-ordered input
    out = np.empty(a.shape, dtype=dtype)
    flat = out.reshape(-1)
    for i, c in zip(range(0, a.size, CHUNK), _chunks(a)):
        flat[i:i + c.size] = c
    return out


def check_scale(scale) -> float:
    """``scale`` (the real value of code 1) if it is a positive finite number; else a
    :class:`ConfigError` naming it."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(scale) and scale > 0):
        raise ConfigError(f"quantisation scale must be a positive finite number, not {scale!r}")
    return scale


def quantize(x: np.ndarray, scale: float, window: Window) -> np.ndarray:
    """Quantise real values to integer codes in ``window`` (round-half-even, saturating).

    Parameters
    ----------
    x : array
        Real values.
    scale : float
        Real value of code 1 (positive).
    window : Window
        Target window.
    """
    check_scale(scale)
    x = np.asarray(x, dtype=np.float64)
    if np.isnan(x).any():
        raise ConfigError("cannot quantise NaN")  # infinities saturate like any large value
    step = scale * (1 << window.lsb)
    q = np.rint(x / step) * (1 << window.lsb)
    return np.clip(q, window.lo, window.hi).astype(np.int64)


def window_of(codes: np.ndarray, signed: bool = False) -> Window:
    """The tightest window holding every code (``[0:0]`` for an all-zero tensor)."""
    a = np.asarray(codes, dtype=np.int64)
    if not signed and (a < 0).any():
        raise ConfigError(f"unsigned codes cannot be negative, found {int(a[a < 0].flat[0])}")
    nz = a[a != 0]
    if nz.size == 0:
        return Window(1 if signed else 0, 0, signed)
    lsb = int(np.min(_lsb(nz)))
    if signed:
        msb = int(np.max(_msb(nz ^ (nz >> 63)))) + 1  # plus the sign bit
    else:
        msb = int(np.max(_msb(nz)))
    return Window(max(msb, lsb + (1 if signed else 0)), lsb, signed)


def weight_codes(weights: np.ndarray, bits: int = 16) -> tuple[np.ndarray, float]:
    """Real weights as ``bits``-bit two's-complement codes with one power-of-two scale:
    ``scale = 2**(ceil(log2 max|w|) - (bits - 1))``, codes ``round(w / scale)`` saturated to the
    code range (the largest magnitude may round up by one step). Returns ``(codes int64, scale)``;
    an all-zero tensor has scale 1."""
    check_width("weight_bits", bits)
    w = np.asarray(weights, dtype=np.float64)
    if not np.isfinite(w).all():
        raise ConfigError("weights must be finite numbers")
    m = float(np.abs(w).max()) if w.size else 0.0
    scale = 2.0 ** (math.ceil(math.log2(m)) - (bits - 1)) if m > 0 else 1.0
    lim = 1 << (bits - 1)
    return np.clip(np.rint(w / scale), -lim, lim - 1).astype(np.int64), scale
