"""On-disk cache of network runs on photos, so that re-profiling neither recaptures nor reruns.

One SQLite file, ``$DSTRIPES_CACHE/runs-v1.sqlite`` (default ``~/.cache/dstripes``), holds

* ``capture``: per (network, photo) what a float capture gives the profiler: the network output
  and, for every layer, the largest and smallest value of its input on that photo;
* ``runs``: per (network, photo, quantisation) the scores of one quantised run against the float
  output (squared error, cosine, top-1 margin and noise, top-1 class: :func:`.fidelity.measure`).

The *network* key covers the model's identity (built-in name and weights, or the ONNX file's
digest), the engine, the input size, the preprocessing and the onnxruntime version; the *photo*
key is the digest of its file plus its augmentation (:attr:`.images.Photo.key`); the
*quantisation* key is a digest of every quantised layer's scale and window. Full activation
tensors are not kept: a VGG-16 photo at 224x224 has 37 MB of them, and profiling needs only their
ranges.

Only the process that drives a run (the Dask client) reads and writes the file; workers return
their results to it. SQLite's write-ahead log and a busy timeout make several such processes
(two profiling runs, a user's parallel jobs) safe together. Deleting the file is always safe.
"""
from __future__ import annotations

from dataclasses import dataclass
import hashlib
import io
import os
import sqlite3

import numpy as np

from .. import PACKAGE
from ..frozen import FrozenMap
from .fidelity import Scores

VERSION = 1


@dataclass(frozen=True)
class Capture:
    """What a float capture of one photo gives the profiler.

    Members
    -------
    output : ndarray
        The network's output (float32).
    max, min : ndarray
        Per layer, in layer order: the largest magnitude and the smallest value of its input.
    """

    output: np.ndarray
    max: np.ndarray
    min: np.ndarray

    def as_dict(self) -> dict:
        """The arrays by name (how the cache file stores them)."""
        return {"output": self.output, "max": self.max, "min": self.min}


def cache_root() -> str:
    """``$DSTRIPES_CACHE`` or ``~/.cache/dstripes``."""
    return os.environ.get("DSTRIPES_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", PACKAGE)


def digest(text: str, n: int = 20) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def quant_key(quant: dict) -> str:
    """Digest of a quantisation (``layer -> Quant``); the empty quantisation is ``float``."""
    if not quant:
        return "float"
    items = sorted((n, repr(float(q.scale)), q.window.msb, q.window.lsb, q.window.signed) for n, q in quant.items())
    return digest(repr(items))


def _pack(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _unpack(blob: bytes) -> dict:
    with np.load(io.BytesIO(blob)) as z:
        return {k: z[k] for k in z.files}


class RunCache:
    """The cache file; ``path=None`` (or ``$DSTRIPES_NO_CACHE``) keeps nothing."""

    def __init__(self, path: str | None = "default"):
        if path == "default":
            path = None if os.environ.get("DSTRIPES_NO_CACHE") else os.path.join(cache_root(), f"runs-v{VERSION}.sqlite")
        self.path = path
        self._db = None
        self.hits = self.misses = 0

    def _conn(self):
        if self.path is None:
            return None
        if self._db is None:
            try:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                db = sqlite3.connect(self.path, timeout=120, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("CREATE TABLE IF NOT EXISTS capture (net TEXT, photo TEXT, data BLOB, "
                           "PRIMARY KEY (net, photo))")
                db.execute("CREATE TABLE IF NOT EXISTS runs (net TEXT, photo TEXT, quant TEXT, mse REAL, "
                           "cos REAL, margin REAL, noise REAL, top INTEGER, PRIMARY KEY (net, photo, quant))")
                self._db = db
            except (sqlite3.Error, OSError):
                self.path = None  # caching is an optimisation only: run without it
                return None
        return self._db

    # -- captures ---------------------------------------------------------------------------
    def get_captures(self, net: str, photos: list) -> FrozenMap[str, Capture]:
        """The captures of the photos found, by photo key."""
        db = self._conn()
        out = {}
        if db is not None:
            for i in range(0, len(photos), 500):
                keys = photos[i:i + 500]
                q = f"SELECT photo, data FROM capture WHERE net=? AND photo IN ({','.join('?' * len(keys))})"
                try:
                    for photo, blob in db.execute(q, [net, *keys]):
                        out[photo] = Capture(**_unpack(blob))
                except sqlite3.Error:
                    return FrozenMap()
        self.hits += len(out)
        self.misses += len(photos) - len(out)
        return FrozenMap(out)

    def put_captures(self, net: str, items) -> None:
        """Keep ``photo key -> Capture``."""
        db = self._conn()
        if db is None or not items:
            return
        rows = [(net, k, _pack(v.as_dict())) for k, v in items.items()]
        self._write(db, "INSERT OR REPLACE INTO capture VALUES (?, ?, ?)", rows)

    # -- quantised runs ---------------------------------------------------------------------
    def get_runs(self, net: str, quant: str, photos: list) -> FrozenMap[str, Scores]:
        """The scores of the photos found, by photo key."""
        db = self._conn()
        out = {}
        if db is not None:
            for i in range(0, len(photos), 500):
                keys = photos[i:i + 500]
                q = (f"SELECT photo, mse, cos, margin, noise, top FROM runs WHERE net=? AND quant=? "
                     f"AND photo IN ({','.join('?' * len(keys))})")
                try:
                    for row in db.execute(q, [net, quant, *keys]):
                        out[row[0]] = Scores(*row[1:])
                except sqlite3.Error:
                    return FrozenMap()
        self.hits += len(out)
        self.misses += len(photos) - len(out)
        return FrozenMap(out)

    def put_runs(self, net: str, quant: str, items) -> None:
        """Keep ``photo key -> Scores``."""
        db = self._conn()
        if db is None or not items:
            return
        rows = [(net, k, quant, *map(float, v[:4]), int(v[4])) for k, v in items.items()]
        self._write(db, "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    @staticmethod
    def _write(db, sql, rows) -> None:
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(sql, rows)
            db.execute("COMMIT")
        except sqlite3.Error:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
