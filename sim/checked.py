"""Checked cache entries: how every cache of the tool writes an entry, and checks it before
trusting it (``docs/usage.md`` §11).

An entry is written atomically (:mod:`.files`) together with its size and SHA-256 digest and the
key it was written for, and is used only while all of them still match. Two forms:

* a **file entry** (:func:`write_entry`, :func:`read_entry`): one file whose first line records
  the size and digest of the rest of the file (the payload) and its key,
  ``dstripes-entry 1 <size> <sha256> <key>``. The Verilog cache, the synthesis cache, the memos
  of ``explore`` and the Verilator object cache keep their entries so;
* a **manifest** (:func:`seal`, :func:`verify`): a file entry listing other files, each with
  its size and, where asked, its digest, for entries whose files others read directly: a
  simulator build folder (``build.json``, read by the simulator) and an exported ONNX model
  (read by onnxruntime).

A damaged entry (a file missing, cut short, emptied or with other content, a header garbled
or written for another key) is a cache miss, never the user's fault: the cache removes it
(:func:`discard`), says so in one line on stderr (:func:`report`) and makes it again.
:func:`load` does all three for a file entry, :func:`check` for a manifest.

Cost: checking a size is a ``stat``; a digest reads the file once per process and file state
(:func:`file_digest` remembers it by inode, size and modification and change times), so a file
checked again in the same process, unchanged, costs a ``stat`` too.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, TypeVar

from . import PACKAGE
from .files import write_atomic

#: Version of the entry format (the first line of a file entry).
FORMAT = 1
MAGIC = "dstripes-entry"
#: Longest header line read (magic, version, size, digest, key).
_HEADER_MAX = 4096

T = TypeVar("T")


class Damaged(Exception):
    """An entry failed its check. The message says what is wrong, in a few words, for
    :func:`report` (e.g. ``"dstripes_tile: missing"``, ``"cut short: 10 of 812 bytes"``).

    Members
    -------
    path : Path or None
        The damaged file, when one file is to blame (to remove it with the entry).
    """

    def __init__(self, reason: str, path: str | os.PathLike | None = None):
        super().__init__(reason)
        self.path = None if path is None else Path(path)


# ------------------------------------------------------------------------------ digests
_DIGESTS: dict = {}


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, read once per process while the file's inode, size,
    modification and change times stay the same (a rewrite, even of the same size, changes
    the change time).

    Raises
    ------
    OSError
        The file cannot be read.
    """
    st = os.stat(path)
    state = (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if state not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        _DIGESTS[state] = h.hexdigest()
    return _DIGESTS[state]


def digest_of(*parts) -> str:
    """SHA-256 (32 hex digits) of a record of values (``bytes``, ``str``, numbers, ``None``):
    what a cache kept in a database writes beside each row, its key included, and checks
    when it reads the row back. A float NaN counts as ``None`` (how SQLite stores it)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, float) and part != part:
            part = None
        data = part if isinstance(part, bytes) else repr(part).encode()
        h.update(f"{type(part).__name__}:{len(data)}:".encode())
        h.update(data)
    return h.hexdigest()[:32]


def _compare_size(size: int, expected: int) -> str | None:
    """What is wrong with a file of ``size`` bytes that should have ``expected`` (or ``None``)."""
    if size == expected:
        return None
    if size == 0:
        return f"empty (it had {expected} bytes)"
    if size < expected:
        return f"cut short: {size} of {expected} bytes"
    return f"{size} bytes, not {expected}"


# ------------------------------------------------------------------------------ file entries
def encode(data: bytes, key: str) -> bytes:
    """``data`` behind the header line that records its size, digest and ``key``."""
    if not key or any(c.isspace() for c in key):
        raise ValueError(f"an entry key is a word without spaces, not {key!r}")
    head = f"{MAGIC} {FORMAT} {len(data)} {hashlib.sha256(data).hexdigest()} {key}\n"
    return head.encode() + data


def decode(blob: bytes, key: str) -> bytes:
    """The payload of an :func:`encode` d entry written for ``key``.

    Raises
    ------
    Damaged
        The entry is empty, has no or a garbled header, was written for another key, or its
        payload is cut short, longer, or has other content than the header records.
    """
    if not blob:
        raise Damaged("empty")
    end = blob.find(b"\n", 0, _HEADER_MAX)
    head = blob[:end].decode("ascii", "replace").split(" ") if end >= 0 else []
    if not head or head[0] != MAGIC:
        raise Damaged("no check header")
    if len(head) != 5 or head[1] != str(FORMAT) or not head[2].isdigit() or len(head[3]) != 64:
        raise Damaged("garbled check header")
    if head[4] != key:
        raise Damaged(f"written for another key ({head[4][:40]})")
    data = blob[end + 1:]
    wrong = _compare_size(len(data), int(head[2]))
    if wrong:
        raise Damaged(wrong)
    if hashlib.sha256(data).hexdigest() != head[3]:
        raise Damaged("other content than was written (digest mismatch)")
    return data


def write_entry(path: str | os.PathLike, data: bytes | str, *, key: str | None = None) -> None:
    """Write a file entry atomically: ``data`` (text is UTF-8) behind its check header.

    Parameters
    ----------
    path : path
        The entry's file (its folder must exist).
    data : bytes or str
    key : str, optional
        What the entry is for (default the file's name, which names the key in every cache).
    """
    p = Path(path)
    write_atomic(p, encode(data.encode() if isinstance(data, str) else data, key or p.name))


def read_entry(path: str | os.PathLike, *, key: str | None = None) -> bytes | None:
    """The payload of a file entry, or ``None`` if there is none.

    Raises
    ------
    Damaged
        The entry fails its check (:func:`decode`), or is not a readable file.
    """
    p = Path(path)
    try:
        blob = p.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise Damaged(f"unreadable: {e.strerror or type(e).__name__}", p) from None
    try:
        return decode(blob, key or p.name)
    except Damaged as e:
        raise Damaged(str(e), p) from None


def load(path: str | os.PathLike, what: str, parse: Callable[[bytes], T], *, key: str | None = None,
         action: str = "rebuilding") -> T | None:
    """A file entry, checked and parsed; ``None`` when there is none, or when it is damaged,
    which is then removed and reported (:func:`report`).

    Parameters
    ----------
    path : path
    what : str
        The entry, for the report (``"the synthesis cache entry"``).
    parse : callable
        ``bytes -> value``; an exception it raises (``ValueError``, ``KeyError``,
        ``TypeError``) counts as damage too: the entry holds something else than this cache
        writes.
    key, action : str, optional
        As for :func:`read_entry` and :func:`report`.
    """
    try:
        data = read_entry(path, key=key)
        if data is None:
            return None
        try:
            return parse(data)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            raise Damaged(f"unreadable content: {type(e).__name__}", path) from None
    except Damaged as e:
        discard(path)
        report(what, path, str(e), action)
        return None


# ------------------------------------------------------------------------------ manifests
def seal(stamp: str | os.PathLike, files: Iterable[str | os.PathLike], *,
         digest: bool | Callable[[Path], bool] = True, record: Mapping | None = None,
         key: str | None = None) -> None:
    """Write the manifest ``stamp``: a file entry recording each of ``files`` (in ``stamp``'s
    folder or below it) with its size and, where ``digest`` says so, its SHA-256, and
    ``record`` (JSON-able) beside them.

    Parameters
    ----------
    stamp : path
    files : iterable of path
        Absolute, or relative to ``stamp``'s folder.
    digest : bool or callable
        Which files to digest (``Path -> bool``); the others are checked by size.
    record : mapping, optional
        What else to keep with the entry (:func:`verify` returns it).
    key : str, optional
        As for :func:`write_entry`.
    """
    stamp = Path(stamp)
    base = stamp.parent
    listed = {}
    for f in files:
        p = base / f
        name = p.relative_to(base).as_posix()
        sha = file_digest(p) if (digest(p) if callable(digest) else digest) else None
        listed[name] = {"size": p.stat().st_size, "sha256": sha}
    body = {"files": dict(sorted(listed.items())), "record": dict(record or {})}
    write_entry(stamp, json.dumps(body, sort_keys=True), key=key)


def verify(stamp: str | os.PathLike, *, key: str | None = None) -> dict:
    """Check a manifest and every file it lists; the ``record`` it was sealed with.

    Raises
    ------
    Damaged
        The manifest is missing or damaged, or a file it lists is missing, not a file, of
        another size or (where it was digested) other content. The message starts with the
        file's name.
    """
    stamp = Path(stamp)
    try:
        data = read_entry(stamp, key=key)
        if data is None:
            raise Damaged("missing", stamp)
        body = json.loads(data)
        files, record = body["files"], body["record"]
        entries = [(str(n), int(f["size"]), f["sha256"]) for n, f in files.items()]
    except Damaged as e:
        raise Damaged(f"{stamp.name}: {e}", stamp) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise Damaged(f"{stamp.name}: unreadable content", stamp) from None
    for name, size, sha in entries:
        p = stamp.parent / name
        try:
            st = p.stat()
        except FileNotFoundError:
            raise Damaged(f"{name}: missing", p) from None
        except OSError as e:
            raise Damaged(f"{name}: unreadable ({e.strerror})", p) from None
        if not p.is_file():
            raise Damaged(f"{name}: not a file", p)
        wrong = _compare_size(st.st_size, size)
        if wrong:
            raise Damaged(f"{name}: {wrong}", p)
        try:
            if sha is not None and file_digest(p) != sha:
                raise Damaged(f"{name}: other content than was built (digest mismatch)", p)
        except OSError as e:
            raise Damaged(f"{name}: unreadable ({e.strerror})", p) from None
    return dict(record)


def check(stamp: str | os.PathLike, what: str, *, subject: str | os.PathLike | None = None,
          key: str | None = None, action: str = "rebuilding") -> dict | None:
    """The record of a manifest entry whose files all pass :func:`verify`; ``None`` when there
    is no entry, or when it is damaged, which is then removed and reported (:func:`report`).

    Parameters
    ----------
    stamp : path
        The manifest.
    what : str
        The entry, for the report (``"the simulator build"``).
    subject : path, optional
        What the entry is (a build folder, a model file): the report names it, it is removed
        with a damaged entry, and the entry exists if it or the stamp does (default the stamp).
    key, action : str, optional
        As for :func:`verify` and :func:`report`.
    """
    stamp = Path(stamp)
    subject = Path(subject) if subject is not None else stamp
    if not stamp.exists() and not subject.exists():
        return None
    try:
        return verify(stamp, key=key)
    except Damaged as e:
        discard(stamp, e.path, subject)
        report(what, subject, str(e), action)
        return None


def files_under(directory: str | os.PathLike, *, leave_out: Iterable[str] = ()) -> list[Path]:
    """The regular files in ``directory`` and below it (sorted), but those named in
    ``leave_out`` (names relative to ``directory``): what a folder entry's manifest lists."""
    d = Path(directory)
    skip = set(leave_out)
    return sorted(p for p in d.rglob("*") if p.is_file() and not p.is_symlink()
                  and p.relative_to(d).as_posix() not in skip)


@contextlib.contextmanager
def locked(path: str | os.PathLike, *, shared: bool = False) -> Iterator[None]:
    """Hold the lock of the entry ``path`` (the file ``<path>.lock``, created if needed):
    exclusive to write the entry, ``shared`` to check and read it, so that nobody reads an
    entry half written, and concurrent builders (pytest-xdist or Dask workers, two commands)
    wait for one another instead of racing."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p.with_name(p.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------ damage
def discard(*paths: str | os.PathLike | None) -> None:
    """Remove damaged files or folders (what is already gone is fine)."""
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        except OSError:
            pass


def report(what: str, path: str | os.PathLike, reason: str, action: str = "rebuilding") -> None:
    """Say in one line on stderr that a cache entry was damaged and what happens now:
    ``dstripes: the simulator build <dir> was damaged (dstripes_tile: missing): rebuilding``."""
    print(f"{PACKAGE}: {what} {path} was damaged ({reason}): {action}", file=sys.stderr, flush=True)


def is_report(line: str) -> bool:
    """Whether a line is a :func:`report` (e.g. in the log of a build, where the output of a
    cache that runs inside another tool goes)."""
    return line.startswith(f"{PACKAGE}: ") and " was damaged (" in line
