"""PostHog's query endpoint: ``POST /query/`` runs a query; ``GET /query/{id}/`` reports an async one;
``DELETE /query/{id}/`` cancels one."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from insightd.api.deps import InsightRead, State
from insightd.api.rendering import NegotiatedRoute, empty, ok
from insightd.api.waiting import while_connected
from insightd.execution.modes import ExecutionMode, parse_refresh
from insightd.execution.service import QueryRequest
from insightd.queries.project import ProjectSettings

router = APIRouter(route_class=NegotiatedRoute, tags=["query"])


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: dict[str, Any]
    refresh: str | bool | None = None
    client_query_id: str | None = None
    async_: bool | None = None


@router.post("/query/", summary="Run a query (TrendsQuery, FunnelsQuery, HogQLQuery …) without saving it")
async def run_query(
    request: Request, state: State, actor: InsightRead, body: Annotated[QueryBody, Body()]
) -> Response:
    # PostHog's query endpoint computes by default (``blocking``); ``refresh`` picks another mode.
    mode = parse_refresh(body.refresh) if body.refresh is not None else ExecutionMode.BLOCKING
    scope = state.queries.cancel_scope()
    query = QueryRequest(
        team_id=actor.project_id,
        project=ProjectSettings.of(actor.project),
        query=body.query,
        mode=mode,
        client_query_id=body.client_query_id,
        scope=scope,
    )
    return ok(await while_connected(request, scope, partial(state.queries.run, query)))


@router.get("/query/{query_id}/", summary="Status of an async query")
def query_status(state: State, actor: InsightRead, query_id: str) -> Response:
    return ok({"query_status": state.queries.status(actor.project_id, query_id)})


@router.delete("/query/{query_id}/", status_code=204, summary="Cancel a query of this project")
def cancel_query(state: State, actor: InsightRead, query_id: str) -> Response:
    state.queries.cancel(actor.project_id, query_id)
    return empty(204)
