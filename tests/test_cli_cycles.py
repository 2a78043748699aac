"""``dstripes cycles``: JSON and table output, input forms, and one-line error exits."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import brute
from dstripes.scripts.cli import main
from dstripes.sim.config import TileConfig
from dstripes.sim.cycles import layer_cycles
from dstripes.sim.fixed import Window
from dstripes.sim.layer import Layer

SMALL = ["--lanes", "1", "--columns", "4", "--rows", "1", "--tiles", "1"]
# the 2x2 / pad 1 worked example of test_sim_cycles.py (EX5): DaDN 36, Stripes 36, DStr 23
EX5_ACTS = np.array([[[1, 2], [3, 4]]])
EX5_ARGS = ["--layer", "k=1,kh=2,kw=2,pad=1", "--window", "2:0"] + SMALL


def run(capsys, argv):
    """Run ``dstripes ARGV`` in-process: ``(status, stdout, stderr, warnings)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rc = main(["cycles"] + [str(a) for a in argv])
        except SystemExit as e:  # argparse
            rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err, [str(w.message) for w in caught]


def run_json(capsys, argv):
    rc, out, err, warns = run(capsys, list(argv) + ["--json"])
    assert (rc, err, warns) == (0, "", [])
    return json.loads(out)


# ---------------------------------------------------------------- JSON

def test_json_worked_example(capsys, npy):
    d = run_json(capsys, ["--acts", npy(EX5_ACTS)] + EX5_ARGS)
    assert d["dadn"] == {"cycles": 36} and d["stripes"] == {"cycles": 36}
    assert d["dstripes"] == {"cycles": 23}
    assert d["bounds"] == {"ideal": 8.0, "pragmatic": 16}
    assert (d["windows"], d["steps"], d["images"], d["precision"]) == (9, 12, 1, 3)
    assert d["window"] == [2, 0] and d["signed"] is False
    assert d["speedup"]["dstripes_over_stripes"] == pytest.approx(36 / 23)
    assert d["speedup"]["stripes_over_dadn"] == 1.0
    assert d["speedup"]["dstripes_over_dadn"] == pytest.approx(36 / 23)
    # 12 steps x 4 groups (G=1): per-value bits 0->0 1->1 2,3->2 4->3 over the pallets of
    # test_sim_pallets.EX_PALLETS: 32 empty slots, four 1s, eight 2s/3s, four 4s
    assert d["group_precision_hist"] == [32, 4, 8, 4]
    assert d["config"]["lanes"] == 1 and d["config"]["columns"] == 4 and d["config"]["group"] == 1


def test_json_run_ahead_and_trim(capsys, npy):
    f = npy(EX5_ACTS)
    assert run_json(capsys, ["--acts", f, "--run-ahead", "100"] + EX5_ARGS)["dstripes"]["cycles"] == 18
    assert run_json(capsys, ["--acts", f, "--trim", "both", "--group", "2"] + EX5_ARGS)["dstripes"]["cycles"] == 18
    assert run_json(capsys, ["--acts", f, "--trim", "both", "--group", "4"] + EX5_ARGS)["dstripes"]["cycles"] == 19


@pytest.mark.parametrize("seed", range(4))
def test_json_equals_python_api(capsys, npy, seed):
    rng = np.random.default_rng(seed)
    signed = bool(seed % 2)
    win = Window(7, seed % 3, signed)
    acts = brute.random_codes(rng, (2, 5, 7, 6), win)
    spec = ["k=20,kh=3,kw=2,stride=2x1,pad=1x0", "k=10,kh=3,pad=1,groups=5",
            "k=5,kh=1,groups=5", "k=40,kh=2,stride=2"][seed]
    args = ["--acts", npy(acts), "--layer", spec, "--window", f"7:{seed % 3}",
            "--lanes", "4", "--columns", "4", "--rows", "2", "--tiles", "2", "--act-bits", "8",
            "--group", "2", "--trim", ["leading", "both"][seed % 2], "--run-ahead", str(seed % 3)]
    if signed:
        args.append("--signed")
    d = run_json(capsys, args)
    cfg = TileConfig(lanes=4, columns=4, rows=2, tiles=2, act_bits=8, group=2,
                     trim=["leading", "both"][seed % 2], run_ahead=seed % 3)
    layer = Layer.parse(spec, (5, 7, 6))
    ref = layer_cycles(acts, layer, win, cfg)
    config = d.pop("config")
    assert config == cfg.as_dict()
    assert d == json.loads(json.dumps(ref.as_dict()))
    # (N, C, H, W): the counts are the sums over the N inputs
    for key in ("dadn", "stripes", "dstripes"):
        assert d[key]["cycles"] == sum(layer_cycles(a, layer, win, cfg).cycles[key] for a in acts)
    assert d["images"] == 2 and d["windows"] == 2 * layer.windows
    # and the brute-force model agrees
    want = brute.layer_cycles(acts, layer, win, cfg)
    assert [d[k]["cycles"] for k in ("dadn", "stripes", "dstripes")] == \
        [want["dadn"], want["stripes"], want["dstripes"]]
    assert d["bounds"]["pragmatic"] == want["pragmatic"]


def test_images_sum_over_n(capsys, npy):
    one = run_json(capsys, ["--acts", npy(EX5_ACTS, "one.npy")] + EX5_ARGS)
    other = EX5_ACTS * 0 + np.array([[[0, 4], [1, 0]]])
    two = run_json(capsys, ["--acts", npy(other, "other.npy")] + EX5_ARGS)
    both = run_json(capsys, ["--acts", npy(np.stack([EX5_ACTS, other]), "both.npy")] + EX5_ARGS)
    for key in ("dadn", "stripes", "dstripes"):
        assert both[key]["cycles"] == one[key]["cycles"] + two[key]["cycles"]
    assert both["bounds"]["pragmatic"] == one["bounds"]["pragmatic"] + two["bounds"]["pragmatic"]
    assert both["images"] == 2 and both["windows"] == 18 and both["steps"] == 24


@pytest.mark.parametrize("shape", [(8,), (1, 8), (8, 1, 1), (1, 8, 1, 1), (2, 2, 2)])
def test_fc_inputs(capsys, npy, shape):
    # EX6 of test_sim_cycles.py: bricks [7,0|1,0|0,0|3,1] -> DaDN 4, Stripes 9, DStr 6
    acts = np.array([7, 0, 1, 0, 0, 0, 3, 1]).reshape(shape)
    d = run_json(capsys, ["--acts", npy(acts), "--layer", "k=1,fc", "--window", "3:0",
                          "--lanes", "2", "--columns", "2", "--rows", "1", "--tiles", "1"])
    assert [d[k]["cycles"] for k in ("dadn", "stripes", "dstripes")] == [4, 9, 6]
    assert d["layer"] == "fc 8->1"


@pytest.mark.parametrize("spec", ["K=1,FC", "k=1, fc = 1", "k=1,fc=yes"])
def test_fc_spec_spelled_as_layer_parse_accepts(capsys, npy, spec):
    """Layer.parse lower-cases and strips keys; the CLI's own fc sniffing (for 1-D/2-D inputs)
    must accept the same spellings."""
    d = run_json(capsys, ["--acts", npy(np.array([7, 0, 1, 0, 0, 0, 3, 1])), "--layer", spec,
                          "--window", "3:0", "--lanes", "2", "--columns", "2", "--rows", "1",
                          "--tiles", "1"])
    assert [d[k]["cycles"] for k in ("dadn", "stripes", "dstripes")] == [4, 9, 6]


def test_published_tile_defaults(capsys, npy, rng):
    acts = brute.random_codes(rng, (32, 6, 6), Window(9, 2))
    d = run_json(capsys, ["--acts", npy(acts), "--layer", "k=300,kh=3,pad=1", "--window", "9:2"])
    layer = Layer(32, 6, 6, 300, 3, 3, py=1, px=1)
    # 36 windows (3 window-sets of 16); 3x3 kernel x 2 channel blocks (32 / 16 lanes) = 18
    # steps; 300 filters / 256 per filter-set = 2 filter-sets; p = 8
    assert d["dadn"]["cycles"] == 36 * 3 * 3 * 2 * 2
    assert d["stripes"]["cycles"] == 3 * 3 * 3 * 2 * 2 * 8
    assert d["dstripes"]["cycles"] == layer_cycles(acts, layer, Window(9, 2)).cycles["dstripes"]
    assert d["config"] == TileConfig().as_dict()


def test_float_integral_codes_accepted(capsys, npy):
    d = run_json(capsys, ["--acts", npy(EX5_ACTS.astype(np.float32))] + EX5_ARGS)
    assert d["dstripes"]["cycles"] == 23


# ---------------------------------------------------------------- table

def test_table(capsys, npy):
    acts = np.tile(EX5_ACTS, (1, 20, 20))  # 40x40 -> counts in the thousands
    rc, out, err, _ = run(capsys, ["--acts", npy(acts)] + EX5_ARGS)
    assert (rc, err) == (0, "")
    layer = Layer(1, 40, 40, 1, 2, 2, py=1, px=1)
    ref = layer_cycles(acts, layer, Window(2, 0), TileConfig(lanes=1, columns=4, rows=1, tiles=1))
    lines = out.splitlines()
    assert layer.describe() in lines[0] and "[2:0]" in lines[0] and "1 input" in lines[0]
    body = "\n".join(lines[1:])
    for label, key in (("DaDN", "dadn"), ("Stripes", "stripes"), ("Dynamic Stripes", "dstripes"),
                       ("per-value ideal", "ideal"), ("Pragmatic", "pragmatic")):
        row = next(l for l in lines[1:] if l.startswith(label))
        assert f"{int(round(ref.cycles[key])):,}" in row or f"{ref.cycles[key]:.2f}" in row, row
    assert "leading, G=1" in body
    assert f"{ref.cycles['stripes'] / ref.cycles['dstripes']:.2f}" in body
    assert "," in body  # thousands separators


def test_table_signed_title(capsys, npy):
    rc, out, err, _ = run(capsys, ["--acts", npy(EX5_ACTS - 2), "--signed"] + EX5_ARGS)
    assert rc == 0 and "signed" in out.splitlines()[0]


# ---------------------------------------------------------------- errors

def _corrupt(tmp_path, kind):
    p = tmp_path / f"{kind}.npy"
    if kind == "garbage":
        p.write_bytes(b"this is certainly not a numpy file\n")
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "truncated-data":
        np.save(p, np.arange(64).reshape(4, 4, 4))
        p.write_bytes(p.read_bytes()[:-10])
    elif kind == "truncated-header":
        np.save(p, np.arange(64).reshape(4, 4, 4))
        p.write_bytes(p.read_bytes()[:20])
    elif kind == "pickled":
        np.save(p, np.array([[[object()]]], dtype=object), allow_pickle=True)
    elif kind == "strings":
        np.save(p, np.array([[["a", "b"]]]))
    return str(p)


def _assert_error(capsys, argv, *named):
    rc, out, err, warns = run(capsys, argv)
    assert rc == 2, (rc, out, err)
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dstripes: error:"), err
    assert "Traceback" not in err
    for token in named:
        assert token in lines[0], (token, lines[0])
    # a warning would be an extra stderr line (and a sign of a silent conversion) in a real run
    assert warns == [], warns
    return lines[0]


def test_error_value_outside_window(capsys, npy):
    _assert_error(capsys, ["--acts", npy(np.array([[[1, 300]]])), "--layer", "k=1", "--window", "7:0"], "300")
    _assert_error(capsys, ["--acts", npy(np.array([[[1, -1]]])), "--layer", "k=1", "--window", "7:0"], "-1")
    _assert_error(capsys, ["--acts", npy(np.array([[[2, 3]]])), "--layer", "k=1", "--window", "7:1"], "3")
    _assert_error(capsys, ["--acts", npy(np.array([[[1, 8]]])), "--layer", "k=1", "--window", "3:0",
                           "--signed"], "8")


def test_error_non_integer_codes(capsys, npy):
    _assert_error(capsys, ["--acts", npy(np.array([[[1.0, 2.5]]])), "--layer", "k=1", "--window", "7:0"], "2.5")
    _assert_error(capsys, ["--acts", npy(np.array([[[1.0, np.nan]]])), "--layer", "k=1", "--window", "7:0"], "nan")


@pytest.mark.parametrize("bad", [np.inf, 1e30])
def test_error_non_finite_codes(capsys, npy, bad):
    """inf or a huge float must be named as itself (today: cast to int64 garbage first)."""
    _assert_error(capsys, ["--acts", npy(np.array([[[1.0, bad]]])), "--layer", "k=1", "--window", "7:0"],
                  str(bad))


def test_error_uint64_beyond_int64(capsys, npy):
    big = 2**63 + 5
    _assert_error(capsys, ["--acts", npy(np.array([[[1, big]]], dtype=np.uint64)), "--layer", "k=1",
                           "--window", "7:0"], str(big))


def test_error_kernel_larger_than_padded_input(capsys, npy):
    f = npy(np.zeros((1, 3, 3), dtype=np.int64))
    _assert_error(capsys, ["--acts", f, "--layer", "k=1,kh=6,pad=1", "--window", "7:0"], "6", "5")
    _assert_error(capsys, ["--acts", f, "--layer", "k=1,kh=1,kw=4", "--window", "7:0"], "4", "3")


def test_error_group_does_not_divide_columns(capsys, npy):
    f = npy(np.zeros((1, 3, 3), dtype=np.int64))
    _assert_error(capsys, ["--acts", f, "--layer", "k=1", "--window", "7:0", "--group", "3"], "3", "16")
    _assert_error(capsys, ["--acts", f, "--layer", "k=1", "--window", "7:0", "--group", "4",
                           "--columns", "6"], "4", "6")


def test_error_channels_not_divisible_by_groups(capsys, npy):
    f = npy(np.zeros((3, 3, 3), dtype=np.int64))
    _assert_error(capsys, ["--acts", f, "--layer", "k=4,groups=2", "--window", "7:0"], "3", "2")
    f4 = npy(np.zeros((4, 3, 3), dtype=np.int64), "four.npy")
    _assert_error(capsys, ["--acts", f4, "--layer", "k=3,groups=2", "--window", "7:0"], "3", "2")


def test_error_missing_file(capsys, tmp_path):
    missing = str(tmp_path / "nope.npy")
    _assert_error(capsys, ["--acts", missing, "--layer", "k=1", "--window", "7:0"], missing)


def test_error_directory(capsys, tmp_path):
    _assert_error(capsys, ["--acts", str(tmp_path), "--layer", "k=1", "--window", "7:0"], str(tmp_path))


@pytest.mark.parametrize("kind", ["garbage", "empty", "truncated-data", "truncated-header", "pickled", "strings"])
def test_error_corrupt_npy(capsys, tmp_path, kind):
    f = _corrupt(tmp_path, kind)
    _assert_error(capsys, ["--acts", f, "--layer", "k=1", "--window", "7:0"], Path(f).name)


@pytest.mark.parametrize("spec, named", [
    ("k=abc", "abc"), ("kx=3,k=1", "kx"), ("k=1,kh=2x", "2x"), ("k=1,kw=abc", "abc"), ("k=1,stride=a", "a"),
    ("kh=3", "kh=3"), ("k=1,pad=1x2x3", "1x2x3"), ("k=0", "0"), ("k=1,stride=0", "0"),
    ("k=1,kh", "kh"), ("", "''"),
])
def test_error_malformed_layer(capsys, npy, spec, named):
    f = npy(np.zeros((2, 4, 4), dtype=np.int64))
    _assert_error(capsys, ["--acts", f, "--layer", spec, "--window", "7:0"], named)


@pytest.mark.parametrize("window, named", [
    ("abc", "abc"), ("3:5", "5"), ("1:2:3", "1:2:3"), ("-1", "-1"), ("7:x", "7:x"), ("20:0", "20"),
])
def test_error_malformed_window(capsys, npy, window, named):
    f = npy(np.zeros((2, 4, 4), dtype=np.int64))
    _assert_error(capsys, ["--acts", f, "--layer", "k=1", "--window", window], named)


def test_error_window_gives_the_real_reason(capsys, npy):
    """Window.parse must not replace the specific reason (lsb above msb, a 1-bit signed window)
    with the generic 'must be MSB:LSB with integers' -- '3:5' and '0:0' *are* integers."""
    f = npy(np.zeros((2, 4, 4), dtype=np.int64))
    msg = _assert_error(capsys, ["--acts", f, "--layer", "k=1", "--window", "0:0", "--signed"], "0")
    assert "two bits" in msg, msg
    msg = _assert_error(capsys, ["--acts", f, "--layer", "k=1", "--window", "3:5"], "5")
    assert "above" in msg, msg


def test_error_other_bad_input(capsys, npy, tmp_path):
    f = npy(np.zeros((2, 4, 4), dtype=np.int64))
    base = ["--acts", f, "--layer", "k=1", "--window", "7:0"]
    _assert_error(capsys, base + ["--run-ahead", "-1"], "-1")
    _assert_error(capsys, base + ["--lanes", "0"], "0")
    _assert_error(capsys, base + ["--act-bits", "6"], "[7:0]", "6")
    _assert_error(capsys, ["--acts", npy(np.zeros((4, 4), dtype=np.int64), "flat.npy"), "--layer", "k=1",
                           "--window", "7:0"], "(4, 4)")
    # reduction 8192 * 3 * 3 = 73728 > 65536 of the default accumulators
    big = npy(np.zeros((8192, 3, 3), dtype=np.int16), "big.npy")
    _assert_error(capsys, ["--acts", big, "--layer", "k=1,kh=3", "--window", "7:0"], "73728", "65536")


@pytest.mark.parametrize("argv", [
    ["--acts", "x.npy", "--layer", "k=1", "--window", "7:0", "--lanes", "abc"],
    ["--layer", "k=1", "--window", "7:0"],
    ["--acts", "x.npy", "--layer", "k=1", "--window", "7:0", "--trim", "none"],
])
def test_argparse_errors_are_one_line(capsys, argv):
    rc, out, err, _ = run(capsys, argv)
    assert rc == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("dstripes") and "error:" in err and "Traceback" not in err


# ---------------------------------------------------------------- the installed entry point

def test_entry_point_subprocess(tmp_path):
    exe = Path(sys.executable).with_name("dstripes")
    assert exe.exists(), f"{exe} missing: is the project installed in the venv?"
    f = tmp_path / "acts.npy"
    np.save(f, EX5_ACTS)
    p = subprocess.run([str(exe), "cycles", "--acts", str(f), "--json"] + EX5_ARGS,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    d = json.loads(p.stdout)
    assert [d[k]["cycles"] for k in ("dadn", "stripes", "dstripes")] == [36, 36, 23]
