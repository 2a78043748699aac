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

import hashlib
import io
import os
import sqlite3

import numpy as np

from .. import PACKAGE

VERSION = 1


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
    def get_captures(self, net: str, photos: list) -> dict:
        """``photo key -> {output, max, min}`` of the photos found."""
        db = self._conn()
        out = {}
        if db is not None:
            for i in range(0, len(photos), 500):
                keys = photos[i:i + 500]
                q = f"SELECT photo, data FROM capture WHERE net=? AND photo IN ({','.join('?' * len(keys))})"
                try:
                    for photo, blob in db.execute(q, [net, *keys]):
                        out[photo] = _unpack(blob)
                except sqlite3.Error:
                    return {}
        self.hits += len(out)
        self.misses += len(photos) - len(out)
        return out

    def put_captures(self, net: str, items: dict) -> None:
        db = self._conn()
        if db is None or not items:
            return
        rows = [(net, k, _pack(v)) for k, v in items.items()]
        self._write(db, "INSERT OR REPLACE INTO capture VALUES (?, ?, ?)", rows)

    # -- quantised runs ---------------------------------------------------------------------
    def get_runs(self, net: str, quant: str, photos: list) -> dict:
        """``photo key -> (mse, cos, margin, noise, top)`` of the photos found."""
        db = self._conn()
        out = {}
        if db is not None:
            for i in range(0, len(photos), 500):
                keys = photos[i:i + 500]
                q = (f"SELECT photo, mse, cos, margin, noise, top FROM runs WHERE net=? AND quant=? "
                     f"AND photo IN ({','.join('?' * len(keys))})")
                try:
                    for row in db.execute(q, [net, quant, *keys]):
                        out[row[0]] = tuple(row[1:])
                except sqlite3.Error:
                    return {}
        self.hits += len(out)
        self.misses += len(photos) - len(out)
        return out

    def put_runs(self, net: str, quant: str, items: dict) -> None:
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
