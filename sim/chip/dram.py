"""The off-chip memory's timing (``docs/design.md`` §10.6): latency, bandwidth and seeded random
back-pressure, the same deterministic process as the testbench's memory model
(``tb/gateware/chip_harness.py``), so the accelerator's cycle count is exact under it.

Three xorshift32 generators advance every cycle from the command's start (their value in cycle
``t >= 1`` is ``g_t``, ``g_1 = seed ^ SALT[i]``, a zero seed taken as ``SALT[i]``): ``A`` decides
whether a request is accepted in cycle ``t`` (``A_t[15:0] >= stall``), ``B`` the extra latency of
a request accepted in cycle ``a`` (``B_a & jitter``), ``C`` whether a beat may leave (``C_t[15:0]
>= stall``). Data of a request starts ``latency + extra`` cycles after its acceptance; from then a
credit grows by the bandwidth (in 1/256 byte) every cycle and a beat leaves, at most one per
cycle, when the credit holds a beat and ``C`` allows it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError

#: Generator salts (a zero state would stay zero).
SALT = (0x2545F491, 0x9E3779B9, 0x85EBCA6B)
#: Bandwidth resolution: bytes per cycle are counted in 1/FRACTION byte.
FRACTION = 256
#: Widest latency and jitter mask the memory model takes (bits of its counters).
LATENCY_BITS = 16


def xorshift32(x: int) -> int:
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    return x


def _apply(cols: list, x: int) -> int:
    """A linear map over GF(2) (``cols[i]``: the image of bit ``i``) applied to ``x``."""
    out = 0
    i = 0
    while x:
        if x & 1:
            out ^= cols[i]
        x >>= 1
        i += 1
    return out


def _power(k: int) -> list:
    """The columns of xorshift32 applied ``k`` times (it is linear over GF(2))."""
    result = [1 << i for i in range(32)]
    base = [xorshift32(1 << i) for i in range(32)]
    while k:
        if k & 1:
            result = [_apply(base, c) for c in result]
        base = [_apply(base, c) for c in base]
        k >>= 1
    return result


def xorshift_states(first: int, count: int) -> np.ndarray:
    """``count`` consecutive states from ``first`` (uint32): jumps of ``K`` steps by the map's
    ``K``-th power, then the ``K`` states of every block side by side in numpy."""
    k = max(1, int(count ** 0.5))
    blocks = -(-count // k)
    jump = _power(k)
    starts = [first]
    for _ in range(blocks - 1):
        starts.append(_apply(jump, starts[-1]))
    out = np.empty((k, blocks), dtype=np.uint32)
    out[0] = starts
    for j in range(1, k):
        x = out[j - 1]
        x = x ^ (x << np.uint32(13))
        x = x ^ (x >> np.uint32(17))
        out[j] = x ^ (x << np.uint32(5))
    return out.T.reshape(-1)[:count]


@dataclass(frozen=True)
class DramConfig:
    """An off-chip memory.

    Parameters
    ----------
    latency : int
        Cycles from a request's acceptance to its first data (at least 1).
    bytes_per_cycle : float
        Bandwidth, a multiple of 1/256 byte, at most one beat per cycle.
    stall : float
        Probability, in every cycle, of not accepting a request and of holding a beat back.
    jitter : int
        Mask of the random extra latency (``2**k - 1``; 0: none).
    seed : int
        Seed of the three generators.
    """

    latency: int = 100
    bytes_per_cycle: float = 16.0
    stall: float = 0.0
    jitter: int = 0
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.latency, bool) or not isinstance(self.latency, int) or not 1 <= self.latency < 1 << LATENCY_BITS:
            raise ConfigError(f"off-chip latency must be an integer between 1 and {(1 << LATENCY_BITS) - 1}, "
                              f"not {self.latency!r}")
        x = self.bytes_per_cycle
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not x > 0 or x * FRACTION != int(x * FRACTION):
            raise ConfigError(f"off-chip bandwidth must be a positive multiple of 1/{FRACTION} byte per cycle, "
                              f"not {x!r}")
        if isinstance(self.stall, bool) or not isinstance(self.stall, (int, float)) or not 0.0 <= self.stall < 1.0:
            raise ConfigError(f"off-chip back-pressure must be a probability in [0, 1), not {self.stall!r}")
        j = self.jitter
        if isinstance(j, bool) or not isinstance(j, int) or j < 0 or j & (j + 1) or j >= 1 << LATENCY_BITS:
            raise ConfigError(f"latency jitter must be a mask 2**k - 1 below 2**{LATENCY_BITS}, not {j!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 1 << 32:
            raise ConfigError(f"seed must be a 32-bit unsigned integer, not {self.seed!r}")

    @property
    def credit(self) -> int:
        """Bandwidth in 1/256 byte per cycle."""
        return int(self.bytes_per_cycle * FRACTION)

    @property
    def threshold(self) -> int:
        """``stall`` in 1/65536 (the generators' 16-bit comparison)."""
        return min(0xFFFF, round(self.stall * 65536))

    @property
    def random(self) -> bool:
        return self.threshold > 0 or self.jitter > 0

    def check_beat(self, beat_bytes: int) -> None:
        if self.bytes_per_cycle > beat_bytes:
            raise ConfigError(f"off-chip bandwidth {self.bytes_per_cycle} bytes per cycle is above one "
                              f"{beat_bytes}-byte beat per cycle (the port's width)")

    def ideal(self) -> "DramConfig":
        """The same bandwidth without latency beyond one cycle, jitter or back-pressure."""
        return DramConfig(latency=1, bytes_per_cycle=self.bytes_per_cycle, seed=self.seed)

    def as_dict(self) -> dict:
        return {"latency": self.latency, "bytes_per_cycle": self.bytes_per_cycle, "stall": self.stall,
                "jitter": self.jitter, "seed": self.seed}


@dataclass
class Dram:
    """The memory's state over one command: its generators, consulted cycle by cycle."""

    config: DramConfig
    beat_bytes: int
    _seq: list = field(default_factory=lambda: [[], [], []])

    def __post_init__(self):
        self.config.check_beat(self.beat_bytes)
        s = self.config.seed
        self._state = [(s ^ salt) or salt for salt in SALT]

    def _value(self, gen: int, t: int) -> int:
        seq = self._seq[gen]
        if len(seq) < t:
            more = max(t - len(seq), len(seq), 4096)
            states = xorshift_states(self._state[gen], more + 1)
            seq.extend(states[:-1].tolist())
            self._state[gen] = int(states[-1])
        return seq[t - 1]

    def read(self, issue: int, beats: int) -> int:
        """The cycle the last of ``beats`` beats of a read presented from cycle ``issue`` arrives."""
        c = self.config
        if beats < 1:
            raise ValueError("a read moves at least one beat")
        bb = self.beat_bytes * FRACTION
        if not c.random:
            start = issue + c.latency
            return start + -(-beats * bb // c.credit) - 1
        th = c.threshold
        t = issue
        while (self._value(0, t) & 0xFFFF) < th:
            t += 1
        t += c.latency + (self._value(1, t) & c.jitter)
        credit, left = 0, beats
        while True:
            credit += c.credit
            if credit >= bb and (self._value(2, t) & 0xFFFF) >= th:
                credit -= bb
                left -= 1
                if not left:
                    return t
            t += 1
