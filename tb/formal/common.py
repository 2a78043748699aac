"""What the proof harnesses share: reductions that build their properties, the free environment
of the serial datapath, and the reading of yosys' counterexamples.

* :func:`all_of` / :func:`any_of` — the AND / OR of many one-bit values (a property is usually
  "every lane, every group");
* :func:`env_ports` / :func:`environment` — the dispatcher's inputs left free for the solver, and
  the assumptions that keep them meaningful (a valid window held for the whole trace, codes
  inside it, one signedness and mode per property), for :mod:`.dispatch` and :mod:`.serial`;
* :func:`field` / :func:`signed_value` / :data:`MODE_NAMES` — a counterexample's values, read
  from the binary strings yosys prints (:func:`.engine.parse_model`).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Mux, Signal
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out

from dstripes.hw.params import MODE_CODES, pallet_layout, weight_layout
from dstripes.sim.config import TileConfig

#: Names of the ``mode`` codes in a counterexample (3 is reserved and behaves as leading).
MODE_NAMES = {0: "static", 1: "leading", 2: "both", 3: "reserved (3)"}


def all_of(bits) -> object:
    """The AND of ``bits`` (1 when there are none)."""
    out = 1
    for b in bits:
        out = out & b
    return out


def any_of(bits) -> object:
    """The OR of ``bits`` (0 when there are none)."""
    out = 0
    for b in bits:
        out = out | b
    return out


def env_ports(config: TileConfig) -> dict:
    """Signature members of a harness around the dispatcher of ``config``'s tile: its inputs
    (free) and the assumption outputs ``env``, ``is_signed`` / ``is_unsigned`` and
    ``mode_<name>`` that :func:`environment` drives."""
    c = config
    ports = {
        "act": In(stream.Signature(pallet_layout(c.lanes, c.columns, c.act_bits))),
        "weight": In(stream.Signature(weight_layout(c.lanes, c.rows, c.weight_bits))),
        "msb": In(range(c.act_bits)), "lsb": In(range(c.act_bits)), "signed": In(1), "mode": In(2),
        "act_enable": In(1), "weight_enable": In(1),
        "env": Out(1), "is_signed": Out(1), "is_unsigned": Out(1),
    }
    ports.update({f"mode_{name}": Out(1) for name in MODE_CODES})
    return ports


def environment(m, harness, config: TileConfig) -> None:
    """Drive the assumptions of :func:`env_ports` on ``harness``: ``env`` (a valid window held
    from the first cycle, every offered code inside it), ``is_signed`` / ``is_unsigned`` and
    ``mode_<name>``."""
    a = config.act_bits
    started = Signal()
    now = Cat(harness.msb, harness.lsb, harness.signed, harness.mode)
    held = Signal(len(now))
    m.d.sync += [started.eq(1), held.eq(now)]
    codes_ok = []
    for col in range(config.columns):
        for ln in range(config.lanes):
            x = harness.act.payload[col][ln]
            for i in range(a):
                below = (i < harness.lsb) & x[i]
                above = (i > harness.msb) & Mux(harness.signed, (x[i] ^ x[i - 1]) if i else 0, x[i])
                codes_ok.append(~below & ~above)
    m.d.comb += [
        harness.env.eq((harness.lsb <= harness.msb) & (harness.msb < a) & (~started | (now == held))
                       & all_of(codes_ok)),
        harness.is_signed.eq(harness.signed), harness.is_unsigned.eq(~harness.signed),
    ]
    for name, code in MODE_CODES.items():
        m.d.comb += getattr(harness, f"mode_{name}").eq(harness.mode == code)


def field(bits: str, offset: int, width: int) -> int:
    """Bits ``[offset, offset + width)`` of a yosys binary string (MSB first; x and z read as 0)."""
    n = len(bits)
    return int(bits[n - offset - width:n - offset].replace("x", "0").replace("z", "0"), 2)


def signed_value(value: int, width: int) -> int:
    """``value`` (``width`` bits) read as two's complement."""
    return value - (1 << width) if value >> (width - 1) else value
