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
    """``limit`` computations of a project run at once; at most ``max_waiting`` more wait (each on a
    thread of its own), and past that a computation is throttled at once, so a project's waiting
    computations cannot take every thread either."""

    def __init__(self, limit: int, max_waiting: int = 32) -> None:
        if limit < 1:
            raise ValueError("a project needs at least one slot")
        self.limit, self.max_waiting = limit, max_waiting
        self._running: dict[int, int] = {}
        self._waiting: dict[int, int] = {}
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
            if self._running.get(team_id, 0) >= self.limit:
                if self._waiting.get(team_id, 0) >= self.max_waiting:
                    raise Throttled(round(timeout))
                self._waiting[team_id] = self._waiting.get(team_id, 0) + 1
                try:
                    self._wait(team_id, deadline, round(timeout), stopped)
                finally:
                    self._waiting[team_id] -= 1
                    if not self._waiting[team_id]:
                        del self._waiting[team_id]
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

    def _wait(self, team_id: int, deadline: float, seconds: int, stopped: Callable[[], bool]) -> None:
        """Until the project has a free slot (the lock held), or cancel / the deadline."""
        while self._running.get(team_id, 0) >= self.limit:
            if stopped():
                raise QueryCancelled("the query was cancelled")
            left = deadline - time.monotonic()
            if left <= 0:
                raise Throttled(seconds)
            self._changed.wait(min(left, POLL_SECONDS))
