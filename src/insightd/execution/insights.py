"""Results for saved insights: each insight's query through the query service, by ``refresh`` mode.

A failure in one insight never breaks a list: it becomes ``result: null`` with an error in
``query_status``. On retrieve, a query error is the request's 400 (PostHog's behaviour).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from insightd.errors import InsightdError
from insightd.execution.cancellation import CancelScope
from insightd.execution.modes import ExecutionMode
from insightd.execution.service import QueryRequest, QueryService
from insightd.queries.project import ProjectSettings
from insightd.store.models import Insight

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


def _fields(response: dict[str, Any]) -> dict[str, Any]:
    return {name: response.get(key) for name, key in RESULT_FIELDS.items()}


def _failed(message: str) -> dict[str, Any]:
    return {"result": None, "is_cached": False, "query_status": {"error": True, "error_message": message}}


def insight_results(
    service: QueryService,
    insights: Sequence[Insight],
    *,
    team_id: int,
    project: ProjectSettings,
    mode: ExecutionMode,
    client_query_id: str | None = None,
    raise_errors: bool = False,
    scope: CancelScope | None = None,
) -> dict[int, dict[str, Any]]:
    """Result fields per insight id (insights without a query are left out)."""
    out: dict[int, dict[str, Any]] = {}
    for insight in insights:
        if scope is not None and scope.cancelled:
            break  # the client left: compute nothing more for it
        if not insight.query:
            continue
        request = QueryRequest(
            team_id=team_id,
            project=project,
            query=insight.query,
            mode=mode,
            client_query_id=client_query_id if len(insights) == 1 else None,
            insight_id=insight.id,
            scope=scope,
        )
        try:
            out[insight.id] = _fields(service.run(request))
        except InsightdError as exc:
            if mode is ExecutionMode.FORCE_CACHE:
                continue  # nothing cached, nothing computed: an uncomputable kind is simply empty
            if raise_errors:
                raise
            out[insight.id] = _failed(exc.detail)
        except Exception:  # one broken insight must never break a list
            if raise_errors:
                raise
            out[insight.id] = _failed("The insight could not be computed.")
    return out
