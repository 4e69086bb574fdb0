"""A small time-bounded cache for the dashboard's aggregate reads.

Mood over time, the community list and the community map aggregate every
message or interaction in the graph (about 1-2 s at 10,000 people); they change
only when new data is scored. They are kept for :data:`TTL_S` seconds, and
dropped at once when a person is erased, so an erased name never lingers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["TTLCache", "TTL_S"]

T = TypeVar("T")
TTL_S = 30.0


class TTLCache:
    """``get(key, compute)``: the value computed less than ``ttl_s`` ago, else ``compute()``.

    >>> cache, calls = TTLCache(60), []
    >>> cache.get("k", lambda: calls.append(1) or len(calls)), cache.get("k", lambda: calls.append(1) or len(calls))
    (1, 1)
    >>> cache.clear(); cache.get("k", lambda: calls.append(1) or len(calls))
    2
    """

    def __init__(self, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = self._clock()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._items[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
