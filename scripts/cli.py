"""dstripes: Dynamic Stripes accelerator model, RTL generator, verification and synthesis.

Each subcommand lives in ``scripts/cmd_<name>.py`` and exposes ``register(subparsers)``, which
adds its parser and sets ``func`` to a callable taking the parsed arguments and returning an exit
status. Bad input raises :class:`sim.ConfigError` (or ``FileNotFoundError``); the command prints
one line ``dstripes: error: ...`` and exits with status 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from dstripes.sim.errors import ConfigError

COMMANDS = ("cycles", "generate", "simulate", "synth", "profile", "evaluate", "demo")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # one prefix for every bad-input line, whichever (sub)parser found it
        self.exit(2, f"dstripes: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dstripes", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"dstripes.scripts.cmd_{name}")
        except ModuleNotFoundError as e:
            if e.name == f"dstripes.scripts.cmd_{name}":
                continue  # subcommand not built yet
            raise
        mod.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, FileNotFoundError, IsADirectoryError, PermissionError) as e:
        msg = str(e) if isinstance(e, ConfigError) else f"{e.strerror}: {e.filename}"
        print(f"dstripes: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
