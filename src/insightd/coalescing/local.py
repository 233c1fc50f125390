"""In-process single-flight on threads: computations run on a small worker pool and every request,
the first one included, only waits for them."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from insightd.coalescing.base import Cancelled
from insightd.metrics import Metrics

T = TypeVar("T")

TOMBSTONE_SECONDS = 30.0
MAX_TOMBSTONES = 10_000
MAX_ATTEMPTS = 2
"""A flight that failed this many times in a row (the leader's run, then a follower's takeover)
shares its failure with everyone still waiting: it is the query's own outcome, not a fluke."""


@dataclass(eq=False)
class _Flight:
    key: str
    id: str
    compute: Callable[[str], Any]
    kill: Callable[[str], object]
    attempt: int = 1
    leader: _Waiter | None = None
    future: Future[Any] = field(default_factory=Future)
    waiters: list[_Waiter] = field(default_factory=list)
    killed: bool = False


@dataclass(eq=False)
class _Waiter:
    name: str
    flight: _Flight
    wake: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False


class LocalCoalescer:
    """Waiter ids are names: several waits may carry one name (a client reusing its query id), and
    ``cancel(name)`` ends all of them. A cancel that arrives before its wait began is remembered for
    ``TOMBSTONE_SECONDS`` (bounded), so the wait is cancelled the moment it starts."""

    def __init__(self, metrics: Metrics | None = None, max_workers: int = 8) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}  # key -> the flight new requests join
        self._waiters: dict[str, list[_Waiter]] = {}
        self._by_id: dict[str, _Flight] = {}
        self._live: set[str] = set()  # ids of flights not finished (retired ones included)
        self._tombstones: OrderedDict[str, float] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="insightd-flight")
        self._metrics = metrics

    # -- public API -------------------------------------------------------------------------
    def run(self, key: str, waiter_id: str, compute: Callable[[str], T], kill: Callable[[str], object]) -> T:
        waiter = self._join(key, waiter_id, compute, kill)
        while True:
            waiter.wake.wait()
            with self._lock:
                if waiter.cancelled:
                    raise Cancelled(f"query {waiter_id} was cancelled")
                flight = waiter.flight
                if not flight.future.done():  # moved to a replacement flight; keep waiting
                    waiter.wake.clear()
                    continue
                self._leave(waiter)
            error = flight.future.exception()
            if error is None:
                result: T = flight.future.result()
                return result
            raise error

    def cancel(self, waiter_id: str) -> bool:
        with self._lock:
            waiters = self._waiters.pop(waiter_id, [])
            if not waiters:
                self._remember(waiter_id)
                return False
            doomed: list[_Flight] = []
            for waiter in waiters:
                waiter.cancelled = True
                self._leave(waiter)
                flight = waiter.flight
                if not flight.waiters and not flight.future.done() and not flight.killed:
                    self._retire(flight)
                    flight.killed = True
                    doomed.append(flight)
        self._count_cancel("requested")
        for flight in doomed:
            self._kill(flight)
        for waiter in waiters:
            waiter.wake.set()
        return True

    def cancel_flight(self, flight_id: str) -> bool:
        with self._lock:
            flight = self._by_id.get(flight_id)
            if flight is None or flight.waiters or flight.future.done() or flight.killed:
                return False
            self._retire(flight)
            flight.killed = True
        self._kill(flight)
        return True

    def waiting(self, key: str) -> int:
        with self._lock:
            flight = self._flights.get(key)
            return len(flight.waiters) if flight else 0

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- internals (the ones without a lock of their own run with self._lock held) ----------------
    def _join(
        self, key: str, waiter_id: str, compute: Callable[[str], T], kill: Callable[[str], object]
    ) -> _Waiter:
        with self._lock:
            if self._tombstones.pop(waiter_id, 0.0) > time.monotonic():
                cancelled = True
            else:
                cancelled = False
                flight = self._flights.get(key)
                started = flight is None
                if flight is None:
                    flight = self._start(key, waiter_id, compute, kill, attempt=1)
                elif self._metrics is not None:
                    self._metrics.query_coalesced.inc()
                waiter = _Waiter(waiter_id, flight)
                self._attach(waiter, flight)
                self._waiters.setdefault(waiter_id, []).append(waiter)
                if started:
                    flight.leader = waiter
                    self._pool.submit(self._work, flight)
        if cancelled:
            self._count_cancel("requested")
            raise Cancelled(f"query {waiter_id} was cancelled")
        return waiter

    def _start(
        self,
        key: str,
        leader: str,
        compute: Callable[[str], Any],
        kill: Callable[[str], object],
        attempt: int,
    ) -> _Flight:
        # Unique among unfinished flights: a killed flight may still be stopping under the same name.
        flight_id = leader if leader not in self._live else f"{leader}-{uuid.uuid4().hex[:8]}"
        flight = _Flight(key=key, id=flight_id, compute=compute, kill=kill, attempt=attempt)
        self._live.add(flight_id)
        self._flights[key] = flight
        self._by_id[flight_id] = flight
        if self._metrics is not None:
            self._metrics.query_executions.inc()
        return flight

    def _work(self, flight: _Flight) -> None:
        result: Any = None
        error: BaseException | None = None
        if flight.killed:  # every waiter left before a worker picked the flight up
            error = Cancelled(f"query {flight.id} was cancelled before it started")
        else:
            try:
                result = flight.compute(flight.id)
            except BaseException as exc:  # delivered to the waiters, never lost
                error = exc
        with self._lock:
            if error is None:
                flight.future.set_result(result)
            else:
                flight.future.set_exception(error)
            self._retire(flight)
            self._live.discard(flight.id)
            others = [w for w in flight.waiters if w is not flight.leader]
            to_wake = list(flight.waiters)
            if error is not None and others and not flight.killed and flight.attempt < MAX_ATTEMPTS:
                # Never share a first failure: the first other waiter takes over, the rest follow it.
                replacement = self._start(
                    flight.key, others[0].name, flight.compute, flight.kill, attempt=flight.attempt + 1
                )
                replacement.leader = others[0]
                for waiter in others:
                    flight.waiters.remove(waiter)
                    self._attach(waiter, replacement)
                self._pool.submit(self._work, replacement)
        for waiter in to_wake:
            waiter.wake.set()

    def _attach(self, waiter: _Waiter, flight: _Flight) -> None:
        waiter.flight = flight
        flight.waiters.append(waiter)

    def _retire(self, flight: _Flight) -> None:
        """New requests stop joining ``flight`` (it landed, or it is being killed)."""
        if self._flights.get(flight.key) is flight:
            del self._flights[flight.key]
        if self._by_id.get(flight.id) is flight:
            del self._by_id[flight.id]

    def _leave(self, waiter: _Waiter) -> None:
        if waiter in waiter.flight.waiters:
            waiter.flight.waiters.remove(waiter)
        same = self._waiters.get(waiter.name)
        if same is not None and waiter in same:
            same.remove(waiter)
            if not same:
                del self._waiters[waiter.name]

    def _remember(self, waiter_id: str) -> None:
        """A cancel for a wait that has not begun (or already ended): cancel it if it begins soon."""
        now = time.monotonic()
        self._tombstones.pop(waiter_id, None)
        self._tombstones[waiter_id] = now + TOMBSTONE_SECONDS
        while self._tombstones and (
            len(self._tombstones) > MAX_TOMBSTONES or next(iter(self._tombstones.values())) <= now
        ):
            self._tombstones.popitem(last=False)

    def _kill(self, flight: _Flight) -> None:
        flight.kill(flight.id)
        self._count_cancel("killed")

    def _count_cancel(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.query_cancellations.labels(outcome=outcome).inc()
