"""Shared, generic fixtures for the whole suite (keep this file small)."""
from __future__ import annotations

import os
import sys
import zlib

import numpy as np
import pytest

# Lets every test module ``import brute`` (the brute-force references) however pytest imports it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:  # fast, deterministic-enough property tests everywhere; a module may still override
    from hypothesis import settings

    # derandomize: the same examples on every run, so a failure replays exactly
    settings.register_profile("dstripes", deadline=None, max_examples=50, print_blob=True,
                              derandomize=True)
    settings.load_profile("dstripes")
except ImportError:  # pragma: no cover
    pass


def stable_seed(*parts) -> int:
    """A seed derived from ``parts`` that is the same in every process (unlike ``hash()`` of a
    string, which Python salts per process)."""
    return zlib.crc32(repr(parts).encode())


@pytest.fixture
def seed(request) -> int:
    """A fixed seed per test (from its node id), named in the report of a failure."""
    value = stable_seed(request.node.nodeid)
    request.node.user_properties.append(("random seed", value))
    return value


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    seeds = [v for k, v in item.user_properties if k == "random seed"]
    if report.failed and seeds:
        report.sections.append(("random seed", f"{item.nodeid} ran with seed {seeds[0]}"))


@pytest.fixture
def rng(seed) -> np.random.Generator:
    """A numpy generator seeded with :func:`seed` (the same numbers on every run)."""
    return np.random.default_rng(seed)


@pytest.fixture
def npy(tmp_path):
    """``npy(array, name="acts.npy") -> str``: save an array in a temporary folder."""
    def save(array, name: str = "acts.npy") -> str:
        path = tmp_path / name
        np.save(path, np.asarray(array))
        return str(path)
    return save
