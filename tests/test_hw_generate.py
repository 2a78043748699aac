# amaranth: UnusedElaboratable=no
"""``dstripes generate``: Verilog + manifest, parameter validation, and a clean Verilator lint.

The pragma on the first line: a block whose parameters are refused here has already been
made by ``__new__`` and is never elaborated, which Amaranth would report as unused."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from amaranth.hdl import unsigned
from amaranth.lib import data

from dstripes.hw import SIP, Dispatcher, PrecisionDetector, ResultBuffer, TileDesign
from dstripes.hw.kinds import kind
from dstripes.hw.params import check_count_bits
from dstripes.scripts.cli import main
from dstripes.sim.config import TileConfig
from dstripes.sim.errors import ConfigError
from dstripes.tb.host.verilator import verilator_root

SMALL = ["--lanes", "4", "--rows", "2", "--act-bits", "8", "--weight-bits", "8"]
#: Options of each kind beyond SMALL (an option a kind does not use is rejected).
EXTRA = {"dadn": [], "stripes": ["--columns", "4"], "dstripes": ["--columns", "4", "--trim", "both", "--group", "2"]}
LINT_WAIVERS = Path(__file__).resolve().parents[1] / "hw" / "lint.vlt"


@pytest.mark.parametrize("scheme", ["dstripes", "stripes", "dadn"])
def test_generate_writes_verilog_and_manifest(tmp_path, capsys, scheme):
    assert main(["generate", "--scheme", scheme, *SMALL, *EXTRA[scheme][:2], "--max-reduction", "256",
                 "--out", str(tmp_path), "--json"]) == 0
    man = json.loads(capsys.readouterr().out)
    v = tmp_path / f"{scheme}_tile.v"
    assert man["top"] == f"{scheme}_tile" and v.exists()
    assert json.loads((tmp_path / "manifest.json").read_text())["latency"] == man["latency"]
    assert man["parameters"]["acc_bits"] == 8 + 8 + 8
    text = v.read_text()
    for port, info in man["ports"].items():
        assert port in text
    res = 4 * 2 if scheme != "dadn" else 2
    assert man["ports"]["result__payload"]["width"] == res * 24
    assert man["ports"]["act__payload"]["width"] == (4 * 4 * 8 if scheme != "dadn" else 4 * 8)
    assert man["latency"] == TileDesign.of(scheme, TileConfig(lanes=4, columns=4, rows=2, act_bits=8,
                                                           weight_bits=8, max_reduction=256)).latency
    # the size check's payload widths are the generated ports' (a formula that cannot drift)
    cfg = kind(scheme).own(TileConfig(lanes=4, columns=4, rows=2, act_bits=8, weight_bits=8, max_reduction=256))
    assert kind(scheme).payload_bits(cfg) == {p: man["ports"][f"{p}__payload"]["width"]
                                              for p in ("act", "weight", "result")}


#: The run-ahead tile, with each weight selection.
RUN_AHEAD = {"mux": ["--run-ahead", "2"], "sip": ["--run-ahead", "1", "--weight-select", "sip"]}


@pytest.mark.parametrize("scheme,extra", [(s, EXTRA[s]) for s in EXTRA] +
                         [("dstripes", EXTRA["dstripes"] + RUN_AHEAD[k]) for k in RUN_AHEAD],
                         ids=list(EXTRA) + [f"dstripes-run-ahead-{k}" for k in RUN_AHEAD])
def test_verilator_lint_clean(tmp_path, scheme, extra):
    """``verilator --lint-only -Wall`` reports nothing beyond the generator properties waived
    (with their reasons) in hw/lint.vlt."""
    assert main(["generate", "--scheme", scheme, *SMALL, *extra, "--out", str(tmp_path)]) == 0
    root = verilator_root()
    env = {**os.environ, "VERILATOR_ROOT": str(root)}
    r = subprocess.run([str(root / "bin" / "verilator"), "--lint-only", "-Wall", str(LINT_WAIVERS),
                        str(tmp_path / f"{scheme}_tile.v"), "--top-module", f"{scheme}_tile"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "%Warning" not in r.stderr and "%Error" not in r.stderr


@pytest.mark.parametrize("argv,needle", [
    (["--run-ahead", "-1"], "run_ahead must be a non-negative integer, not -1"),
    (["--weight-select", "sip"], "--weight-select sip applies only to a run-ahead tile"),
    (["--scheme", "stripes", "--run-ahead", "1"], "--run-ahead 1 does not apply to the stripes tile"),
    (["--lanes", "0"], "lanes must be a positive integer, not 0"),
    (["--group", "3"], "group size 3 does not divide columns 16"),
    (["--act-bits", "40"], "act_bits must be between 2 and 32, not 40"),
    # Amaranth numbers the bits of one value in 16 bits: 64 x 64 x 16-bit pallets do not fit
    (["--lanes", "64", "--columns", "64", "--rows", "4"], "act stream of a dstripes tile"),
])
def test_generate_rejects_bad_parameters(tmp_path, capsys, argv, needle):
    assert main(["generate", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err and "Traceback" not in err


def test_block_parameter_errors_name_the_value():
    # a block checks a parameter of the configuration by the configuration's own rule, message
    # and exception (sim/config.py); a ConfigError is a ValueError
    with pytest.raises(ConfigError, match="lanes must be a positive integer, not '4'"):
        SIP(lanes="4")
    with pytest.raises(ConfigError, match="act_bits must be between 2 and 32, not 40"):
        SIP(act_bits=40)
    with pytest.raises(ConfigError, match="acc_bits must be at least 32, not 20"):
        SIP(lanes=4, weight_bits=16, act_bits=16, acc_bits=20)
    with pytest.raises(ConfigError, match="group size 3 does not divide columns 4"):
        PrecisionDetector(lanes=4, columns=4, group=3)
    with pytest.raises(ConfigError, match="group size 3 does not divide columns 16"):
        Dispatcher(group=3)
    with pytest.raises(ConfigError, match="columns 2000 is beyond the largest supported 1024"):
        Dispatcher(columns=2000)
    with pytest.raises(ValueError, match="a result buffer in 3 parts needs an array layout whose length 3 divides"):
        ResultBuffer(data.ArrayLayout(unsigned(8), 4), parts=3)
    with pytest.raises(ConfigError, match="tile kind must be one of"):
        TileDesign.of("pragmatic")
    with pytest.raises(ConfigError, match="count_bits must be between 1 and 32, not 0"):
        check_count_bits(0)
    # the same rules, messages and exception as the configuration's
    for bad, text in ((dict(lanes="4"), "lanes must be a positive integer, not '4'"),
                      (dict(act_bits=40), "act_bits must be between 2 and 32, not 40"),
                      (dict(group=3, columns=4), "group size 3 does not divide columns 4"),
                      (dict(columns=2000), "columns 2000 is beyond the largest supported 1024")):
        with pytest.raises(ConfigError, match=text):
            TileConfig(**bad)


def test_generate_run_ahead_manifest(tmp_path, capsys):
    """The run-ahead tile is the Dynamic Stripes kind with ``run_ahead``: same top, ports and
    latency as lock-step, its parameters in the manifest."""
    assert main(["generate", *SMALL, *EXTRA["dstripes"], "--out", str(tmp_path / "lock"), "--json"]) == 0
    lock = json.loads(capsys.readouterr().out)
    assert main(["generate", *SMALL, *EXTRA["dstripes"], *RUN_AHEAD["sip"], "--out", str(tmp_path / "ra"),
                 "--json"]) == 0
    ra = json.loads(capsys.readouterr().out)
    assert ra["top"] == lock["top"] == "dstripes_tile" and ra["ports"] == lock["ports"]
    assert ra["latency"] == lock["latency"]
    assert ra["parameters"]["run_ahead"] == 1 and ra["parameters"]["weight_select"] == "sip"
    assert lock["parameters"]["run_ahead"] == 0
    # the default selection is resolved in the manifest: G = 2 -> a mux per group
    assert main(["generate", *SMALL, *EXTRA["dstripes"], *RUN_AHEAD["mux"], "--out", str(tmp_path / "mux"),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"]["weight_select"] == "mux"
