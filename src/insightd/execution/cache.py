"""The result cache: an interface (a Redis backend can fill it in later) and a bounded memory LRU."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson


@dataclass(frozen=True)
class CachedResult:
    response: dict[str, Any]
    last_refresh: datetime
    interval: str | None
    date_to: datetime | None
    refresh_gap: timedelta
    """The minimum wait after ``last_refresh`` before a client may refresh again."""
    size: int = 0


class ResultCache(Protocol):
    def get(self, key: str) -> CachedResult | None: ...

    def set(self, key: str, value: CachedResult) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryCache:
    """Least-recently-used entries, bounded by count and by the JSON size of the responses."""

    def __init__(self, max_entries: int = 2000, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[str, CachedResult] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> CachedResult | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def set(self, key: str, value: CachedResult) -> None:
        size = len(orjson.dumps(value.response, default=str))
        if size > self.max_bytes:
            return
        entry = replace(value, size=size)
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous.size
            self._entries[key] = entry
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    def delete(self, key: str) -> None:
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous.size
