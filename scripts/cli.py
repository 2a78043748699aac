"""dstripes: Dynamic Stripes accelerator model, RTL generator, verification and synthesis.

Each subcommand lives in ``scripts/cmd_<name>.py`` and exposes ``register(subparsers)``, which
adds its parser, composed of the option groups of :mod:`.options`, and sets ``func`` to its
``run``: a callable taking the parsed arguments and returning an exit status. ``register``
imports nothing; ``run`` imports what the command needs when it runs, so ``dstripes --help``
loads only what the options name (tile kinds, built-in networks, criteria), never the
testbench, synthesis or network runtimes. No command module imports another: what two commands
share is in :mod:`.options` or in the modules that interpret options (``docs/usage.md`` §9).

The boundary is total: bad input (:class:`~dstripes.sim.errors.ConfigError`, a missing or
unreadable file) prints one line ``dstripes: error: ...`` and exits with status 2; a failed
external tool (:class:`~dstripes.sim.errors.ToolError`) prints one line ``dstripes: tool
failure: ...`` naming the tool and its log and exits with status 3; a verification that found a
difference exits with status 1; an interrupt exits with 130. Anything else is a bug of the tool:
one line ``dstripes: internal error: ...`` and status 4 (``DSTRIPES_DEBUG=1`` shows the
traceback).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import PackageNotFoundError, version

from dstripes.sim import PACKAGE
from dstripes.sim.errors import ConfigError, ToolError

from .output import forget_created, remove_created

COMMANDS = ("cycles", "generate", "simulate", "verify", "synth", "prove", "profile", "evaluate", "explore",
            "demo", "quantize")

EPILOG = """exit status: 0 success, 1 a verification found a difference, 2 bad input,
3 an external tool failed (yosys, a simulator, onnxruntime), 4 an internal error (a bug:
DSTRIPES_DEBUG=1 shows its traceback), 130 interrupted. docs/usage.md is the user guide."""

#: Exit status of an unexpected exception (a bug of the tool, not of its input).
INTERNAL_ERROR = 4
DEBUG_ENV = "DSTRIPES_DEBUG"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # one prefix for every bad-input line, whichever (sub)parser found it
        self.exit(2, f"dstripes: error: {message}\n")


def _version() -> str:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PACKAGE, description=__doc__.splitlines()[0], epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"{PACKAGE} {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"dstripes.scripts.cmd_{name}").register(sub)
    return parser


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def main(argv=None) -> int:
    """Run ``dstripes ARGV``; returns the exit status (argparse's own errors, ``--help`` and
    ``--version`` end with :exc:`SystemExit`). A run that does not succeed removes the output
    folders it created that are still empty."""
    forget_created()
    status = INTERNAL_ERROR
    try:
        status = _run(argv)
        return status
    finally:
        if status:
            remove_created()


def _run(argv) -> int:
    parser = build_parser()
    try:
        # an option whose value parses but cannot be used raises ConfigError while parsing
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except ConfigError as e:
        print(f"dstripes: error: {_first_line(e)}", file=sys.stderr)
        return ConfigError.exit_status
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            return _broken_pipe()
        # a file the user named (missing, a folder, no permission) or their disk (full)
        where = f": {e.filename}" if e.filename else ""
        print(f"dstripes: error: {e.strerror or _first_line(e)}{where}", file=sys.stderr)
        return ConfigError.exit_status
    except ToolError as e:
        print(f"dstripes: tool failure: {_first_line(e)}", file=sys.stderr)
        return ToolError.exit_status
    except MemoryError:
        print("dstripes: error: out of memory (the input or configuration is too large for this "
              "machine)", file=sys.stderr)
        return ConfigError.exit_status
    except KeyboardInterrupt:
        print("dstripes: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"dstripes: internal error: {type(e).__name__}: {_first_line(e)} (a bug; "
              f"{DEBUG_ENV}=1 shows the traceback)", file=sys.stderr)
        return INTERNAL_ERROR


def _broken_pipe() -> int:
    """The reader went away (e.g. ``| head``): stop quietly, as Unix tools do."""
    try:
        sys.stdout = open(os.devnull, "w")
    except OSError:
        pass
    return 0


def entry() -> None:
    """The ``dstripes`` console script."""
    status = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")
    sys.exit(status)


if __name__ == "__main__":
    entry()
