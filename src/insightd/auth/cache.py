"""A small thread-safe cache whose entries expire after a few seconds.

The API uses it to remember, briefly, who a personal API key belongs to and which project a key
may act on, so that a burst of requests costs one lookup instead of one per request. Entries
live ``ttl`` seconds: a removed key or membership stops working within that time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Hashable, asyncio.Future[V]] = {}  # event-loop side only

    def get(self, key: K) -> V | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= self._clock():
                del self._entries[key]
                return None
            return value

    def put(self, key: K, value: V) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    async def load(self, key: K, compute: Callable[[], V], flight: Hashable | None = None) -> V:
        """The cached value, or ``compute()`` run once on a worker thread for all concurrent callers
        of the same ``flight`` (default: the key); it is cached when it succeeds."""
        value = self.get(key)
        if value is not None:
            return value
        name = key if flight is None else flight
        pending = self._loading.get(name)
        if pending is not None:
            return await asyncio.shield(pending)
        pending = asyncio.get_running_loop().create_future()
        self._loading[name] = pending
        try:
            value = await run_in_threadpool(compute)
        except BaseException as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            del self._loading[name]
        self.put(key, value)
        pending.set_result(value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
