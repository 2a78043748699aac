"""Packing and unpacking of stream payloads as the emitted Verilog carries them.

``amaranth.back.verilog.convert`` flattens a payload into one vector: an ``ArrayLayout``
element ``[i]`` sits at bits ``[i*w, (i+1)*w)`` (so a nested array ``[i][j]`` is the row-major
flat index ``i*n + j``), a ``StructLayout`` field at its ``offset``. A :class:`Codec` mirrors
that layout in plain Python, so the cocotb side never needs Amaranth: the runner side
describes each payload once (:func:`dstripes.tb.host.verilog.describe`, a JSON-able dict) and the
testbench rebuilds the codec with :func:`codec`. The Amaranth-simulator tests pack their words
with the same code (``tests/hwsim.py``).

Signed elements are two's complement; packing checks every value fits its field.

Imported on both sides, so it imports neither cocotb nor Amaranth.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np


class Codec:
    """Base of the payload codecs: ``pack(value) -> int`` and ``unpack(int) -> value``."""

    width: int

    def pack(self, value: Any) -> int:
        raise NotImplementedError

    def unpack(self, word: int) -> Any:
        raise NotImplementedError

    def description(self) -> dict:
        raise NotImplementedError

    def _check_word(self, word: int) -> int:
        word = int(word)
        if word < 0 or word >> self.width:
            raise ValueError(f"payload word {word:#x} does not fit {self.width} bits")
        return word


class IntCodec(Codec):
    """One integer field of ``width`` bits, two's complement if ``signed``."""

    def __init__(self, width: int, signed: bool = False):
        if not isinstance(width, (int, np.integer)) or isinstance(width, bool) or width < 0:
            raise ValueError(f"field width must be a non-negative integer, not {width!r}")
        self.width, self.signed = int(width), bool(signed)
        self.lo, self.hi = field_range(self.width, self.signed)

    def pack(self, value: Any) -> int:
        v = _as_int(value)
        _check_fits(v, self.width, self.signed)
        return v & ((1 << self.width) - 1)

    def unpack(self, word: int) -> int:
        word = self._check_word(word)
        if self.signed and self.width and word >> (self.width - 1):
            return word - (1 << self.width)
        return word

    def description(self) -> dict:
        return {"int": [self.width, self.signed]}

    def __repr__(self) -> str:
        return f"IntCodec({self.width}, signed={self.signed})"


class ArrayCodec(Codec):
    """``length`` elements of one codec, element ``[i]`` at bits ``[i*w, (i+1)*w)``.

    Arrays whose leaves are all integers of one width (any nesting depth) take a vectorised
    path: :meth:`pack` accepts a numpy array of the nested shape and :meth:`unpack` returns one
    (``int64``, or ``object`` for leaves wider than 63 bits).
    """

    def __init__(self, elem: Codec, length: int):
        if not isinstance(elem, Codec):
            raise ValueError(f"array element must be a Codec, not {elem!r}")
        if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 0:
            raise ValueError(f"array length must be a non-negative integer, not {length!r}")
        self.elem, self.length = elem, int(length)
        self.width = elem.width * self.length
        dims, leaf = [self.length], elem
        while isinstance(leaf, ArrayCodec):
            dims.append(leaf.length)
            leaf = leaf.elem
        # Only integer leaves form a dense array; structs inside arrays go element by element.
        self.shape = tuple(dims) if isinstance(leaf, IntCodec) else None
        self.leaf = leaf

    def pack(self, value: Any) -> int:
        if self.shape is not None:
            return pack_ints(value, self.shape, self.leaf.width, self.leaf.signed)
        if len(value) != self.length:
            raise ValueError(f"array payload needs {self.length} elements, got {len(value)}")
        word = 0
        for i, v in enumerate(value):
            word |= self.elem.pack(v) << (i * self.elem.width)
        return word

    def unpack(self, word: int) -> Any:
        word = self._check_word(word)
        if self.shape is not None:
            return unpack_ints(word, self.shape, self.leaf.width, self.leaf.signed)
        mask = (1 << self.elem.width) - 1
        return [self.elem.unpack((word >> (i * self.elem.width)) & mask) for i in range(self.length)]

    def description(self) -> dict:
        return {"array": [self.elem.description(), self.length]}

    def __repr__(self) -> str:
        return f"ArrayCodec({self.elem!r}, {self.length})"


class StructCodec(Codec):
    """Named fields at fixed bit offsets; packs a mapping, unpacks to a dict.

    Parameters
    ----------
    fields : sequence of (name, offset, Codec)
    width : int
        Total payload width (at least the end of the highest field).
    """

    def __init__(self, fields: Sequence[tuple[str, int, Codec]], width: int):
        self.fields = [(str(n), int(o), c) for n, o, c in fields]
        names = [n for n, _, _ in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"struct field names must be unique, got {names}")
        end = max((o + c.width for _, o, c in self.fields), default=0)
        if width < end:
            raise ValueError(f"struct width {width} is below the end of its fields ({end})")
        self.width = int(width)

    def pack(self, value: Mapping[str, Any]) -> int:
        if not isinstance(value, Mapping):
            raise ValueError(f"struct payload must be a mapping, not {type(value).__name__}")
        names = {n for n, _, _ in self.fields}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ValueError(f"unknown struct field(s) {unknown} (fields: {sorted(names)})")
        missing = sorted(names - set(value))
        if missing:
            raise ValueError(f"struct field(s) {missing} have no value")
        word = 0
        for name, offset, c in self.fields:
            try:
                word |= c.pack(value[name]) << offset
            except ValueError as e:
                raise ValueError(f"field {name!r}: {e}") from None
        return word

    def unpack(self, word: int) -> dict:
        word = self._check_word(word)
        return {n: c.unpack((word >> o) & ((1 << c.width) - 1)) for n, o, c in self.fields}

    def description(self) -> dict:
        return {"struct": [[n, o, c.description()] for n, o, c in self.fields], "width": self.width}

    def __repr__(self) -> str:
        return f"StructCodec({[(n, o) for n, o, _ in self.fields]}, {self.width})"


def codec(description: Mapping) -> Codec:
    """Rebuild a :class:`Codec` from :meth:`Codec.description` / :func:`describe` output."""
    if not isinstance(description, Mapping) or not description:
        raise ValueError(f"payload description must be a non-empty mapping, not {description!r}")
    if "int" in description:
        width, signed = description["int"]
        return IntCodec(width, signed)
    if "array" in description:
        elem, length = description["array"]
        return ArrayCodec(codec(elem), length)
    if "struct" in description:
        return StructCodec([(n, o, codec(d)) for n, o, d in description["struct"]],
                           description["width"])
    raise ValueError(f"payload description has none of 'int', 'array', 'struct': {description!r}")


def pack_ints(values: Any, shape: tuple[int, ...], width: int, signed: bool) -> int:
    """Pack a nested integer array of ``shape`` (row-major, element 0 in the low bits).

    Raises ``ValueError`` naming the first value that does not fit ``width`` bits.
    """
    a = np.asarray(values)
    if a.shape != tuple(shape):
        raise ValueError(f"array payload must have shape {tuple(shape)}, not {a.shape}")
    if a.dtype.kind not in "iubO":
        raise ValueError(f"array payload must hold integers, not dtype {a.dtype}")
    flat = [_as_int(v) for v in a.ravel()]
    for v in flat:
        _check_fits(v, width, signed)
    if width == 0 or not flat:
        return 0
    mask = (1 << width) - 1
    # One binary string and one int() is much faster than n shifts of a growing big int.
    return int("".join(format(v & mask, f"0{width}b") for v in reversed(flat)), 2)


def unpack_ints(word: int, shape: tuple[int, ...], width: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`pack_ints`: a numpy array of ``shape`` (``object`` dtype above 63 bits)."""
    n = int(np.prod(shape, dtype=np.int64))
    if width == 0 or n == 0:
        return np.zeros(shape, dtype=np.int64)
    bits = format(int(word), f"0{width * n}b")
    if len(bits) != width * n:
        raise ValueError(f"payload word {int(word):#x} does not fit {width * n} bits")
    vals = [int(bits[len(bits) - (i + 1) * width:len(bits) - i * width], 2) for i in range(n)]
    if signed:
        top = 1 << (width - 1)
        vals = [v - (top << 1) if v & top else v for v in vals]
    dtype = object if width > 63 else np.int64
    return np.array(vals, dtype=dtype).reshape(shape)


def field_range(width: int, signed: bool) -> tuple[int, int]:
    """``(lowest, highest)`` value of a ``width``-bit field (two's complement if ``signed``)."""
    if signed and width:
        return -(1 << (width - 1)), (1 << (width - 1)) - 1
    return 0, (1 << width) - 1


def _check_fits(value: int, width: int, signed: bool) -> None:
    lo, hi = field_range(width, signed)
    if not lo <= value <= hi:
        kind = "a signed" if signed else "an unsigned"
        raise ValueError(f"value {value} does not fit {kind} {width}-bit field ({lo}..{hi})")


def _as_int(value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    raise ValueError(f"payload field value must be an integer, not {value!r}")
