"""The option table (``scripts/options.py``): what every subcommand lists, options defined
through it alone, a definition that cannot work refused, a value refused as it is parsed."""
from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

from dstripes.scripts import options
from dstripes.scripts.cli import COMMANDS, build_parser, main
from dstripes.scripts.options import Option
from dstripes.sim.errors import ConfigError
from dstripes.sim.nets.models import BUILTIN

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
TILE = ("--lanes --columns --rows --act-bits --weight-bits --group --trim --run-ahead --weight-select --max-reduction "
        "--fc-dispatch")
#: The tile options of the commands that only count cycles (no hardware-only option).
MODEL_TILE = TILE.replace(" --weight-select", "").replace(" --fc-dispatch", "")
NETWORK = "--model --size --preprocess --criterion --engine --tokenizer"
CLUSTER = "--jobs --scheduler --no-progress"
CHIP = "--chip --nm-kib --nm-read --sb-kib --no-reuse"

#: What each subcommand's ``--help`` lists (docs/usage.md §9 says how one differs from another).
LISTED = {
    "cycles": f"--acts --layer --window --signed --image {MODEL_TILE} --tiles --json",
    "generate": f"--scheme {TILE} {CHIP} --tiles --out --json",
    "simulate": f"--scheme --sim --window-sets --acts --weights --layer --window --signed --image --path "
                f"--filter-set --mode {TILE} --waves --seed --idle --stall --json {CHIP} --tiles --dram-latency "
                f"--dram-bytes-per-cycle --dram-stall --dram-jitter --bias --out-window --out-signed --out-shift "
                f"--out-acts --residual --res-window --res-signed --res-shift --pool",
    "verify": f"{NETWORK} --profile --int8 --images --profile-images --image-dir --text-file --scheme --sim --layers --filter-sets {TILE} {CLUSTER} "
              f"--out --json {CHIP} --tiles --dram-latency --dram-bytes-per-cycle --dram-stall --dram-jitter --chain",
    "synth": f"--scheme {TILE} --liberty --out --json --jobs --workload {CHIP} --tiles",
    "prove": f"--block --small {MODEL_TILE.replace(' --run-ahead', '')} --weight-select --depth --no-end-to-end "
             f"--timeout --jobs --out "
             f"--json",
    "profile": f"{NETWORK} --headroom --margin --augment --images --image-dir --text-file --labels --heldout --target "
               f"--act-bits {CLUSTER} --out --json",
    "evaluate": f"{NETWORK} --headroom --margin --augment --profile --target --images --image-dir --text-file --labels --int8 "
                f"--profile-images --dump --chain {MODEL_TILE} --tiles {CLUSTER} --out --json "
                f"--energy --liberty --energy-model --clock-ns {CHIP} --dram-latency --dram-bytes-per-cycle",
    "explore": f"--model --size --profile --target --images --image-dir --sweep --liberty {CLUSTER} --out --json",
    "demo": "--sample --list --sim --window-sets --small --json",
    "quantize": "--model --size --preprocess --criterion --tokenizer --images --image-dir --text-file --heldout --activations "
                "--per-channel --symmetric --exclude --out --json",
}


def _subparsers() -> dict:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_every_subcommand_lists_its_options():
    parsers = _subparsers()
    assert list(parsers) == list(COMMANDS)
    for name, parser in parsers.items():
        flags = {a.option_strings[0] for a in parser._actions if a.option_strings and a.dest != "help"}
        assert flags == set(LISTED[name].split()), name


def test_options_are_added_through_the_table_only():
    """A command module adds no option with ``add_argument`` of its own: every option is an
    :class:`Option` (one place for its type, choices, help and check)."""
    for path in sorted(SCRIPTS.glob("cmd_*.py")):
        calls = [n for n in ast.walk(ast.parse(path.read_text()))
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "add_argument"]
        assert not calls, f"{path.name}:{calls[0].lineno} adds an option outside the option table"


def test_the_scheme_choices_are_the_tile_kinds():
    """``--scheme`` reads the kinds' names and titles from their schemes (no Amaranth for
    ``--help``): they must be exactly the registry's kinds, in its order."""
    from dstripes.hw.kinds import KINDS

    for name in ("generate", "simulate", "verify", "synth"):
        scheme = next(a for a in _subparsers()[name]._actions if a.dest == "scheme")
        assert [c for c in scheme.choices if c != "all"] == list(KINDS), name
        assert all(f"{k.name} ({k.title})" in scheme.help for k in KINDS.values())


def test_the_int8_choices_are_the_studys():
    """``--int8`` names its choices in the option table (``--help`` loads no network runtime):
    they must be exactly the int8 study's scales."""
    from dstripes.scripts.options import INT8
    from dstripes.sim.nets.int8_study import SCALES

    assert tuple(INT8.choices) == SCALES


def test_help_loads_no_hardware_and_no_runtime():
    """``dstripes --help`` builds every parser without Amaranth, the hardware, the testbench,
    Dask or the network runtimes (what ``run`` imports when a command runs)."""
    import subprocess
    import sys

    code = ("import sys; from dstripes.scripts.cli import build_parser; build_parser(); "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('amaranth', 'cocotb', 'dask', 'distributed', 'torch', 'onnxruntime') "
            "or m.startswith(('dstripes.hw', 'dstripes.tb')))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def test_the_builtin_networks_come_from_the_registry():
    model = next(a for a in _subparsers()["evaluate"]._actions if a.dest == "model")
    assert all(name in model.help for name in BUILTIN)
    for path in sorted(SCRIPTS.glob("*.py")):
        assert not any(name in path.read_text() for name in BUILTIN), f"{path.name} names a built-in network"


@pytest.mark.parametrize("kwargs, message", [
    ({"flag": "-n", "help": "x"}, "flag is --name"),
    ({"flag": "--fast", "help": "x", "switch": True, "type": int}, "switch --fast takes no value, so no type"),
    ({"flag": "--no-x", "help": "x", "off": True}, "off applies to a switch only"),
])
def test_an_option_that_cannot_work_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Option(**kwargs)


def test_a_value_is_checked_as_it_parses(capsys):
    """The check runs while parsing; ``dstripes`` says it in one line, status 2."""
    parser = argparse.ArgumentParser()
    Option("--count", "how many", type=int, check=options.positive).add(parser)
    assert parser.parse_args(["--count", "3"]).count == 3
    with pytest.raises(ConfigError, match="--count must be positive, not 0"):
        parser.parse_args(["--count", "0"])
    assert main(["prove", "--depth", "0"]) == 2
    assert capsys.readouterr().err == "dstripes: error: --depth must be positive, not 0\n"
