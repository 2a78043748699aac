"""Verilog emission (``hw/emit.py``): identical modules written once (:func:`share_modules`); and
the tile marked a hierarchical block for Verilator (``tb/host/verilator.py`` :func:`hier_block`),
so the accelerator's harness compiles one tile, not ``T`` copies (the harness's builds in
``tests/test_tb_chip*.py`` and ``tests/test_tb_chain.py`` are built that way)."""
from __future__ import annotations

import re

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from dstripes.hw.emit import share_modules, to_verilog
from dstripes.tb.host.verilator import HIER_BLOCK, hier_block


class Leaf(wiring.Component):
    """A register and a comb process (whose ``always @*`` yosys names with a design-wide number)."""

    def __init__(self, width: int = 8, step: int = 1):
        self._step = step
        super().__init__({"a": In(width), "y": Out(width)})

    def elaborate(self, platform):
        m = Module()
        r = Signal.like(self.a)
        m.d.sync += r.eq(self.a + self._step)
        with m.If(r[0]):
            m.d.comb += self.y.eq(r)
        with m.Else():
            m.d.comb += self.y.eq(r >> 1)
        return m


class Pair(wiring.Component):
    def __init__(self, step: int = 1):
        self._step = step
        super().__init__({"a": In(8), "y": Out(8)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.leaf0 = l0 = Leaf(step=self._step)
        m.submodules.leaf1 = l1 = Leaf(step=self._step)
        m.d.comb += [l0.a.eq(self.a), l1.a.eq(l0.y), self.y.eq(l1.y)]
        return m


class Top(wiring.Component):
    def __init__(self):
        super().__init__({"a": In(8), "y": Out(8)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.p0 = p0 = Pair()
        m.submodules.p1 = p1 = Pair()
        m.submodules.odd = odd = Leaf(step=3)          # a different body: never merged
        m.d.comb += [p0.a.eq(self.a), p1.a.eq(p0.y), odd.a.eq(p1.y), self.y.eq(odd.y)]
        return m


def modules(text):
    return re.findall(r"^module (\\\S+ |\w+)", text, re.M)


def instances(text):
    """``[(module, instance)]`` of every instantiation."""
    return re.findall(r"^\s+(\\\S+ |\w+)\s+(\\\S+ |\w+)\s*\($", text, re.M)


def tree(text, top):
    """Every instance path below ``top``."""
    bodies = {m.group(1).strip(): m.group(0) for m in
              re.finditer(r"^module (\\\S+ |\w+).*?^endmodule", text, re.M | re.S)}
    paths = []

    def walk(module, path):
        for kind, inst in instances(bodies[module]):
            paths.append(path + inst.strip())
            walk(kind.strip(), path + inst.strip() + ".")
    walk(top, "")
    return sorted(paths)


def test_identical_modules_are_written_once_and_every_instance_kept():
    text = to_verilog(Top(), "top")
    assert "$auto$" in text               # yosys's numbered names differ between the copies
    assert len(modules(text)) == 1 + 2 + 4 + 1
    shared = share_modules(text, keep="top")
    names = [n.strip() for n in modules(shared)]
    # the leaves of both pairs become one module, then the two pairs (equal once their children
    # are) one more; the odd leaf and the top stay
    assert len(names) == 4 and names[0] == "top"
    assert tree(shared, "top") == tree(text, "top") == ["odd", "p0", "p0.leaf0", "p0.leaf1", "p1", "p1.leaf0",
                                                        "p1.leaf1"]
    used = {m.strip() for m, _ in instances(shared)}
    assert used <= set(names[1:]) and len(used) == 3
    assert shared.count("endmodule") == 4
    # idempotent, and a design with nothing to share is left as it is
    assert share_modules(shared, keep="top") == shared
    leaf = to_verilog(Leaf(), "leaf")
    assert share_modules(leaf, keep="leaf") == leaf


def test_a_different_body_is_never_merged():
    text = to_verilog(Top(), "top")
    shared = share_modules(text, keep="top")
    odd = [n for n in modules(shared) if n.strip().endswith(".odd")]
    assert odd, "the leaf with another step must keep its own module"
    # the merged leaf still adds 1, the odd one 3
    body = lambda name: re.search(r"^module " + re.escape(name) + r".*?^endmodule", shared, re.M | re.S).group(0)
    leaf = next(m for m, i in instances(shared) if i.strip() == "leaf0")
    assert "a + 1'h1" in body(leaf) and "a + 2'h3" in body(odd[0])


def test_the_tile_is_marked_a_hierarchical_block():
    text = to_verilog(Top(), "top")
    marked = hier_block(text, "top")
    assert re.search(r"^module top\([^;]*;\n" + re.escape(HIER_BLOCK), marked, re.M)
    assert marked.replace(HIER_BLOCK, "", 1) == text and marked.count(HIER_BLOCK) == 1
    with pytest.raises(ValueError, match="no module 'tile' to mark"):
        hier_block(text, "tile")
