"""What the benchmarks of this folder share (``import common``: each runs as a script, with its
folder first on the import path): the machine and its load, printed beside every figure because
other work on a shared machine counts against it, and the options of the network benchmarks."""
from __future__ import annotations

import argparse
import os
import platform


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, or ``n/a`` where the system has none."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine() -> str:
    """Architecture and core count, e.g. ``x86_64, 2 cores``."""
    return f"{platform.machine()}, {os.cpu_count()} cores"


def description(doc: str) -> str:
    """A benchmark's ``--help`` description: the first paragraph of its docstring, refilled."""
    return " ".join(doc.split("\n\n")[0].split())


def network_parser(doc: str, *, images: int, jobs: str) -> argparse.ArgumentParser:
    """The parser of a benchmark on a real network: ``--model --images --size --jobs``
    (``images``: the default photo count; ``jobs``: what ``--jobs`` means)."""
    p = argparse.ArgumentParser(description=description(doc))
    p.add_argument("--model", default="vgg16-hed", help="built-in network or ONNX file (%(default)s)")
    p.add_argument("--images", type=int, default=images, help="photos (%(default)s)")
    p.add_argument("--size", type=int, default=224, help="input height and width (%(default)s)")
    p.add_argument("--jobs", type=int, default=None, help=jobs)
    return p
