"""The project's structure rules, checked on the source: what may import what, and one
definition of each tile kind's name."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dstripes.sim.schemes import SCHEMES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hw", "sim", "tb", "synth", "scripts")


def _sources(*folders):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                rel = path.relative_to(ROOT).with_suffix("").parts[:-node.level]
                base = ".".join(("dstripes",) + rel)
                out.add(f"{base}.{node.module}" if node.module else base)
            else:
                out.add(node.module)
    return out


@pytest.mark.parametrize("path", list(_sources(*PACKAGES)), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_use_the_dstripes_namespace(path):
    """Installed, the folders are dstripes.hw, dstripes.sim, ...: a bare ``import sim`` would
    collide with any other package of that name."""
    bare = {m for m in _imports(path) if m.split(".")[0] in PACKAGES + ("tests",)}
    assert not bare, f"{path.name} imports {sorted(bare)} outside the dstripes namespace"


def test_the_model_core_is_independent():
    """sim/ never imports the hardware, the testbench, synthesis or the CLI; the model core
    (sim/*.py) never imports its own network layer sim/nets/ either."""
    for path in _sources("sim"):
        mods = _imports(path)
        bad = {m for m in mods if m.startswith(("dstripes.hw", "dstripes.tb", "dstripes.synth", "dstripes.scripts"))}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
        if path.parent.name == "sim":
            nets = {m for m in mods if m.startswith("dstripes.sim.nets")}
            assert not nets, f"{path.relative_to(ROOT)} (model core) imports {sorted(nets)}"


def test_a_tile_kind_name_is_written_once():
    """Outside tests and docs a kind's name is a literal only in its registry entry
    (sim/schemes.py); everything else reads the registry."""
    names = set(SCHEMES)
    found = []
    for path in _sources(*PACKAGES):
        if path == ROOT / "sim" / "schemes.py":
            continue
        tree = ast.parse(path.read_text(), str(path))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in docstrings:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not found, "kind names written outside the registry: " + ", ".join(found)


def test_every_citation_points_at_a_file_of_the_repository():
    """Code and docs cite the project's own documents (users never see any other notes):
    a cited document under docs/ must exist and ``§N`` must be one of its numbered sections."""
    import re

    cite = re.compile(r"(docs/[\w./-]+\.md)(?:\s*§(\d+))?")
    bare = re.compile(r"(?<![\w/.-])([A-Z][A-Z_]{2,})(?:\.md\b|\s+§\d)")
    shipped = {p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts and "build" not in p.parts}
    # the rule itself catches what it is for (names built here so this file cites nothing)
    assert bare.search("see " + "PLAN" + ".md") and bare.search("PLAN" + " §5") and not bare.search("docs/" + "design.md")
    bad = []
    files = list(_sources(*PACKAGES, "tests")) + sorted(ROOT.glob("*.md")) + sorted((ROOT / "docs").glob("*.md")) \
        + sorted(ROOT.glob("*/README.md"))
    for path in files:
        text = path.read_text()
        # a bare upper-case document name, with ".md" or a section sign, must name a file of the
        # repository, and nothing may point at the notes outside it (they are never shipped)
        for m in bare.finditer(text):
            if m.group(1) + ".md" not in shipped:
                bad.append(f"{path.relative_to(ROOT)} cites {m.group(0).strip()}, which is not in the repository")
        if "../" + "shared" in text:
            bad.append(f"{path.relative_to(ROOT)} points outside the repository (../{'shared'})")
        for m in cite.finditer(text):
            doc = ROOT / m.group(1)
            if not doc.is_file():
                bad.append(f"{path.relative_to(ROOT)} cites missing {m.group(1)}")
            elif m.group(2) and not re.search(rf"^#+ §{m.group(2)} ", doc.read_text(), re.M):
                bad.append(f"{path.relative_to(ROOT)} cites {m.group(1)} §{m.group(2)}, which has no such section")
    assert not bad, "; ".join(bad)
