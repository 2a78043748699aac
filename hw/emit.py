"""Verilog emission: the one place the project turns an Amaranth component into Verilog."""
from __future__ import annotations

import re
from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import wiring

import dstripes.sim

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_top(name: str) -> str:
    """``name`` if it can name a top module (a plain Verilog identifier), else ``ValueError``."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(f"top module name must be a plain Verilog identifier, not {name!r}")
    return name


def to_verilog(component: wiring.Component, name: str) -> str:
    """Verilog of ``component`` with top module ``name``.

    Source locations are left out, so the text (which keys the simulator and synthesis caches)
    changes only when the hardware does, not when a line moves in the generator.
    """
    check_top(name)
    if not isinstance(component, wiring.Component):
        raise TypeError(f"expected an amaranth wiring.Component, not {type(component).__name__}")
    return verilog.convert(component, name=name, emit_src=False)


def generator_sources() -> list[Path]:
    """The source files the generated Verilog depends on: every module of ``dstripes.hw`` and of
    the model core ``dstripes.sim`` (the configuration and the schemes the generator reads).
    Caches of generated Verilog are keyed by their contents (:func:`dstripes.tb.host.verilog.cached_verilog`)."""
    here = Path(__file__).resolve().parent
    return sorted(here.glob("*.py")) + sorted(Path(dstripes.sim.__file__).resolve().parent.glob("*.py"))
