"""What checking cache entries costs (docs/usage.md §11): every simulator build folder under the
build root (its manifest: every file's size, the digest of what a run loads), every exported
ONNX model in the user cache (its full digest, beside what loading it with ``onnx`` takes), the
Verilog cache's largest entry, and SQLite's ``quick_check`` of a run cache of ``--photos``
photos with 20 quantised runs each. Each check is timed twice in this process: the first reads
the digested files, the second finds them unchanged (:func:`dstripes.sim.checked.file_digest`).

Target: checking the published tile's Verilator build well under a second (a run of it takes
seconds), an export's digest below what loading it takes.

Usage: ``.venv/bin/python scripts/bench/caches.py [--build-root DIR] [--photos N] [--json]``.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

import common
from dstripes.sim.checked import Damaged, check, load, verify
from dstripes.sim.nets.cache import cache_root
from dstripes.tb.host.cache import STAMP, default_build_root


def timed(f) -> tuple[float, object]:
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def builds(root: Path) -> list[dict]:
    """The check of every sealed build folder: files listed, bytes digested, seconds."""
    out = []
    for stamp in sorted(root.glob(f"*/{STAMP}")):
        d = stamp.parent
        try:
            first, _ = timed(lambda: verify(stamp, key=d.name))
            again, _ = timed(lambda: verify(stamp, key=d.name))
        except Damaged as e:
            out.append({"folder": d.name, "damaged": str(e)})
            continue
        files = json.loads(stamp.read_bytes().split(b"\n", 1)[1])["files"]
        digested = sum(f["size"] for f in files.values() if f["sha256"])
        out.append({"folder": d.name, "files": len(files), "digested_bytes": digested,
                    "bytes": sum(f["size"] for f in files.values()), "first_s": first, "again_s": again})
    return out


def exports(root: Path) -> list[dict]:
    """The check of every sealed ONNX export, beside ``onnx.load`` of it."""
    import onnx

    out = []
    for model in sorted(root.glob("*.onnx")):
        stamp = Path(f"{model}.check")
        if not stamp.exists():
            continue
        first, record = timed(lambda: check(stamp, "the exported model", subject=model))
        again, _ = timed(lambda: check(stamp, "the exported model", subject=model))
        loading, _ = timed(lambda: onnx.load(str(model)))
        out.append({"model": model.name, "bytes": model.stat().st_size, "intact": record is not None,
                    "first_s": first, "again_s": again, "onnx_load_s": loading})
    return out


def verilog_entry(root: Path) -> dict | None:
    """The largest Verilog cache entry: checked and parsed, against parsing it alone."""
    entries = sorted((root / "_verilog").glob("*.json"), key=lambda p: p.stat().st_size)
    if not entries:
        return None
    p = entries[-1]
    checked_s, dut = timed(lambda: load(p, "the Verilog cache entry", json.loads))
    raw = p.read_bytes().split(b"\n", 1)[-1]
    plain_s, _ = timed(lambda: json.loads(raw))
    return {"entry": p.name, "bytes": p.stat().st_size, "intact": dut is not None, "checked_s": checked_s,
            "parse_only_s": plain_s}


def run_cache(photos: int) -> dict:
    """SQLite's ``quick_check`` of a run cache of ``photos`` photos (20 runs each)."""
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "runs.sqlite")
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("CREATE TABLE capture (net TEXT, photo TEXT, data BLOB, checked TEXT, PRIMARY KEY (net, photo))")
        db.execute("CREATE TABLE runs (net TEXT, photo TEXT, quant TEXT, mse REAL, cos REAL, margin REAL, "
                   "noise REAL, top INTEGER, checked TEXT, PRIMARY KEY (net, photo, quant))")
        db.execute("BEGIN")
        for i in range(photos):
            buf = io.BytesIO()
            np.savez(buf, output=rng.random(1000, dtype=np.float32), max=rng.random(53), min=rng.random(53))
            db.execute("INSERT INTO capture VALUES (?, ?, ?, ?)", ("net", f"p{i}", buf.getvalue(), "x" * 32))
            db.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [("net", f"p{i}", f"q{q}", 1.0, 0.5, 0.25, 0.1, 3, "x" * 32) for q in range(20)])
        db.execute("COMMIT")
        db.close()
        db = sqlite3.connect(path)
        seconds, found = timed(lambda: db.execute("PRAGMA quick_check").fetchall())
        db.close()
        return {"photos": photos, "bytes": os.path.getsize(path), "quick_check_s": seconds, "ok": found == [("ok",)]}


def main() -> None:
    p = argparse.ArgumentParser(description=common.description(__doc__))
    p.add_argument("--build-root", type=Path, default=default_build_root(), help="simulator build root (%(default)s)")
    p.add_argument("--photos", type=int, default=5000, help="photos in the run cache (%(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    args = p.parse_args()
    res = {"machine": common.machine(), "load": common.load_average(),
           "builds": builds(args.build_root), "exports": exports(Path(cache_root())),
           "verilog_entry": verilog_entry(args.build_root), "run_cache": run_cache(args.photos)}
    res["load_after"] = common.load_average()
    if args.json:
        print(json.dumps(res, indent=1))
        return
    print(f"{res['machine']}, load {res['load']}")
    for b in res["builds"]:
        if "damaged" in b:
            print(f"build {b['folder']}: damaged ({b['damaged']})")
        else:
            print(f"build {b['folder']}: {b['files']} files, {b['bytes'] / 1e6:.1f} MB, {b['digested_bytes'] / 1e6:.1f} MB "
                  f"digested: {b['first_s'] * 1e3:.1f} ms, again {b['again_s'] * 1e3:.1f} ms")
    for e in res["exports"]:
        print(f"export {e['model']}: {e['bytes'] / 1e6:.0f} MB: check {e['first_s']:.3f} s, again "
              f"{e['again_s'] * 1e3:.1f} ms; onnx.load {e['onnx_load_s']:.3f} s")
    v = res["verilog_entry"]
    if v:
        print(f"Verilog cache {v['entry']}: {v['bytes'] / 1e6:.1f} MB: checked and parsed {v['checked_s']:.3f} s, "
              f"parsed alone {v['parse_only_s']:.3f} s")
    r = res["run_cache"]
    print(f"run cache of {r['photos']} photos, {r['bytes'] / 1e6:.0f} MB: quick_check {r['quick_check_s']:.3f} s")
    print(f"load after: {res['load_after']}")


if __name__ == "__main__":
    main()
