"""Results for saved insights: each insight's query through the query service, by ``refresh`` mode.

A failure never breaks a response: an unexpected one becomes ``result: null`` with an error in
``query_status`` (PostHog's ``InsightSerializer.insight_result``), in a list and on a single insight
alike. A query error (insightd's own errors, PostHog's exposed ones) is the 400 of a single insight
(``raise_errors``); in a list it is reported like any other failure.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from insightd.errors import InsightdError
from insightd.execution.cancellation import CancelScope
from insightd.execution.modes import ExecutionMode
from insightd.execution.service import QueryRequest, QueryService
from insightd.queries.dashboard_filters import effective_query
from insightd.queries.project import ProjectSettings
from insightd.store.models import Insight

logger = logging.getLogger("insightd.execution")

RESULT_FIELDS = {
    "result": "results",
    "hasMore": "hasMore",
    "columns": "columns",
    "types": "types",
    "last_refresh": "last_refresh",
    "is_cached": "is_cached",
    "cache_target_age": "cache_target_age",
    "next_allowed_client_refresh": "next_allowed_client_refresh",
    "query_status": "query_status",
    "hogql": "hogql",
    "timezone": "timezone",
    "resolved_date_range": "resolved_date_range",
}


def _fields(response: dict[str, Any], timezone: str | None) -> dict[str, Any]:
    """The insight's result fields; ``timezone`` (the project's, when a refresh was requested) wins
    over the response's, as PostHog's ``get_timezone`` (a cache miss has none)."""
    fields = {name: response.get(key) for name, key in RESULT_FIELDS.items()}
    fields["is_cached"] = bool(fields["is_cached"])
    if timezone is not None:
        fields["timezone"] = timezone
    return fields


def _failed(
    message: str, *, team_id: int, insight_id: int, query_id: str | None, timezone: str
) -> dict[str, Any]:
    """PostHog's result for an insight that failed: a full QueryStatus carrying the error."""
    status = {
        "complete": False,
        "dashboard_id": None,
        "end_time": None,
        "error": True,
        "error_message": message,
        "expiration_time": None,
        "id": query_id,
        "insight_id": insight_id,
        "labels": None,
        "pickup_time": None,
        "query_async": True,
        "query_progress": None,
        "results": None,
        "start_time": None,
        "task_id": None,
        "team_id": team_id,
    }
    return {
        "result": None,
        "last_refresh": None,
        "is_cached": False,
        "query_status": status,
        "timezone": timezone,
    }


def insight_results(
    service: QueryService,
    insights: Sequence[Insight],
    *,
    team_id: int,
    project: ProjectSettings,
    mode: ExecutionMode,
    client_query_id: str | None = None,
    refresh_requested: bool = False,
    raise_errors: bool = False,
    scope: CancelScope | None = None,
    filters: Mapping[str, Any] | None = None,
) -> dict[int, dict[str, Any]]:
    """Result fields per insight id (insights without a query are left out).

    ``refresh_requested``: the client sent a refresh value PostHog reads as one (``timezone`` is then
    the project's even without a result). ``filters``: dashboard filters that apply; each insight's
    query becomes the effective one (shown and computed), so the insights must be detached copies.
    Applying them is part of each insight's computation: an insight they cannot apply to fails alone."""
    out: dict[int, dict[str, Any]] = {}
    timezone = project.timezone if refresh_requested else None
    query_id = client_query_id if len(insights) == 1 else None
    for insight in insights:
        if scope is not None and scope.cancelled:
            break  # the client left: compute nothing more for it
        if not insight.query:
            continue
        failed = partial(
            _failed,
            team_id=team_id,
            insight_id=insight.id,
            query_id=query_id,
            timezone=project.timezone,
        )
        try:
            if filters:
                insight.query = effective_query(insight.query, dict(filters))
            request = QueryRequest(
                team_id=team_id,
                project=project,
                query=insight.query,
                mode=mode,
                client_query_id=query_id,
                insight_id=insight.id,
                scope=scope,
            )
            out[insight.id] = _fields(service.run(request), timezone)
        except InsightdError as exc:
            if mode is ExecutionMode.FORCE_CACHE:
                continue  # nothing cached, nothing computed: an uncomputable kind is simply empty
            if raise_errors:
                raise
            out[insight.id] = failed(exc.detail)
        except Exception as exc:  # an unexpected failure never fails the response (PostHog)
            logger.exception("insight %s could not be computed", insight.id)
            out[insight.id] = failed(str(exc) or type(exc).__name__)
    return out
