"""Liberty files: the built-in sky130 library, and what the flow needs to know about a library.

``--liberty sky130`` names the SkyWater 130 nm high-density library shipped (compressed) in
``synth/pdk/`` (see its README for provenance and license); :func:`resolve_liberty`
decompresses it once into the build folder. Any other value is a path to the user's file.

:func:`liberty_info` reads, without yosys, the few facts the flow uses: each cell's area,
whether it is sequential, its pins, whether the library carries timing arcs and power tables,
and the library's time unit. It is a light scan (a regular expression per group kind), not a
full Liberty parser: yosys and OpenSTA stay the judges of syntax.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from dstripes.sim.errors import ConfigError
from dstripes.sim.files import write_atomic

PDK_DIR = Path(__file__).with_name("pdk")
#: Built-in libraries: name -> compressed file in ``synth/pdk``.
BUILTIN = {"sky130": PDK_DIR / "sky130_fd_sc_hd__tt_025C_1v80.lib.gz"}
#: Cells marked ``dont_use`` when a built-in library is decompressed: sky130's ``probec_p_8`` is
#: a probe cell (the other ``probe*`` cells were left out of the file) that ABC's buffering
#: would otherwise pick as a buffer.
DONT_USE = {"sky130": ("sky130_fd_sc_hd__probec_p_8",)}
#: Environment variable naming the build folder (default ``build/`` at the project root).
BUILD_ENV = "DSTRIPES_BUILD"


def build_dir() -> Path:
    """``$DSTRIPES_BUILD`` if set, else ``build/`` at the project root."""
    env = os.environ.get(BUILD_ENV)
    return Path(env) if env else Path(__file__).resolve().parent.parent / "build"


def resolve_liberty(value: str | os.PathLike) -> Path:
    """The liberty file ``value`` names: a built-in library (:data:`BUILTIN`, decompressed into
    ``<build>/pdk/`` on first use) or a path, returned unchanged (checked later)."""
    name = str(value)
    if name not in BUILTIN:
        return Path(value)
    src = BUILTIN[name]
    if not src.is_file():
        raise ConfigError(f"built-in liberty {name} is missing from the installation ({src})")
    for root in (build_dir() / "pdk", Path(tempfile.gettempdir()) / f"dstripes-pdk-{os.getuid()}"):
        dst = root / src.name[:-len(".gz")]
        stamp = root / f".{dst.name}.source"
        key = f"{src.stat().st_size} {src.stat().st_mtime_ns} {DONT_USE.get(name, ())}"
        try:
            if dst.is_file() and stamp.is_file() and stamp.read_text() == key:
                return dst
            root.mkdir(parents=True, exist_ok=True)
            with gzip.open(src, "rb") as f:
                text = f.read().decode()
            write_atomic(dst, mark_dont_use(text, DONT_USE.get(name, ())))
            write_atomic(stamp, key)
            return dst
        except OSError:
            continue  # a read-only build folder: fall back to the temporary folder
    raise ConfigError(f"cannot decompress the built-in liberty {name} (no writable build folder)")


def mark_dont_use(text: str, cells) -> str:
    """``text`` with ``dont_use : true;`` added to each of ``cells``."""
    for c in cells:
        m = re.search(r"\bcell\s*\(\s*\"?" + re.escape(c) + r"\"?\s*\)\s*\{", text)
        if m is None:
            raise ConfigError(f"built-in liberty has no cell {c} to mark dont_use")
        text = text[:m.end()] + "\n        dont_use : true;" + text[m.end():]
    return text


def check_liberty(path: str | os.PathLike) -> Path:
    """Check that ``path`` is a readable liberty file with at least one cell (cheap, no yosys);
    yosys' own parser is the final judge when the file is read."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"liberty file not found: {path}")
    st = p.stat()
    _check_liberty_text(str(p), st.st_size, st.st_mtime_ns, str(path))
    return p


@functools.lru_cache(maxsize=16)
def _check_liberty_text(p: str, size: int, mtime: int, path: str) -> None:
    try:
        text = _strip_comments(Path(p).read_text(errors="replace"))
    except OSError as e:
        raise ConfigError(f"cannot read liberty file {path}: {e.strerror}") from None
    if not re.search(r"^\s*library\s*\(", text, re.M):
        raise ConfigError(f"liberty file {path} has no library(...) group")
    if not _CELL.search(text):
        raise ConfigError(f"liberty file {path} defines no cells")
    depth = _brace_balance(text)
    if depth:
        # yosys 0.23 reads a truncated library without complaint and ABC then aborts
        raise ConfigError(f"liberty file {path} is truncated or malformed: "
                          f"{abs(depth)} unmatched {'{' if depth > 0 else '}'}")


def _brace_balance(text: str) -> int:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)  # braces inside strings do not count
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return depth
    return depth


def link_liberty(path: str | os.PathLike, dst: Path) -> None:
    """``dst`` names the library file ``path``: a symbolic link (a timed library is ~10 MB, and
    every block's work folder has one), else a copy."""
    dst.unlink(missing_ok=True)
    try:
        os.symlink(Path(path).resolve(), dst)
    except OSError:
        shutil.copyfile(path, dst)


def liberty_cells(text: str) -> list[str]:
    """Names of the cells a liberty file's text defines, in file order."""
    return _CELL.findall(_strip_comments(text))


@dataclass(frozen=True)
class Pin:
    name: str
    direction: str
    function: str | None = None


@dataclass(frozen=True)
class Cell:
    """What the flow reads of one cell: area, sequential or not, pins, timing arcs present."""

    name: str
    area: float
    sequential: bool
    timing: bool
    pins: tuple = ()
    next_state: str | None = None
    dont_use: bool = False
    flip_flop: bool = False

    @property
    def inputs(self) -> list:
        return [p for p in self.pins if p.direction == "input"]

    @property
    def outputs(self) -> list:
        return [p for p in self.pins if p.direction == "output"]

    @property
    def data_pin(self) -> str | None:
        """The input a flip-flop loads (its ``next_state`` when that is a single pin)."""
        names = {p.name for p in self.inputs}
        return self.next_state if self.next_state in names else None


@dataclass(frozen=True)
class LibertyInfo:
    """The facts of one liberty file the flow uses (see the module docstring).

    Members
    -------
    path : Path
    name : str
        ``library(name)``.
    time_unit_ns : float
        The library's ``time_unit`` in ns (1.0 when the file does not say).
    cells : dict
        Cell name -> :class:`Cell`.
    power : bool
        Some cell has ``internal_power`` or ``leakage_power`` groups.
    """

    path: Path
    name: str
    time_unit_ns: float
    cells: dict = field(default_factory=dict)
    power: bool = False

    @property
    def timing(self) -> bool:
        """Some cell has timing arcs (OpenSTA can time a netlist of this library)."""
        return any(c.timing for c in self.cells.values())

    @property
    def sequential(self) -> set:
        """Names of the sequential cells."""
        return {n for n, c in self.cells.items() if c.sequential}

    @property
    def output_pins(self) -> Mapping[str, set]:
        """``{cell: names of its output pins}``."""
        return {n: {p.name for p in c.outputs} for n, c in self.cells.items()}

    def buffer(self) -> tuple:
        """``(cell, input pin, output pin)`` of the smallest non-inverting buffer.

        Raises
        ------
        ConfigError
            If the library has none (the flow needs one to write a netlist OpenSTA reads).
        """
        best = None
        for c in self.cells.values():
            if c.sequential or c.dont_use or len(c.inputs) != 1 or len(c.outputs) != 1:
                continue
            fn = (c.outputs[0].function or "").replace(" ", "").strip("()")
            if fn == c.inputs[0].name and (best is None or c.area < best.area):
                best = c
        if best is None:
            raise ConfigError(f"liberty {self.path} has no buffer cell (one input, function = "
                              f"that input), which the flow needs to write a netlist for OpenSTA")
        return best.name, best.inputs[0].name, best.outputs[0].name

    def repair_buffer(self) -> tuple:
        """``(cell, input pin, output pin)`` of the buffer a fan-out repair inserts: the smallest
        non-inverting buffer with at least twice the area of the smallest one (an X4-class drive
        in a usual library), or the largest if none is."""
        bufs = []
        for c in self.cells.values():
            if c.sequential or c.dont_use or len(c.inputs) != 1 or len(c.outputs) != 1:
                continue
            if (c.outputs[0].function or "").replace(" ", "").strip("()") == c.inputs[0].name:
                bufs.append(c)
        if not bufs:
            return self.buffer()
        small = min(c.area for c in bufs)
        big = [c for c in bufs if c.area >= 2 * small]
        c = min(big, key=lambda c: (c.area, c.name)) if big else max(bufs, key=lambda c: c.area)
        return c.name, c.inputs[0].name, c.outputs[0].name

    def area_split(self, counts: dict) -> tuple:
        """``(total area, flip-flop area)`` of ``{cell: count}`` (latches count as flip-flops)."""
        total = seq = 0.0
        for name, n in counts.items():
            c = self.cells.get(name)
            if c is None:
                continue
            total += n * c.area
            if c.sequential:
                seq += n * c.area
        return total, seq


def _group(kind: str, body: bool = True) -> re.Pattern:
    """``kind(name)`` (and its opening brace): group 1 is the name."""
    return re.compile(rf"\b{kind}\s*\(\s*\"?([^\s\")]+)\"?\s*\)" + (r"\s*\{" if body else ""))


def _attribute(name: str, value: str) -> re.Pattern:
    """``name : value``."""
    return re.compile(rf"\b{name}\s*:\s*{value}")


_CELL, _PIN, _LIBRARY = _group("cell"), _group("pin"), _group("library", body=False)
_QUOTED = r"\"([^\"]*)\""
_AREA = _attribute("area", r"([0-9.eE+-]+)")
_DONT_USE = _attribute("dont_use", r"\"?true")
_NEXT_STATE = _attribute("next_state", _QUOTED)
_FUNCTION = _attribute("function", _QUOTED)
_DIRECTION = _attribute("direction", r"\"?(\w+)")
_TIME_UNIT = _attribute("time_unit", r"\"?\s*([0-9.]+)\s*([munpf]?s)\b")
# groups that make a cell sequential (a flip-flop when ff or ff_bank), carry timing or power
_SEQ = re.compile(r"\b(ff|latch|ff_bank|latch_bank|statetable)\s*\(")
_FF = re.compile(r"\b(ff|ff_bank)\s*\(")
_TIMING = re.compile(r"\btiming\s*\(\s*\"?[^)]*\)\s*\{")
_POWER = re.compile(r"\b(internal_power|leakage_power)\s*\(")
_UNIT_NS = {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0, "ps": 1e-3, "fs": 1e-6}


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def _pins(body: str) -> tuple:
    starts = list(_PIN.finditer(body))
    out = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(body)
        seg = body[m.end():end]
        d = _DIRECTION.search(seg)
        f = _FUNCTION.search(seg)
        # the function of a pin comes before its timing groups; a later "function" would be
        # another group's (e.g. a test_cell's)
        out.append(Pin(m.group(1), d.group(1) if d else "unknown", f.group(1) if f else None))
    return tuple(out)


def parse_liberty(text: str, path: str | os.PathLike = "<text>") -> LibertyInfo:
    """:class:`LibertyInfo` of a liberty file's text."""
    text = _strip_comments(text)
    lib = _LIBRARY.search(text)
    unit = _TIME_UNIT.search(text[:_CELL.search(text).start()] if _CELL.search(text) else text)
    time_unit = float(unit.group(1)) * _UNIT_NS[unit.group(2)] if unit else 1.0
    starts = list(_CELL.finditer(text))
    cells = {}
    for i, m in enumerate(starts):
        body = text[m.end():starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        a = _AREA.search(body)
        ns = _NEXT_STATE.search(body)
        cells[m.group(1)] = Cell(m.group(1), float(a.group(1)) if a else 0.0, bool(_SEQ.search(body)),
                                 bool(_TIMING.search(body)), _pins(body),
                                 ns.group(1).strip() if ns else None,
                                 bool(_DONT_USE.search(body[:body.find("pin") if "pin" in body else len(body)])),
                                 bool(_FF.search(body)))
    return LibertyInfo(Path(path), lib.group(1) if lib else "?", time_unit, cells,
                       bool(_POWER.search(text)))


@functools.lru_cache(maxsize=8)
def _cached(path: str, size: int, mtime: int) -> LibertyInfo:
    with open(path, errors="replace") as f:
        return parse_liberty(f.read(), path)


def liberty_info(path: str | os.PathLike) -> LibertyInfo:
    """:func:`parse_liberty` of a file, cached while the file is unchanged."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise ConfigError(f"cannot read liberty file {path}: {e.strerror}") from None
    return _cached(str(p), st.st_size, st.st_mtime_ns)


def check_timing_liberty(path: str | os.PathLike) -> LibertyInfo:
    """The library's facts, or a :class:`ConfigError` if it cannot be timed: no timing arcs,
    or no sequential cell (``dfflibmap`` needs one; yosys' own message is checked later)."""
    info = liberty_info(path)
    if not info.timing:
        raise ConfigError(f"liberty {path} has no timing arcs (no timing() groups): "
                          f"OpenSTA cannot time a netlist of it")
    if not any(c.flip_flop for c in info.cells.values()):
        raise ConfigError(f"liberty {path} has no flip-flop (no cell with an ff group) for "
                          f"dfflibmap to map registers to")
    return info


# ---------------------------------------------------------------------------------------------
# A copy of a library for OpenSTA 2.0.x's power analysis

#: How OpenSTA 2.0.17 (Debian) weighs one transition of a pin with Liberty ``internal_power``
#: tables, measured against the tables (``tests/test_synth_power.py`` checks the corrected
#: result against a hand calculation): an output pin and a clock pin are charged
#: ``rise_power + fall_power`` per transition (twice the table's energy), a data input pin
#: ``(rise_power + fall_power) / 4`` (half of it). The Liberty meaning is ``rise_power`` per
#: rising and ``fall_power`` per falling transition, i.e. their mean on average. The power copy
#: scales the tables by the inverse so that OpenSTA's totals follow the Liberty meaning.
POWER_SCALE = {"output": 0.5, "clock": 0.5, "input": 2.0}

_GROUP = re.compile(r"(\w+)\s*\(([^)]*)\)\s*\{|\}|\b(direction|clock)\s*:\s*\"?(\w+)\"?|\bvalues\s*\(([^)]*)\)")
_NUMBER = re.compile(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


def power_tables_scaled(text: str, scale: dict = POWER_SCALE) -> str:
    """``text`` with every ``values(...)`` of a pin's ``internal_power`` group multiplied by
    ``scale["output"]``, ``scale["clock"]`` or ``scale["input"]`` by the pin's kind."""
    stack = []          # group names
    pins = []           # per open pin group: {"direction", "clock", "edits": [(start, end)]}
    edits = []          # (start, end, factor) of values(...) bodies
    for m in _GROUP.finditer(text):
        if m.group(1) is not None:
            stack.append(m.group(1))
            if m.group(1) == "pin":
                pins.append({"direction": None, "clock": False, "spans": []})
        elif m.group(0) == "}":
            if stack and stack.pop() == "pin" and pins:
                p = pins.pop()
                kind = ("clock" if p["clock"] else "input") if p["direction"] == "input" else \
                       ("output" if p["direction"] == "output" else None)
                if kind is not None:
                    edits += [(s, e, scale[kind]) for s, e in p["spans"]]
        elif m.group(3) is not None:
            if pins and stack and stack[-1] == "pin":
                if m.group(3) == "direction":
                    pins[-1]["direction"] = m.group(4)
                else:
                    pins[-1]["clock"] = m.group(4) == "true"
        elif m.group(5) is not None:
            if pins and "internal_power" in stack[-3:]:
                pins[-1]["spans"].append((m.start(5), m.end(5)))
    out, last = [], 0
    for s, e, f in sorted(edits):
        out.append(text[last:s])
        out.append(_NUMBER.sub(lambda n: f"{float(n.group(0)) * f:.8g}", text[s:e]))
        last = e
    out.append(text[last:])
    return "".join(out)


def power_liberty(path: str | os.PathLike) -> Path:
    """The power copy of a library (:func:`power_tables_scaled`), written once into
    ``<build>/pdk/power/`` and reused while the library is unchanged."""
    p = Path(path)
    st = p.stat()
    key = f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}|{sorted(POWER_SCALE.items())}"
    name = f"{p.stem}.{hashlib.sha256(key.encode()).hexdigest()[:12]}.power.lib"
    for root in (build_dir() / "pdk" / "power", Path(tempfile.gettempdir()) / f"dstripes-pdk-{os.getuid()}"):
        dst = root / name
        if dst.is_file():
            return dst
        try:
            root.mkdir(parents=True, exist_ok=True)
            write_atomic(dst, power_tables_scaled(p.read_text(errors="replace")))
            return dst
        except OSError:
            continue
    raise ConfigError(f"cannot write the power copy of liberty {path} (no writable build folder)")
