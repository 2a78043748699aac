"""Every cache the tool keeps heals (issue 19, ``docs/usage.md`` §11).

A fault is injected into an entry of each cache (a file removed, cut short, emptied, given
other content, a record garbled); the next run finds it before trusting it, says so in exactly
one line on stderr (``dstripes: <the entry> <where> was damaged (<what>): <what now>``, never
a traceback, never blaming the input), makes the entry again, and gives the right result.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dstripes.scripts.cli import main as cli
from dstripes.sim import checked
from dstripes.sim.checked import Damaged, check, file_digest, load, read_entry, seal, verify, write_entry
from dstripes.sim.nets.cache import RunCache
from dstripes.sim.nets.profile import profile_network
from dstripes.tb.host import objcache
from dstripes.tb.host.cache import STAMP, default_build_root
from dstripes.tb.host.runner import build, repeat_reports, run
from dstripes.tb.host.verilog import cached_verilog

from .tb_fixtures import SumPipe
from .test_nets_onnx import _no_run_cache, photos, tiny, tiny_model  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
#: The fault classes: what happens to a file of an entry.
FAULTS = ("missing", "cut short", "empty", "other content", "garbled")


def damage(path: Path, fault: str) -> None:
    """Inject ``fault`` into the file ``path``."""
    data = path.read_bytes()
    assert data, f"{path} is empty before the fault"
    if fault == "missing":
        path.unlink()
    elif fault == "cut short":
        path.write_bytes(data[:len(data) // 2])
    elif fault == "empty":
        path.write_bytes(b"")
    elif fault == "other content":   # same size, one byte changed
        b = bytearray(data)
        b[len(b) * 2 // 3] ^= 0x55
        path.write_bytes(bytes(b))
    elif fault == "garbled":         # what a broken writer might leave: other bytes, other size
        path.write_bytes(b'{"files": {"garbled": tru')
    else:
        raise ValueError(fault)


def one_report(capsys, what: str, where) -> str:
    """The one line stderr holds, checked: a report of ``what`` at ``where`` (no traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and "dstripes: error" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("dstripes: ")]
    assert len(lines) == 1, lines
    assert checked.is_report(lines[0]) and lines[0].startswith(f"dstripes: {what} {where} was damaged ("), lines
    return lines[0]


def no_report(capsys) -> None:
    assert not [line for line in capsys.readouterr().err.splitlines() if line.startswith("dstripes: ")]


# ------------------------------------------------------------------------------ the mechanism
@pytest.mark.parametrize("fault", FAULTS + ("appended", "another key's entry", "no header"))
def test_file_entry_checks_size_digest_and_key(tmp_path, capsys, fault):
    path = tmp_path / "k1.json"
    write_entry(path, json.dumps({"answer": 42}))
    assert load(path, "the test entry", json.loads) == {"answer": 42}
    assert path.read_bytes().startswith(b"dstripes-entry 1 ")
    if fault == "appended":
        path.write_bytes(path.read_bytes() + b"\n")
    elif fault == "another key's entry":
        write_entry(tmp_path / "k2.json", json.dumps({"answer": 42}))
        shutil.copyfile(tmp_path / "k2.json", path)
    elif fault == "no header":
        path.write_text(json.dumps({"answer": 42}))
    else:
        damage(path, fault)
    if fault == "missing":   # no entry: a plain miss, nothing said
        assert load(path, "the test entry", json.loads) is None
        no_report(capsys)
        return
    with pytest.raises(Damaged):
        read_entry(path)
    assert load(path, "the test entry", json.loads, action="making it again") is None
    line = one_report(capsys, "the test entry", path)
    assert line.endswith("): making it again") and not path.exists()


def test_file_entry_whose_content_does_not_parse_is_damaged(tmp_path, capsys):
    path = tmp_path / "e.json"
    write_entry(path, "[1, 2")
    assert load(path, "the test entry", json.loads) is None
    assert "unreadable content" in one_report(capsys, "the test entry", path)


@pytest.mark.parametrize("target,fault", [(t, f) for t in ("digested file", "sized file", "stamp") for f in FAULTS
                                          # a file recorded by its size is checked by its size (by design)
                                          if (t, f) != ("sized file", "other content")])
def test_manifest_checks_every_file(tmp_path, capsys, target, fault):
    d = tmp_path / "entry"
    (d / "sub").mkdir(parents=True)
    (d / "program").write_bytes(os.urandom(5000))
    (d / "sub" / "log.txt").write_text("compiled\n" * 50)
    seal(d / "stamp", checked.files_under(d, leave_out=["stamp"]), digest=lambda p: p.name == "program",
         record={"top": "x"}, key="k")
    assert verify(d / "stamp", key="k") == {"top": "x"}
    damage({"digested file": d / "program", "sized file": d / "sub" / "log.txt", "stamp": d / "stamp"}[target], fault)
    with pytest.raises(Damaged):
        verify(d / "stamp", key="k")
    assert check(d / "stamp", "the test build", subject=d) is None
    one_report(capsys, "the test build", d)
    assert not d.exists()


def test_digest_is_read_once_per_file_state(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"a" * 100)
    first = file_digest(p)
    assert file_digest(p) == first
    p.write_bytes(b"b" * 100)   # same size, rewritten: read again
    assert file_digest(p) != first


# ------------------------------------------------------------------------------ simulator builds
def _sumpipe_runs(design, b, run_dir):
    """The sumpipe build ``b`` of ``design`` moves 20 payloads at full rate (cocotb, checked)."""
    params = dict(lanes=4, columns=2, width=8, depth=2, payloads=design.streams, count=20, idle=0.3,
                  stall=0.4, seed=5, latency=1)
    return run(b, "tests.cocotb_sumpipe", params=params, testcase="full_throughput", run_dir=run_dir,
               module_paths=[ROOT]).check()


@pytest.fixture(scope="module")
def sumpipe():
    """The Verilog of a small stream component (made once, not cached: it is not what these
    tests damage)."""
    config = dict(lanes=4, columns=2, width=8, depth=2)
    return cached_verilog(lambda: SumPipe(**config), "sumpipe", config)


@pytest.mark.parametrize("target,fault", [("sim.vvp", f) for f in FAULTS[:4]] +
                         [(STAMP, f) for f in ("missing", "other content", "garbled")] +
                         [("sumpipe.icarus.v", "cut short")])
def test_icarus_build_heals(tmp_path, capsys, sumpipe, target, fault):
    design = sumpipe
    first = build(design, "icarus", build_root=tmp_path)
    assert not first.cached
    assert build(design, "icarus", build_root=tmp_path).cached
    no_report(capsys)
    damage(first.directory / target, fault)
    healed = build(design, "icarus", build_root=tmp_path)
    line = one_report(capsys, "the simulator build", first.directory)
    assert target in line and line.endswith(": rebuilding")
    assert not healed.cached and healed.directory == first.directory
    result = _sumpipe_runs(design, healed, tmp_path / "run")
    assert result.results["full_throughput"] == {"count": 20, "latency": 1, "cycles": 21}
    assert build(design, "icarus", build_root=tmp_path).cached   # and sound again


def test_a_run_checks_its_build_first(tmp_path, sumpipe):
    from dstripes.tb.host.errors import SimulationError

    b = build(sumpipe, "icarus", build_root=tmp_path)
    (b.directory / "sim.vvp").unlink()   # after build() checked it
    with pytest.raises(SimulationError, match="was damaged since it was built .sim.vvp: missing"):
        run(b, "tests.cocotb_sumpipe", params={}, run_dir=tmp_path / "run", module_paths=[ROOT])


def test_verilator_build_without_its_executable_heals(tmp_path, capsys, sumpipe):
    """The reported fault: the stamp survives, the executable is gone. (The runtime objects
    come from the suite's object cache, which this test does not touch, so it builds in
    seconds.)"""
    shared = default_build_root() / "_objcache"
    shared.mkdir(parents=True, exist_ok=True)
    (tmp_path / "_objcache").symlink_to(shared)
    design = sumpipe
    first = build(design, "verilator", build_root=tmp_path, quick=True)
    exe = first.directory / "sumpipe"
    assert exe.is_file()
    capsys.readouterr()
    exe.unlink()
    healed = build(design, "verilator", build_root=tmp_path, quick=True)
    assert one_report(capsys, "the simulator build", first.directory).endswith("(sumpipe: missing): rebuilding")
    assert not healed.cached and exe.is_file()
    assert _sumpipe_runs(design, healed, tmp_path / "run").results["full_throughput"]["cycles"] == 21


SIMULATE = ["simulate", "--sim", "icarus", "--layer", "k=3,kh=3,kw=3,stride=1,pad=1", "--window", "6:0",
            "--image", "1", "--window-sets", "3", "--filter-set", "1", "--lanes", "4", "--columns", "4",
            "--rows", "2", "--act-bits", "8", "--weight-bits", "8", "--max-reduction", "1024", "--json"]


def test_cli_simulate_heals_a_damaged_build(tmp_path, capsys, monkeypatch):
    """``dstripes simulate`` after the compiled simulation of its build folder was removed (and
    then cut short): exit 0, one line on stderr, the same results."""
    rng = np.random.default_rng(21)
    acts = np.where(rng.random((2, 5, 7, 6)) < 0.4, 0, rng.integers(0, 128, (2, 5, 7, 6)))
    np.save(tmp_path / "acts.npy", acts)
    np.save(tmp_path / "w.npy", rng.integers(-128, 128, (3, 5, 3, 3)))
    monkeypatch.setenv("DSTRIPES_SIM_BUILD", str(tmp_path / "sim"))
    argv = SIMULATE + ["--acts", str(tmp_path / "acts.npy"), "--weights", str(tmp_path / "w.npy")]
    assert cli(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["results_match"] is True
    folder = next(p for p in (tmp_path / "sim").iterdir() if (p / STAMP).exists())
    for fault in ("missing", "cut short"):
        damage(folder / "sim.vvp", fault)
        assert cli(argv) == 0
        captured = capsys.readouterr()
        err = captured.err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"dstripes: the simulator build {folder} was damaged (sim.vvp: ")
        again = json.loads(captured.out)
        assert again["results_match"] is True
        assert {k: again[k] for k in ("cycles_rtl", "cycles_model", "results_checked")} == \
            {k: first[k] for k in ("cycles_rtl", "cycles_model", "results_checked")}


# ------------------------------------------------------------------------------ Verilog cache
@pytest.mark.parametrize("fault", FAULTS)
def test_verilog_cache_heals(tmp_path, capsys, fault):
    config = dict(lanes=2, columns=2, width=4, depth=2)
    make = lambda: cached_verilog(lambda: SumPipe(**config), "sumpipe", config,  # noqa: E731
                                  sources=[ROOT / "tests" / "tb_fixtures.py"], build_root=tmp_path)
    first = make()
    (entry,) = (tmp_path / "_verilog").iterdir()
    assert make() == first
    no_report(capsys)
    damage(entry, fault)
    assert make() == first
    if fault == "missing":
        no_report(capsys)
    else:
        assert one_report(capsys, "the Verilog cache entry", entry).endswith(": generating it again")
    assert read_entry(entry) is not None   # written again, whole


# ------------------------------------------------------------------------------ Verilator object cache
@pytest.mark.parametrize("target", ["obj", "dep", objcache.STAMP])
@pytest.mark.parametrize("fault", FAULTS)
def test_verilator_object_cache_heals(tmp_path, capsys, monkeypatch, target, fault):
    """The object cache as Verilator's makefile runs it, on a runtime source of a stand-in
    Verilator root."""
    include = tmp_path / "verilator" / "include"
    include.mkdir(parents=True)
    source = include / "runtime.cpp"
    source.write_text("int runtime_answer(int x) { return 6 * x + 42; }\n")
    monkeypatch.setenv("VERILATOR_ROOT", str(tmp_path / "verilator"))
    monkeypatch.setenv(objcache.CACHE_ENV, str(tmp_path / "objects"))
    work = tmp_path / "build"
    work.mkdir()
    monkeypatch.chdir(work)
    command = [os.environ.get("CXX", "g++"), "-MMD", "-c", str(source), "-o", "runtime.o"]
    assert objcache.main(command) == 0
    compiled = (work / "runtime.o").read_bytes()
    (entry,) = (tmp_path / "objects").iterdir()
    (work / "runtime.o").unlink()
    assert objcache.main(command) == 0 and (work / "runtime.o").read_bytes() == compiled   # from the cache
    no_report(capsys)
    damage(entry / target, fault)
    (work / "runtime.o").unlink()
    assert objcache.main(command) == 0
    line = one_report(capsys, "the Verilator object cache entry", entry)
    assert line.endswith(": compiling it again")
    assert (work / "runtime.o").read_bytes() == compiled and verify(entry / objcache.STAMP, key=entry.name) == {}
    # inside a build, the line goes to the build log: the runner says it again on stderr
    log = tmp_path / "build.log"
    log.write_text(f"g++ -c x.cpp\n{line}\nar rcs x.a x.o\n")
    repeat_reports(log)
    assert one_report(capsys, "the Verilator object cache entry", entry) == line


# ------------------------------------------------------------------------------ exported ONNX models
@pytest.mark.nets
def test_exported_model_heals(tmp_path, capsys, monkeypatch):
    """A built-in network's cached ONNX export, cut short (the reported fault), is exported
    again; the other faults are found the same way before the export is loaded."""
    from dstripes.sim.nets import models

    monkeypatch.setenv("DSTRIPES_CACHE", str(tmp_path / "cache"))
    net = models.load_network("mobilenet-v2", size=8)
    layers = [(l.name, l.describe()) for l in net.layers()]
    path = Path(models._cache_path("mobilenet-v2", 8))
    stamp = Path(models._stamp(str(path)))
    good = {p: p.read_bytes() for p in (path, stamp)}
    no_report(capsys)
    for target in (path, stamp):
        for fault in FAULTS:
            damage(target, fault)
            assert models._cached("mobilenet-v2", 8, None, None) is None
            one_report(capsys, "the exported model", path)
            assert not path.exists() and not stamp.exists()
            for p, data in good.items():
                p.write_bytes(data)
    assert models._cached("mobilenet-v2", 8, None, None) is not None
    damage(path, "cut short")
    healed = models.load_network("mobilenet-v2", size=8)
    assert one_report(capsys, "the exported model", path).endswith(": exporting it again")
    assert [(l.name, l.describe()) for l in healed.layers()] == layers
    assert verify(stamp) == {} and path.stat().st_size == len(good[path])


# ------------------------------------------------------------------------------ run cache
def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def _cut_in_a_table(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:2 * 4096])


def _change_a_blob(path: Path) -> None:
    data = bytearray(path.read_bytes())
    at = data.rfind(b"NUMPY")
    data[at + 300] ^= 0x55
    path.write_bytes(bytes(data))


def _change_a_score(path: Path) -> None:
    import sqlite3
    db = sqlite3.connect(path)
    db.execute("UPDATE runs SET cos = cos - 0.5 WHERE rowid = (SELECT MIN(rowid) FROM runs)")
    db.commit()
    db.close()


@pytest.mark.parametrize("fault,reason", [
    (lambda p: damage(p, "cut short"), "malformed"), (_cut_in_a_table, "malformed"),
    (lambda p: damage(p, "empty"), "empty"), (_garbage, "not a database"),
    (lambda p: damage(p, "garbled"), "not a database"),
    (_change_a_blob, "1 capture row with other content"), (_change_a_score, "1 quantised run row")],
    ids=["cut short", "cut in a table", "empty", "other content", "garbled", "a blob changed", "a score changed"])
def test_run_cache_heals(tiny, tmp_path, capsys, fault, reason):  # noqa: F811
    path = tmp_path / "runs.sqlite"
    imgs = photos(3)
    cache = RunCache(str(path))
    first = profile_network(tiny, imgs, ("100",), progress=False, cache=cache)["100"]
    cache.close()
    assert not (tmp_path / "runs.sqlite-wal").exists()   # closed: everything in the file
    no_report(capsys)
    fault(path)
    cache = RunCache(str(path))
    again = profile_network(tiny, imgs, ("100",), progress=False, cache=cache)["100"]
    line = one_report(capsys, "the run cache", path)
    assert reason in line
    assert [l.as_dict() for l in again.layers] == [l.as_dict() for l in first.layers]
    assert cache.misses > 0
    third = RunCache(str(path))
    profile_network(tiny, imgs, ("100",), progress=False, cache=third)
    assert third.misses == 0   # healed: all from the cache now
    no_report(capsys)


# ------------------------------------------------------------------------------ synthesis cache
@pytest.mark.parametrize("fault", FAULTS)
def test_synthesis_cache_heals(tmp_path, capsys, fault):
    from dstripes.hw.design import designs
    from dstripes.synth.cache import SynthCache
    from dstripes.synth.tile import synth_tiles

    from .test_synth_tile import SMALL, toy_blocks

    cache = SynthCache(tmp_path / "cache")
    first = synth_tiles(designs(["stripes"], SMALL), blocks=toy_blocks, jobs=1, cache=cache)
    entries = sorted((tmp_path / "cache").rglob("*.json"))
    assert len(entries) == first.stats.unique == 2
    damage(entries[0], fault)
    again = synth_tiles(designs(["stripes"], SMALL), blocks=toy_blocks, jobs=1, cache=cache)
    if fault == "missing":
        no_report(capsys)
    else:
        assert one_report(capsys, "the synthesis cache entry", entries[0]).endswith(": synthesising the block again")
    assert again.stats.cached == 1
    assert _areas(again) == _areas(first)
    assert read_entry(entries[0]) is not None


def _areas(synthesis) -> dict:
    """Each tile's and block's area and depth (not the CPU time a synthesis took)."""
    figures = ("transistors", "ge", "cells", "depth")
    return {s: ({f: t.as_dict()[f] for f in figures},
                {b.name: {f: b.as_dict()[f] for f in figures} for b in t.blocks})
            for s, t in synthesis.tiles.items()}


@pytest.mark.parametrize("target,fault", [("block", f) for f in FAULTS[:4]] + [("index", f) for f in FAULTS])
def test_explore_verilog_memo_heals(tmp_path, capsys, target, fault):
    """``explore``'s memo of a tile's blocks: an index (a manifest) and one Verilog file per
    block. (Its model-cycles entries and the end-to-end sweep: tests/test_explore.py.)"""
    import hashlib

    from dstripes.hw.design import TileDesign
    from dstripes.synth.explore import _VerilogMemo

    from .test_synth_tile import SMALL

    memo, tile = _VerilogMemo(tmp_path), TileDesign.of("stripes", SMALL)
    blocks = [{"name": "lane", "count": 8, "part_of": None, "verilog": "module lane(input a, output q);\n"
               "  assign q = a;\nendmodule\n"},
              {"name": "ctl", "count": 1, "part_of": None, "verilog": "module ctl(); endmodule\n"}]
    memo.put(tile, [dict(b) for b in blocks])
    assert memo.get(tile) == blocks
    index = memo._index(tile)
    verilog = tmp_path / "verilog" / f"{hashlib.sha256(blocks[0]['verilog'].encode()).hexdigest()[:32]}.v"
    damage(index if target == "index" else verilog, fault)
    assert memo.get(tile) is None
    if (target, fault) == ("index", "missing"):
        no_report(capsys)
    else:
        assert one_report(capsys, "the explore Verilog memo entry", index).endswith(": emitting the tile again")
    memo.put(tile, [dict(b) for b in blocks])   # what the sweep does next: emit, remember
    assert memo.get(tile) == blocks
    no_report(capsys)


# ------------------------------------------------------------------------------ liberty copies
@pytest.mark.parametrize("target", ["library", "stamp"])
@pytest.mark.parametrize("fault", FAULTS)
def test_decompressed_liberty_heals(tmp_path, capsys, monkeypatch, target, fault):
    from dstripes.synth.liberty import resolve_liberty

    monkeypatch.setenv("DSTRIPES_BUILD", str(tmp_path))
    lib = resolve_liberty("sky130")
    digest = file_digest(lib)
    stamp = lib.with_name(f".{lib.name}.check")
    assert resolve_liberty("sky130") == lib
    no_report(capsys)
    damage(lib if target == "library" else stamp, fault)
    assert resolve_liberty("sky130") == lib and file_digest(lib) == digest
    assert one_report(capsys, "the decompressed liberty", lib).endswith(": making it again")


def test_power_copy_of_a_liberty_heals(tmp_path, capsys, monkeypatch):
    from dstripes.synth.liberty import power_liberty
    from dstripes.synth.recipe import GE_LIBERTY

    monkeypatch.setenv("DSTRIPES_BUILD", str(tmp_path))
    copy = power_liberty(GE_LIBERTY)
    text = copy.read_text()
    damage(copy, "cut short")
    assert power_liberty(GE_LIBERTY) == copy and copy.read_text() == text
    one_report(capsys, "the power copy of the liberty", copy)
