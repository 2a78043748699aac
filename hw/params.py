"""Parameter validation and payload layouts shared by every block (one definition each)."""
from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import unsigned, signed
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from dstripes.sim.config import TileConfig

#: Width of the step and window-set counters of a run (default), and of the cycle counter.
COUNT_BITS = 24
CYCLE_BITS = 32

#: Run-time precision modes (the ``mode`` field of the tile configuration).
MODE_STATIC, MODE_LEADING, MODE_BOTH = 0, 1, 2
#: The same codes by the model's mode names (:data:`sim.precision.MODES`).
MODE_CODES = {"static": MODE_STATIC, "leading": MODE_LEADING, "both": MODE_BOTH}


def check_int(name: str, value, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` if it is an ``int`` in ``[minimum, maximum]``; raise otherwise.

    Raises ``TypeError`` for a non-integer and ``ValueError`` for an out-of-range value, both
    naming the parameter and the value.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValueError(f"{name} must be {bound}, not {value}")
    return value


def check_config(config) -> TileConfig:
    if not isinstance(config, TileConfig):
        raise TypeError(f"config must be a sim.config.TileConfig, not {config!r}")
    return config


@dataclass(frozen=True)
class SynthBlock:
    """One distinct block of a tile, for per-block synthesis: one instance's ``component`` and
    the tile's instance ``count``; ``part_of`` names the block that already contains it (its
    cost is reported on its own but not added to the tile's total twice)."""

    name: str
    component: object
    count: int
    part_of: str | None = None


def index_bits(n: int) -> int:
    """Bits needed to hold the values ``0 .. n``."""
    return max(1, n.bit_length())


def pallet_layout(lanes: int, columns: int, act_bits: int) -> data.ArrayLayout:
    """One pallet: element ``[column][lane]`` is an ``act_bits`` activation code."""
    return data.ArrayLayout(data.ArrayLayout(unsigned(act_bits), lanes), columns)


def brick_layout(lanes: int, act_bits: int) -> data.ArrayLayout:
    """One brick: element ``[lane]``."""
    return data.ArrayLayout(unsigned(act_bits), lanes)


def weight_layout(lanes: int, rows: int, weight_bits: int) -> data.ArrayLayout:
    """One weight brick per step: element ``[row][lane]``, two's complement."""
    return data.ArrayLayout(data.ArrayLayout(signed(weight_bits), lanes), rows)


def result_layout(rows: int, columns: int, acc_bits: int) -> data.ArrayLayout:
    """The results of one window-set: element ``[column][row]``."""
    return data.ArrayLayout(data.ArrayLayout(signed(acc_bits), rows), columns)


def run_layout(act_bits: int, count_bits: int) -> data.StructLayout:
    """Configuration of one run; accepting it starts the run.

    Fields
    ------
    msb, lsb : layer window ``[lsb, msb]``.
    signed : two's-complement activations.
    mode : ``MODE_STATIC`` / ``MODE_LEADING`` / ``MODE_BOTH`` (Stripes tiles ignore it).
    steps : steps (pallets) per window-set (per window on the bit-parallel tile); ``>= 1``.
    window_sets : window-sets of the run (windows on the bit-parallel tile); ``0`` is a no-op.
    """
    ib = index_bits(act_bits - 1)
    return data.StructLayout({
        "msb": unsigned(ib),
        "lsb": unsigned(ib),
        "signed": unsigned(1),
        "mode": unsigned(2),
        "steps": unsigned(count_bits),
        "window_sets": unsigned(count_bits),
    })


def serial_streams(config: TileConfig, count_bits: int) -> dict:
    """The stream members of a bit-serial tile (docs/design.md §7): ``config``, ``act``
    (pallets), ``weight`` (bricks) in, ``result`` (one window-set's ``Nc x Nr`` sums) out."""
    c = config
    return {
        "config": In(stream.Signature(run_layout(c.act_bits, count_bits))),
        "act": In(stream.Signature(pallet_layout(c.lanes, c.columns, c.act_bits))),
        "weight": In(stream.Signature(weight_layout(c.lanes, c.rows, c.weight_bits))),
        "result": Out(stream.Signature(result_layout(c.rows, c.columns, c.acc_bits))),
    }


def check_dispatch(lanes, columns, rows, act_bits, weight_bits, group) -> tuple[int, ...]:
    """A dispatcher's geometry, validated: ``(lanes, columns, rows, act_bits, weight_bits, group)``;
    ``group`` must divide ``columns``."""
    out = (check_int("lanes", lanes), check_int("columns", columns), check_int("rows", rows),
           check_int("act_bits", act_bits, 2), check_int("weight_bits", weight_bits, 2), check_int("group", group))
    if columns % group:
        raise ValueError(f"group {group} does not divide columns {columns}")
    return out

