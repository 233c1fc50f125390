"""In-process single-flight on threads: computations run on a small worker pool and every request,
the first one included, only waits for them."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from insightd.coalescing.base import Cancelled
from insightd.metrics import Metrics

T = TypeVar("T")


@dataclass(eq=False)
class _Flight:
    key: str
    id: str
    leader: str
    compute: Callable[[str], Any]
    kill: Callable[[str], object]
    future: Future[Any] = field(default_factory=Future)
    waiters: dict[str, _Waiter] = field(default_factory=dict)
    killed: bool = False


@dataclass(eq=False)
class _Waiter:
    id: str
    flight: _Flight
    wake: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False


class LocalCoalescer:
    def __init__(self, metrics: Metrics | None = None, max_workers: int = 8) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}  # key -> the flight new requests join
        self._waiters: dict[str, _Waiter] = {}
        self._by_id: dict[str, _Flight] = {}
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="insightd-query")
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
            waiter = self._waiters.get(waiter_id)
            if waiter is None:
                return False
            waiter.cancelled = True
            flight = waiter.flight
            self._leave(waiter)
            kill = not flight.waiters and not flight.future.done() and not flight.killed
            if kill:
                self._retire(flight)
        self._count_cancel("requested")
        if kill:
            self._kill(flight)
        waiter.wake.set()
        return True

    def cancel_flight(self, flight_id: str) -> bool:
        with self._lock:
            flight = self._by_id.get(flight_id)
            if flight is None or flight.waiters or flight.future.done() or flight.killed:
                return False
            self._retire(flight)
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
            if waiter_id in self._waiters:
                waiter_id = f"{waiter_id}-{uuid.uuid4().hex[:8]}"  # a reused id must not merge two waits
            flight = self._flights.get(key)
            if flight is None:
                flight = self._start(key, waiter_id, compute, kill)
            elif self._metrics is not None:
                self._metrics.query_coalesced.inc()
            waiter = _Waiter(waiter_id, flight)
            flight.waiters[waiter_id] = waiter
            self._waiters[waiter_id] = waiter
            return waiter

    def _start(
        self, key: str, leader: str, compute: Callable[[str], Any], kill: Callable[[str], object]
    ) -> _Flight:
        flight_id = leader if leader not in self._by_id else f"{leader}-{uuid.uuid4().hex[:8]}"
        flight = _Flight(key=key, id=flight_id, leader=leader, compute=compute, kill=kill)
        self._flights[key] = flight
        self._by_id[flight_id] = flight
        if self._metrics is not None:
            self._metrics.query_executions.inc()
        self._pool.submit(self._work, flight)
        return flight

    def _work(self, flight: _Flight) -> None:
        try:
            flight.future.set_result(flight.compute(flight.id))
        except BaseException as exc:  # delivered to the waiters, never lost
            flight.future.set_exception(exc)
        with self._lock:
            self._retire(flight)
            failed = flight.future.exception() is not None
            others = [w for w in flight.waiters.values() if w.id != flight.leader]
            if failed and others and not flight.killed:
                # Never share a failure: the first other waiter takes over, the rest follow it.
                replacement = self._start(flight.key, others[0].id, flight.compute, flight.kill)
                for waiter in others:
                    del flight.waiters[waiter.id]
                    waiter.flight = replacement
                    replacement.waiters[waiter.id] = waiter
            to_wake = list(flight.waiters.values())
        for waiter in to_wake:
            waiter.wake.set()

    def _retire(self, flight: _Flight) -> None:
        """New requests stop joining ``flight`` (it landed, or it is being killed)."""
        if self._flights.get(flight.key) is flight:
            del self._flights[flight.key]
        if self._by_id.get(flight.id) is flight:
            del self._by_id[flight.id]

    def _leave(self, waiter: _Waiter) -> None:
        waiter.flight.waiters.pop(waiter.id, None)
        if self._waiters.get(waiter.id) is waiter:
            del self._waiters[waiter.id]

    def _kill(self, flight: _Flight) -> None:
        flight.killed = True
        flight.kill(flight.id)
        self._count_cancel("killed")

    def _count_cancel(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.query_cancellations.labels(outcome=outcome).inc()
