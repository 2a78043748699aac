"""The accelerator's ``POOL`` command (``docs/design.md`` §10.7): lane-wise max-pooling of a tensor
in NM into another, its descriptor (the ``LAYER`` descriptor's fields, reused), its checks, its
exact outputs, cycles and NM traffic.

Floor or ceil mode (ONNX's ``ceil_mode``, PyTorch's rule): in ceil mode the last window of a row or
column may hang over the bottom/right edge, and a window that would start beyond the input's last
row or column (wholly in the bottom/right padding) is dropped (:func:`pooled_size`).

The pool unit walks the output bricks in address order (``cb``, ``oy``, ``ox``); for each it reads
the ``kh*kw`` kernel positions ``B`` at a time in row-major order (a padded position is skipped:
its port reads nothing, its slot still takes its place in the chunk), keeps the lane-wise max, and
writes the brick two cycles after its last chunk's reads (the read data are registered first),
while the next brick's reads go on; the last brick's write falls in the command's end cycle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..fixed import Window
from .config import ChipConfig
from .descriptor import _FIXED, descriptor_fields
from .model import NmTraffic
from .timing import Breakdown

#: Cycles of a ``POOL`` command besides its ``N`` chunks (cycle 0 is the transfer): the set-up
#: (cycle 1), the reads (cycles 2 .. N + 1), the last data registered (N + 2), the end (N + 3),
#: in which the last brick is written.
POOL_OVERHEAD = 3


def pooled_size(n: int, kernel: int, stride: int, lo: int, hi: int, ceil: bool = False) -> int:
    """Outputs of a max-pool along one axis (ONNX ``MaxPool``, PyTorch ``max_pool2d``).

    Parameters
    ----------
    n : int
        Input size.
    kernel, stride : int
    lo, hi : int
        Padding before (top/left) and after (bottom/right).
    ceil : bool
        ``ceil_mode``: ``ceil((n + lo + hi - kernel) / stride) + 1`` windows, less the last when it
        would start at or beyond ``n + lo`` (in the bottom/right padding); else ``floor(...) + 1``.

    Returns
    -------
    int
        The count (0 or less: no window fits).
    """
    span = n + lo + hi - kernel
    o = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and o > 0 and (o - 1) * stride >= n + lo:
        o -= 1
    return o


@dataclass(frozen=True)
class PoolDescriptor:
    """One max-pooling on the accelerator.

    Parameters
    ----------
    shape : (C, H, W)
        The input tensor (in NM, brick layout §10.2).
    kernel, stride, pad : (int, int)
        ``(kh, kw)``, ``(sy, sx)``, ``(py, px)``; padded positions are excluded from the max.
    window : Window
        The codes' window (``signed``: the max compares two's complement).
    in_base, out_base : int
        NM brick addresses of the input and of the pooled output (by default right after the input).
    ceil : bool
        Ceil mode (:func:`pooled_size`): the descriptor's ``ceil`` field.
    """

    shape: tuple
    kernel: tuple
    stride: tuple
    pad: tuple = (0, 0)
    window: Window = Window(15, 0)
    in_base: int = 0
    out_base: int | None = None
    ceil: bool = False

    @classmethod
    def parse(cls, text: str, shape: tuple, window: Window, **fields) -> "PoolDescriptor":
        """``KxK/S[/P][/ceil]`` (or ``KHxKW/...``, e.g. ``2x2/2``, ``3x3/2/1``, ``3x3/2/ceil``,
        ``3x3/2/1/ceil``) on a ``(C, H, W)`` input; ``fields``: ``in_base``, ``out_base``."""
        parts = str(text).split("/")
        ceil = len(parts) > 2 and parts[-1].strip().lower() == "ceil"
        if ceil:
            parts = parts[:-1]
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            kh, kw = (int(v) for v in parts[0].lower().split("x"))
            s = int(parts[1])
            p = int(parts[2]) if len(parts) == 3 else 0
        except ValueError:
            raise ConfigError(f"pool {text!r} is not KxK/S[/P][/ceil] (e.g. 2x2/2, 3x3/2/1, 3x3/2/ceil)") from None
        return cls(tuple(int(v) for v in shape), (kh, kw), (s, s), (p, p), window, ceil=ceil, **fields)

    @property
    def oh(self) -> int:
        return pooled_size(self.shape[1], self.kernel[0], self.stride[0], self.pad[0], self.pad[0], self.ceil)

    @property
    def ow(self) -> int:
        return pooled_size(self.shape[2], self.kernel[1], self.stride[1], self.pad[1], self.pad[1], self.ceil)

    @property
    def out_shape(self) -> tuple:
        return (self.shape[0], self.oh, self.ow)

    def blocks(self, chip: ChipConfig) -> int:
        return -(-self.shape[0] // chip.tile.lanes)

    def resolved_out_base(self, chip: ChipConfig) -> int:
        """``out_base``, by default right after the input."""
        if self.out_base is not None:
            return self.out_base
        return self.in_base + self.blocks(chip) * self.shape[1] * self.shape[2]

    def values(self, chip: ChipConfig) -> dict:
        """The command's descriptor fields (the ``LAYER`` descriptor's; unused ones 0)."""
        v = {name: 0 for name, _ in descriptor_fields(chip)}
        (c, h, w), (kh, kw), (sy, sx), (py, px) = self.shape, self.kernel, self.stride, self.pad
        v.update({"c": c, "h": h, "w": w, "k": c, "kh": kh, "kw": kw, "sy": sy, "sx": sx, "py": py, "px": px,
                  "dy": 1, "dx": 1, "groups": 1, "cg": c, "kg": c, "msb": self.window.msb, "lsb": self.window.lsb,
                  "signed": int(self.window.signed), "out_msb": self.window.msb, "out_lsb": self.window.lsb,
                  "out_signed": int(self.window.signed), "in_base": self.in_base,
                  "out_base": self.resolved_out_base(chip), "ceil": int(self.ceil)})
        return v


def check_pool_shape(d: PoolDescriptor) -> None:
    """The rules of a ``POOL`` descriptor that hold on any chip, one message each: sizes in the
    descriptor's field ranges, at least one window (floor mode: the window no bigger than the
    padded input), ``2*pad <= kernel`` (every window holds an input position)."""
    if not isinstance(d.window, Window):
        raise TypeError(f"window must be a Window, not {d.window!r}")
    if not isinstance(d.ceil, bool):
        raise TypeError(f"ceil must be a bool, not {d.ceil!r}")
    ranges = {n: (b, lo) for n, b, lo in _FIXED}
    named = dict(zip(("c", "h", "w"), d.shape)) | dict(zip(("kh", "kw"), d.kernel)) \
        | dict(zip(("sy", "sx"), d.stride)) | dict(zip(("py", "px"), d.pad))
    if len(d.shape) != 3 or len(named) != 9:
        raise ConfigError(f"a pool needs a (C, H, W) input and two-value kernel, stride and pad, not {d!r}")
    for name, value in named.items():
        bits, lo = ranges[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value < (1 << bits):
            raise ConfigError(f"pool field {name} = {value!r} is out of range ({lo}..{(1 << bits) - 1})")
    (c, h, w), (kh, kw), (py, px) = d.shape, d.kernel, d.pad
    if d.oh < 1 or d.ow < 1 or (not d.ceil and (kh > h + 2 * py or kw > w + 2 * px)):
        raise ConfigError(f"the pool window {kh}x{kw} (pad {py},{px}) is bigger than the {h}x{w} input"
                          + (" by a whole stride (no window in ceil mode)" if d.ceil else ""))
    if 2 * py > kh or 2 * px > kw:
        raise ConfigError(f"pool padding ({py}, {px}) is more than half the {kh}x{kw} window")


def check_pool(d: PoolDescriptor, chip: ChipConfig) -> None:
    """Every rule of a ``POOL`` descriptor on ``chip``, one message each: :func:`check_pool_shape`,
    the codes' window, both tensors inside NM and apart."""
    if not isinstance(chip, ChipConfig):
        raise TypeError(f"chip must be a ChipConfig, not {chip!r}")
    check_pool_shape(d)
    (c, h, w) = d.shape
    if d.window.msb + 1 > chip.tile.act_bits:
        raise ConfigError(f"the pool window's codes [{d.window.msb}:{d.window.lsb}] are wider than the "
                          f"{chip.tile.act_bits}-bit activations")
    for name in ("in_base", "out_base"):
        value = getattr(d, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ConfigError(f"{name} must be a non-negative address, not {value!r}")
    cb = d.blocks(chip)
    a0, n0 = d.in_base, cb * h * w
    a1, n1 = d.resolved_out_base(chip), cb * d.oh * d.ow
    for what, base, size in (("input", a0, n0), ("output", a1, n1)):
        if base + size > chip.nm_words:
            raise ConfigError(f"the pool's {what} ({size:,} bricks from address {base:,}) does not fit NM "
                              f"({chip.nm_words:,} bricks, {chip.nm_kib:,} KiB)")
    if a0 < a1 + n1 and a1 < a0 + n0:
        raise ConfigError(f"the pool's input (NM {a0:,}..{a0 + n0 - 1:,}) and output (NM {a1:,}..{a1 + n1 - 1:,}) "
                          f"overlap")


def valid_positions(d: PoolDescriptor) -> np.ndarray:
    """``(oh, ow)``: the kernel positions of each output inside the input."""
    (c, h, w), (kh, kw), (sy, sx), (py, px) = d.shape, d.kernel, d.stride, d.pad
    ys = np.arange(d.oh)[:, None] * sy - py + np.arange(kh)
    xs = np.arange(d.ow)[:, None] * sx - px + np.arange(kw)
    rows = ((ys >= 0) & (ys < h)).sum(axis=1)
    cols = ((xs >= 0) & (xs < w)).sum(axis=1)
    return rows[:, None] * cols[None, :]


def max_pool(codes: np.ndarray, d: PoolDescriptor) -> np.ndarray:
    """The lane-wise max over each window, padded positions (and, in ceil mode, positions past
    the bottom/right edge) excluded: ``(C, oh, ow)`` int64."""
    (c, h, w), (kh, kw), (sy, sx), (py, px) = d.shape, d.kernel, d.stride, d.pad
    a = np.asarray(codes, dtype=np.int64)
    low = np.iinfo(np.int64).min
    rows = max(h + 2 * py, (d.oh - 1) * sy + kh)
    cols = max(w + 2 * px, (d.ow - 1) * sx + kw)
    padded = np.full((c, rows, cols), low, dtype=np.int64)
    padded[:, py:py + h, px:px + w] = a
    out = np.full((c, d.oh, d.ow), low, dtype=np.int64)
    for ky in range(kh):
        for kx in range(kw):
            out = np.maximum(out, padded[:, ky:ky + sy * (d.oh - 1) + 1:sy, kx:kx + sx * (d.ow - 1) + 1:sx])
    return out


def pool_cycles(d: PoolDescriptor, chip: ChipConfig) -> int:
    """The ``POOL`` command's cycles: ``POOL_OVERHEAD + bricks * ceil(kh*kw / B)`` (no stalls: the
    pool unit has NM's ports to itself)."""
    bricks = d.blocks(chip) * d.oh * d.ow
    return POOL_OVERHEAD + bricks * -(-(d.kernel[0] * d.kernel[1]) // chip.nm_read)


@dataclass(frozen=True)
class ChipPoolRun:
    """What the accelerator does with one ``POOL`` command: its ``outputs`` (``(C, oh, ow)``),
    ``cycles`` and NM ``traffic``."""

    descriptor: PoolDescriptor
    chip: ChipConfig
    outputs: np.ndarray
    cycles: int
    traffic: NmTraffic

    @property
    def breakdown(self) -> Breakdown:
        """All compute: the pool unit never waits."""
        return Breakdown(self.cycles, self.cycles, 0, 0, 0)


def model_pool(codes: np.ndarray, descriptor: PoolDescriptor, chip: ChipConfig) -> ChipPoolRun:
    """One ``POOL`` command: the exact outputs, cycles and NM reads and writes.

    Parameters
    ----------
    codes : array (C, H, W)
        The input codes, inside ``descriptor.window``.
    descriptor : PoolDescriptor
    chip : ChipConfig
    """
    check_pool(descriptor, chip)
    a = np.asarray(codes)
    if a.shape != tuple(descriptor.shape):
        raise ConfigError(f"the pool's input has shape {a.shape}, the descriptor says {tuple(descriptor.shape)}")
    a = descriptor.window.check(a, chip.tile.act_bits).astype(np.int64)
    cb = descriptor.blocks(chip)
    traffic = NmTraffic(cb * int(valid_positions(descriptor).sum()), 0, cb * descriptor.oh * descriptor.ow)
    return ChipPoolRun(descriptor, chip, max_pool(a, descriptor), pool_cycles(descriptor, chip), traffic)
