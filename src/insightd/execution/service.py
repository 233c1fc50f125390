"""The query service: parse → cache key → execution mode → single flight → runner → engine.

Every computation has an id (the client's ``client_query_id`` or a generated one); its wait is the
project-scoped waiter ``p<team>:<id>`` on the flight of its cache key (``insightd.coalescing``), so
identical computations in flight at the same time run once. Cancelling an id ends that wait; the
flight's engine query is killed when nobody waits for it any more.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from pydantic import BaseModel

from insightd.coalescing import Cancelled, Coalescer, LocalCoalescer
from insightd.engine.base import Engine, QueryCancelled, QueryTimeout
from insightd.errors import InsightdError, NotFound, QueryError, ValidationFailed
from insightd.execution.cache import CachedResult, ResultCache
from insightd.execution.cancellation import CancelScope, waiter_id
from insightd.execution.fairness import ProjectSlots
from insightd.execution.keys import cache_key, cache_payload
from insightd.execution.killable import KillableEngine, engine_query_id
from insightd.execution.modes import ExecutionMode, client_refresh_gap, is_stale, target_age
from insightd.metrics import Metrics
from insightd.queries.project import ProjectSettings
from insightd.queries.registry import parse_query, runner_for
from insightd.queries.runner import QueryContext, Runner

_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
STATUS_TTL = timedelta(minutes=20)
MAX_STATUSES = 10_000
DEFAULT_SETTINGS: dict[str, Any] = {"max_execution_time": 60}
CANCELLED = "The query was cancelled."
# DELETE /query/{id}/ answers, PostHog's ``cancel_query`` messages.
ALREADY_COMPLETE = "Query already complete"
CANCELLED_ON_ENGINE = "Cancelled query on clickhouse"
DEQUEUED_ONLY = "Only tried to dequeue, not cancelling query on clickhouse"
MAX_KILLED_PENDING = 1000


@dataclass(frozen=True)
class QueryRequest:
    team_id: int
    project: ProjectSettings
    query: Any
    mode: ExecutionMode = ExecutionMode.FORCE_CACHE
    client_query_id: str | None = None
    insight_id: int | None = None
    scope: CancelScope | None = field(default=None, compare=False)
    """The waits of the HTTP request this belongs to (cancelled together when its client leaves)."""


def iso(moment: datetime | None) -> str | None:
    """A UTC moment as the API renders datetimes (``…Z``, like ``created_at``)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def query_id_for(client_query_id: str | None) -> str:
    if client_query_id is None or client_query_id == "":
        return uuid.uuid4().hex
    if not _CLIENT_ID.match(client_query_id):
        raise ValidationFailed(
            "client_query_id may only contain letters, digits and . _ : - (at most 128).",
            attr="client_query_id",
        )
    return client_query_id


class QueryService:
    def __init__(
        self,
        engine: Callable[[], Engine],
        cache: ResultCache,
        *,
        coalescer: Coalescer | None = None,
        metrics: Metrics | None = None,
        workers: int = 32,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        settings: Mapping[str, Any] | None = None,
        per_project: int = 2,
    ) -> None:
        self._engine, self.cache, self.clock = engine, cache, clock
        self.slots = ProjectSlots(per_project)  # computations of one project at once
        self.metrics = metrics
        self.coalescer: Coalescer = coalescer if coalescer is not None else LocalCoalescer(metrics)
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        # Async jobs only wait on flights (the coalescer's workers compute), so waiting is cheap.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="insightd-async")
        self._statuses: OrderedDict[tuple[int, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._running: dict[str, KillableEngine] = {}  # flight id -> its engine, while computing
        self._kill_pending: OrderedDict[str, None] = OrderedDict()  # killed before computing began

    # -- public ------------------------------------------------------------------------------------
    def run(self, request: QueryRequest) -> dict[str, Any]:
        """The response for ``request`` as its mode says: cached, computed now, or started async."""
        model = parse_query(request.query)
        query_id = query_id_for(request.client_query_id)
        engine = self._engine()
        key = cache_key(
            cache_payload(model, request.team_id, request.project.cache_fields(model), engine.name)
        )
        cached = self.cache.get(key)
        mode = request.mode
        now = self.clock()
        lazy = mode is ExecutionMode.LAZY_ASYNC
        fresh = cached is not None and not is_stale(
            cached.last_refresh, cached.interval, cached.date_to, now, lazy=lazy
        )
        if mode is ExecutionMode.FORCE_CACHE:
            self._count_cache(hit=cached is not None)
            return self._cached(cached, key, request) if cached else self._miss(key, None)
        if mode not in (ExecutionMode.FORCE_BLOCKING, ExecutionMode.FORCE_ASYNC):
            self._count_cache(hit=fresh)
        if (
            mode is ExecutionMode.FORCE_BLOCKING
            or (mode is ExecutionMode.BLOCKING and not fresh)
            or (mode is ExecutionMode.ASYNC_EXCEPT_ON_CACHE_MISS and cached is None)
        ):
            return self._compute(model, key, query_id, request)
        if fresh and mode is not ExecutionMode.FORCE_ASYNC:
            return self._cached(cached, key, request)
        status = self._start_async(model, key, query_id, request)
        if mode is ExecutionMode.FORCE_ASYNC:
            return {"query_status": status}  # PostHog's QueryStatusResponse: the cache is not read
        if cached is not None:  # stale: served while the job refreshes it
            return {**self._cached(cached, key, request), "query_status": status}
        return self._miss(key, status)

    def status(self, team_id: int, query_id: str) -> dict[str, Any]:
        with self._lock:
            status = self._statuses.get((team_id, query_id))
            if status is None:
                raise NotFound("Query not found.")
            return dict(status)

    def cancel_scope(self) -> CancelScope:
        """A scope for the waits of one request: cancelling it ends them (its client left)."""
        return CancelScope(self.coalescer.cancel)

    def cancel(self, team_id: int, query_id: object) -> None:
        """A client's cancel of its query ``query_id`` in project ``team_id`` (best effort, like
        PostHog): its wait ends, an async job's status becomes cancelled, and the engine query is
        killed unless another request still waits for the same computation."""
        if not isinstance(query_id, str) or not _CLIENT_ID.match(query_id):
            return  # no query can carry such an id
        self._finish(team_id, query_id, self._error_update(CANCELLED))
        self.coalescer.cancel(waiter_id(team_id, query_id))

    def revoke(self, team_id: int, query_id: str, *, dequeue_only: bool = False) -> str:
        """``DELETE /query/{id}/`` (PostHog's ``cancel_query``): a finished job is left alone; otherwise
        the query is cancelled (unless ``dequeue_only``: a job not yet picked up then never runs) and
        its status is forgotten. Returns PostHog's message."""
        with self._lock:
            status = self._statuses.get((team_id, query_id))
            if status is not None and status["complete"]:
                return ALREADY_COMPLETE
        if not dequeue_only:
            self.cancel(team_id, query_id)
        with self._lock:
            self._statuses.pop((team_id, query_id), None)
        return DEQUEUED_ONLY if dequeue_only else CANCELLED_ON_ENGINE

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- internals ---------------------------------------------------------------------------------
    def _compute(self, model: BaseModel, key: str, query_id: str, request: QueryRequest) -> dict[str, Any]:
        """Wait for the flight of ``key`` (starting it if none is in the air) as this request."""
        waiter = waiter_id(request.team_id, query_id)
        scope = request.scope or self.cancel_scope()
        try:
            with scope.waiting(waiter):
                entry = self.coalescer.run(
                    key, waiter, partial(self._execute, model, key, request), self._kill
                )
        except Cancelled as exc:
            raise QueryError(CANCELLED, code="query_cancelled") from exc
        return self._decorate(entry, key, request, is_cached=False)

    def _execute(self, model: BaseModel, key: str, request: QueryRequest, flight_id: str) -> CachedResult:
        """One flight's work, on a coalescer worker: run the query and store the result."""
        engine = self._start_flight(flight_id)
        started = time.perf_counter()
        limit = float(self.settings["max_execution_time"])
        try:
            with self.slots.slot(request.team_id, timeout=limit, stopped=lambda: engine.killed):
                ctx = QueryContext(
                    team_id=request.team_id,
                    project=request.project,
                    engine=engine,
                    query_id=engine.query_id,
                    now=self.clock(),
                    settings=dict(self.settings),
                )
                runner = runner_for(model, ctx)
                response = runner.calculate()
        except QueryCancelled as exc:
            raise QueryError(CANCELLED, code="query_cancelled") from exc
        except QueryTimeout as exc:
            raise QueryError(
                f"The query took longer than {self.settings['max_execution_time']} seconds and was stopped.",
                code="query_timeout",
            ) from exc
        finally:
            self._end_flight(flight_id, engine)
            if self.metrics is not None:
                self.metrics.query_duration.observe(time.perf_counter() - started)
        response.setdefault("hogql", ";\n".join(ctx.executed))
        entry = CachedResult(
            response, self.clock(), runner.interval, runner.date_to(), _refresh_gap(model, runner, response)
        )
        self.cache.set(key, entry)
        return entry

    def _start_flight(self, flight_id: str) -> KillableEngine:
        engine = KillableEngine(self._engine(), engine_query_id(flight_id))
        with self._lock:
            self._running[flight_id] = engine
            killed = flight_id in self._kill_pending
            self._kill_pending.pop(flight_id, None)
        if killed:
            engine.kill()
        return engine

    def _end_flight(self, flight_id: str, engine: KillableEngine) -> None:
        with self._lock:
            if self._running.get(flight_id) is engine:
                del self._running[flight_id]

    def _kill(self, flight_id: str) -> None:
        """The coalescer's kill: nobody waits for ``flight_id`` any more."""
        with self._lock:
            engine = self._running.get(flight_id)
            if engine is None:  # its worker has not begun: it is stopped as soon as it does
                self._kill_pending[flight_id] = None
                while len(self._kill_pending) > MAX_KILLED_PENDING:
                    self._kill_pending.popitem(last=False)
        if engine is not None:
            engine.kill()

    def _count_cache(self, *, hit: bool) -> None:
        if self.metrics is not None:
            (self.metrics.cache_hits if hit else self.metrics.cache_misses).inc()

    def _decorate(
        self, entry: CachedResult, key: str, request: QueryRequest, *, is_cached: bool
    ) -> dict[str, Any]:
        return {
            **entry.response,
            "is_cached": is_cached,
            "last_refresh": iso(entry.last_refresh),
            "next_allowed_client_refresh": iso(entry.last_refresh + entry.refresh_gap),
            "cache_target_age": iso(target_age(entry.last_refresh, entry.interval)),
            "cache_key": key,
            "timezone": request.project.timezone,
            "query_status": None,
            "timings": [],
            "modifiers": {},
        }

    def _cached(self, entry: CachedResult | None, key: str, request: QueryRequest) -> dict[str, Any]:
        assert entry is not None
        return self._decorate(entry, key, request, is_cached=True)

    def _miss(self, key: str, status: dict[str, Any] | None) -> dict[str, Any]:
        """PostHog's CacheMissResponse: nothing but the key and the job computing it, if any."""
        return {"cache_key": key, "query_status": status}

    def _start_async(
        self, model: BaseModel, key: str, query_id: str, request: QueryRequest
    ) -> dict[str, Any]:
        now = self.clock()
        status: dict[str, Any] = {
            "id": query_id,
            "team_id": request.team_id,
            "insight_id": request.insight_id,
            "dashboard_id": None,
            "query_async": True,
            "complete": False,
            "error": False,
            "error_message": None,
            "results": None,
            "start_time": iso(now),
            "pickup_time": None,
            "end_time": None,
            "expiration_time": iso(now + STATUS_TTL),
            "task_id": query_id,
            "query_progress": None,
            "labels": None,
        }
        with self._lock:
            self._statuses[(request.team_id, query_id)] = status
            while len(self._statuses) > MAX_STATUSES:
                self._statuses.popitem(last=False)
        self._pool.submit(self._run_async, model, key, query_id, request)
        return dict(status)

    def _run_async(self, model: BaseModel, key: str, query_id: str, request: QueryRequest) -> None:
        with self._lock:
            status = self._statuses.get((request.team_id, query_id))
            if status is None or status["complete"]:
                return  # cancelled (or evicted) before a worker picked it up
            status["pickup_time"] = iso(self.clock())
        try:
            response = self._compute(model, key, query_id, request)
            update: dict[str, Any] = {"complete": True, "results": response}
        except InsightdError as exc:
            update = self._error_update(exc.detail)
        except Exception:  # an async failure is reported in the status, never lost
            update = self._error_update("The query failed unexpectedly.")
        self._finish(request.team_id, query_id, update)

    def _error_update(self, message: str) -> dict[str, Any]:
        return {"complete": True, "error": True, "error_message": message}

    def _finish(self, team_id: int, query_id: str, update: dict[str, Any]) -> None:
        """The first outcome of an async job wins (a cancel before its result, or the result)."""
        with self._lock:
            status = self._statuses.get((team_id, query_id))
            if status is not None and not status["complete"]:
                status.update(update, end_time=iso(self.clock()))


def _refresh_gap(model: BaseModel, runner: Runner, response: dict[str, Any]) -> timedelta:
    """PostHog's ``_refresh_frequency``: insights by their resolved range and interval, SQL 1 min."""
    resolved = response.get("resolved_date_range") or {}
    bounds = [resolved.get("date_from"), resolved.get("date_to")]
    date_from, date_to = (datetime.fromisoformat(b) if isinstance(b, str) else None for b in bounds)
    return client_refresh_gap(str(getattr(model, "kind", "")), runner.interval, date_from, date_to)
