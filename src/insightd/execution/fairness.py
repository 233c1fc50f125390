"""Fair use of the engine between projects: at most ``limit`` computations of one project run at once,
so a project that sends many slow queries cannot hold every engine connection; its further queries
wait for one of its own to end (PostHog limits concurrent queries per team the same way)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from insightd.engine.base import QueryCancelled
from insightd.errors import Throttled

POLL_SECONDS = 0.1  # how often a waiting computation looks whether it was cancelled


class ProjectSlots:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a project needs at least one slot")
        self.limit = limit
        self._running: dict[int, int] = {}
        self._changed = threading.Condition()

    def running(self, team_id: int) -> int:
        with self._changed:
            return self._running.get(team_id, 0)

    @contextmanager
    def slot(self, team_id: int, *, timeout: float, stopped: Callable[[], bool]) -> Iterator[None]:
        """Hold one of the project's slots, waiting up to ``timeout`` seconds for one (then
        ``Throttled``); a computation cancelled while it waits (``stopped``) ends with
        ``QueryCancelled``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._running.get(team_id, 0) >= self.limit:
                if stopped():
                    raise QueryCancelled("the query was cancelled")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Throttled(round(timeout))
                self._changed.wait(min(left, POLL_SECONDS))
            self._running[team_id] = self._running.get(team_id, 0) + 1
        try:
            yield
        finally:
            with self._changed:
                if self._running[team_id] > 1:
                    self._running[team_id] -= 1
                else:
                    del self._running[team_id]
                self._changed.notify_all()
