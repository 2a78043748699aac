"""The hand-over between a runner (pytest or the CLI) and a cocotb test module.

The runner writes the test's parameters to a JSON file and its arrays to an ``.npz`` file in the
run's folder and names them in environment variables (:func:`write_inputs`); the test reads them
with :func:`load_params` and :func:`load_arrays` and reports measured values with
:func:`save_result`, which the runner reads back (:func:`read_results`). Environment variables,
not simulator plusargs, because they reach the Python test identically on every simulator.

Imported on both sides, so it imports neither cocotb nor Amaranth.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

PARAMS_ENV = "DSTRIPES_TB_PARAMS"
ARRAYS_ENV = "DSTRIPES_TB_ARRAYS"
RESULT_ENV = "DSTRIPES_TB_RESULT"
#: Files of a run folder.
PARAMS_FILE, ARRAYS_FILE, RESULT_FILE = "params.json", "arrays.npz", "result.json"


# -- runner side ---------------------------------------------------------------------------

def write_inputs(directory: Path, params: Mapping | None = None,
                 arrays: Mapping[str, np.ndarray] | None = None) -> dict[str, str]:
    """Write a run's parameters and arrays into ``directory`` (removing the result of an earlier
    run there); returns the environment variables that name the files for the test.

    Raises
    ------
    ValueError
        ``params`` is not JSON-able.
    """
    directory = Path(directory)
    (directory / PARAMS_FILE).write_text(json.dumps(canonical(dict(params or {}), "params"), indent=1))
    arrays_file = directory / ARRAYS_FILE
    if arrays:
        np.savez(arrays_file, **{k: np.asarray(v) for k, v in arrays.items()})
    elif arrays_file.exists():
        arrays_file.unlink()
    result_file = directory / RESULT_FILE
    if result_file.exists():
        result_file.unlink()
    return {PARAMS_ENV: str(directory / PARAMS_FILE), ARRAYS_ENV: str(arrays_file), RESULT_ENV: str(result_file)}


def read_results(directory: Path) -> dict[str, Any]:
    """What the tests of a run recorded with :func:`save_result`, by key (empty if nothing)."""
    path = Path(directory) / RESULT_FILE
    return json.loads(path.read_text()) if path.exists() else {}


# -- test side -----------------------------------------------------------------------------

def _path(env: str) -> Path:
    value = os.environ.get(env)
    if not value:
        raise RuntimeError(f"{env} is not set: run this cocotb module through dstripes.tb.host.runner.run")
    return Path(value)


def load_params() -> dict:
    """Parameters the runner passed to this test (an empty dict when it passed none)."""
    path = _path(PARAMS_ENV)
    if not path.exists():
        return {}
    with open(path) as f:
        return json.load(f)


def load_arrays() -> dict[str, np.ndarray]:
    """Arrays the runner passed to this test, by name (empty when it passed none)."""
    path = _path(ARRAYS_ENV)
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def save_result(key: str, values: Mapping[str, Any]) -> None:
    """Record ``values`` (JSON-able) under ``key`` in the result file the runner reads back.

    Several tests of one module each write their own key; a later write of the same key
    replaces the earlier one.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"result key must be a non-empty string, not {key!r}")
    path = _path(RESULT_ENV)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = jsonable(values)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


# -- JSON ----------------------------------------------------------------------------------

def jsonable(value: Any) -> Any:
    """``value`` with typed results turned into their ``as_dict()``, numpy arrays and scalars
    into Python lists and numbers, tuples into lists and mapping keys into strings (anything else
    is left for :mod:`json` to accept or refuse)."""
    if hasattr(value, "as_dict") and not isinstance(value, type):
        return jsonable(value.as_dict())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def fields_as_dict(obj) -> dict:
    """The JSON form of a dataclass: its fields in their order, each :func:`jsonable` (a typed
    member by its own ``as_dict()``). The typed results' ``as_dict()`` methods use it, so their
    JSON keys are their field names."""
    return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def canonical(value: Mapping, what: str) -> dict:
    """``value`` as the JSON round trip gives it back, keys sorted (it keys caches).

    Raises
    ------
    ValueError
        Naming ``what``, if something in it is not JSON-able.
    """
    try:
        return json.loads(json.dumps(jsonable(value), sort_keys=True))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be JSON-able: {e}") from None
