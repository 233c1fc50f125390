"""PostHog's query endpoint: ``POST /query/`` runs a query; ``GET /query/{id}/`` reports an async one;
``DELETE /query/{id}/`` cancels one."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from insightd.api import overrides
from insightd.api.deps import InsightRead, State
from insightd.api.rendering import NegotiatedRoute, ok
from insightd.api.waiting import while_connected
from insightd.execution.modes import ExecutionMode, parse_refresh
from insightd.execution.service import QueryRequest
from insightd.queries.dashboard_filters import apply_dashboard_filters
from insightd.queries.project import ProjectSettings

router = APIRouter(route_class=NegotiatedRoute, tags=["query"])


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    query: dict[str, Any]
    refresh: str | bool | None = None
    client_query_id: str | None = None
    async_: bool | None = Field(None, alias="async", description="Legacy: `true` is `refresh: async`.")
    filters_override: dict[str, Any] | None = Field(None, description="Dashboard filters to apply.")
    variables_override: dict[str, Any] | None = Field(
        None, description="Dashboard SQL variables (insightd has none yet: accepted and unused)."
    )


def execution_mode(body: QueryBody) -> ExecutionMode:
    """PostHog's ``_process_query_request``: blocking by default, legacy ``async`` wins, and a cache-only
    mode still computes when the cache is missing or stale."""
    mode = parse_refresh(body.refresh) if body.refresh is not None else ExecutionMode.BLOCKING
    if body.async_:
        mode = ExecutionMode.ASYNC
    return ExecutionMode.BLOCKING if mode is ExecutionMode.FORCE_CACHE else mode


def _pending(status: Any) -> bool:
    return isinstance(status, dict) and status.get("complete") is False


@router.post("/query/", summary="Run a query (TrendsQuery, FunnelsQuery, HogQLQuery …) without saving it")
async def run_query(
    request: Request, state: State, actor: InsightRead, body: Annotated[QueryBody, Body()]
) -> Response:
    mode = execution_mode(body)
    # PostHog's query endpoint applies filters_override as it comes (no dashboard, no tile layer).
    filters = overrides.checked(
        body.model_dump(include={"filters_override", "variables_override"})
    ).effective()
    scope = state.queries.cancel_scope()
    query = QueryRequest(
        team_id=actor.project_id,
        project=ProjectSettings.of(actor.project),
        query=apply_dashboard_filters(body.query, filters),
        mode=mode,
        client_query_id=body.client_query_id,
        scope=scope,
    )
    result = await while_connected(request, scope, partial(state.queries.run, query))
    return ok(result, status_code=202 if _pending(result.get("query_status")) else 200)


@router.get("/query/{query_id}/", summary="Status of an async query (202 while it runs, 400 if it failed)")
def query_status(state: State, actor: InsightRead, query_id: str) -> Response:
    status = state.queries.status(actor.project_id, query_id)
    code = 200 if status["complete"] else 202
    if status["error"]:
        code = 400 if status["error_message"] else 500
    return ok({"query_status": status}, status_code=code)


@router.delete("/query/{query_id}/", summary="Cancel a query of this project")
def cancel_query(request: Request, state: State, actor: InsightRead, query_id: str) -> Response:
    dequeue_only = request.query_params.get("dequeue_only") == "true"
    message = state.queries.revoke(actor.project_id, query_id, dequeue_only=dequeue_only)
    return ok({"message": message})
