"""``/api/projects/{project_id}/dashboards/``."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from insightd.api import overrides
from insightd.api.deps import DashboardRead, DashboardWrite, State
from insightd.api.pagination import limit_offset, page
from insightd.api.rendering import NegotiatedRoute, empty, ok
from insightd.api.schemas import DashboardWrite as DashboardBody
from insightd.api.waiting import while_connected
from insightd.errors import NotFound
from insightd.execution.cancellation import CancelScope
from insightd.execution.insights import insight_results
from insightd.execution.modes import ExecutionMode, parse_refresh, refresh_requested
from insightd.queries.dashboard_filters import effective_query
from insightd.queries.project import ProjectSettings
from insightd.services.context import Actor
from insightd.services.dashboards import (
    TileInsights,
    create_dashboard,
    find_dashboard,
    list_dashboards,
    serialize_dashboards,
    update_dashboard,
)
from insightd.services.representations import serialize_insights
from insightd.store.models import Dashboard, Insight

router = APIRouter(route_class=NegotiatedRoute, tags=["dashboards"])


def _id(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise NotFound()
    return int(value)


def _tile_insights(
    state: State,
    actor: Actor,
    over: overrides.Overrides,
    *,
    mode: ExecutionMode = ExecutionMode.FORCE_CACHE,
    refresh_asked: bool = False,
    scope: CancelScope | None = None,
) -> TileInsights:
    """PostHog's tiles: each insight in full, its query and result those of the dashboard's filters (with
    the request's overrides), computed by ``refresh`` (by default read from the cache only)."""

    def serialize(session: Session, dashboard: Dashboard, insights: list[Insight]) -> list[dict[str, Any]]:
        filters = over.effective(dashboard.filters)
        for insight in insights:
            session.expunge(insight)  # detached: the effective query below is never saved
            insight.query = effective_query(insight.query, filters)
        computed = insight_results(
            state.queries,
            insights,
            team_id=actor.project_id,
            project=ProjectSettings.of(actor.project),
            mode=mode,
            refresh_requested=refresh_asked,
            scope=scope,
        )
        return serialize_insights(session, insights, timezone=actor.project.timezone, results=computed)

    return serialize


@router.get("/dashboards/", summary="List dashboards")
def list_(request: Request, state: State, actor: DashboardRead) -> Response:
    limit, offset = limit_offset(request)
    with state.db.read() as session:
        count, rows = list_dashboards(session, actor, limit, offset, request.query_params.get("search"))
        items = serialize_dashboards(session, rows, with_tiles=False)
    return ok(page(request, count, items, limit, offset))


@router.post("/dashboards/", status_code=201, summary="Create a dashboard")
def create(state: State, actor: DashboardWrite, body: Annotated[DashboardBody, Body()]) -> Response:
    with state.db.write() as session:
        dashboard = create_dashboard(session, actor, body.changes())
        (item,) = serialize_dashboards(
            session,
            [dashboard],
            with_tiles=True,
            tile_insights=_tile_insights(state, actor, overrides.Overrides()),
        )
    return ok(item, status_code=201)


@router.get(
    "/dashboards/{dashboard_id}/",
    summary="Retrieve a dashboard with its insights, their queries and results under the dashboard's filters",
)
async def retrieve(request: Request, state: State, actor: DashboardRead, dashboard_id: str) -> Response:
    scope = state.queries.cancel_scope()
    return await while_connected(
        request, scope, partial(_retrieve, request, state, actor, dashboard_id, scope)
    )


def _retrieve(
    request: Request, state: State, actor: Actor, dashboard_id: str, scope: CancelScope
) -> Response:
    over = overrides.checked(overrides.from_query_string(request.query_params))
    refresh = request.query_params.get("refresh")
    tiles = _tile_insights(
        state,
        actor,
        over,
        mode=parse_refresh(refresh, lenient=True),
        refresh_asked=refresh_requested(refresh),
        scope=scope,
    )
    with state.db.read() as session:
        dashboard = find_dashboard(session, actor.project_id, _id(dashboard_id))
        (item,) = serialize_dashboards(
            session, [dashboard], with_tiles=True, overrides=over, tile_insights=tiles
        )
    return ok(item)


@router.patch("/dashboards/{dashboard_id}/", summary="Update a dashboard; `deleted` soft-deletes or restores")
@router.put("/dashboards/{dashboard_id}/", summary="Update a dashboard (as PATCH: every field is optional)")
def update(
    state: State,
    actor: DashboardWrite,
    dashboard_id: str,
    body: Annotated[DashboardBody | None, Body()] = None,
) -> Response:
    with state.db.write() as session:
        dashboard = update_dashboard(session, actor, _id(dashboard_id), (body or DashboardBody()).changes())
        (item,) = serialize_dashboards(
            session,
            [dashboard],
            with_tiles=True,
            tile_insights=_tile_insights(state, actor, overrides.Overrides()),
        )
    return ok(item)


@router.delete("/dashboards/{dashboard_id}/", status_code=405, summary="Not allowed: PATCH `deleted: true`")
async def destroy(actor: DashboardWrite, dashboard_id: str) -> Response:
    return empty(405)
