"""Shared, generic fixtures for the whole suite (keep this file small)."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

# Lets every test module ``import brute`` (the brute-force references) however pytest imports it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:  # fast, deterministic-enough property tests everywhere; a module may still override
    from hypothesis import settings

    settings.register_profile("dstripes", deadline=None, max_examples=50, print_blob=True)
    settings.load_profile("dstripes")
except ImportError:  # pragma: no cover
    pass


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded numpy generator (the same numbers on every run)."""
    return np.random.default_rng(12345)


@pytest.fixture
def npy(tmp_path):
    """``npy(array, name="acts.npy") -> str``: save an array in a temporary folder."""
    def save(array, name: str = "acts.npy") -> str:
        path = tmp_path / name
        np.save(path, np.asarray(array))
        return str(path)
    return save
