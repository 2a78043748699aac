"""What the flow tells yosys and ABC: the script of a block, the script of a tile's top level,
the ABC scripts they run and the gate-equivalent library (``synth/README.md``, "Flow").

A block (:func:`synth_script`) goes through yosys' generic ``synth -flatten -noabc`` once, is
saved, and is mapped three ways (docs/references.md, "yosys area practice"):

* **transistors** — ``dffunmap; abc -g cmos2; opt_clean; stat -tech cmos``: NAND/NOR/NOT plus
  plain flip-flops, every one of which has a CMOS cost in yosys 0.23, so the count is exact;
* **gate equivalents** — ``dfflibmap``/``abc -liberty`` onto ``synth/ge.lib`` (NAND2 = 1), then
  ``stat -liberty``; the cells of that mapping are the reported cell count and the
  ``ltp -noff`` longest path through them (flip-flops excluded) the logic depth;
* **a user liberty** (optional) — the same mapping onto the user's library, ``stat -liberty``
  giving area in that library's units; when it is timed, with ABC's buffering and the netlist
  OpenSTA reads.

A tile's top level (:func:`glue_script`) is mapped like a block onto the user liberty, its
blocks black boxes.
"""
from __future__ import annotations

from pathlib import Path

#: The gate-equivalent library kept in the repository (see the comments in the file).
GE_LIBERTY = Path(__file__).with_name("ge.lib")
#: The only sequential cell of ``ge.lib``; excluded from the path search so paths end at registers.
GE_FLIP_FLOP = "DFF"

#: ABC script of every mapping: yosys 0.23's default minus its first step, ``&fraig -x`` (SAT
#: sweeping), and minus ``scorr``/``dretime``, which only act on registers and ABC sees none
#: here. SAT sweeping runs for many minutes on the bit-parallel multipliers (over 5 minutes on one
#: 16-lane 16-bit inner product, against 15 s without it) and changed no area by more than a
#: few percent on the blocks we measured.
ABC_SCRIPT = "strash\ndc2\nstrash\n&get -n\n&dch -f\n&nf\n&put\n"
#: The same, then ABC's buffering of every net with more than 10 loads, block inputs and
#: register outputs included (``-p``), with the gate sizing it does on the way: without it a
#: register enable drives thousands of pins through one minimum-size gate and OpenSTA reports
#: hundreds of ns. Used for a timed user liberty (its area includes those buffers).
ABC_LIB_SCRIPT = ABC_SCRIPT + "buffer -p -N 10\n"


def _generic(top: str) -> list:
    return [f"hierarchy -check -top {top}",
            # -noabc: synth's own generic gate mapping would be thrown away by every technology
            # mapping after it; skipping it saves ~15 % of the CPU time at the same areas (+-1 %)
            f"synth -flatten -noabc -top {top}"]


def _user_mapping(name: str, netlist: tuple | None) -> list:
    """Map onto ``user.lib`` and report the area in ``<name>.rpt``; with ``netlist`` (the
    library's buffer: cell, input pin, output pin) buffer high fan-out nets and write the
    netlist OpenSTA reads, ``<name>.v``."""
    lines = [
        "read_liberty -lib user.lib",
        "dfflibmap -liberty user.lib",
        f"abc -script {'abc.script' if netlist is None else 'abc_lib.script'} -liberty user.lib",
        "opt_clean",
        f"tee -o {name}.rpt stat -liberty user.lib",
    ]
    if netlist is not None:
        buf, a, y = netlist
        lines += [
            # one name per net (OpenSTA's reader takes no concatenation on the left of an
            # assign); the remaining port-to-port connections become buffers, after the area
            # report so they are not counted
            "opt_clean -purge",
            f"insbuf -buf {buf} {a} {y}",
            f"write_verilog -noattr {name}.v",
        ]
    return lines


def synth_script(top: str, user_liberty: bool = False, netlist: tuple | None = None) -> str:
    """The yosys script of one block, reading ``block.v``, ``abc.script`` and ``ge.lib`` from
    its directory (and ``user.lib`` when ``user_liberty``); see the module docstring.

    ``netlist`` (with ``user_liberty``): ``(buffer cell, input pin, output pin)`` of the user
    library; the mapping then also buffers high fan-out nets (``abc_lib.script``) and writes
    ``user.v``, the netlist OpenSTA reads (:mod:`synth.timing`).
    """
    lines = [
        "read_verilog block.v",
        *_generic(top),
        "design -save generic",
        # transistors: unmap enables/resets into logic so every cell has a CMOS cost
        "dffunmap",
        "abc -script abc.script -g cmos2",
        "opt_clean",
        "tee -o cmos.rpt stat -tech cmos",
        # gate equivalents and depth
        "design -load generic",
        "read_liberty -lib ge.lib",
        "dfflibmap -liberty ge.lib",
        "abc -script abc.script -liberty ge.lib",
        "opt_clean",
        "tee -o ge.rpt stat -liberty ge.lib",
        f"tee -o depth.rpt ltp -noff t:{GE_FLIP_FLOP} %n",
    ]
    if user_liberty:
        lines += ["design -load generic", *_user_mapping("user", netlist)]
    return "\n".join(lines) + "\n"


def glue_script(top: str, stubs: str, netlist: tuple) -> str:
    """The yosys script mapping a tile's top level (``glue_rtl.v``) onto ``user.lib``, its blocks
    black boxes (``stubs``: a file of their port declarations): area in ``glue.rpt``, netlist
    ``glue.v``."""
    return "\n".join([f"read_verilog -lib {stubs}", "read_verilog glue_rtl.v", *_generic(top),
                      *_user_mapping("glue", netlist)]) + "\n"
