"""On-disk cache of network runs on photos, so that re-profiling neither recaptures nor reruns.

One SQLite file, ``$DSTRIPES_CACHE/runs-v2.sqlite`` (default ``~/.cache/dstripes``), holds

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

Every row carries a digest of its key and its values (:func:`dstripes.sim.checked.digest_of`),
checked when it is read: a row that fails (or a capture whose arrays do not unpack) is deleted
and computed again. The file is checked when it is opened (SQLite's ``quick_check``) and
whenever SQLite finds it damaged: a damaged (cut short, overwritten, empty) file is replaced by
a new one. Either is said in one line on stderr.

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
import zipfile

import numpy as np

from .. import PACKAGE
from ..checked import digest_of, discard, report
from ..frozen import FrozenMap
from .fidelity import Scores

#: The file's format (its name): version 2 added the rows' digests.
VERSION = 2
#: What a report of damage calls the cache.
WHAT = "the run cache"


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
    items = sorted((n, repr(float(q.scale)), q.window.msb, q.window.lsb, q.window.signed)
                   + (("per token",) if q.per_token else ()) for n, q in quant.items())
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
                os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
                if os.path.isfile(self.path) and os.path.getsize(self.path) == 0:
                    self._damaged("empty")
                self._db = self._open()
            except sqlite3.DatabaseError as e:
                if not _is_damage(e):
                    self.path = None  # caching is an optimisation only: run without it
                    return None
                self._damaged(str(e))
                try:
                    self._db = self._open()
                except (sqlite3.Error, OSError):
                    self.path = None
                    return None
            except (sqlite3.Error, OSError):
                self.path = None
                return None
        return self._db

    def _open(self):
        db = sqlite3.connect(self.path, timeout=120, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            found = db.execute("PRAGMA quick_check").fetchall()
            if found != [("ok",)]:
                raise sqlite3.DatabaseError(f"quick_check: {found[0][0] if found else 'no answer'}")
            db.execute("CREATE TABLE IF NOT EXISTS capture (net TEXT, photo TEXT, data BLOB, checked TEXT, "
                       "PRIMARY KEY (net, photo))")
            db.execute("CREATE TABLE IF NOT EXISTS runs (net TEXT, photo TEXT, quant TEXT, mse REAL, "
                       "cos REAL, margin REAL, noise REAL, top INTEGER, checked TEXT, "
                       "PRIMARY KEY (net, photo, quant))")
        except BaseException:
            db.close()
            raise
        return db

    def _damaged(self, reason: str) -> None:
        """The file is damaged: report it, close it, and remove it with its journal files (the
        next query opens a new one)."""
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None
        report(WHAT, self.path, reason.splitlines()[0] if reason else "unreadable", "starting a new one")
        discard(self.path, self.path + "-wal", self.path + "-shm", self.path + "-journal")

    def _query(self, sql: str, args: list) -> list:
        """The rows of a query, or none if the cache cannot answer (busy, or found damaged: then
        replaced by a new file)."""
        db = self._conn()
        if db is None:
            return []
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            if _is_damage(e):
                self._damaged(str(e))
            return []
        except sqlite3.Error:
            return []

    def _drop(self, table: str, where: str, keys: list) -> None:
        """Delete the rows of ``table`` that failed their check (one line on stderr says how
        many)."""
        if not keys:
            return
        what = {"capture": "capture", "runs": "quantised run"}[table]
        report(WHAT, self.path, f"{len(keys)} {what} row{'s' * (len(keys) > 1)} with other content than "
               f"was written", "computing them again")
        db = self._conn()
        if db is not None:
            self._write(db, f"DELETE FROM {table} WHERE {where}", keys)

    # -- captures ---------------------------------------------------------------------------
    def get_captures(self, net: str, photos: list) -> FrozenMap[str, Capture]:
        """The captures of the photos found (and intact), by photo key."""
        out, bad = {}, []
        for i in range(0, len(photos), 500):
            keys = photos[i:i + 500]
            q = f"SELECT photo, data, checked FROM capture WHERE net=? AND photo IN ({','.join('?' * len(keys))})"
            for photo, blob, checked in self._query(q, [net, *keys]):
                try:
                    if checked != digest_of(net, photo, blob):
                        raise ValueError("digest mismatch")
                    out[photo] = Capture(**_unpack(blob))
                except (ValueError, TypeError, OSError, KeyError, EOFError, zipfile.BadZipFile):
                    bad.append((net, photo))
        self._drop("capture", "net=? AND photo=?", bad)
        self.hits += len(out)
        self.misses += len(photos) - len(out)
        return FrozenMap(out)

    def put_captures(self, net: str, items) -> None:
        """Keep ``photo key -> Capture``."""
        db = self._conn()
        if db is None or not items:
            return
        rows = []
        for k, v in items.items():
            blob = _pack(v.as_dict())
            rows.append((net, k, blob, digest_of(net, k, blob)))
        self._write(db, "INSERT OR REPLACE INTO capture VALUES (?, ?, ?, ?)", rows)

    # -- quantised runs ---------------------------------------------------------------------
    def get_runs(self, net: str, quant: str, photos: list) -> FrozenMap[str, Scores]:
        """The scores of the photos found (and intact), by photo key."""
        out, bad = {}, []
        for i in range(0, len(photos), 500):
            keys = photos[i:i + 500]
            q = (f"SELECT photo, mse, cos, margin, noise, top, checked FROM runs WHERE net=? AND quant=? "
                 f"AND photo IN ({','.join('?' * len(keys))})")
            for row in self._query(q, [net, quant, *keys]):
                if row[-1] == digest_of(net, row[0], quant, *row[1:-1]):
                    out[row[0]] = Scores(*row[1:-1])
                else:
                    bad.append((net, row[0], quant))
        self._drop("runs", "net=? AND photo=? AND quant=?", bad)
        self.hits += len(out)
        self.misses += len(photos) - len(out)
        return FrozenMap(out)

    def put_runs(self, net: str, quant: str, items) -> None:
        """Keep ``photo key -> Scores``."""
        db = self._conn()
        if db is None or not items:
            return
        rows = []
        for k, v in items.items():
            values = (*map(float, v[:4]), int(v[4]))
            rows.append((net, k, quant, *values, digest_of(net, k, quant, *values)))
        self._write(db, "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _write(self, db, sql, rows) -> None:
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(sql, rows)
            db.execute("COMMIT")
        except sqlite3.Error as e:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(e, sqlite3.DatabaseError) and _is_damage(e):
                self._damaged(str(e))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _is_damage(e: sqlite3.Error) -> bool:
    """Whether SQLite found the file damaged (corrupt, not a database) rather than busy,
    locked or unwritable."""
    name = getattr(e, "sqlite_errorname", "") or ""
    if name:
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    return isinstance(e, sqlite3.DatabaseError) and not isinstance(e, sqlite3.OperationalError)
