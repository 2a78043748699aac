"""Checks of user-given values, each rule with one wording (a :class:`~.errors.ConfigError` whose
one line names the value and what was expected)."""
from __future__ import annotations

import numpy as np

from .errors import ConfigError


def check_integer(what: str, value, minimum: int = 1, maximum: int | None = None, *, numpy: bool = False) -> int:
    """Return ``value`` if it is an integer in ``[minimum, maximum]``.

    Parameters
    ----------
    what : str
        How the message names the value (``"lanes"``, ``"layer padding py"``).
    value :
        The value; ``bool`` is never an integer here.
    minimum : int
        ``1``: "must be a positive integer"; ``0``: "must be a non-negative integer".
    maximum : int, optional
        With it: "must be between MINIMUM and MAXIMUM".
    numpy : bool
        Accept numpy integers too (values read from arrays).

    Raises
    ------
    ConfigError
        Naming ``what`` and ``value``.
    """
    types = (int, np.integer) if numpy else int
    if (isinstance(value, bool) or not isinstance(value, types) or value < minimum
            or (maximum is not None and value > maximum)):
        if maximum is not None:
            bound = f"between {minimum} and {maximum}"
        else:
            bound = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"at least {minimum}")
        raise ConfigError(f"{what} must be {bound}, not {value!r}")
    return value


def check_choice(what: str, value, choices):
    """Return ``value`` if it is one of ``choices``; else a :class:`ConfigError` listing them."""
    try:
        ok = value in choices
    except TypeError:  # an unhashable value against a mapping
        ok = False
    if not ok:
        raise ConfigError(f"{what} must be one of {', '.join(choices)}, not {value!r}")
    return value
