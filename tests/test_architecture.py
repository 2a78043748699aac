"""The project's structure rules, checked on the source (``docs/design.md`` §1):

* imports go down the layers ``sim`` (model core) → ``sim.nets`` → ``hw`` → ``tb`` → ``synth`` →
  ``scripts``, module-level and function-level alike;
* no import cycle between modules, not even one hidden inside a function;
* library code imports at module level: a function may import the project's own modules only in a
  command module's ``run`` (a lazy import there keeps ``dstripes --help`` fast), and third-party
  packages only when they are optional extras or slow to load (:data:`LAZY_OK`);
* one definition of each tile kind's name; every citation points into the repository; no large
  file is tracked.

Each rule is checked on a small tree with a deliberate violation too, so a rule that stopped
seeing anything would fail here rather than pass quietly.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dstripes.sim.schemes import SCHEMES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hw", "sim", "tb", "synth", "scripts")
#: Layers, lowest first: a module may import its own layer and the ones before it.
LAYERS = ("dstripes.sim", "dstripes.sim.nets", "dstripes.hw", "dstripes.tb", "dstripes.synth", "dstripes.scripts")
#: Third-party packages a function may import lazily: the optional ``nets`` extra (PyTorch, ONNX,
#: photos) and matplotlib (half a second to import, needed only for plots).
LAZY_OK = {"torch", "torchvision", "onnx", "onnxruntime", "PIL", "h5py", "skimage", "sklearn", "matplotlib",
           "safetensors", "tokenizers"}  # the nets extra: the built-in MiniLM's weights and tokenizer
#: Largest file the repository may track (the shipped sky130 library is under it).
MAX_TRACKED_BYTES = 5 << 20


def _module(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["dstripes"] + parts)


def _sources(root: Path, *folders):
    for folder in folders:
        yield from sorted((root / folder).rglob("*.py"))


def _layer(module: str) -> int:
    """Index of the layer ``module`` belongs to (the most specific prefix)."""
    best = -1
    for i, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            if best < 0 or len(prefix) > len(LAYERS[best]):
                best = i
    return best


def _resolve(name: str, modules: set) -> str | None:
    """The project module ``name`` refers to (a module, or the package of a name in it)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports(path: Path, root: Path = ROOT):
    """``(target, function, line)`` of every import in ``path``; ``function`` is the enclosing
    function's name or ``None`` at module level. Relative imports are resolved; ``from X import
    Y`` yields ``X.Y`` too, in case ``Y`` is a module."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module(path, root) if path.name == "__init__.py" else _module(path, root).rpartition(".")[0]
    out = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            fn = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Import):
                out.extend((a.name, function, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - child.level + 1]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module
                out.append((mod, function, child.lineno))
                out.extend((f"{mod}.{a.name}", function, child.lineno) for a in child.names)
            visit(child, fn)
    visit(tree, None)
    return out


def structure_problems(root: Path = ROOT) -> list[str]:
    """Every breach of the import rules under ``root`` (a checkout, or a test tree laid out alike)."""
    files = {_module(p, root): p for p in _sources(root, *PACKAGES)}
    modules = set(files)
    problems, edges = [], {m: set() for m in modules}
    for mod, path in files.items():
        where = path.relative_to(root)
        command_run = path.parent.name == "scripts" and path.name.startswith("cmd_")
        said = set()  # one line per import statement and rule (``from X import a, b`` is one)

        def say(line, rule, text):
            if (line, rule) not in said:
                said.add((line, rule))
                problems.append(f"{where}:{line} {text}")

        for name, function, line in imports(path, root):
            top = name.split(".")[0]
            if top in PACKAGES + ("tests",):
                say(line, "namespace", f"imports {name} outside the dstripes namespace")
                continue
            target = _resolve(name, modules) if top == "dstripes" else None
            if function is not None:
                if top == "dstripes" and not (command_run and function == "run"):
                    say(line, "lazy", f"imports {name} inside {function}() (only a command's run() may "
                                      f"import the project lazily)")
                elif top != "dstripes" and top not in LAZY_OK and top != "__future__":
                    say(line, "lazy", f"imports {name} inside {function}() (import it at module level; only "
                                      f"{', '.join(sorted(LAZY_OK))} may load lazily)")
            if target is None or target == mod:
                continue
            if _layer(target) > _layer(mod):
                say(line, "layer", f"imports {target}, a layer above {LAYERS[_layer(mod)]}")
            # a package's __init__ importing its own modules is how a package is made, not a cycle
            if not (path.name == "__init__.py" and target.startswith(mod + ".")) and \
                    not mod.startswith(target + ".") and not files[target].name == "__init__.py":
                edges[mod].add(target)
    problems += [f"import cycle: {' -> '.join(c + [c[0]])}" for c in _cycles(edges)]
    return problems


def _cycles(edges: dict) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as a list."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_imports_go_down_the_layers_without_cycles():
    problems = structure_problems()
    assert not problems, f"{len(problems)} breaches of the import rules:\n" + "\n".join(problems)


def _tree(tmp_path: Path, files: dict) -> Path:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir(exist_ok=True)
        (tmp_path / pkg / "__init__.py").touch()
    return tmp_path


@pytest.mark.parametrize("files,expected", [
    # the model importing the hardware: up a layer
    ({"sim/model.py": "from dstripes.hw.tile import Tile\n", "hw/tile.py": "Tile = 1\n"},
     "imports dstripes.hw.tile, a layer above dstripes.sim"),
    # testbench importing synthesis, hidden in a function: up a layer and lazy
    ({"tb/bench.py": "def f():\n    from dstripes.synth import flow\n", "synth/flow.py": ""},
     "imports dstripes.synth inside f()"),
    ({"tb/bench.py": "def f():\n    from dstripes.synth import flow\n", "synth/flow.py": ""},
     "a layer above dstripes.tb"),
    # two modules of one layer importing each other
    ({"sim/a.py": "from . import b\n", "sim/b.py": "from .a import x\n"},
     "import cycle: dstripes.sim.a -> dstripes.sim.b -> dstripes.sim.a"),
    # a standard-library import inside a library function
    ({"synth/flow.py": "def f():\n    import json\n"}, "imports json inside f()"),
    # a bare folder name instead of the namespace
    ({"tb/bench.py": "import sim.layer\n"}, "imports sim.layer outside the dstripes namespace"),
])
def test_the_import_rules_catch_a_wrong_import(tmp_path, files, expected):
    problems = structure_problems(_tree(tmp_path, files))
    assert any(expected in p for p in problems), problems


def test_the_import_rules_allow_what_is_right(tmp_path):
    root = _tree(tmp_path, {
        "sim/a.py": "import json\n\nfrom .b import x\n",
        "sim/b.py": "x = 1\n",
        "hw/tile.py": "from dstripes.sim.a import x\n\ndef plot():\n    import matplotlib\n",
        "scripts/cmd_go.py": "import argparse\n\ndef run(args):\n    from dstripes.hw.tile import x\n",
    })
    assert structure_problems(root) == []


def test_the_model_core_is_independent():
    """The model core (sim/*.py) never imports its own network layer sim/nets/ (layer order),
    checked by name here too: the golden model must stay importable without PyTorch or ONNX."""
    for path in _sources(ROOT, "sim"):
        if path.parent.name == "sim":
            nets = {m for m, _, _ in imports(path) if m.startswith("dstripes.sim.nets")}
            assert not nets, f"{path.relative_to(ROOT)} (model core) imports {sorted(nets)}"


def test_a_tile_kind_name_is_written_once():
    """Outside tests and docs a kind's name is a literal only in its registry entry
    (sim/schemes.py); everything else reads the registry."""
    names = set(SCHEMES)
    found = []
    for path in _sources(ROOT, *PACKAGES):
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


def test_no_large_file_is_tracked():
    """Packages, archives, models and build outputs come from their registries, never from the
    repository: no tracked file is over 5 MB."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.fail(f"git ls-files failed in {ROOT}: {e}")
    names = [n for n in listed.decode().split("\0") if n]
    assert names, "git lists no tracked file"
    big = [f"{n} ({(ROOT / n).stat().st_size / 1e6:.1f} MB)" for n in names
           if (ROOT / n).is_file() and (ROOT / n).stat().st_size > MAX_TRACKED_BYTES]
    assert not big, f"tracked files over {MAX_TRACKED_BYTES >> 20} MB: {', '.join(big)}"


def test_every_citation_points_at_a_file_of_the_repository():
    """Code and docs cite the project's own documents (users never see any other notes):
    a cited document under docs/ must exist and ``§N`` must be one of its numbered sections."""
    cite = re.compile(r"(docs/[\w./-]+\.md)(?:\s*§(\d+))?")
    bare = re.compile(r"(?<![\w/.-])([A-Z][A-Z_]{2,})(?:\.md\b|\s+§\d)")
    shipped = {p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts and "build" not in p.parts}
    # the rule itself catches what it is for (names built here so this file cites nothing)
    assert bare.search("see " + "PLAN" + ".md") and bare.search("PLAN" + " §5") and not bare.search("docs/" + "design.md")
    bad = []
    files = list(_sources(ROOT, *PACKAGES, "tests")) + sorted(ROOT.glob("*.md")) + sorted((ROOT / "docs").glob("*.md")) \
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
