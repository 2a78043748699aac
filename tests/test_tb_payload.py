"""Payload codecs (:mod:`tb.payload`, described by :func:`tb.host.verilog.describe`) against
Amaranth's own packing of the same layouts."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data
from hypothesis import given, strategies as st

from dstripes.tb.host.verilog import cached_verilog, describe
from dstripes.tb.payload import ArrayCodec, IntCodec, StructCodec, codec, pack_ints, unpack_ints

from .tb_fixtures import SumPipe


def amaranth_pack(layout, value) -> int:
    """The int Amaranth itself lays ``value`` out as (the ground truth for the codecs)."""
    return layout.const(value).as_value().value


def nested(layout, rng):
    """A random value of a layout, as nested lists / dicts of ints."""
    if isinstance(layout, data.ArrayLayout):
        return [nested(layout.elem_shape, rng) for _ in range(layout.length)]
    if isinstance(layout, data.StructLayout):
        return {name: nested(field.shape, rng) for name, field in layout}
    s = Shape.cast(layout)
    lo = -(1 << (s.width - 1)) if s.signed else 0
    hi = (1 << (s.width - 1)) - 1 if s.signed else (1 << s.width) - 1
    return rng.randint(lo, hi)


LAYOUTS = [
    data.ArrayLayout(data.ArrayLayout(signed(8), 4), 3),             # pallet-like, signed
    data.ArrayLayout(data.ArrayLayout(unsigned(16), 16), 16),        # the published pallet
    data.ArrayLayout(data.ArrayLayout(signed(48), 16), 16),          # published results
    data.ArrayLayout(signed(70), 3),                                 # wider than int64
    data.StructLayout({"msb": unsigned(4), "lsb": unsigned(4), "signed": unsigned(1),
                       "mode": unsigned(2), "steps": unsigned(24), "window_sets": unsigned(24)}),
    data.StructLayout({"sums": data.ArrayLayout(signed(10), 2), "tag": unsigned(8)}),
    data.ArrayLayout(data.StructLayout({"a": signed(3), "b": unsigned(5)}), 4),
]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda l: repr(l)[:40])
def test_codec_matches_amaranth_layout(layout):
    rng = random.Random(7)
    c = codec(json.loads(json.dumps(describe(layout))))  # survives the trip through JSON
    assert c.width == layout.size
    for _ in range(20):
        value = nested(layout, rng)
        word = c.pack(value)
        assert word == amaranth_pack(layout, value)
        back = c.unpack(word)
        if isinstance(back, np.ndarray):
            back = back.tolist()
        if isinstance(back, dict):
            back = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in back.items()}
        assert back == value


@given(st.integers(1, 40), st.booleans(), st.lists(st.integers(1, 4), min_size=1, max_size=3),
       st.randoms(use_true_random=False))
def test_pack_ints_round_trip(width, is_signed, shape, rnd):
    lo = -(1 << (width - 1)) if is_signed else 0
    hi = (1 << (width - 1)) - 1 if is_signed else (1 << width) - 1
    n = int(np.prod(shape))
    values = np.array([rnd.choice([lo, hi, 0, rnd.randint(lo, hi)]) for _ in range(n)],
                      dtype=np.int64).reshape(shape)
    word = pack_ints(values, tuple(shape), width, is_signed)
    assert 0 <= word < 1 << (width * n)
    assert np.array_equal(unpack_ints(word, tuple(shape), width, is_signed), values)


def test_element_order_is_row_major_low_bits_first():
    c = ArrayCodec(ArrayCodec(IntCodec(4, True), 2), 2)
    # [col][lane]: [0][0] in bits 0..3, [0][1] in 4..7, [1][0] in 8..11, [1][1] in 12..15
    assert c.pack([[1, 2], [3, -1]]) == 0xF321
    assert c.unpack(0xF321).tolist() == [[1, 2], [3, -1]]


def test_struct_fields_at_their_offsets():
    c = StructCodec([("a", 0, IntCodec(3)), ("b", 3, IntCodec(5, True))], 8)
    assert c.pack({"a": 5, "b": -1}) == 0b11111_101
    assert c.unpack(0b11111_101) == {"a": 5, "b": -1}


@pytest.mark.parametrize("value,message", [
    ([[128, 0], [0, 0]], "value 128 does not fit a signed 8-bit field"),
    ([[-129, 0], [0, 0]], "value -129 does not fit a signed 8-bit field"),
    ([[0, 0, 0]], r"shape \(2, 2\)"),
    ([[0.5, 0], [0, 0]], "must hold integers"),
])
def test_pack_rejects_what_does_not_fit(value, message):
    c = ArrayCodec(ArrayCodec(IntCodec(8, True), 2), 2)
    with pytest.raises(ValueError, match=message):
        c.pack(value)


def test_struct_rejects_missing_unknown_and_overflowing_fields():
    c = StructCodec([("a", 0, IntCodec(3)), ("b", 3, IntCodec(5, True))], 8)
    with pytest.raises(ValueError, match=r"\['b'\] have no value"):
        c.pack({"a": 1})
    with pytest.raises(ValueError, match=r"unknown struct field\(s\) \['c'\]"):
        c.pack({"a": 1, "b": 2, "c": 3})
    with pytest.raises(ValueError, match="field 'a': value 8 does not fit an unsigned 3-bit field"):
        c.pack({"a": 8, "b": 0})
    with pytest.raises(ValueError, match="does not fit 8 bits"):
        c.unpack(1 << 8)


def test_union_layouts_are_rejected():
    with pytest.raises(ValueError, match="cannot describe UnionLayout"):
        describe(data.UnionLayout({"a": unsigned(3), "b": signed(4)}))


def test_stream_payloads_of_a_component():
    """Through cached_verilog, which describes the component it converts (so no stray,
    never-elaborated instance is made here)."""
    d = cached_verilog(lambda: SumPipe(lanes=3, columns=2, width=6), "sumpipe").streams
    assert set(d) == {"inp", "out"}  # `count` is not a stream
    assert d["inp"] == describe(data.ArrayLayout(data.ArrayLayout(signed(6), 3), 2))
    assert d["out"] == describe(data.StructLayout({"sums": data.ArrayLayout(signed(8), 2),
                                                   "tag": unsigned(8)}))
