"""The memories of the verification harness as both sides see them: their map
(:class:`MemoryMap`: depths, widths, files, the run log's fields), ``$readmemh`` text from numpy,
run-log lines back.

``$readmemh`` reads one hexadecimal word per line, most significant digit first. A payload
word is laid out as the emitted Verilog carries it (:mod:`tb.payload`): element ``i`` of the
row-major flattened array sits at bits ``[i*w, (i+1)*w)``, two's complement when signed. The
conversion is vectorised (no Python loop over words or elements): a ring-memory half of the
published tile (4,096 pallets of 4,096 bits) takes a few tens of milliseconds.

The gateware (:mod:`dstripes.tb.gateware.tile_harness`) makes the map, the runner passes it to
the testbench (:mod:`dstripes.tb.bench.harness_bench`), which writes the files. Imported inside
the simulator too, so it imports neither cocotb nor Amaranth.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .handoff import fields_as_dict

_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


#: Longest line of a memory file (bits).
LINE_BITS = 64
#: Width of the harness's batch counters (transfers, mismatches, indices) and of a run's cycle counts.
COUNT = 32
#: Fields of one run-log line, low bits first: (name, width).
LOG_FIELDS = (("run", 16), ("results", COUNT), ("mismatches", COUNT), ("tb_cycles", COUNT),
              ("cycles", COUNT))
#: Memory files (in the simulator's working folder) of each memory and ring half.
FILES = {"table": "runs.hex", "weights": "weights.hex", "acts": ("acts0.hex", "acts1.hex"),
         "expected": ("expected0.hex", "expected1.hex"), "log": "runs.log"}


@dataclass(frozen=True)
class MemoryMap:
    """The memories of one harness (:class:`dstripes.tb.gateware.tile_harness.TileHarness`).

    Members
    -------
    depths : mapping
        Words of each memory: ``act`` and ``result`` (ring memories, refilled half by half),
        ``weight`` (bricks of a batch), ``run`` (runs of a batch).
    widths : mapping
        Payload width of each tile stream (``config``, ``act``, ``weight``, ``result``).
    elem_bits : mapping
        Element width of each array stream (``act``, ``weight``, ``result``).
    lanes : mapping
        Bits per memory-file line of each memory (``table``, ``act``, ``weight``, ``result``).
    table_width : int
        Bits of a run-table word: the ``config`` payload, then the run's weight address.
    files : mapping
        Memory files (:data:`FILES`).
    log_fields : tuple of (str, int)
        Fields of a run-log line (:data:`LOG_FIELDS`).
    """

    depths: Mapping[str, int]
    widths: Mapping[str, int]
    elem_bits: Mapping[str, int]
    lanes: Mapping[str, int]
    table_width: int
    files: Mapping = field(default_factory=lambda: dict(FILES))
    log_fields: tuple = LOG_FIELDS

    def as_dict(self) -> dict:
        return fields_as_dict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "MemoryMap":
        return cls(d["depths"], d["widths"], d["elem_bits"], d["lanes"], d["table_width"],
                   {k: tuple(v) if isinstance(v, list) else v for k, v in d["files"].items()},
                   tuple((n, w) for n, w in d["log_fields"]))


def lane_bits(elem_bits: int) -> int:
    """Bits of one line of a memory of ``elem_bits`` elements: as many whole elements as fit
    :data:`LINE_BITS` (at least one)."""
    return elem_bits * max(1, LINE_BITS // elem_bits)


def parts(width: int, lane: int) -> int:
    """Lines per word of ``width`` bits."""
    return -(-width // lane)


def hex_words(values: np.ndarray, elem_bits: int, lane: int | None = None) -> bytes:
    """``$readmemh`` lines of ``values`` ``(n, ...)``: row ``k`` is word ``k``, its elements
    (row-major) ``elem_bits`` wide from the low bits up; negative values as two's complement.

    With ``lane`` (a multiple of ``elem_bits``), each word is written as
    ``ceil(elements * elem_bits / lane)`` lines of ``lane`` bits, low part first (the layout of
    ``dstripes_rom`` in ``tb/gateware/mem_models.v``); otherwise as one line.

    Every value must fit ``elem_bits`` (unsigned, or two's complement); this is not checked
    here: the arrays come from the golden model, whose stimulus builders check them.
    """
    a = np.asarray(values)
    if a.ndim < 1:
        raise ValueError("hex_words needs an array of words (n, ...)")
    if not isinstance(elem_bits, (int, np.integer)) or not 1 <= elem_bits <= 64:
        raise ValueError(f"element width must be between 1 and 64 bits, not {elem_bits!r}")
    n = a.shape[0]
    if n == 0:
        return b""
    flat = a.reshape(n, -1)
    if lane is not None:
        if lane % elem_bits:
            raise ValueError(f"a line of {lane} bits does not hold whole {elem_bits}-bit elements")
        per = lane // elem_bits
        pad = -flat.shape[1] % per
        if pad:
            flat = np.concatenate([flat, np.zeros((n, pad), dtype=flat.dtype)], axis=1)
        return hex_words(flat.reshape(-1, per), elem_bits)
    if flat.dtype.kind not in "iu":
        raise ValueError(f"memory words must be integers, not dtype {flat.dtype}")
    eb = int(elem_bits)
    # two's-complement bit patterns as uint64
    if flat.dtype.kind == "i":
        u = flat.astype(np.int64, copy=False).view(np.uint64)
    else:
        u = flat.astype(np.uint64, copy=False)
    if eb < 64:
        u = u & np.uint64((1 << eb) - 1)
    elems = u.shape[1]
    if eb % 8 == 0:
        # whole bytes: big-endian bytes of the elements, last element first, through C's hex()
        nbytes = eb // 8
        be = u[:, ::-1].astype(">u8").view(np.uint8).reshape(n, elems, 8)[:, :, 8 - nbytes:]
        digits = np.frombuffer(np.ascontiguousarray(be).tobytes().hex().encode(), dtype=np.uint8)
        text = np.empty((n, 2 * nbytes * elems + 1), dtype=np.uint8)
        text[:, :-1] = digits.reshape(n, -1)
        text[:, -1] = ord("\n")
        return text.tobytes()
    if eb % 4 == 0:
        d = eb // 4
        shifts = np.arange(4 * (d - 1), -1, -4, dtype=np.uint64)  # most significant digit first
        nib = (u[:, ::-1, None] >> shifts) & np.uint64(15)  # (n, elems reversed, d)
        nib = nib.reshape(n, elems * d)
    else:
        bits = ((u[:, :, None] >> np.arange(eb, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
        bits = bits.reshape(n, elems * eb)  # LSB first
        width = elems * eb
        pad = -width % 4
        if pad:
            bits = np.concatenate([bits, np.zeros((n, pad), np.uint8)], axis=1)
        quads = bits.reshape(n, -1, 4)
        nib = (quads[:, :, 0] | (quads[:, :, 1] << 1) | (quads[:, :, 2] << 2) | (quads[:, :, 3] << 3))[:, ::-1]
    text = np.empty((n, nib.shape[1] + 1), dtype=np.uint8)
    text[:, :-1] = _DIGITS[nib.astype(np.intp)]
    text[:, -1] = ord("\n")
    return text.tobytes()


def hex_ints(words: Sequence[int], width: int, lane: int | None = None) -> bytes:
    """``$readmemh`` lines of Python integers of ``width`` bits (small memories); with
    ``lane``, each word as ``ceil(width / lane)`` lines of ``lane`` bits, low part first."""
    lane = width if lane is None else lane
    digits = max(1, -(-lane // 4))
    out = []
    for w in words:
        w = int(w)
        if w < 0 or w >> width:
            raise ValueError(f"memory word {w:#x} does not fit {width} bits")
        for _ in range(parts(width, lane)):
            out.append(format(w & ((1 << lane) - 1), f"0{digits}x"))
            w >>= lane
    return ("\n".join(out) + "\n").encode() if out else b""


def read_log(path: str | os.PathLike, fields: Sequence[tuple[str, int]]) -> list[dict]:
    """The lines of a run log (``dstripes_log``) as dicts of ``fields`` ``(name, width)``, low
    bits first; lines with X or Z digits (an undefined value was logged) raise ``ValueError``."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().split():
        try:
            word = int(line, 16)
        except ValueError:
            raise ValueError(f"run log {path} holds an undefined value: {line!r}") from None
        rec, pos = {}, 0
        for name, width in fields:
            rec[name] = (word >> pos) & ((1 << width) - 1)
            pos += width
        out.append(rec)
    return out
