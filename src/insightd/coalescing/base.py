"""The single-flight interface.

A *flight* is one execution of a computation identified by a key (the result-cache key). Each
request that wants that result is a *waiter*, named by its own id (the client's query id). The
first waiter starts the flight; later ones join it. Rules:

- Every waiter has passed its own authentication, scope, project and rate checks before it calls
  ``run``: nothing is ever served to a request that has not been authorised on its own.
- A waiter's cancel (or its client's disconnect) ends only that waiter's wait. The engine query is
  killed when no waiter is left.
- A failed flight is never shared: the waiter that started it gets the error; the other waiters
  take over (the first starts a replacement flight, the rest join it). A replacement that fails
  too shares its failure: by then it is the query's own outcome, and retrying it once per waiter
  would run a failing query N times in a row.
- Waiter ids are project-scoped names chosen by the caller (``p<project>:<query id>``). A cancel
  for a name that is not waiting yet is remembered briefly, so a cancel that overtakes its query
  still cancels it.

An in-process implementation serves the embedded default; a Redis-backed one can implement the
same protocol for several server processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """This waiter's wait was cancelled (by its client, or because its client went away)."""


class Coalescer(Protocol):
    def run(
        self,
        key: str,
        waiter_id: str,
        compute: Callable[[str], T],
        kill: Callable[[str], object],
    ) -> T:
        """Wait for the flight of ``key`` (starting it if none is in the air) and return its result.

        ``compute(flight_id)`` runs on a worker thread; ``kill(flight_id)`` stops the engine's work.
        Raises :class:`Cancelled` if this waiter is cancelled, or the flight's error if this waiter
        started it.
        """
        ...

    def cancel(self, waiter_id: str) -> bool:
        """End ``waiter_id``'s wait; kill its flight if nobody else waits. ``False`` if unknown."""
        ...

    def waiting(self, key: str) -> int:
        """How many requests wait on the flight of ``key`` now."""
        ...

    def cancel_flight(self, flight_id: str) -> bool:
        """A cancel from a client that is not waiting: kill ``flight_id`` only if nobody waits on it."""
        ...
