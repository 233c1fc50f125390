"""PostHog's query endpoint: ``POST /query/`` runs a query; ``GET /query/{id}/`` reports an async one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from insightd.api.deps import InsightRead, State
from insightd.api.rendering import NegotiatedRoute, ok
from insightd.execution.modes import ExecutionMode, parse_refresh
from insightd.execution.service import QueryRequest

router = APIRouter(route_class=NegotiatedRoute, tags=["query"])


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    query: dict[str, Any]
    refresh: str | bool | None = None
    client_query_id: str | None = None
    async_: bool | None = None


@router.post("/query/", summary="Run a query (TrendsQuery, FunnelsQuery, HogQLQuery …) without saving it")
def run_query(state: State, actor: InsightRead, body: Annotated[QueryBody, Body()]) -> Response:
    # PostHog's query endpoint computes by default (``blocking``); ``refresh`` picks another mode.
    mode = parse_refresh(body.refresh) if body.refresh is not None else ExecutionMode.BLOCKING
    response = state.queries.run(
        QueryRequest(
            team_id=actor.project_id,
            timezone=actor.project.timezone,
            query=body.query,
            mode=mode,
            client_query_id=body.client_query_id,
        )
    )
    return ok(response)


@router.get("/query/{query_id}/", summary="Status of an async query")
def query_status(state: State, actor: InsightRead, query_id: str) -> Response:
    return ok({"query_status": state.queries.status(actor.project_id, query_id)})
