"""Formal proofs of the bit-serial tile's blocks with yosys ``sat`` (``docs/formal.md``).

* :mod:`.detector` — the precision detector against a second description, every input;
* :mod:`.serial` — dispatcher + SIPs against exact dot products, bounded;
* :mod:`.streams` — the handshakes of the input register, result buffer, controller and the
  tile's result stream, by induction or bounded;
* :mod:`.engine` — emission, the yosys runs and their verdicts.

:func:`harnesses` picks the configurations, :func:`run` proves them (``dstripes prove``).
"""
from __future__ import annotations

from dataclasses import replace

from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError

from .engine import COUNTEREXAMPLE, INCONCLUSIVE, PROVEN, Outcome, prove

BLOCKS = ("detector", "serial", "streams")

#: The published detector (16 lanes x 16 columns, 16-bit, G = 1).
PUBLISHED = TileConfig()

#: Small configurations: every block in seconds to minutes (CI, ``--small``).
SMALL_DETECTOR = (
    TileConfig(lanes=4, columns=4, act_bits=8, group=1, trim="both"),
    TileConfig(lanes=4, columns=4, act_bits=8, group=2, trim="leading"),
    TileConfig(lanes=2, columns=4, act_bits=6, group=4, trim="both"),
)
#: The serial datapath's configurations. 2-bit activations and weights: the bounded proof
#: equates shift-and-add over bit planes with multiplications, which yosys' MiniSAT solves in
#: tens of seconds here but not in minutes once A = W = 3 (docs/formal.md, "Limits").
SERIAL = (
    TileConfig(lanes=2, columns=1, rows=1, act_bits=2, weight_bits=2, group=1, trim="both", max_reduction=4),
    TileConfig(lanes=2, columns=2, rows=1, act_bits=2, weight_bits=2, group=2, trim="leading", max_reduction=4),
)
STREAMS = TileConfig(lanes=2, columns=2, rows=1, act_bits=4, weight_bits=4, group=1, trim="both",
                     max_reduction=8)


def _over(config: TileConfig, given: dict) -> TileConfig:
    try:
        return replace(config, **given)
    except ConfigError as e:
        raise ConfigError(f"{e} (in {config.lanes}x{config.columns} {config.act_bits}-bit default "
                          f"configuration with the given options)") from None


def harnesses(blocks=BLOCKS, *, given: dict | None = None, small: bool = False,
              depth: int | None = None) -> list:
    """The harnesses that prove ``blocks``.

    Parameters
    ----------
    blocks : iterable of str
        Among :data:`BLOCKS`.
    given : dict, optional
        :class:`TileConfig` fields that replace those of every default configuration (the tile
        options of ``dstripes prove``).
    small : bool
        The detector at the small configurations instead of the published one.
    depth : int, optional
        Bound of every sequential property (default: per property).
    """
    from .detector import DetectorProof
    from .serial import SerialProof
    from .streams import PARTS, StreamsProof

    given = dict(given or {})
    out = []
    for b in blocks:
        if b not in BLOCKS:
            raise ConfigError(f"unknown block {b!r} (one of {', '.join(BLOCKS)})")
    if depth is not None and (not isinstance(depth, int) or depth < 1):
        raise ConfigError(f"depth must be a positive integer, not {depth!r}")
    if "detector" in blocks:
        for c in ([_over(c, given) for c in SMALL_DETECTOR] if small else [_over(PUBLISHED, given)]):
            out.append(DetectorProof(lanes=c.lanes, columns=c.columns, act_bits=c.act_bits, group=c.group,
                                     trailing=c.trim == "both"))
    if "serial" in blocks:
        configs = list(dict.fromkeys(_over(c, given) for c in SERIAL))
        out += [SerialProof(c, depth=depth) for c in configs]
        out.append(SerialProof(configs[0], detect=False, depth=depth))
    if "streams" in blocks:
        c = _over(STREAMS, given)
        out += [StreamsProof(c, part, depth=depth) for part in PARTS]
    return out


def run(blocks=BLOCKS, *, given=None, small=False, depth=None, **kw) -> list[Outcome]:
    """Prove ``blocks`` (see :func:`harnesses`); ``kw`` as :func:`engine.prove`."""
    return prove(harnesses(blocks, given=given, small=small, depth=depth), **kw)


__all__ = ["BLOCKS", "COUNTEREXAMPLE", "INCONCLUSIVE", "PROVEN", "Outcome", "harnesses", "prove", "run"]
