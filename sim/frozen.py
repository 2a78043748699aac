"""Read-only mappings for results read by name: cycles by scheme, speedups by ratio, profiles by
target, quantisations by layer.

A result whose members are fixed is a frozen dataclass; a result keyed by names that are data
(schemes are named only in :mod:`.schemes`, layers by the network, photos by their files) is a
:class:`FrozenMap` of typed values: it reads like a ``dict``, cannot be changed by whoever it is
handed to, pickles (Dask sends results between processes) and gives its JSON form with
:meth:`FrozenMap.as_dict`.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping, Generic[K, V]):
    """A read-only mapping, in the order of ``items``.

    Parameters
    ----------
    items : mapping or iterable of ``(key, value)``
    **more :
        More items by keyword.
    """

    __slots__ = ("_items",)

    def __init__(self, items=(), /, **more):
        self._items = dict(items, **more)

    def __getitem__(self, key: K) -> V:
        return self._items[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"

    def __reduce__(self):
        return type(self), (self._items,)

    def as_dict(self) -> dict:
        """The JSON form: a ``dict`` of the values' own JSON forms (``as_dict()`` where they
        have one)."""
        return {k: v.as_dict() if hasattr(v, "as_dict") else v for k, v in self._items.items()}
