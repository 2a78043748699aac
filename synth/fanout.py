"""Fan-out repair of a mapped netlist: no cell output drives more than :data:`MAX_FANOUT` pins.

ABC's ``buffer -p`` (:data:`synth.recipe.ABC_LIB_SCRIPT`) buffers where its gain model says it
pays, which leaves some nets with 50 or more loads: a register's output (a flip-flop is outside
ABC's logic and keeps its smallest size) driving the decode of every column, a block input
fanning into a barrel shifter. A synthesis tool's design-rule repair would split those nets
before timing; this pass does the same, as a real flow must, so that a register's fan-out is not
timed as one minimum-size flip-flop charging 50 gate inputs.

Each net driven by a cell output with more than ``MAX_FANOUT`` loads gets a balanced tree of
the library's buffer (:meth:`synth.liberty.LibertyInfo.repair_buffer`): the loads are split into
groups of at most ``MAX_FANOUT``, each driven by a new buffer, the original net drives the
buffers (again split while it has too many). The buffers are real cells: their area is added to
the block's, and their power is counted.
"""
from __future__ import annotations

import re
from collections import defaultdict

from .liberty import LibertyInfo
from .netlist import CONNECTION, INSTANCE

#: Largest number of input pins one cell output drives after the repair.
MAX_FANOUT = 12


def repair_fanout(text: str, info: LibertyInfo, max_fanout: int = MAX_FANOUT) -> tuple:
    """Split the high fan-out nets of netlist ``text`` (module docstring).

    Returns
    -------
    (netlist text, buffers added, their area)
    """
    buf, a, y = info.repair_buffer()
    outputs = info.output_pins
    lines = text.splitlines()
    loads = defaultdict(list)      # net -> [line index of a load connection]
    driven = set()                 # nets driven by a cell output
    cur = None
    for i, line in enumerate(lines):
        if cur is None:
            m = INSTANCE.match(line)
            if m and m.group(2) in info.cells:
                cur = m.group(2)
            continue
        if line.strip() == ");":
            cur = None
            continue
        c = CONNECTION.match(line)
        if not c:
            continue
        net = c.group(3).strip()
        if not net or net.startswith("{") or "'" in net:
            continue  # unconnected, concatenation or constant: not a single net
        if c.group(2) in outputs[cur]:
            driven.add(net)
        else:
            loads[net].append(i)
    new_cells, added = [], 0
    for net, where in loads.items():
        if net not in driven or len(where) <= max_fanout:
            continue
        level = list(where)        # connections (line indices) still fed by `net`
        names = []
        while len(level) > max_fanout:
            groups = [level[k:k + max_fanout] for k in range(0, len(level), max_fanout)]
            level = []
            for g in groups:
                name = f"dstripes_fo_{added}"
                added += 1
                names.append((name, g))
                level.append(name)
        # rewrite: each group's connections use the buffer's output net; buffers of the first
        # level read `net` or a buffer of the level above
        parent = {}
        for name, g in names:
            for item in g:
                if isinstance(item, int):
                    c = CONNECTION.match(lines[item])
                    lines[item] = f"{c.group(1)}.{c.group(2)}({name}){c.group(4)}"
                else:
                    parent[item] = name
        for name, _ in names:
            src = parent.get(name, net)
            new_cells.append((name, src))
    if not new_cells:
        return text, 0, 0.0
    decl = "".join(f"  wire {name};\n" for name, _ in new_cells)
    # a space ends an escaped source name before the parenthesis
    cells = "".join(f"  {buf} {name}_buf (\n    .{a}({src} ),\n    .{y}({name})\n  );\n"
                    for name, src in new_cells)
    out = "\n".join(lines)
    head = re.search(r"\bmodule\s+\S+\s*\([^;]*\);\n", out)
    out = out[:head.end()] + decl + out[head.end():]
    end = out.rindex("endmodule")
    out = out[:end] + cells + out[end:]
    return out, len(new_cells), len(new_cells) * info.cells[buf].area
