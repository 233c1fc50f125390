"""Who may cancel what: project-scoped waiter ids, and the cancel scope of one request or job.

A waiter id is ``p<project>:<query id>``: cancelling by a client's query id can only ever reach
waits of the caller's own project. A :class:`CancelScope` collects the waits of one HTTP request
(an insight list may compute several insights in turn) so that the request's client leaving
cancels whichever wait is running and every one it would start afterwards.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from insightd.coalescing import Cancelled


def waiter_id(team_id: int, query_id: str) -> str:
    return f"p{team_id}:{query_id}"


class CancelScope:
    def __init__(self, cancel_wait: Callable[[str], object]) -> None:
        self._cancel_wait = cancel_wait
        self._lock = threading.Lock()
        self._active: Counter[str] = Counter()
        self.cancelled = False

    @contextmanager
    def waiting(self, waiter: str) -> Iterator[None]:
        """Register ``waiter`` while its wait runs; raises :class:`Cancelled` if the scope already was."""
        with self._lock:
            if self.cancelled:
                raise Cancelled(f"query {waiter} was cancelled")
            self._active[waiter] += 1
        try:
            yield
        finally:
            with self._lock:
                self._active[waiter] -= 1
                if self._active[waiter] <= 0:
                    del self._active[waiter]

    def cancel(self) -> None:
        """End every running wait of this scope; later ones are refused."""
        with self._lock:
            self.cancelled = True
            running = list(self._active)
        for waiter in running:
            self._cancel_wait(waiter)
