"""Formal proofs of the bit-serial tile's blocks with yosys ``sat`` (``docs/formal.md``).

* :mod:`.detector` — the precision detector against a second description, every input;
* :mod:`.dispatch`, :mod:`.sip`, :mod:`.planes` — the serial datapath split at the plane stream:
  the dispatcher's planes rebuild every step (bounded), the SIP array sums what the planes carry
  (induction), and two lemmas join the two (every input);
* :mod:`.serial` — dispatcher + SIPs against exact dot products in one harness, bounded (A = W = 2);
* :mod:`.streams` — the handshakes of the input register, result buffer, controller and the
  tile's result stream, by induction or bounded;
* :mod:`.engine` — emission, the yosys runs and their verdicts;
* :mod:`.common` — what the harnesses share (reductions, the dispatcher's free environment, the
  reading of counterexamples).

:func:`harnesses` picks the configurations, :func:`run` proves them (``dstripes prove``).
"""
from __future__ import annotations

from dataclasses import replace

from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError

from .detector import DetectorProof
from .dispatch import DispatchProof
from .engine import COUNTEREXAMPLE, INCONCLUSIVE, PROVEN, Outcome, prove
from .serial import SerialProof
from .sip import LaneProof, LinearityProof, SipProof
from .streams import PARTS, StreamsProof

BLOCKS = ("detector", "serial", "streams")

#: The published detector (16 lanes x 16 columns, 16-bit, G = 1).
PUBLISHED = TileConfig()

#: Small configurations: every block in seconds to minutes (CI, ``--small``).
SMALL_DETECTOR = (
    TileConfig(lanes=4, columns=4, act_bits=8, group=1, trim="both"),
    TileConfig(lanes=4, columns=4, act_bits=8, group=2, trim="leading"),
    TileConfig(lanes=2, columns=4, act_bits=6, group=4, trim="both"),
)
#: The serial datapath proven in parts (dispatcher, SIP array, lane lemma; docs/formal.md §2):
#: G = 1 with both trims and G = 2 with leading, 4-bit activations and weights.
SERIAL_PARTS = (
    TileConfig(lanes=2, columns=1, rows=1, act_bits=4, weight_bits=4, group=1, trim="both", max_reduction=4),
    TileConfig(lanes=2, columns=2, rows=1, act_bits=4, weight_bits=4, group=2, trim="leading", max_reduction=4),
)
#: The SIP array (``serial.sip``, ``serial.linearity``) over the whole range the issue asks
#: for — L = 2-4, A = W = 4-6, G = 1 and 2 (Nc = 2G) — seconds each; the lane lemma per A = W.
SERIAL_SIPS = tuple(
    TileConfig(lanes=L, columns=2 * G, rows=1, act_bits=A, weight_bits=A, group=G, trim="leading",
               max_reduction=4)
    for L in (2, 3, 4) for A in (4, 5, 6) for G in (1, 2))
#: The end-to-end serial proof (one harness, exact dot products by multipliers): a
#: multiplier-equivalence problem that yosys' MiniSAT solves at A = W = 2 but not in minutes
#: once A = W = 3 (docs/formal.md §2, "Limits"). Its sizes are fixed: tile options do not apply.
SERIAL = (
    TileConfig(lanes=2, columns=1, rows=1, act_bits=2, weight_bits=2, group=1, trim="both", max_reduction=4),
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
              depth: int | None = None, end_to_end: bool = True) -> list:
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
    end_to_end : bool
        Add the end-to-end serial proof at its fixed small size (:data:`SERIAL`) to the serial
        datapath's parts.
    """
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
        configs = list(dict.fromkeys(_over(c, given) for c in SERIAL_PARTS))
        out += [DispatchProof(c, depth=depth) for c in configs]
        out.append(DispatchProof(configs[0], detect=False, depth=depth))
        sips = list(dict.fromkeys(configs + [_over(c, given) for c in SERIAL_SIPS]))
        out += [SipProof(c, depth=depth) for c in sips]
        # the lemmas depend on (L,) A and W only
        out += [LinearityProof(c) for c in {(c.lanes, c.act_bits, c.weight_bits): c for c in sips}.values()]
        out += [LaneProof(c) for c in {(c.act_bits, c.weight_bits): c for c in sips}.values()]
        if end_to_end:
            out += [SerialProof(c, depth=depth) for c in SERIAL]
            out.append(SerialProof(SERIAL[0], detect=False, depth=depth))
    if "streams" in blocks:
        c = _over(STREAMS, given)
        out += [StreamsProof(c, part, depth=depth) for part in PARTS]
    return out


def run(blocks=BLOCKS, *, given=None, small=False, depth=None, end_to_end=True, **kw) -> list[Outcome]:
    """Prove ``blocks`` (see :func:`harnesses`); ``kw`` as :func:`engine.prove`."""
    return prove(harnesses(blocks, given=given, small=small, depth=depth, end_to_end=end_to_end), **kw)


__all__ = ["BLOCKS", "SERIAL", "SERIAL_PARTS", "SERIAL_SIPS", "COUNTEREXAMPLE", "INCONCLUSIVE", "PROVEN", "Outcome", "harnesses", "prove", "run"]
