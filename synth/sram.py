"""The accelerator's memories built from the sky130 SRAM macros shipped in ``synth/pdk/sram/``
(``docs/design.md`` §10.8): which macro, how many, their area, per-access energy, leakage and
the timing they add to the clock.

What a macro is (:func:`load_macros`, :func:`read_macro`): its words and bits, its outline from
the LEF ``SIZE`` (checked against the Liberty ``area``), the Liberty's clock-to-out (``dout``,
launched at the clock's *falling* edge), setup of its inputs, ``minimum_period``, leakage and the
energy of one access from the clock pins' ``internal_power``. Liberty gives internal power as
energy per clock edge in capacitance × voltage² units (1 pF × 1 V² = 1 pJ here); one access is
one clock cycle with the port selected: ``rise_power + fall_power`` of the ``!csb`` group (the
write: ``!csb0 & !web0`` on port 0; the read: ``!csb1`` on port 1, the read-only port).

How a memory is built (:func:`map_memory`): ``instances`` independent memories of ``words`` ×
``bits``, each from ``banks = ceil(bits / macro_bits)`` macros side by side (width) times
``rows = ceil(words / macro_words)`` (depth). **Rule**: the macro with the least area
``banks × rows × outline``, ties to fewer macros, then to the name. An access selects one row:
``banks`` macros (a write of a ``granule``-bit slice only the banks that slice covers); the
others are clock-gated (leakage only) — OpenRAM's Liberty gives a deselected port the same
clock energy, which a chip gates away.

The accelerator's two memories (:func:`chip_memories`): NM as ``nm_read`` brick-wide banks (one
per read and write port pair: the macro's read-only port serves the fetch, its read/write port
the writer), depth ``ceil(nm_words / nm_read)``; each tile's SB, both halves,
``2 × sb_words`` weight bricks, written one off-chip beat (``L × A`` bits) at a time.

Glue (**estimated**, not synthesised): for ``rows > 1`` per instance, a ``rows``:1 read
multiplexer of ``bits`` ``mux2_1`` cells per step of the tree (``(rows - 1) × bits`` cells), a
row decoder of one ``and4_1`` per row and port, and the registered row select of the read
(``ceil(log2 rows)`` ``dfxtp_1``); cell areas from the shipped standard-cell Liberty.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dstripes.sim.chip.config import ChipConfig
from dstripes.sim.errors import ConfigError

from .liberty import liberty_info, resolve_liberty

#: The shipped macros (Liberty, LEF, Verilog, LICENSE, README).
SRAM_DIR = Path(__file__).with_name("pdk") / "sram"
#: The macros, by name (their files are ``<name>_TT_1p8V_25C.lib`` and ``<name>.lef``).
MACROS = ("sky130_sram_1kbyte_1rw1r_32x256_8", "sky130_sram_1kbyte_1rw1r_8x1024_8",
          "sky130_sram_2kbyte_1rw1r_32x512_8")
CORNER = "_TT_1p8V_25C"
#: Standard cells of the glue estimate (``synth/pdk``'s sky130 library).
GLUE_CELLS = {"mux": "sky130_fd_sc_hd__mux2_1", "decode": "sky130_fd_sc_hd__and4_1", "flop": "sky130_fd_sc_hd__dfxtp_1"}
#: LEF outline and Liberty area must agree to this relative tolerance.
AREA_TOLERANCE = 1e-4
#: Most macros one memory may use (a bound against absurd configurations).
MAX_MACROS = 1 << 20

_CAP_PF = {"ff": 1e-3, "pf": 1.0, "nf": 1e3}
_VOLT = {"mv": 1e-3, "v": 1.0}
_POWER_W = {"nw": 1e-9, "uw": 1e-6, "mw": 1e-3, "w": 1.0}
_TIME_NS = {"ps": 1e-3, "ns": 1.0, "us": 1e3}


@dataclass(frozen=True)
class Macro:
    """One SRAM macro as the mapping uses it.

    Members
    -------
    name : str
    words, bits : int
        Depth and word width.
    mask_bits : int
        Bits per write-mask bit (the write granularity).
    width_um, height_um : float
        LEF ``SIZE``.
    liberty_area : float
        The Liberty ``area`` (µm²), checked equal to the outline.
    read_pj, write_pj : float
        Energy of one read (port 1) and one write (port 0).
    leakage_w : float
    clk_to_out_ns : float
        Largest ``dout`` delay after the clock's falling edge (the worst entry of its tables).
    setup_ns : float
        Largest setup of its inputs to the rising edge.
    min_period_ns : float
        The Liberty ``minimum_period`` of its clocks.
    """

    name: str
    words: int
    bits: int
    mask_bits: int
    width_um: float
    height_um: float
    liberty_area: float
    read_pj: float
    write_pj: float
    leakage_w: float
    clk_to_out_ns: float
    setup_ns: float
    min_period_ns: float

    @property
    def area_um2(self) -> float:
        """The LEF outline, µm²."""
        return self.width_um * self.height_um

    @property
    def kib(self) -> float:
        return self.words * self.bits / 8192

    def as_dict(self) -> dict:
        return {"name": self.name, "words": self.words, "bits": self.bits, "area_um2": self.area_um2,
                "read_pj": self.read_pj, "write_pj": self.write_pj, "leakage_w": self.leakage_w,
                "clk_to_out_ns": self.clk_to_out_ns, "setup_ns": self.setup_ns, "min_period_ns": self.min_period_ns}


def _unit(text: str, attr: str, table: dict, what: str) -> float:
    m = re.search(attr + r'\s*:\s*"?\s*([0-9.]+)\s*([A-Za-z]+)"?\s*;', text)
    if not m:
        raise ConfigError(f"{what}: no {attr}")
    unit = m.group(2).lower()
    if unit not in table:
        raise ConfigError(f"{what}: unknown {attr} unit {m.group(2)!r}")
    return float(m.group(1)) * table[unit]


def _numbers(values: str) -> list:
    return [float(x) for x in re.findall(r"-?[0-9.]+(?:e[-+]?[0-9]+)?", values)]


def _block(text: str, head: str, what: str) -> str:
    """The body of the first group ``head{...}`` (braces balanced)."""
    i = text.find(head)
    if i < 0:
        raise ConfigError(f"{what}: no {head}")
    j = text.index("{", i)
    depth = 0
    for k in range(j, len(text)):
        depth += {"{": 1, "}": -1}.get(text[k], 0)
        if depth == 0:
            return text[j + 1:k]
    raise ConfigError(f"{what}: unbalanced braces after {head}")


def clock_energy_pj(text: str, clock: str, when: str, what: str = "liberty") -> float:
    """``rise_power + fall_power`` of the ``internal_power`` group of pin ``clock`` whose ``when``
    is ``when``, in pJ (the Liberty energy unit is ``capacitive_load_unit × voltage_unit²``)."""
    cap = re.search(r"capacitive_load_unit\s*\(\s*([0-9.]+)\s*,\s*([A-Za-z]+)\s*\)", text)
    if not cap or cap.group(2).lower() not in _CAP_PF:
        raise ConfigError(f"{what}: no usable capacitive_load_unit")
    unit_pj = float(cap.group(1)) * _CAP_PF[cap.group(2).lower()] * _unit(text, "voltage_unit", _VOLT, what) ** 2
    body = _block(text, f"pin({clock})", what)
    for start in [m.start() for m in re.finditer(r"internal_power\s*\(\s*\)", body)]:
        g = _block(body[start:], "internal_power", what)
        w = re.search(r'when\s*:\s*"([^"]*)"', g)
        if w and w.group(1).replace(" ", "") == when.replace(" ", ""):
            rise = re.search(r"rise_power\s*\(\s*scalar\s*\)\s*\{\s*values\s*\(\s*\"([^\"]+)\"", g)
            fall = re.search(r"fall_power\s*\(\s*scalar\s*\)\s*\{\s*values\s*\(\s*\"([^\"]+)\"", g)
            if not rise or not fall:
                raise ConfigError(f"{what}: internal_power of {clock} when {when} has no scalar rise/fall power")
            return (float(rise.group(1)) + float(fall.group(1))) * unit_pj
    raise ConfigError(f"{what}: pin {clock} has no internal_power when {when!r}")


def read_macro(lib: Path, lef: Path) -> Macro:
    """One macro from its Liberty and LEF files (module docstring)."""
    what = f"SRAM macro {lib.name}"
    try:
        text, lef_text = lib.read_text(), lef.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read {e.filename}: {e.strerror}") from None
    cell = re.search(r"cell\s*\(\s*(\w+)\s*\)", text)
    mem = re.search(r"address_width\s*:\s*(\d+)\s*;\s*word_width\s*:\s*(\d+)", text)
    mask = _block(text, "type (wmask)", what)
    size = re.search(r"SIZE\s+([0-9.]+)\s+BY\s+([0-9.]+)", lef_text)
    area = re.search(r"\barea\s*:\s*([0-9.]+)\s*;", text)
    leak = re.search(r"\bcell_leakage_power\s*:\s*([0-9.eE+-]+)\s*;", text)
    if not (cell and mem and size and area and leak):
        raise ConfigError(f"{what}: missing cell, memory(), LEF SIZE, area or cell_leakage_power")
    bits = int(mem.group(2))
    mask_width = int(re.search(r"bit_width\s*:\s*(\d+)", mask).group(1))
    t_ns = _unit(text, "time_unit", _TIME_NS, what)
    # clock-to-out: every entry of the dout cell_rise / cell_fall tables, the worst one
    dout = _block(text, "bus(dout1)", what)
    co = [v for m in re.finditer(r"cell_(?:rise|fall)\s*\(\s*\w+\s*\)\s*\{\s*values\s*\(([^;]*)\)\s*;", dout)
          for v in _numbers(m.group(1))]
    setups = []
    for m in re.finditer(r"timing_type\s*:\s*setup_rising\s*;.*?rise_constraint\s*\(\s*\w+\s*\)\s*\{\s*values\s*"
                         r"\(([^;]*)\)\s*;\s*\}\s*fall_constraint\s*\(\s*\w+\s*\)\s*\{\s*values\s*\(([^;]*)\)",
                         text, re.S):
        setups += _numbers(m.group(1)) + _numbers(m.group(2))
    periods = [float(x) for x in re.findall(r'minimum_period"?\s*;\s*related_pin\s*:\s*\w+\s*;\s*rise_constraint'
                                            r'\s*\(\s*scalar\s*\)\s*\{\s*values\s*\(\s*"([0-9.]+)"', text)]
    if not co or not setups or not periods:
        raise ConfigError(f"{what}: no clock-to-out, setup or minimum_period tables")
    macro = Macro(
        name=cell.group(1), words=1 << int(mem.group(1)), bits=bits, mask_bits=bits // mask_width,
        width_um=float(size.group(1)), height_um=float(size.group(2)), liberty_area=float(area.group(1)),
        read_pj=clock_energy_pj(text, "clk1", "!csb1", what),
        write_pj=clock_energy_pj(text, "clk0", "!csb0 & !web0", what),
        leakage_w=float(leak.group(1)) * _unit(text, "leakage_power_unit", _POWER_W, what),
        clk_to_out_ns=max(co) * t_ns, setup_ns=max(setups) * t_ns, min_period_ns=max(periods) * t_ns)
    if abs(macro.area_um2 - macro.liberty_area) > AREA_TOLERANCE * macro.liberty_area:
        raise ConfigError(f"{what}: LEF outline {macro.area_um2:.2f} µm² differs from the Liberty area "
                          f"{macro.liberty_area:.2f} µm²")
    return macro


@lru_cache(maxsize=4)
def load_macros(folder: str | None = None) -> tuple:
    """Every macro of :data:`MACROS` in ``folder`` (default :data:`SRAM_DIR`)."""
    d = Path(folder) if folder is not None else SRAM_DIR
    return tuple(read_macro(d / f"{n}{CORNER}.lib", d / f"{n}.lef") for n in MACROS)


@lru_cache(maxsize=1)
def glue_cell_areas() -> dict:
    """``{role: µm²}`` of the glue estimate's cells (:data:`GLUE_CELLS`)."""
    cells = liberty_info(resolve_liberty("sky130")).cells
    return {role: cells[name].area for role, name in GLUE_CELLS.items()}


@dataclass(frozen=True)
class MemoryMap:
    """One memory of the chip built from macros.

    Members
    -------
    name : str
    instances : int
        Independent memories of this shape (NM banks, one SB per tile).
    words, bits : int
        Of one instance.
    granule : int
        Bits of one write (the off-chip beat into SB; a brick into NM).
    macro : Macro
    banks, rows : int
        Of one instance: macros side by side (width) and rows of them (depth).
    glue_um2 : float
        Estimated decoder / read-multiplexer area of all instances.
    """

    name: str
    instances: int
    words: int
    bits: int
    granule: int
    macro: Macro
    banks: int
    rows: int
    glue_um2: float

    @property
    def macros(self) -> int:
        return self.instances * self.banks * self.rows

    @property
    def area_um2(self) -> float:
        """The macros' outlines, µm² (the glue apart)."""
        return self.macros * self.macro.area_um2

    @property
    def read_pj(self) -> float:
        """One read of one instance's word: ``banks`` macro reads."""
        return self.banks * self.macro.read_pj

    @property
    def word_write_pj(self) -> float:
        """One write of a whole word of one instance."""
        return self.banks * self.macro.write_pj

    @property
    def granule_write_pj(self) -> float:
        """One ``granule``-bit write, on average over the word's slices (exact for writes that
        fill whole words slice by slice, as the SB fill does): the banks each slice covers."""
        slices = self.bits // self.granule
        w = self.macro.bits
        touched = sum(((i + 1) * self.granule - 1) // w - (i * self.granule) // w + 1 for i in range(slices))
        return touched / slices * self.macro.write_pj

    @property
    def leakage_w(self) -> float:
        return self.macros * self.macro.leakage_w

    def as_dict(self) -> dict:
        return {"name": self.name, "instances": self.instances, "words": self.words, "bits": self.bits,
                "macro": self.macro.name, "banks": self.banks, "rows": self.rows, "macros": self.macros,
                "area_um2": self.area_um2, "glue_um2": self.glue_um2, "read_pj": self.read_pj,
                "write_pj": self.granule_write_pj, "leakage_w": self.leakage_w}


def glue_um2(rows: int, bits: int, read_ports: int = 1, write_ports: int = 1) -> float:
    """Estimated area of one instance's depth glue (module docstring); 0 for one row."""
    if rows <= 1:
        return 0.0
    a = glue_cell_areas()
    return (read_ports * (rows - 1) * bits * a["mux"] + (read_ports + write_ports) * rows * a["decode"]
            + read_ports * math.ceil(math.log2(rows)) * a["flop"])


def map_memory(name: str, words: int, bits: int, *, instances: int = 1, granule: int | None = None,
               enable: int | None = None, macros=None) -> MemoryMap:
    """``instances`` memories of ``words`` × ``bits`` from the macro of least area (module
    docstring). ``granule``: bits of one write (default ``bits``), dividing ``bits``;
    ``enable``: bits of the finest write enable (default ``granule``), which must be whole
    write-mask units of the macro (unless the whole word is written at once).

    Raises
    ------
    ConfigError
        When no macro can build the memory (write granule, too many macros).
    """
    granule = bits if granule is None else granule
    enable = granule if enable is None else enable
    if words < 1 or bits < 1 or instances < 1 or granule < 1 or bits % granule:
        raise ConfigError(f"{name}: {instances} x {words} words x {bits} bits (writes of {granule} bits) is no memory")
    best, why = None, []
    for m in (load_macros() if macros is None else macros):
        if enable != bits and enable % m.mask_bits:
            why.append(f"{m.name} writes {m.mask_bits}-bit units, {name} writes {enable}-bit ones")
            continue
        banks, rows = -(-bits // m.bits), -(-words // m.words)
        if banks * rows * instances > MAX_MACROS:
            why.append(f"{m.name} would need {banks * rows * instances:,} macros (at most {MAX_MACROS:,})")
            continue
        key = (banks * rows * m.area_um2, banks * rows, m.name)
        if best is None or key < best[0]:
            best = (key, m, banks, rows)
    if best is None:
        raise ConfigError(f"no sky130 SRAM macro can build {name} ({instances} x {words:,} words x {bits} bits): "
                          + "; ".join(why))
    _, m, banks, rows = best
    return MemoryMap(name, instances, words, bits, granule, m, banks, rows, instances * glue_um2(rows, bits))


@dataclass(frozen=True)
class ChipMemories:
    """NM and every tile's SB built from macros (:func:`chip_memories`)."""

    nm: MemoryMap
    sb: MemoryMap

    @property
    def maps(self) -> tuple:
        return (self.nm, self.sb)

    @property
    def macros(self) -> int:
        return sum(m.macros for m in self.maps)

    @property
    def area_um2(self) -> float:
        return sum(m.area_um2 for m in self.maps)

    @property
    def glue_um2(self) -> float:
        return sum(m.glue_um2 for m in self.maps)

    @property
    def leakage_w(self) -> float:
        return sum(m.leakage_w for m in self.maps)

    @property
    def clk_to_out_ns(self) -> float:
        return max(m.macro.clk_to_out_ns for m in self.maps)

    @property
    def setup_ns(self) -> float:
        return max(m.macro.setup_ns for m in self.maps)

    @property
    def min_period_ns(self) -> float:
        return max(m.macro.min_period_ns for m in self.maps)

    def as_dict(self) -> dict:
        return {"nm": self.nm.as_dict(), "sb": self.sb.as_dict(), "macros": self.macros, "area_um2": self.area_um2,
                "glue_um2": self.glue_um2, "leakage_w": self.leakage_w, "clk_to_out_ns": self.clk_to_out_ns,
                "setup_ns": self.setup_ns, "min_period_ns": self.min_period_ns,
                "macro_types": {m.macro.name: m.macro.as_dict() for m in self.maps}}


def chip_memories(chip: ChipConfig, macros=None) -> ChipMemories:
    """NM (``nm_read`` brick-wide banks) and the ``T`` weight buffers of ``chip`` from macros."""
    b = chip.nm_read
    nm = map_memory("NM", -(-chip.nm_words // b), chip.brick_bits, instances=b, enable=chip.tile.act_bits,
                    macros=macros)
    sb = map_memory("SB", 2 * chip.sb_words, chip.weight_brick_bits, instances=chip.tiles, granule=chip.brick_bits,
                    macros=macros)
    return ChipMemories(nm, sb)
