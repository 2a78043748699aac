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


_MODULE = re.compile(r"^module (\\\S+ |[A-Za-z_][A-Za-z0-9_$]*)", re.M)
_END = re.compile(r"^endmodule[^\n]*\n?", re.M)
_INSTANCE = re.compile(r"^(\s+)(\\\S+ |[A-Za-z_][A-Za-z0-9_$]*)(?=\s+(?:#\s*\(|\\\S+ \s*\(|[A-Za-z_][A-Za-z0-9_$]*\s*\())",
                       re.M)
#: Yosys's own names (``\$auto$verilog_backend.cc:2355:dump_module$7``): numbered design-wide.
_AUTO = re.compile(r"\\\$auto\$\S+ ")


def share_modules(text: str, keep: str | None = None) -> str:
    """``text`` (Verilog as :func:`to_verilog` emits it) with identical modules written once.

    Amaranth emits one module per instance: the 256 SIPs of a 16x16 tile are 256 modules with
    the same body (only the name differs). Every group of modules whose text is the same but
    for the name, the order of its ports (instances connect them by name) and the numbers of
    yosys's own ``$auto$`` names (renumbered in order of appearance) is replaced by its first member and every instantiation of the others renamed
    to it; repeated until nothing changes (merged children can make their parents equal). Only
    exact textual copies are merged, so the hardware is the same. What it buys is a smaller file
    for every tool that reads it (the published chip harness: 286 -> 16 modules, 12.0 -> 10.5 MB);
    it does not shorten Verilator's build, which inlines the copies again (its C++ is
    byte-identical with and without this); per-instance C++ is cut only by verilating the tile
    as a hierarchical block (the testbench's opt-in hierarchical build).

    Parameters
    ----------
    text : str
    keep : str, optional
        A module never merged away (the top).

    Returns
    -------
    str
    """
    while True:
        ends = [m.end() for m in _END.finditer(text)]
        blocks = [text[a:b] for a, b in zip([0] + ends[:-1], ends)]
        tail = text[ends[-1]:] if ends else text
        first, rename, named = {}, {}, []
        for block in blocks:
            m = _MODULE.search(block)
            name = m.group(1) if m else None
            named.append(name)
            if name is None or name.strip() == keep:
                continue
            ports = re.match(r"\s*\(([^;]*)\);", block[m.end(1):])
            rest = block[m.end(1) + (ports.end() if ports else 0):]
            # ports in any order (yosys connects them by name)
            body = block[:m.start(1)] + "\0" + (repr(sorted(ports.group(1).split(", "))) if ports else "") + rest
            auto: dict = {}
            body = _AUTO.sub(lambda a: auto.setdefault(a.group(0), f"\0{len(auto)} "), body)
            canon = first.setdefault(body, name)
            if canon != name:
                rename[name] = canon
        if not rename:
            return text
        out = []
        for name, block in zip(named, blocks):
            if name not in rename:
                out.append(_INSTANCE.sub(lambda i: i.group(1) + rename.get(i.group(2), i.group(2)), block))
        text = "".join(out) + tail
