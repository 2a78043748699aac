"""On-disk cache of block syntheses: each distinct block is synthesised once.

A block's result (:class:`~dstripes.synth.flow.BlockArea`) is stored under a key made of
everything the result depends on: the block's name and Verilog text, the yosys version, the
flow's yosys and ABC scripts, the gate-equivalent library and the user liberty's contents. A
design-space sweep whose points differ in one block therefore re-synthesises only that block,
and an interrupted sweep resumes where it stopped. Entries are small JSON files written
atomically; deleting the folder is always safe.

The folder is ``$DSTRIPES_SYNTH_CACHE`` if set, else ``build/synth`` at the project root (beside
the simulator builds of :func:`dstripes.tb.host.cache.default_build_root`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from dstripes.sim.errors import ConfigError
from dstripes.sim.files import write_atomic

from dstripes.tb.tools import yosys_path, yosys_version

from .flow import BlockArea
from .recipe import ABC_SCRIPT, GE_LIBERTY, synth_script

#: Environment variable naming the cache folder.
CACHE_ENV = "DSTRIPES_SYNTH_CACHE"


def default_cache_root() -> Path:
    """``$DSTRIPES_SYNTH_CACHE`` if set, else ``build/synth`` at the project root."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "build" / "synth"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class SynthCache:
    """Block areas by a key of the block's Verilog, the tools and the libraries.

    Parameters
    ----------
    root : path, optional
        Cache folder (default :func:`default_cache_root`), created on first write.
    yosys : str, optional
        The yosys executable whose version enters the key (default :func:`tb.tools.yosys_path`).
    """

    def __init__(self, root: str | os.PathLike | None = None, *, yosys: str | None = None):
        self.root = Path(root) if root is not None else default_cache_root()
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"synthesis cache {self.root} exists and is not a folder")
        exe = yosys_path(yosys)
        self._tools = {"yosys": yosys_version(exe), "abc_script": ABC_SCRIPT,
                       "ge_lib": _sha(GE_LIBERTY.read_bytes())}
        self._liberty: dict = {}

    def key(self, name: str, verilog: str, liberty: str | os.PathLike | None = None) -> str:
        """The cache key of block ``name`` with Verilog ``verilog`` (and a user ``liberty``)."""
        lib = None
        if liberty is not None:
            path = str(liberty)
            if path not in self._liberty:
                self._liberty[path] = _sha(Path(path).read_bytes())
            lib = self._liberty[path]
        text = json.dumps({"name": name, "verilog": _sha(verilog.encode()), "tools": self._tools,
                           "script": synth_script(name, lib is not None), "liberty": lib},
                          sort_keys=True)
        return _sha(text.encode())[:32]

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> BlockArea | None:
        """The stored area, or ``None`` (also for an unreadable entry, which is then redone)."""
        try:
            return BlockArea(**json.loads(self._path(key).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def put(self, key: str, area: BlockArea) -> None:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(p, json.dumps(dataclasses.asdict(area), sort_keys=True) + "\n")
