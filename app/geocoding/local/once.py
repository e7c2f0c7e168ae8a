"""Indexes derived from a geocoder's tables, built once per geocoder on first use."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class PerGeocoder(Generic[T]):
    """``build(geocoder)`` once per geocoder, by whichever thread asks first; dropped with it
    (a reload makes a new geocoder, hence a new index)."""

    def __init__(self, build: Callable[[Any], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._built: weakref.WeakKeyDictionary[Any, T] = weakref.WeakKeyDictionary()

    def __call__(self, geocoder: Any) -> T:
        """The index of ``geocoder``, built now if it is the first call."""
        found = self._built.get(geocoder)
        if found is None:
            with self._lock:
                found = self._built.get(geocoder)
                if found is None:
                    found = self._built[geocoder] = self._build(geocoder)
        return found
