"""Layer shapes: convolution (incl. grouped / depthwise / dilated) and fully-connected.

A :class:`Layer` knows the input shape ``(C, H, W)`` it is applied to; ``kh`` runs along ``H``
and ``kw`` along ``W``. Output windows are enumerated row-major (``oy`` outer, ``ox`` inner).

Window ``(oy, ox)`` reads, at kernel position ``(ky, kx)``, the (zero-padded) input position
``(oy*sy + ky*dy - py, ox*sx + kx*dx - px)``: dilation ``(dy, dx)`` (PyTorch's ``dilation``,
DeepLab's atrous rate) only spreads the kernel's taps, so the kernel covers
``dy*(kh-1) + 1`` rows and ``dx*(kw-1) + 1`` columns; the steps, the pallets' order and the
cycle rule are those of an undilated layer.

Grouped convolution (PyTorch's ``groups``; here ``conv_groups``, never to be confused with the
tile's *precision groups*) is mapped as ``conv_groups`` independent convolutions of
``C/conv_groups`` input channels and ``K/conv_groups`` filters, run one after the other; each
convolution group's channels form their own channel blocks (the last one padded with zero lanes)
and its filters their own filter-sets. A depthwise layer (``conv_groups == C``) therefore uses
one lane of each brick, on every scheme.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
import math

from .checks import check_integer
from .errors import ConfigError


def _pair(text: str, name: str) -> tuple[int, int]:
    parts = str(text).lower().split("x")
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"layer {name} must be an integer or AxB, not {text!r}") from None
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2:
        raise ConfigError(f"layer {name} must be an integer or AxB, not {text!r}")
    return vals[0], vals[1]


@dataclass(frozen=True)
class Layer:
    """A conv or FC layer applied to an input of shape ``(C, H, W)``.

    Parameters
    ----------
    c, h, w : int
        Input channels and spatial size.
    k : int
        Output channels (filters).
    kh, kw : int
        Kernel height (along ``H``) and width (along ``W``).
    sy, sx : int
        Stride along ``H`` and ``W``.
    py, px : int
        Zero padding on each side along ``H`` and ``W``.
    conv_groups : int
        Convolution groups, PyTorch's ``groups`` (``C`` and ``K`` must be divisible by it); the
        layer spec calls it ``groups=``.
    fc : bool
        Fully-connected layer (``h == w == kh == kw == 1``), dispatched round-robin.
    name : str
        Label used in reports.
    dy, dx : int
        Dilation along ``H`` and ``W`` (``1``: none). Last, so that positional construction
        of undilated layers is unchanged.
    """

    c: int
    h: int
    w: int
    k: int
    kh: int = 1
    kw: int = 1
    sy: int = 1
    sx: int = 1
    py: int = 0
    px: int = 0
    conv_groups: int = 1
    fc: bool = False
    name: str = ""
    dy: int = 1
    dx: int = 1

    def __post_init__(self):
        for f in ("c", "h", "w", "k", "kh", "kw", "sy", "sx", "conv_groups", "dy", "dx"):
            check_integer(f"layer {f}", getattr(self, f))
        for f in ("py", "px"):
            check_integer(f"layer padding {f}", getattr(self, f), 0)
        if self.c % self.conv_groups:
            raise ConfigError(f"input channels {self.c} are not divisible by groups {self.conv_groups}")
        if self.k % self.conv_groups:
            raise ConfigError(f"filters {self.k} are not divisible by groups {self.conv_groups}")
        for name, k, d, extent, size in (("height", self.kh, self.dy, self.eh, self.h + 2 * self.py),
                                         ("width", self.kw, self.dx, self.ew, self.w + 2 * self.px)):
            if extent > size:
                what = f"kernel {name} {k}" + (f" dilated by {d} (extent {extent})" if d > 1 else "")
                raise ConfigError(f"{what} is larger than the padded input {name} {size}")
        if self.fc and (self.h, self.w, self.kh, self.kw, self.conv_groups, self.dy, self.dx) != (1,) * 7:
            raise ConfigError(f"a fully-connected layer takes a flat input of C values, not {self.c}x{self.h}x{self.w}")

    @classmethod
    def parse(cls, spec: str, in_shape: tuple[int, int, int], name: str = "") -> "Layer":
        """Parse ``k=K,kh=KH,kw=KW,stride=S,pad=P[,dilation=D][,groups=G]`` or ``k=K,fc`` for
        an input ``(C,H,W)``.

        ``stride``, ``pad`` and ``dilation`` accept ``N`` or ``NYxNX``; ``k=K,fc`` (or ``fc=1``,
        ``true``, ``yes``) is a fully-connected layer, which takes no other key.
        """
        vals = cls._spec_values(spec)
        if "k" not in vals:
            raise ConfigError(f"layer spec {spec!r} has no k=FILTERS")

        def num(key, default):
            if key not in vals:
                return default
            try:
                return int(vals[key])
            except ValueError:
                raise ConfigError(f"layer {key} must be an integer, not {vals[key]!r}") from None

        c, h, w = in_shape
        if cls.spec_is_fc(spec):
            return cls(c * h * w, 1, 1, num("k", 0), fc=True, name=name)
        sy, sx = _pair(vals.get("stride", "1"), "stride")
        py, px = _pair(vals.get("pad", "0"), "pad")
        dy, dx = _pair(vals.get("dilation", "1"), "dilation")
        k = num("k", 0)
        kh = num("kh", num("kw", 1))  # a square kernel when only one side is given
        kw = num("kw", kh)
        return cls(c, h, w, k, kh, kw, sy, sx, py, px, num("groups", 1), name=name, dy=dy, dx=dx)

    SPEC_KEYS = ("k", "kh", "kw", "stride", "pad", "dilation", "groups", "fc")
    #: Spellings of ``fc=`` (case-insensitive): anything else is an error, not a guess.
    FC_VALUES = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}

    @classmethod
    def _spec_values(cls, spec: str) -> dict:
        """``key=value`` pairs of a layer spec (keys case-insensitive; bare ``fc`` means ``fc=1``)."""
        vals: dict[str, str] = {}
        for item in str(spec).split(","):
            item = item.strip()
            if not item:
                continue
            key, eq, val = item.partition("=")
            key = key.strip().lower()
            if key not in cls.SPEC_KEYS:
                raise ConfigError(f"unknown layer key {key!r} in {spec!r} "
                                  f"(expected {', '.join(cls.SPEC_KEYS)})")
            if key == "fc" and not eq:
                val = "1"
            elif not eq:
                raise ConfigError(f"layer key {key!r} needs a value in {spec!r}")
            if key in vals:
                raise ConfigError(f"layer key {key!r} is given twice in {spec!r}")
            vals[key] = val.strip()
        return vals

    @classmethod
    def spec_is_fc(cls, spec: str) -> bool:
        """Whether ``spec`` is a fully-connected layer; ``fc`` with a value that is not a clear
        boolean, or with a key of a convolution, is an error naming it."""
        vals = cls._spec_values(spec)
        text = vals.get("fc", "0")
        fc = cls.FC_VALUES.get(text.lower())
        if fc is None:
            raise ConfigError(f"layer key fc must be 1/true/yes or 0/false/no, not {text!r} in {spec!r}")
        if fc:
            extra = [k for k in vals if k not in ("k", "fc")]
            if extra:
                raise ConfigError(f"layer key {extra[0]!r} does not apply to a fully-connected layer "
                                  f"(fc) in {spec!r}")
        return fc

    @property
    def eh(self) -> int:
        """Rows the (dilated) kernel covers, ``dy*(kh-1) + 1``."""
        return self.dy * (self.kh - 1) + 1

    @property
    def ew(self) -> int:
        """Columns the (dilated) kernel covers, ``dx*(kw-1) + 1``."""
        return self.dx * (self.kw - 1) + 1

    @property
    def dilated(self) -> bool:
        return (self.dy, self.dx) != (1, 1)

    @property
    def oh(self) -> int:
        """Output height."""
        return (self.h + 2 * self.py - self.eh) // self.sy + 1

    @property
    def ow(self) -> int:
        """Output width."""
        return (self.w + 2 * self.px - self.ew) // self.sx + 1

    @property
    def windows(self) -> int:
        """Output windows ``oh * ow``."""
        return self.oh * self.ow

    @property
    def cg(self) -> int:
        """Input channels per group."""
        return self.c // self.conv_groups

    @property
    def kg(self) -> int:
        """Filters per group."""
        return self.k // self.conv_groups

    @property
    def reduction(self) -> int:
        """Products summed into one result ``kh * kw * C/groups``."""
        return self.kh * self.kw * self.cg

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the layer."""
        return self.windows * self.k * self.reduction

    def channel_blocks(self, lanes: int) -> int:
        """Channel blocks per group ``ceil((C/groups) / L)``."""
        return math.ceil(self.cg / lanes)

    def steps(self, lanes: int) -> int:
        """Steps (pallets) per window-set and group ``kh * kw * ceil((C/groups)/L)``."""
        return self.kh * self.kw * self.channel_blocks(lanes)

    def window_sets(self, columns: int) -> int:
        """Window-sets ``ceil(windows / Nc)``."""
        return math.ceil(self.windows / columns)

    def filter_sets(self, filters_per_set: int) -> int:
        """Filter-sets per group ``ceil((K/groups) / (Nr*T))``."""
        return math.ceil(self.kg / filters_per_set)

    def describe(self) -> str:
        if self.fc:
            return f"fc {self.c}->{self.k}"
        g = f" g{self.conv_groups}" if self.conv_groups > 1 else ""
        d = f" d{self.dy}x{self.dx}" if self.dilated else ""
        return (f"conv {self.c}x{self.h}x{self.w} -> {self.k}x{self.oh}x{self.ow} "
                f"k{self.kh}x{self.kw} s{self.sy}x{self.sx} p{self.py}x{self.px}{d}{g}")

    def with_name(self, name: str) -> "Layer":
        return replace(self, name=name)
