"""The query service: parse → cache key → execution mode → runner → engine, with async status.

Every computation has an id (the client's ``client_query_id`` or a generated one). Runners execute
their SQL under the engine query id ``t<team>.<id>``, so cancelling (issue 6) is ``engine.cancel``
of that id; a single-flight layer can wrap :meth:`QueryService._compute` keyed by the cache key.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from insightd.engine.base import Engine, QueryCancelled, QueryTimeout
from insightd.errors import InsightdError, NotFound, QueryError, ValidationFailed
from insightd.execution.cache import CachedResult, ResultCache
from insightd.execution.keys import cache_key, cache_payload
from insightd.execution.modes import ExecutionMode, is_stale, next_allowed_refresh, target_age
from insightd.queries.registry import parse_query, runner_for
from insightd.queries.runner import QueryContext

_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
STATUS_TTL = timedelta(minutes=20)
MAX_STATUSES = 10_000
DEFAULT_SETTINGS: dict[str, Any] = {"max_execution_time": 60}


@dataclass(frozen=True)
class QueryRequest:
    team_id: int
    timezone: str
    query: Any
    mode: ExecutionMode = ExecutionMode.FORCE_CACHE
    client_query_id: str | None = None
    insight_id: int | None = None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


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
        workers: int = 2,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self._engine, self.cache, self.clock = engine, cache, clock
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="insightd-query")
        self._statuses: OrderedDict[tuple[int, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    # -- public ------------------------------------------------------------------------------------
    def run(self, request: QueryRequest) -> dict[str, Any]:
        """The response for ``request`` as its mode says: cached, computed now, or started async."""
        model = parse_query(request.query)
        query_id = query_id_for(request.client_query_id)
        engine = self._engine()
        key = cache_key(cache_payload(model, request.team_id, request.timezone, engine.name))
        cached = self.cache.get(key)
        mode = request.mode
        now = self.clock()
        lazy = mode is ExecutionMode.LAZY_ASYNC
        fresh = cached is not None and not is_stale(
            cached.last_refresh, cached.interval, cached.date_to, now, lazy=lazy
        )
        if mode is ExecutionMode.FORCE_CACHE:
            return self._cached(cached, key, request) if cached else self._miss(key, request, None)
        if (
            mode is ExecutionMode.FORCE_BLOCKING
            or (mode is ExecutionMode.BLOCKING and not fresh)
            or (mode is ExecutionMode.ASYNC_EXCEPT_ON_CACHE_MISS and cached is None)
        ):
            return self._compute(model, key, query_id, request)
        if fresh and mode is not ExecutionMode.FORCE_ASYNC:
            return self._cached(cached, key, request)
        status = self._start_async(model, key, query_id, request)
        if cached is not None:
            return {**self._cached(cached, key, request), "query_status": status}
        return self._miss(key, request, status)

    def status(self, team_id: int, query_id: str) -> dict[str, Any]:
        with self._lock:
            status = self._statuses.get((team_id, query_id))
            if status is None:
                raise NotFound("Query not found.")
            return dict(status)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- internals ---------------------------------------------------------------------------------
    def _compute(self, model: BaseModel, key: str, query_id: str, request: QueryRequest) -> dict[str, Any]:
        engine = self._engine()
        started = self.clock()
        ctx = QueryContext(
            team_id=request.team_id,
            timezone=request.timezone,
            engine=engine,
            query_id=f"t{request.team_id}.{query_id}",
            now=started,
            settings=dict(self.settings),
        )
        runner = runner_for(model, ctx)
        try:
            response = runner.calculate()
        except QueryCancelled as exc:
            raise QueryError("The query was cancelled.", code="query_cancelled") from exc
        except QueryTimeout as exc:
            raise QueryError(
                f"The query took longer than {self.settings['max_execution_time']} seconds and was stopped.",
                code="query_timeout",
            ) from exc
        response.setdefault("hogql", ";\n".join(ctx.executed))
        last_refresh = self.clock()
        entry = CachedResult(response, last_refresh, runner.interval, runner.date_to())
        self.cache.set(key, entry)
        return self._decorate(entry, key, request, is_cached=False)

    def _decorate(
        self, entry: CachedResult, key: str, request: QueryRequest, *, is_cached: bool
    ) -> dict[str, Any]:
        return {
            **entry.response,
            "is_cached": is_cached,
            "last_refresh": _iso(entry.last_refresh),
            "next_allowed_client_refresh": _iso(next_allowed_refresh(entry.last_refresh, entry.interval)),
            "cache_target_age": _iso(target_age(entry.last_refresh, entry.interval)),
            "cache_key": key,
            "timezone": request.timezone,
            "query_status": None,
            "timings": [],
            "modifiers": {},
        }

    def _cached(self, entry: CachedResult | None, key: str, request: QueryRequest) -> dict[str, Any]:
        assert entry is not None
        return self._decorate(entry, key, request, is_cached=True)

    def _miss(self, key: str, request: QueryRequest, status: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "results": None,
            "is_cached": False,
            "last_refresh": None,
            "next_allowed_client_refresh": None,
            "cache_target_age": None,
            "cache_key": key,
            "timezone": request.timezone,
            "query_status": status,
            "hogql": None,
            "hasMore": None,
            "resolved_date_range": None,
        }

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
            "start_time": _iso(now),
            "pickup_time": None,
            "end_time": None,
            "expiration_time": _iso(now + STATUS_TTL),
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
        update: dict[str, Any] = {"pickup_time": _iso(self.clock())}
        self._update(request.team_id, query_id, update)
        try:
            response = self._compute(model, key, query_id, request)
            update = {"complete": True, "results": response}
        except InsightdError as exc:
            update = {"complete": True, "error": True, "error_message": exc.detail}
        except Exception:  # an async failure is reported in the status, never lost
            update = {"complete": True, "error": True, "error_message": "The query failed unexpectedly."}
        update["end_time"] = _iso(self.clock())
        self._update(request.team_id, query_id, update)

    def _update(self, team_id: int, query_id: str, update: dict[str, Any]) -> None:
        with self._lock:
            status = self._statuses.get((team_id, query_id))
            if status is not None:
                status.update(update)
