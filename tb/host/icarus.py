"""Icarus Verilog, and the netlist it runs.

Icarus evaluates Amaranth's output event by event, and every bit written into a wide port (a
pallet, a weight brick) re-triggers every reader of that port in every module instance: the
published tile did not get past its first cycles in 15 minutes. The same design flattened and
optimised by yosys (semantics-preserving passes only, no technology mapping) runs at the speed
the toolchain notes expect, so an Icarus build compiles :func:`icarus_netlist` instead of the
emitted Verilog (Verilator builds that unchanged). The yosys is the project's one
(:func:`dstripes.tb.tools.yosys_path`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from dstripes.sim.errors import ToolError

from ..tools import run_script, yosys_path
from .errors import BuildError

#: The yosys passes that turn Amaranth's hierarchical Verilog into the netlist Icarus runs.
ICARUS_PREP = "proc; flatten; opt -full; wreduce; opt_clean"
IVERILOG_MISSING = "iverilog is not on PATH (Debian: apt-get install iverilog)"


def icarus_tools() -> tuple[str, ...]:
    """The executables an Icarus build and run need on ``PATH`` (yosys is found by
    :func:`dstripes.tb.tools.yosys_path`; :class:`BuildError` if it is not)."""
    try:
        yosys_path()
    except ToolError as e:
        raise BuildError(f"{e}; Icarus builds need it") from None
    return ("iverilog", "vvp")


def icarus_netlist(source: Path, top: str, models: Sequence[Path] = ()) -> Path:
    """Flatten and clean ``source`` with yosys for Icarus; returns the netlist's path (beside
    ``source``). Behavioural ``models`` are read as black boxes: Icarus compiles them as they are.

    Raises
    ------
    BuildError
        yosys is missing or failed (the message ends with its first error and names its log).
    """
    source = Path(source)
    out = source.with_name(f"{top}.icarus.v")
    script = "".join(f"read_verilog -lib {m.name}\n" for m in models)
    script += f"read_verilog {source.name}\nhierarchy -top {top}\n"
    script += "".join(f"{p.strip()}\n" for p in ICARUS_PREP.split(";"))
    script += f"write_verilog -noattr {out.name}\n"
    try:
        run_script(script, source.parent, what=f"the Icarus netlist of {top}")
    except ToolError as e:
        raise BuildError(f"yosys could not prepare {source.name} for Icarus: {e}") from None
    if not out.exists():
        raise BuildError(f"yosys wrote no Icarus netlist of {source.name}; log: {source.parent / 'yosys.log'}")
    return out
