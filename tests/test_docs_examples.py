"""The newcomer's path, as the documents write it: the snippets and commands are taken from
``README.md`` and ``docs/usage.md`` and run as written, each feeding the next (the user's own
files they start from, a ReLU output and a folder of photos, are made here)."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dstripes.scripts.cli import main as cli

from .test_nets_onnx import _no_run_cache, photos  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def section(doc: str, number: int) -> str:
    """The text of ``## §number`` of ``docs/usage.md``-style ``doc``."""
    m = re.search(rf"^## §{number} .*?(?=^## |\Z)", doc, re.S | re.M)
    assert m, f"no §{number}"
    return m.group(0)


def blocks(text: str, lang: str) -> list[str]:
    """The fenced code blocks of ``lang`` in ``text``."""
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def commands(text: str, sub: str) -> list[list[str]]:
    """Every ``dstripes SUB ...`` line of the ``sh`` blocks of ``text``, as argv (comments off)."""
    out = []
    for block in blocks(text, "sh"):
        for line in block.replace("\\\n", " ").splitlines():  # a continued command is one line
            argv = shlex.split(line, comments=True)
            if argv[:2] == ["dstripes", sub]:
                out.append(argv[1:])
    return out


def _run_python(code: str, cwd: Path) -> str:
    p = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def test_quantisation_snippet_feeds_the_readme_cycles_example(tmp_path, monkeypatch, capsys):
    usage, readme = (ROOT / "docs" / "usage.md").read_text(), (ROOT / "README.md").read_text()
    [snippet] = blocks(section(usage, 1), "python")
    rng = np.random.default_rng(2)
    np.save(tmp_path / "relu_output.npy", np.maximum(rng.normal(0, 6, (16, 12, 12)), 0).astype(np.float32))
    printed = _run_python(snippet, tmp_path)
    msb, lsb = (int(v) for v in re.search(r"Window\(msb=(\d+), lsb=(\d+)\)", snippet).groups())
    tight = re.search(r"Window\(msb=(\d+), lsb=(\d+)", printed)  # the tightest window, as printed
    assert tight and int(tight.group(1)) <= msb and int(tight.group(2)) >= lsb, printed
    acts = np.load(tmp_path / "acts.npy")
    assert acts.dtype == np.uint16 and acts.shape == (16, 12, 12)
    monkeypatch.chdir(tmp_path)
    runs = commands(section(usage, 1), "cycles") + commands(readme, "cycles")
    assert len(runs) == 2
    for argv in runs:
        assert cli(argv) == 0, (argv, capsys.readouterr().err)
        out = capsys.readouterr().out
    res = json.loads(out)  # the README's asks for JSON
    assert res["dstripes"]["cycles"] <= res["stripes"]["cycles"] <= res["dadn"]["cycles"]
    # every README example on acts.npy names the window the snippet quantised into
    for sub in ("cycles", "simulate"):
        for argv in commands(readme, sub):
            if "acts.npy" in argv:
                assert argv[argv.index("--window") + 1] == f"{msb}:{lsb}", argv


@pytest.mark.nets
def test_export_snippet_and_the_profile_and_evaluate_commands(tmp_path, monkeypatch, capsys):
    """§4's export with PyTorch's default exporter (onnxscript), the README's profile command on a
    folder of 12 photos (the default counts take the 6 + 6 there are), then §4's evaluate."""
    from PIL import Image
    usage, readme = (ROOT / "docs" / "usage.md").read_text(), (ROOT / "README.md").read_text()
    [snippet] = blocks(section(usage, 4), "python")
    assert "dynamo=False" not in snippet
    _run_python(snippet, tmp_path)
    assert (tmp_path / "my_net.onnx").is_file()
    (tmp_path / "photos").mkdir()
    for i, (_, im) in enumerate(photos(12, size=64, seed=9)):
        Image.fromarray(im).save(tmp_path / "photos" / f"IMG_{i:04d}.jpg")
    monkeypatch.chdir(tmp_path)
    [profile] = commands(readme, "profile")
    assert profile in commands(section(usage, 4), "profile")
    assert cli(profile + ["--no-progress"]) == 0
    cap = capsys.readouterr()
    assert "fewer than the default 16 of --images: using 6" in cap.err and "on 6 held-out photos" in cap.out
    assert json.loads(Path("my_net.profile.json").read_text())["network"] == "my_net"
    [evaluate] = commands(section(usage, 4), "evaluate")
    assert cli(evaluate + ["--no-progress", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["network"] == "my_net" and res["images"] == 6 and len(res["layers"]) == 3
    assert os.path.isfile(Path(evaluate[evaluate.index("--out") + 1]) / "report.md")
