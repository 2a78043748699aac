"""Options of the accelerator (``--chip``) shared by ``generate``, ``simulate``, ``evaluate`` and
``explore`` (``docs/usage.md`` §9), and the :class:`~dstripes.sim.chip.config.ChipConfig` they
name — one definition each."""
from __future__ import annotations

from dstripes.sim.chip.config import ChipConfig
from dstripes.sim.chip.dram import DramConfig
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError

DEFAULT = ChipConfig()
#: ``(dest, option, type, help)`` of the chip's own parameters.
_CHIP = (("nm_kib", "--nm-kib", int, f"NM capacity in KiB (default {DEFAULT.nm_kib})"),
         ("nm_read", "--nm-read", int, f"NM bricks read (and written) per cycle (default {DEFAULT.nm_read})"),
         ("sb_kib", "--sb-kib", int, f"one tile's weight buffer, both halves, in KiB (default {DEFAULT.sb_kib})"))
#: Sweep keys of ``explore`` that are the accelerator's (model only).
SWEEP_KEYS = ("nm_read",)


def add_chip_options(p, *, tiles: bool, dram: str | None = None) -> None:
    """``--chip`` and the accelerator's parameters; ``tiles`` adds ``--tiles`` (commands whose tile
    options leave it out); ``dram``: ``"simulate"`` (latency, bandwidth, back-pressure, jitter),
    ``"model"`` (latency and bandwidth; without a bandwidth the weights are on chip) or ``None``."""
    g = p.add_argument_group("accelerator (--chip: T tiles, NM, weight buffers, off-chip memory; docs/design.md §10)")
    g.add_argument("--chip", action="store_true", help="the whole accelerator instead of one tile")
    if tiles:
        g.add_argument("--tiles", dest="tiles", type=int, default=None, metavar="T",
                       help=f"tiles sharing the activation broadcast (default {DEFAULT.tiles})")
    for dest, opt, typ, text in _CHIP:
        g.add_argument(opt, dest=dest, type=typ, default=None, metavar="N", help=text)
    g.add_argument("--no-reuse", dest="reuse", action="store_false",
                   help="read every brick from NM (no copy of the previous step's bricks; docs/design.md §10.4)")
    if dram:
        g.add_argument("--dram-latency", type=int, default=None, metavar="N",
                       help="off-chip latency in cycles (default 100)")
        bw = "16, at most one beat per cycle" if dram == "simulate" else "none: every pass's weights already on chip"
        g.add_argument("--dram-bytes-per-cycle", type=float, default=None, metavar="X",
                       help=f"off-chip bandwidth, bytes per cycle (default {bw})")
    if dram == "simulate":
        g.add_argument("--dram-stall", type=float, default=0.0, metavar="P",
                       help="probability of off-chip back-pressure in a cycle (seeded by --seed; default 0)")
        g.add_argument("--dram-jitter", type=int, default=0, metavar="M",
                       help="mask 2**k-1 of a random extra off-chip latency per request (default 0)")


def chip_given(args) -> list:
    """The accelerator options the user gave (to refuse them without ``--chip``)."""
    names = [opt for dest, opt, _, _ in _CHIP if getattr(args, dest, None) is not None]
    if getattr(args, "reuse", True) is False:
        names.append("--no-reuse")
    for dest, opt in (("dram_latency", "--dram-latency"), ("dram_bytes_per_cycle", "--dram-bytes-per-cycle")):
        if getattr(args, dest, None) is not None:
            names.append(opt)
    for dest, opt in (("dram_stall", "--dram-stall"), ("dram_jitter", "--dram-jitter")):
        if getattr(args, dest, 0):
            names.append(opt)
    return names


def check_chip_flag(args, *, tiles: bool = False) -> None:
    """Accelerator options without ``--chip`` are an error naming the first (``tiles``: ``--tiles``
    is one of them)."""
    given = (["--tiles"] if tiles and getattr(args, "tiles", None) is not None else []) + chip_given(args)
    if not getattr(args, "chip", False) and given:
        raise ConfigError(f"{given[0]} applies only with --chip")


def chip_config(tile: TileConfig, scheme: str, args) -> ChipConfig:
    """The accelerator of ``scheme`` tiles configured ``tile`` and the options (validated)."""
    kw = {dest: getattr(args, dest) for dest, _, _, _ in _CHIP if getattr(args, dest, None) is not None}
    return ChipConfig(scheme=scheme, tile=tile, reuse=getattr(args, "reuse", True), **kw)


def dram_config(args, *, default_bandwidth: float | None = 16.0) -> DramConfig | None:
    """The off-chip memory of the options (``None`` when no bandwidth is given and there is no
    default: weights on chip)."""
    bw = args.dram_bytes_per_cycle if args.dram_bytes_per_cycle is not None else default_bandwidth
    if bw is None:
        if args.dram_latency is not None:
            raise ConfigError("--dram-latency needs --dram-bytes-per-cycle (without it the weights are on chip)")
        return None
    return DramConfig(latency=100 if args.dram_latency is None else args.dram_latency, bytes_per_cycle=bw,
                      stall=getattr(args, "dram_stall", 0.0), jitter=getattr(args, "dram_jitter", 0),
                      seed=getattr(args, "seed", 0) or 0)


def parse_chip_sweep(items) -> dict:
    """``nm_read=1,2,4`` items of ``explore --sweep`` for the accelerator: ``{key: [values]}``."""
    out = {}
    for item in items:
        key, eq, vals = str(item).partition("=")
        if not eq or key not in SWEEP_KEYS:
            raise ConfigError(f"accelerator sweep items are {'|'.join(SWEEP_KEYS)}=V1,V2,..., not {item!r}")
        if key in out:
            raise ConfigError(f"sweep key {key} is given twice")
        try:
            values = [int(v) for v in vals.split(",") if v.strip()]
        except ValueError:
            raise ConfigError(f"sweep values of {key} must be integers, not {vals!r}") from None
        if not values:
            raise ConfigError(f"sweep key {key} has no values")
        for v in values:
            ChipConfig(**{key: v})                      # every value valid before any work
        out[key] = sorted(set(values))
    return out
