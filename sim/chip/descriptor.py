"""The layer descriptor the host writes once per layer (``docs/design.md`` §10.3): its fields,
their widths and ranges, every check with one message, and its packing into the ``LAYER``
command's payload (LSB first, in :func:`descriptor_fields` order)."""
from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import ConfigError
from ..fixed import Window
from ..layer import Layer
from ..precision import MODES
from .config import ChipConfig

#: Fixed-width fields: (name, bits, lowest value). Window fields and NM addresses depend on the
#: chip (:func:`descriptor_fields`).
_FIXED = (("c", 16, 1), ("h", 12, 1), ("w", 12, 1), ("k", 16, 1), ("kh", 4, 1), ("kw", 4, 1),
          ("sy", 3, 1), ("sx", 3, 1), ("py", 4, 0), ("px", 4, 0), ("dy", 4, 1), ("dx", 4, 1),
          ("groups", 16, 1))
DRAM_ADDR_BITS = 32
SHIFT_BITS = 7
#: Width of ``res_shift``: the residual's code is shifted left by ``0 .. 2**RES_SHIFT_BITS - 1``
#: (and at most ``acc_bits - act_bits``) before it is added to the accumulator.
RES_SHIFT_BITS = 5


def index_bits(n: int) -> int:
    """Bits holding ``0 .. n``."""
    return max(1, n.bit_length())


def descriptor_fields(chip: ChipConfig) -> tuple:
    """``(name, bits)`` of every descriptor field, LSB first."""
    ib = index_bits(chip.tile.act_bits - 1)
    nm = chip.nm_addr_bits
    return tuple((n, b) for n, b, _ in _FIXED) + (
        ("msb", ib), ("lsb", ib), ("signed", 1), ("mode", 2), ("ceil", 1),
        ("out_msb", ib), ("out_lsb", ib), ("out_signed", 1), ("shift", SHIFT_BITS), ("bias", 1),
        ("in_base", nm), ("out_base", nm), ("w_base", DRAM_ADDR_BITS), ("w0_loaded", 1), ("prefetch", 1),
        ("residual", 1), ("res_msb", ib), ("res_lsb", ib), ("res_signed", 1), ("res_shift", RES_SHIFT_BITS),
        ("res_base", nm), ("clamp", 1), ("clamp_code", chip.tile.act_bits), ("cg", 16), ("kg", 16))


@dataclass(frozen=True)
class LayerDescriptor:
    """One convolution as the accelerator runs it.

    Parameters
    ----------
    layer : Layer
        A conv layer (not fully-connected).
    window, out_window : Window
        The input codes' window and the output codes' window.
    shift : int
        Requantisation shift (``docs/design.md`` §10.5).
    bias : bool
        A bias per filter is loaded with the weights.
    mode : str
        Precision mode (``static``, ``leading``, ``both``).
    in_base, out_base : int
        NM brick addresses of the input and output tensors.
    w_base : int
        DRAM beat address of the weights.
    w0_loaded, prefetch : bool
        Pass 0's weights are already in SB half 0; only load them.
    residual : Window, optional
        The window of a second tensor's codes (same ``(K, Ho, Wo)`` shape and brick layout as the
        output) added before requantisation: ``acc + bias + (r << res_shift)`` (§10.5).
    res_shift : int
        ``0 .. min(2**RES_SHIFT_BITS - 1, acc_bits - act_bits)``.
    res_base : int, optional
        NM brick address of the residual tensor; by default right after the output. Either
        exactly ``out_base`` (in place: each brick is read before it is overwritten) or apart
        from the output.
    clamp : int, optional
        An upper bound on the output codes inside the output window (ReLU6: the code of 6):
        ``code = min(requantised, clamp)``; a code of the window (a multiple of its ``2**lsb``).
    """

    layer: Layer
    window: Window
    out_window: Window
    shift: int = 0
    bias: bool = False
    mode: str = "leading"
    in_base: int = 0
    out_base: int | None = None
    w_base: int = 0
    w0_loaded: bool = False
    prefetch: bool = False
    residual: Window | None = None
    res_shift: int = 0
    res_base: int | None = None
    clamp: int | None = None

    def values(self, chip: ChipConfig) -> dict:
        """Every field's value (``out_base`` resolved)."""
        l, win, out = self.layer, self.window, self.out_window
        v = {"c": l.c, "h": l.h, "w": l.w, "k": l.k, "kh": l.kh, "kw": l.kw, "sy": l.sy, "sx": l.sx,
             "py": l.py, "px": l.px, "dy": l.dy, "dx": l.dx, "groups": l.conv_groups, "cg": l.cg, "kg": l.kg,
             "msb": win.msb, "lsb": win.lsb, "signed": int(win.signed), "mode": MODES.index(self.mode),
             "ceil": 0,
             "out_msb": out.msb, "out_lsb": out.lsb, "out_signed": int(out.signed), "shift": self.shift,
             "bias": int(self.bias), "in_base": self.in_base, "out_base": self.resolved_out_base(chip),
             "w_base": self.w_base, "w0_loaded": int(self.w0_loaded), "prefetch": int(self.prefetch)}
        r = self.residual
        v.update({"residual": int(r is not None), "res_msb": r.msb if r else 0, "res_lsb": r.lsb if r else 0,
                  "res_signed": int(r.signed) if r else 0, "res_shift": self.res_shift,
                  "res_base": self.resolved_res_base(chip) if r else 0})
        c = self.clamp
        v.update({"clamp": int(c is not None), "clamp_code": (c & ((1 << chip.tile.act_bits) - 1)) if c is not None else 0})
        return v

    def resolved_out_base(self, chip: ChipConfig) -> int:
        """``out_base``, by default right after the input tensor."""
        if self.out_base is not None:
            return self.out_base
        l = self.layer
        return self.in_base + -(-l.c // chip.tile.lanes) * l.h * l.w

    def out_bricks(self, chip: ChipConfig) -> int:
        """Bricks of the output tensor (and of the residual)."""
        l = self.layer
        return -(-l.k // chip.tile.lanes) * l.oh * l.ow

    def resolved_res_base(self, chip: ChipConfig) -> int | None:
        """``res_base``, by default right after the output tensor (``None`` without a residual)."""
        if self.residual is None:
            return None
        if self.res_base is not None:
            return self.res_base
        return self.resolved_out_base(chip) + self.out_bricks(chip)

    def pack(self, chip: ChipConfig) -> int:
        """The descriptor as the ``LAYER`` payload integer (LSB first)."""
        v = self.values(chip)
        word, pos = 0, 0
        for name, bits in descriptor_fields(chip):
            word |= (int(v[name]) & ((1 << bits) - 1)) << pos
            pos += bits
        return word


def check_descriptor(d: LayerDescriptor, chip: ChipConfig) -> None:
    """Every rule of a descriptor on ``chip`` (``docs/design.md`` §10.3), one message each: the
    layer, windows, shift and addresses in range, both tensors inside NM and apart, one pass's
    weights inside an SB half, the bias width."""
    if not isinstance(chip, ChipConfig):
        raise TypeError(f"chip must be a ChipConfig, not {chip!r}")
    l, t = d.layer, chip.tile
    if not isinstance(l, Layer):
        raise TypeError(f"layer must be a Layer, not {l!r}")
    if l.fc:
        raise ConfigError("the accelerator runs convolutions; a fully-connected layer is dispatched "
                          "round-robin in the model only")
    for name, bits, lo in _FIXED:
        value = getattr(l, {"groups": "conv_groups"}.get(name, name))
        if not lo <= value < (1 << bits):
            raise ConfigError(f"descriptor field {name} = {value} is out of range ({lo}..{(1 << bits) - 1}, "
                              f"{bits} bits)")
    cg = l.cg
    if l.conv_groups > 1 and cg % t.lanes and t.lanes % cg:
        raise ConfigError(f"groups {l.conv_groups}: {cg} channels per group is neither a multiple nor a "
                          f"divisor of the {t.lanes} lanes of a brick (the sequencer reads whole or part bricks)")
    for what, w in (("input", d.window), ("output", d.out_window)):
        if not isinstance(w, Window):
            raise TypeError(f"{what} window must be a Window, not {w!r}")
        if w.msb + 1 > t.act_bits:
            raise ConfigError(f"the {what} window [{w.msb}:{w.lsb}] is wider than the {t.act_bits}-bit "
                              f"activations")
    if d.mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {d.mode!r}")
    if isinstance(d.shift, bool) or not isinstance(d.shift, int) or d.shift < 0:
        raise ConfigError(f"shift must be a non-negative integer, not {d.shift!r}")
    if d.shift + d.out_window.lsb > t.acc_bits:
        raise ConfigError(f"shift {d.shift} + output lsb {d.out_window.lsb} exceeds the {t.acc_bits}-bit "
                          f"accumulators")
    if d.shift >= 1 << SHIFT_BITS:
        raise ConfigError(f"descriptor field shift = {d.shift} is out of range (0..{(1 << SHIFT_BITS) - 1})")
    if d.bias and chip.bias_per_beat < 1:
        raise ConfigError(f"a bias needs {t.acc_bits}-bit values in {chip.brick_bits}-bit beats "
                          f"(lanes x act_bits >= acc_bits)")
    check_residual(d, chip)
    check_clamp(d.clamp, d.out_window)
    for name in ("in_base", "out_base", "w_base"):
        value = d.values(chip)[name] if name == "out_base" else getattr(d, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{name} must be a non-negative address, not {value!r}")
    if d.w_base >= 1 << DRAM_ADDR_BITS:
        raise ConfigError(f"w_base {d.w_base} is beyond the {DRAM_ADDR_BITS}-bit off-chip addresses")
    cb_in = -(-l.c // t.lanes)
    kb_out = -(-l.k // t.lanes)
    spans = {"input": (d.in_base, cb_in * l.h * l.w), "output": (d.resolved_out_base(chip), kb_out * l.oh * l.ow)}
    for what, (base, size) in spans.items():
        if base + size > chip.nm_words:
            raise ConfigError(f"the layer's {what} ({size:,} bricks from address {base:,}) does not fit NM "
                              f"({chip.nm_words:,} bricks, {chip.nm_kib:,} KiB) without the off-chip path")
    (a0, n0), (a1, n1) = spans.values()
    if a0 < a1 + n1 and a1 < a0 + n0:
        raise ConfigError(f"the input (NM {a0:,}..{a0 + n0 - 1:,}) and output (NM {a1:,}..{a1 + n1 - 1:,}) "
                          f"tensors overlap")
    if d.residual is not None:
        a2, n2 = d.resolved_res_base(chip), n1
        if a2 + n2 > chip.nm_words:
            raise ConfigError(f"the layer's residual ({n2:,} bricks from address {a2:,}) does not fit NM "
                              f"({chip.nm_words:,} bricks, {chip.nm_kib:,} KiB)")
        if a2 != a1 and a2 < a1 + n1 and a1 < a2 + n2:
            raise ConfigError(f"the residual (NM {a2:,}..{a2 + n2 - 1:,}) overlaps the output (NM {a1:,}.."
                              f"{a1 + n1 - 1:,}) without being exactly in its place")
    steps = l.kh * l.kw * -(-cg // t.lanes)
    if steps > chip.sb_words:
        raise ConfigError(f"one pass's {steps:,} weight bricks per tile do not fit an SB half "
                          f"({chip.sb_words:,} bricks of {sb_brick_kib(chip):.2f} KiB, sb_kib {chip.sb_kib}) "
                          f"without the off-chip path")


def check_residual(d: LayerDescriptor, chip: ChipConfig) -> None:
    """The residual's own rules (§10.3): its window, ``res_shift`` in range, ``res_base`` an address;
    no ``res_shift`` or ``res_base`` without a residual."""
    t = chip.tile
    r = d.residual
    if r is None:
        if d.res_shift or d.res_base is not None:
            raise ConfigError("res_shift and res_base need a residual window")
        return
    if not isinstance(r, Window):
        raise TypeError(f"residual window must be a Window, not {r!r}")
    if r.msb + 1 > t.act_bits:
        raise ConfigError(f"the residual window [{r.msb}:{r.lsb}] is wider than the {t.act_bits}-bit activations")
    top = min((1 << RES_SHIFT_BITS) - 1, t.acc_bits - t.act_bits)
    if isinstance(d.res_shift, bool) or not isinstance(d.res_shift, int) or not 0 <= d.res_shift <= top:
        raise ConfigError(f"res_shift {d.res_shift!r} is out of range (0..{top}: {RES_SHIFT_BITS} bits, and the "
                          f"shifted {t.act_bits}-bit code must fit the {t.acc_bits}-bit accumulators)")
    if d.res_base is not None and (isinstance(d.res_base, bool) or not isinstance(d.res_base, int) or d.res_base < 0):
        raise ConfigError(f"res_base must be a non-negative address, not {d.res_base!r}")


def check_clamp(clamp, window: Window) -> None:
    """A clamp (§10.3) is ``None`` or a code of the output ``window``: an integer in
    ``[window.lo, window.hi]``, a multiple of ``2**window.lsb``.

    Parameters
    ----------
    clamp : int or None
    window : Window
    """
    if clamp is None:
        return
    if isinstance(clamp, bool) or not isinstance(clamp, int):
        raise ConfigError(f"clamp must be an integer code, not {clamp!r}")
    if not window.lo <= clamp <= window.hi or clamp % (1 << window.lsb):
        raise ConfigError(f"clamp {clamp} is not a code of the output window [{window.msb}:{window.lsb}]"
                          f"{' signed' if window.signed else ''} ({window.lo}..{window.hi} in steps of "
                          f"{1 << window.lsb})")


def sb_brick_kib(chip: ChipConfig) -> float:
    return chip.weight_brick_bits / 8192


def descriptor_width(chip: ChipConfig) -> int:
    return sum(b for _, b in descriptor_fields(chip))
