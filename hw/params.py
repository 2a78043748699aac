"""What every block agrees on, defined once: counter widths, mode codes, payload layouts, the
signature members several blocks share, parameter checks, and the block list for synthesis."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

from amaranth.hdl import unsigned, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dstripes.sim.checks import check_integer
from dstripes.sim.config import TileConfig, check_dimension, check_group, check_width

#: Width of the step and window-set counters of a run (default; at most ``CYCLE_BITS``), and
#: of the cycle counter.
COUNT_BITS = 24
CYCLE_BITS = 32

#: Run-time precision modes (the ``mode`` field of the tile configuration).
MODE_STATIC, MODE_LEADING, MODE_BOTH = 0, 1, 2
#: The same codes by the model's mode names (:data:`sim.precision.MODES`).
MODE_CODES = {"static": MODE_STATIC, "leading": MODE_LEADING, "both": MODE_BOTH}


def check_config(config) -> TileConfig:
    """``config`` if it is a :class:`~dstripes.sim.config.TileConfig` (validated when made)."""
    if not isinstance(config, TileConfig):
        raise TypeError(f"config must be a dstripes.sim.config.TileConfig, not {config!r}")
    return config


def check_count_bits(count_bits) -> int:
    """The width of a run's step and window-set counters: 1 to :data:`CYCLE_BITS` bits."""
    return check_integer("count_bits", count_bits, 1, CYCLE_BITS)


def check_dispatch(lanes, columns, rows, act_bits, weight_bits, group) -> tuple[int, ...]:
    """A dispatcher's geometry, validated by the configuration's rules
    (:mod:`dstripes.sim.config`): ``(lanes, columns, rows, act_bits, weight_bits, group)``."""
    return (check_dimension("lanes", lanes), check_dimension("columns", columns), check_dimension("rows", rows),
            check_width("act_bits", act_bits), check_width("weight_bits", weight_bits), check_group(group, columns))


@dataclass(frozen=True)
class SynthBlock:
    """One distinct block of a tile, for per-block synthesis: ``build()`` makes one instance as
    the tile makes it, ``instances`` are the dotted paths of the tile's submodules that are this
    block, and ``part_of`` names the block that already contains it (its cost is reported on its
    own but not added to the tile's total twice).

    Members
    -------
    count : int
        The instances in the tile (``len(instances)``).
    component : wiring.Component
        One instance, built on first use: listing a tile's blocks builds nothing, so only a
        block that is emitted is ever made.
    """

    name: str
    build: Callable[[], wiring.Component] = field(repr=False, compare=False)
    instances: tuple
    part_of: str | None = None

    count = property(lambda self: len(self.instances))

    @functools.cached_property
    def component(self) -> wiring.Component:
        return self.build()


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


def run_layout(act_bits: int, count_bits: int, fc: bool = False) -> data.StructLayout:
    """Configuration of one run; accepting it starts the run (``fc``: with the ``fc`` field, a
    tile built with the fully-connected dispatch, :attr:`TileConfig.fc_dispatch`).

    Fields
    ------
    msb, lsb : layer window ``[lsb, msb]``.
    signed : two's-complement activations.
    mode : ``MODE_STATIC`` / ``MODE_LEADING`` / ``MODE_BOTH`` (Stripes tiles ignore it).
    steps : steps (pallets) per window-set (per window on the bit-parallel tile); ``>= 1``.
    window_sets : window-sets of the run (windows on the bit-parallel tile); ``0`` is a no-op.
    fc : only with ``fc``: a fully-connected run (``docs/design.md`` §5): one window
        (``window_sets = 1``) whose ``steps`` bricks the tile issues round-robin to the columns.
        Last, so that the other fields keep their offsets. (A tile without it runs a
        fully-connected layer as a conv run only if it is bit-parallel: one brick per cycle.)
    """
    ib = index_bits(act_bits - 1)
    fields = {
        "msb": unsigned(ib),
        "lsb": unsigned(ib),
        "signed": unsigned(1),
        "mode": unsigned(2),
        "steps": unsigned(count_bits),
        "window_sets": unsigned(count_bits),
    }
    if fc:
        fields["fc"] = unsigned(1)
    return data.StructLayout(fields)


def window_members(act_bits: int, flow=In) -> wiring.SignatureMembers:
    """Signature members of a run's layer window and precision mode, held constant during the
    run: ``msb``, ``lsb`` (``range(act_bits)``), ``signed`` (1) and ``mode`` (2), all of ``flow``
    (``Out`` on the controller that holds them, ``In`` on the blocks that follow them)."""
    return wiring.SignatureMembers({"msb": flow(range(act_bits)), "lsb": flow(range(act_bits)),
                                    "signed": flow(1), "mode": flow(2)})


def run_members(act_bits: int, flow=In) -> wiring.SignatureMembers:
    """:func:`window_members` and whether each input stream is still open in the run
    (``act_enable``, ``weight_enable``): what a controller drives and a dispatcher follows."""
    return wiring.SignatureMembers({**window_members(act_bits, flow), "act_enable": flow(1),
                                    "weight_enable": flow(1)})


def tile_signature(streams) -> wiring.Signature:
    """A tile's signature: its streams (``config``, ``act``, ``weight`` in, ``result`` out) and
    the run's status, ``busy`` and ``cycles`` (see :class:`hw.controller.Controller`)."""
    return wiring.Signature({**streams, "busy": Out(1), "cycles": Out(CYCLE_BITS)})


def serial_streams(config: TileConfig, count_bits: int = COUNT_BITS) -> wiring.SignatureMembers:
    """The stream members of a bit-serial tile (docs/design.md §7), lock-step or run-ahead:
    ``config``, ``act`` (pallets), ``weight`` (bricks) in, ``result`` (one window-set's
    ``Nc x Nr`` sums) out."""
    c = config
    return wiring.SignatureMembers({
        "config": In(stream.Signature(run_layout(c.act_bits, count_bits, c.fc_dispatch))),
        "act": In(stream.Signature(pallet_layout(c.lanes, c.columns, c.act_bits))),
        "weight": In(stream.Signature(weight_layout(c.lanes, c.rows, c.weight_bits))),
        "result": Out(stream.Signature(result_layout(c.rows, c.columns, c.acc_bits))),
    })


def serial_tile_signature(config: TileConfig, count_bits: int = COUNT_BITS) -> wiring.Signature:
    """The signature of a bit-serial tile: :func:`serial_streams`, ``busy``, ``cycles``."""
    return tile_signature(serial_streams(config, count_bits))
