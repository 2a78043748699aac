"""Payload layouts of the accelerator (``docs/design.md`` §10.3, §10.5), one definition each."""
from __future__ import annotations

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from dstripes.sim.chip.config import ChipConfig
from dstripes.sim.chip.descriptor import DRAM_ADDR_BITS, RES_SHIFT_BITS, descriptor_fields

def check_chip(chip) -> ChipConfig:
    """``chip`` if it is a :class:`ChipConfig`; a ``TypeError`` naming it otherwise."""
    if not isinstance(chip, ChipConfig):
        raise TypeError(f"chip must be a dstripes.sim.chip.ChipConfig, not {chip!r}")
    return chip


#: Command codes of the ``cmd`` stream.
OP_LAYER, OP_LOAD, OP_STORE, OP_POOL = 0, 1, 2, 3
OPS = {"layer": OP_LAYER, "load": OP_LOAD, "store": OP_STORE, "pool": OP_POOL}
COUNT_BITS = 24
#: Width of the derived sizes and counters (windows, steps, passes, beats).
SIZE_BITS = 24


def descriptor_layout(chip: ChipConfig) -> data.StructLayout:
    """The layer descriptor, LSB first (:func:`dstripes.sim.chip.descriptor.descriptor_fields`)."""
    return data.StructLayout({name: unsigned(bits) for name, bits in descriptor_fields(chip)})


def command_layout(chip: ChipConfig) -> data.StructLayout:
    """One command: ``op``, a transfer's ``dram`` / ``nm`` addresses and ``count`` (``LOAD``,
    ``STORE``), and the ``layer`` descriptor (``LAYER``; ``POOL`` uses its fields too, §10.7)."""
    return data.StructLayout({"op": unsigned(2), "dram": unsigned(DRAM_ADDR_BITS),
                              "nm": unsigned(chip.nm_addr_bits), "count": unsigned(COUNT_BITS),
                              "layer": descriptor_layout(chip)})


def request_layout() -> data.StructLayout:
    """An off-chip request: ``write``, beat address, beats."""
    return data.StructLayout({"write": unsigned(1), "addr": unsigned(DRAM_ADDR_BITS), "count": unsigned(COUNT_BITS)})


def geometry_layout(chip: ChipConfig) -> data.StructLayout:
    """What the set-up derives from a descriptor, held for the whole command."""
    t = chip.tile
    a = t.act_bits
    nm = chip.nm_addr_bits
    return data.StructLayout({
        "c": unsigned(16), "h": unsigned(12), "w": unsigned(12), "k": unsigned(16),
        "kh": unsigned(4), "kw": unsigned(4), "sy": unsigned(3), "sx": unsigned(3), "py": unsigned(4),
        "px": unsigned(4), "dy": unsigned(4), "dx": unsigned(4), "groups": unsigned(16),
        "cg": unsigned(16), "kg": unsigned(16), "cbg": unsigned(16), "oh": unsigned(12), "ow": unsigned(12),
        "windows": unsigned(SIZE_BITS), "window_sets": unsigned(SIZE_BITS), "steps": unsigned(SIZE_BITS),
        "filter_sets": unsigned(16), "passes": unsigned(SIZE_BITS), "col_rows": unsigned(12),
        "col_step": unsigned(12), "reuse": unsigned(4), "small_group": unsigned(1), "kb": unsigned(16),
        "in_base": unsigned(nm), "out_base": unsigned(nm), "w_base": unsigned(DRAM_ADDR_BITS),
        "pass_beats": unsigned(32), "bias": unsigned(1),
        "msb": unsigned(max(1, (a - 1).bit_length())), "lsb": unsigned(max(1, (a - 1).bit_length())),
        "signed": unsigned(1), "mode": unsigned(2),
        "round_shift": unsigned(8), "out_lsb": unsigned(max(1, (a - 1).bit_length())),
        "out_lo": signed(a + 1), "out_hi": signed(a + 1),
        "w0_loaded": unsigned(1), "prefetch": unsigned(1),
        "residual": unsigned(1), "res_signed": unsigned(1), "res_shift": unsigned(RES_SHIFT_BITS),
        "res_base": unsigned(nm),
    })


def pass_layout(chip: ChipConfig) -> data.StructLayout:
    """The pass being run: its group, first filter, filters, output bricks and their offsets."""
    t = chip.tile
    return data.StructLayout({
        "index": unsigned(SIZE_BITS), "group": unsigned(16), "k0": unsigned(16), "filters": unsigned(16),
        "out_bricks": unsigned(16), "kb0": unsigned(16), "lane0": unsigned(max(1, (t.lanes - 1).bit_length())),
        "in_block": unsigned(16), "in_lane": unsigned(max(1, (t.lanes - 1).bit_length())), "half": unsigned(1),
        "last": unsigned(1),
    })
