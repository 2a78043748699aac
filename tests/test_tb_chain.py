"""A whole integer chain on the generated accelerator (``tb/host/chain_path.py``, ``verify --chip
--chain``): the hand-built conv -> relu -> maxpool -> conv -> relu -> conv + Add -> relu graph of
``tests/test_nets_chain.py`` on T = 2 tiles of 4x4x4 under random off-chip latency and
back-pressure, each layer's input read where the previous layer left it in NM: every LAYER and
POOL command's cycles equal to the model's, every stored code and the final feature map equal to
the integer pipeline's; injected faults (a wrong NM address, a corrupted expected code or cycle
count) caught naming the layer; NM too small and bad options refused in one line, exit 2,
before any build."""
from __future__ import annotations

import dataclasses
import functools
import json
import re

import numpy as np
import pytest

from dstripes.hw.chip.design import ChipDesign
from dstripes.sim.chip import ChipConfig, DramConfig
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.sim.nets.chain import integer_chain
from dstripes.sim.nets.images import take
from dstripes.tb.host.chain_path import NmAllocator, chain_plan, simulate_chain
from dstripes.tb.host.chip_path import harness_design, nm_reference
from dstripes.tb.host.errors import BuildError
from dstripes.tb.host.verilator import HIER_BLOCK
from dstripes.tb.verdict import FAILED

from .test_cli_chip import _cli, no_build  # noqa: F401  (the fixture too)
from .test_nets_chain import SIZE, graph, profile

SMALL = TileConfig(lanes=4, columns=4, rows=4, tiles=2)
DRAM = DramConfig(latency=40, bytes_per_cycle=6, stall=0.3, jitter=15, seed=1)
CHIP = ChipConfig(scheme="dstripes", tile=SMALL, nm_read=2, nm_kib=128, sb_kib=96)
SMALL_ARGS = ["--tiles", "2", "--lanes", "4", "--columns", "4", "--rows", "4", "--nm-kib", "128", "--sb-kib", "96",
              "--nm-read", "2"]


@functools.lru_cache(maxsize=None)
def tiny():
    net = graph()
    chain = integer_chain(net, profile(net), calibration=take("profile", 1))
    x = net.prepare([take("heldout", 1)[0].read(SIZE)])[0]
    return net, chain, x


@functools.lru_cache(maxsize=None)
def plan(scheme="dstripes"):
    _, chain, x = tiny()
    return chain_plan(CHIP.replace(scheme=scheme), chain, x, dram=DRAM)


def test_the_plan_keeps_outputs_in_nm_and_a_residual_alive():
    p = plan()
    # the outputs are read in NM by the harness's observer; only the final feature map is stored off chip
    assert [c[0] for c in p.commands] == ["load", "layer", "pool", "layer", "layer", "store"]
    a, b, c = p.steps
    ins = lambda s: s.descriptor.in_base
    outs = lambda s: s.descriptor.resolved_out_base(CHIP)
    # each layer reads exactly where its source was left: A's pooled output, then B's
    assert ins(b) == a.pool.resolved_out_base(CHIP) and ins(c) == outs(b)
    # C adds A's pooled output, kept alive in NM across B
    assert c.descriptor.res_base == a.pool.resolved_out_base(CHIP)
    span = lambda base, n: set(range(base, base + n))
    assert not span(outs(b), 72) & span(c.descriptor.res_base, 72)
    # one LOAD (the input), no LOAD of any later tensor; the image is input + weights only
    assert sum(op == "load" for op, _ in p.commands) == 1
    bases = [s.descriptor.w_base for s in p.steps]
    assert bases[0] == 144 and bases == sorted(bases) and p.stored[0] == len(p.image)
    assert p.commands[-1][1]["nm"] == outs(c) and p.stored[1] - p.stored[0] + 1 == c.observed[1] == 72
    assert [s.observed[0] for s in p.steps] == [outs(s) for s in p.steps] and a.pool_observed[0] == ins(b)
    assert p.nm_peak <= 144 + 288


def test_nm_too_small_is_refused_naming_the_layer_and_sizes():
    _, chain, x = tiny()
    with pytest.raises(ConfigError, match=r"^layer A: NM \(256 bricks\) cannot hold its output of 288 bricks beside "
                                          r"the live tensors \(input 144"):
        chain_plan(CHIP.replace(nm_kib=2), chain, x, dram=DRAM)
    nm = NmAllocator(10)
    assert [nm.place("a", 4, "x"), nm.place("b", 4, "x")] == [0, 4]
    nm.free("a")
    assert nm.place("c", 3, "x") == 0 and nm.place("d", 2, "x") == 8


@functools.lru_cache(maxsize=None)
def design():
    return ChipDesign.of(CHIP)


def test_the_tiny_chain_runs_exactly_on_the_accelerator():
    lines = []
    r = simulate_chain(design(), plan(), quick=True, progress=lines.append)
    assert r.passed, [l.verdict.message() for l in r.layers if not l.passed] or r.messages
    assert [l.name for l in r.layers] == ["A", "B", "C"]
    for l in r.layers:
        assert l.cycles_rtl == l.cycles_model > 0 and l.mismatches == 0 and l.model_mismatches == 0
    assert r.layers[0].pool_cycles_rtl == r.layers[0].pool_cycles_model == 3 + 2 * 36 * 2
    assert r.layers[0].checked == 6 * 12 * 12 + 6 * 6 * 6 and r.final_mismatches == 0
    assert r.cycles_rtl == r.cycles_model == plan().cycles_model
    assert len(lines) == 3 and lines[0].startswith("A: LAYER ")
    d = r.as_dict()
    assert set(d["layers"][0]) >= {"name", "cycles_rtl", "cycles_model", "mismatches"}
    assert set(d["total"]) >= {"cycles_rtl", "cycles_model"}


def test_the_tile_built_once_as_a_hierarchical_block_runs_exactly():
    """The hierarchical build (the tile verilated and compiled once for its T instances) on the
    small chip: cycles and codes exact."""
    verilog, _ = harness_design(design(), hierarchical=True)
    tile = re.search(r"^module " + design().tile.top + r"\([^;]*;\n(.*)", verilog.verilog, re.M)
    assert tile and tile.group(1) == HIER_BLOCK.rstrip("\n")
    assert HIER_BLOCK not in harness_design(design())[0].verilog
    r = simulate_chain(design(), plan(), quick=True, hierarchical=True)
    assert r.passed, [l.verdict.message() for l in r.layers if not l.passed] or r.messages
    for l in r.layers:
        assert l.cycles_rtl == l.cycles_model > 0 and l.mismatches == 0
    assert r.cycles_rtl == r.cycles_model == plan().cycles_model and r.final_mismatches == 0


def test_a_ceil_mode_pool_and_a_relu6_clamp_run_exactly_on_the_accelerator():
    """A ceil-mode 3x3/2 pool (6x6 where floor mode gives 5x5) and a Clip inside A's window (the
    descriptor's clamp), chained in RTL: codes and cycles exact, the clamp biting."""
    net = graph(pool=(3, 2, 0, 1), relu6=True, clip=1.0)
    chain = integer_chain(net, profile(net), calibration=take("profile", 1))
    x = net.prepare([take("heldout", 1)[0].read(SIZE)])[0]
    a = chain.layers[0]
    assert a.clamp is not None and a.pool.ceil and a.pool.out_size(12, 12) == (6, 6)
    p = chain_plan(CHIP, chain, x, dram=DRAM)
    assert p.steps[0].descriptor.clamp == a.clamp and p.steps[0].pool.ceil
    assert (p.steps[0].expected == a.clamp).any()                   # the clamp bites
    r = simulate_chain(design(), p, quick=True)
    assert r.passed, [l.verdict.message() for l in r.layers if not l.passed] or r.messages
    for l in r.layers:
        assert l.cycles_rtl == l.cycles_model > 0 and l.mismatches == 0
    assert r.layers[0].pool_cycles_rtl == r.layers[0].pool_cycles_model == 3 + 2 * 36 * 5   # ceil(9 / nm_read 2)


def test_the_final_feature_map_is_judged_as_the_store_left_it_off_chip():
    """The layers are read in NM by the harness's observer; the final feature map through the
    chip's own off-chip port: a final STORE of the wrong NM words fails the run with every layer
    still exact."""
    p = plan()
    op, f = p.commands[-1]
    wrong = dataclasses.replace(p, commands=p.commands[:-1] + ((op, {**f, "nm": f["nm"] + 1}),))
    r = simulate_chain(design(), wrong, quick=True)
    assert all(l.passed for l in r.layers) and r.final_mismatches > 0 and not r.passed


def test_the_observer_finds_nm_in_the_emitted_verilog():
    verilog, _ = harness_design(design())
    ref = nm_reference(verilog.verilog, verilog.top)
    assert ref.startswith("chip.") and ref.endswith(".mem") and f"`define DSTRIPES_NM {ref}\n" in verilog.models
    with pytest.raises(BuildError, match=r"no NM block \(module top\.chip\.nm holding a dstripes_sram\)"):
        nm_reference(verilog.verilog, "top")


@pytest.mark.parametrize("tamper, check", [
    ({"layer": "B", "command": {"in_base": 72}}, "outputs bit-exact"),     # B reads the wrong NM bricks
    ({"layer": "C", "command": {"res_base": 1}}, "outputs bit-exact"),     # C adds the wrong residual
    ({"layer": "A", "pool_command": {"in_base": -1}}, "pooled outputs bit-exact"),
    ({"layer": "C", "output": (5, 5, 5)}, "outputs bit-exact"),
    ({"layer": "A", "pooled": (0, 1, 2)}, "pooled outputs bit-exact"),
    ({"layer": "A", "cycles": 1}, "cycles exact"),
    ({"layer": "A", "pool_cycles": -1}, "pool cycles exact"),
])
def test_an_injected_fault_fails_naming_the_layer(tmp_path, tamper, check):
    r = simulate_chain(design(), plan(), quick=True, tamper=tamper, run_dir=tmp_path)   # kept there, not in /tmp
    assert not r.passed
    bad = [l for l in r.layers if not l.passed]
    assert bad[0].name == tamper["layer"]
    assert check in [c.name for c in bad[0].verdict.checks if c.status == FAILED]
    if "command" in tamper or "pool_command" in tamper:   # a wrong address reaches the final map
        assert bad[0].mismatches > 0 and r.final_mismatches > 0


# ---------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    import onnx

    d = tmp_path_factory.mktemp("chain")
    net, _, _ = tiny()
    onnx.save(net.model, str(d / "tiny.onnx"))
    profile(net).save(str(d / "tiny.json"))
    photos = d / "photos"
    photos.mkdir()
    for i, p in enumerate(take("heldout", 2)):
        (photos / f"p{i}.jpg").write_bytes(open(p.path, "rb").read())
    return ["--model", str(d / "tiny.onnx"), "--size", str(SIZE), "--criterion", "cosine", "--profile",
            str(d / "tiny.json"), "--image-dir", str(photos)]


def test_cli_json_and_an_injected_fault(tmp_path, capsys, model_files, monkeypatch):
    rc, out, err = _cli(capsys, "verify", "--chip", "--chain", *model_files, "--images", "1", *SMALL_ARGS,
                        "--dram-bytes-per-cycle", "6", "--dram-latency", "40", "--dram-stall", "0.3", "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["passed"] is True and [l["name"] for l in d["layers"]] == ["A", "B", "C"]
    assert all(l["cycles_rtl"] == l["cycles_model"] > 0 and l["mismatches"] == 0 for l in d["layers"])
    assert d["total"]["cycles_rtl"] == d["total"]["cycles_model"] and d["final_mismatches"] == 0
    assert err.count("LAYER") == 3                     # a progress line per layer
    # a fault in the RTL's view of NM (C's residual read from B's output): exit 1 naming the layer
    import dstripes.tb.host.chain_path as cp
    real = cp.apply_tamper
    monkeypatch.setattr(cp, "apply_tamper", lambda p, t: real(p, {"layer": "B", "command": {"in_base": 72}}))
    monkeypatch.setattr(cp.tempfile, "mkdtemp", lambda prefix: str(tmp_path / "run"))   # the failed run's folder
    rc, out, err = _cli(capsys, "verify", "--chip", "--chain", *model_files, "--images", "1", *SMALL_ARGS,
                        "--dram-bytes-per-cycle", "6")
    assert rc == 1 and "CHECK FAILED on photo p1.jpg at layer B: " in out, out


@pytest.mark.parametrize("extra, needle", [
    (["--nm-kib", "2"], "layer A: NM (256 bricks) cannot hold its output of 288 bricks"),
    (["--images", "5"], "--images"),
    (["--layers", "A"], "--layers does not apply with --chain"),
    (["--tiles", "65"], "tiles"),
    (["--act-bits", "8"], "wider than the 8-bit activations"),
    (["--nm-read", "0"], "--nm-read"),
])
def test_bad_input_is_one_line_exit_2_before_any_build(capsys, model_files, no_build, extra, needle):
    args = [*model_files, "--images", "1", *SMALL_ARGS, *extra]
    rc, _, err = _cli(capsys, "verify", "--chip", "--chain", *args)
    assert rc == 2
    assert err.startswith("dstripes: error: ") and err.count("\n") == 1 and needle in err, err


def test_chip_and_chain_go_together(capsys, model_files, no_build):
    rc, _, err = _cli(capsys, "verify", "--chain", *model_files)
    assert rc == 2 and "verify --chain needs --chip" in err, err
    rc, _, err = _cli(capsys, "verify", *model_files, "--nm-kib", "4")
    assert rc == 2 and "--nm-kib applies only with --chip" in err, err
