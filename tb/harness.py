"""The hand-over between a runner (pytest or the CLI) and a cocotb test module.

The runner writes the test's parameters to a JSON file and its arrays to an ``.npz`` file and
names them in environment variables; the test reads them with :func:`load_params` and
:func:`load_arrays` and reports measured values with :func:`save_result`, which the runner reads
back (:class:`tb.runner.SimResult`). Environment variables, not simulator plusargs, because they
reach the Python test identically on every simulator.

This module is imported on both sides, so it must not import cocotb.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

PARAMS_ENV = "DSTRIPES_TB_PARAMS"
ARRAYS_ENV = "DSTRIPES_TB_ARRAYS"
RESULT_ENV = "DSTRIPES_TB_RESULT"


def _path(env: str) -> Path:
    value = os.environ.get(env)
    if not value:
        raise RuntimeError(f"{env} is not set: run this cocotb module through tb.runner.run")
    return Path(value)


def load_params() -> dict:
    """Parameters the runner passed to this test (an empty dict when it passed none)."""
    path = _path(PARAMS_ENV)
    if not path.exists():
        return {}
    with open(path) as f:
        return json.load(f)


def load_arrays() -> dict[str, np.ndarray]:
    """Arrays the runner passed to this test (an empty dict when it passed none)."""
    path = _path(ARRAYS_ENV)
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def save_result(key: str, values: dict[str, Any]) -> None:
    """Record ``values`` (JSON-able) under ``key`` in the result file the runner reads back.

    Several tests of one module each write their own key; a later write of the same key
    replaces the earlier one.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"result key must be a non-empty string, not {key!r}")
    path = _path(RESULT_ENV)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = _jsonable(values)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
