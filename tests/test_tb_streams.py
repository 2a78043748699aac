"""The cocotb infrastructure (``tb.host``: Verilog cache, build cache, runner; ``tb.bench.streams``)
on a small stream component, on Icarus and on Verilator.

The cocotb tests themselves live in ``tests/cocotb_sumpipe.py``; this file builds the design,
runs them through :func:`tb.host.runner.run` and checks what they report.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from dstripes.tb.host.cache import build_key
from dstripes.tb.host.errors import BuildError, SimulationFailed
from dstripes.tb.host.runner import build, run
from dstripes.tb.host.verilator import fst_available
from dstripes.tb.host.verilog import DutVerilog, cached_verilog

from .tb_fixtures import SumPipe

SIMULATORS = ["icarus", "verilator"]
ROOT = Path(__file__).resolve().parent.parent
CONFIG = dict(lanes=4, columns=2, width=8, depth=2)


def sumpipe_design(**config) -> DutVerilog:
    return cached_verilog(lambda: SumPipe(**config), "sumpipe", config)


def sumpipe_params(design: DutVerilog, **overrides) -> dict:
    params = dict(CONFIG, payloads=design.streams, count=120, idle=0.3, stall=0.4, seed=5, latency=1)
    params.update(overrides)
    return params


@pytest.fixture(scope="module", params=SIMULATORS)
def sumpipe_build(request):
    design = sumpipe_design(**CONFIG)
    return design, build(design, request.param, quick=True)


def test_streams_in_order_full_rate_and_reset(sumpipe_build, tmp_path):
    """Under random idle cycles and back-pressure every payload arrives once and in order; with
    none the stream moves one payload per cycle; a reset mid-run is followed by a clean run."""
    design, b = sumpipe_build
    result = run(b, "tests.cocotb_sumpipe", params=sumpipe_params(design), run_dir=tmp_path,
                 module_paths=[ROOT]).check()
    assert result.tests == {"in_order_under_stalls": "pass", "full_throughput": "pass",
                            "reset_mid_run": "pass"}
    r = result.results
    assert r["in_order_under_stalls"]["checked"] == 120
    # Stalls on both sides must actually have slowed the stream down.
    assert r["in_order_under_stalls"]["cycles"] > 120 + 20
    assert r["full_throughput"] == {"count": 120, "latency": 1, "cycles": 121}
    assert r["reset_mid_run"]["first_run"] < 120 and r["reset_mid_run"]["second_run"] == 60


def test_same_seed_same_timing_on_both_simulators(tmp_path):
    """The drive/sample discipline gives the same cycle-level behaviour on both simulators."""
    design = sumpipe_design(**CONFIG)
    cycles = {}
    for sim in SIMULATORS:
        result = run(build(design, sim, quick=True), "tests.cocotb_sumpipe",
                     params=sumpipe_params(design), testcase="in_order_under_stalls",
                     run_dir=tmp_path / sim, module_paths=[ROOT]).check()
        assert list(result.tests) == ["in_order_under_stalls"]
        cycles[sim] = result.results["in_order_under_stalls"]["cycles"]
    assert cycles["icarus"] == cycles["verilator"]


def test_a_failing_cocotb_test_is_reported_as_failed(tmp_path):
    """A cocotb assertion comes back as a failed test with its message; check() raises."""
    design = sumpipe_design(**CONFIG)
    result = run(build(design, "icarus"), "tests.cocotb_sumpipe",
                 params=sumpipe_params(design, latency=2), testcase="full_throughput",
                 run_dir=tmp_path, module_paths=[ROOT])
    assert result.tests == {"full_throughput": "fail"}
    assert not result.passed
    assert "latency is 1 cycles, expected 2" in result.messages["full_throughput"]
    with pytest.raises(SimulationFailed, match="1 of 1 cocotb tests did not pass: full_throughput"):
        result.check()


def test_build_key_follows_configuration_and_tools():
    base = sumpipe_design(**CONFIG)
    same = sumpipe_design(**CONFIG)
    deeper = sumpipe_design(**dict(CONFIG, depth=3))
    key = build_key(base, "icarus")
    assert build_key(same, "icarus") == key
    assert build_key(deeper, "icarus") != key
    assert build_key(base, "verilator") != build_key(base, "icarus")
    assert build_key(base, "verilator", waves="fst") != build_key(base, "verilator")
    assert build_key(base, "icarus", build_args=["-DX"]) != key
    # The configuration alone also separates builds, even if the Verilog happened to match.
    relabelled = DutVerilog(base.top, base.verilog, dict(base.config, note="other"), base.streams)
    assert build_key(relabelled, "icarus") != key


def test_build_is_reused_only_when_identical(tmp_path):
    base = sumpipe_design(**CONFIG)
    first = build(base, "icarus", build_root=tmp_path)
    again = build(sumpipe_design(**CONFIG), "icarus", build_root=tmp_path)
    other = build(sumpipe_design(**dict(CONFIG, depth=3)), "icarus", build_root=tmp_path)
    assert not first.cached and again.cached and not other.cached
    assert again.directory == first.directory != other.directory
    assert (first.directory / "sumpipe.v").read_text() == base.verilog
    rebuilt = build(base, "icarus", build_root=tmp_path, rebuild=True)
    assert not rebuilt.cached and rebuilt.directory == first.directory


@pytest.mark.parametrize("sim,fmt", [("icarus", "fst"), ("verilator", "vcd")])
def test_waveforms_are_written(sim, fmt, tmp_path):
    design = sumpipe_design(**CONFIG)
    b = build(design, sim, waves=fmt, quick=True)
    result = run(b, "tests.cocotb_sumpipe", params=sumpipe_params(design, count=10),
                 testcase="full_throughput", run_dir=tmp_path, module_paths=[ROOT]).check()
    assert result.waves is not None and result.waves.suffix == f".{fmt}"
    assert result.waves.stat().st_size > 0


def test_verilator_fst_needs_lz4_headers(tmp_path):
    """FST from Verilator works where lz4.h is installed and fails with a clear message where
    it is not (the wheel's FST writer includes it)."""
    design = sumpipe_design(**CONFIG)
    if fst_available():
        b = build(design, "verilator", waves="fst", quick=True, build_root=tmp_path)
        result = run(b, "tests.cocotb_sumpipe", params=sumpipe_params(design, count=10),
                     testcase="full_throughput", run_dir=tmp_path / "run", module_paths=[ROOT]).check()
        assert result.waves is not None and result.waves.suffix == ".fst"
    else:
        with pytest.raises(BuildError, match="apt-get install liblz4-dev"):
            build(design, "verilator", waves="fst", build_root=tmp_path)


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(simulator="modelsim"), ValueError, "simulator must be one of icarus, verilator"),
    (dict(simulator="icarus", waves="vcd"), ValueError, "icarus records waveforms as fst, not 'vcd'"),
])
def test_build_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        build(sumpipe_design(**CONFIG), **kwargs)


def test_cached_verilog_validates_its_arguments():
    with pytest.raises(ValueError, match="Verilog identifier"):
        cached_verilog(lambda: SumPipe(), "not a name")
    with pytest.raises(TypeError, match="wiring.Component"):
        cached_verilog(lambda: 42, "top")
    with pytest.raises(ValueError, match="design config must be JSON-able"):
        cached_verilog(lambda: SumPipe(), "top", {"x": object()})
    with pytest.raises(ValueError, match="public signals are Verilog identifiers"):
        cached_verilog(lambda: SumPipe(), "top", public={"inp__valid": "write"})


def test_the_verilog_cache_returns_what_it_stored(tmp_path):
    """With the generator's sources given, the second request is served from the Verilog cache
    (the factory is not called again) and equals the first; another configuration misses."""
    calls = []

    def make(depth=2):
        calls.append(depth)
        return SumPipe(**dict(CONFIG, depth=depth))
    sources = [Path(__file__).with_name("tb_fixtures.py")]
    first = cached_verilog(make, "sumpipe", CONFIG, public="ports", sources=sources, build_root=tmp_path)
    again = cached_verilog(make, "sumpipe", CONFIG, public="ports", sources=sources, build_root=tmp_path)
    assert again == first and calls == [2]
    assert dict(first.public)["inp__valid"] == "rw" and dict(first.public)["out__payload"] == "rd"
    cached_verilog(lambda: make(3), "sumpipe", dict(CONFIG, depth=3), sources=sources, build_root=tmp_path)
    assert calls == [2, 3] and len(list((tmp_path / "_verilog").glob("*.json"))) == 2


def test_a_failed_build_raises_with_its_log(tmp_path):
    with pytest.raises(BuildError, match=r"(?s)icarus build of sumpipe failed.*no_such_file\.v"):
        build(sumpipe_design(**CONFIG), "icarus", build_args=[str(tmp_path / "no_such_file.v")],
              build_root=tmp_path)
    # The half-made build is not mistaken for a finished one.
    assert not list(tmp_path.glob("*/build.json"))
