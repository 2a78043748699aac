"""Balanced reduction trees: the adder trees of the SIP and the inner product, the detector's
tree of maxima."""
from __future__ import annotations

from typing import Callable, Sequence

from amaranth.hdl import Module, Signal


def reduce_tree(items: Sequence, combine: Callable, *, m: Module | None = None, name: str | None = None,
                shape=None):
    """Reduce ``items`` pairwise in a balanced binary tree: ``ceil(log2 n)`` levels, so the
    logic depth grows with the logarithm of the fan-in, not linearly.

    Parameters
    ----------
    items : sequence of values
        Leaves (at least one).
    combine : callable
        ``combine(x, y)`` -> value of one node.
    m, name, shape : optional
        With all three, every node is a named ``Signal(shape)`` driven in ``m.d.comb``
        (``{name}{level}_{index}``). A node whose value is used twice (a maximum compares and
        selects the same operands) must be named: an unnamed expression is copied into every
        use, and the copies grow exponentially with the depth.
    """
    level = list(items)
    if not level:
        raise ValueError("a reduction tree needs at least one item")
    named = m is not None and name is not None and shape is not None
    depth = 0
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            node = combine(level[i], level[i + 1])
            if named:
                sig = Signal(shape, name=f"{name}{depth}_{i // 2}")
                m.d.comb += sig.eq(node)
                node = sig
            nxt.append(node)
        if len(level) % 2:
            nxt.append(level[-1])
        level, depth = nxt, depth + 1
    return level[0]
