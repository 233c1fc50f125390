"""``/api/projects/{project_id}/dashboards/``."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Request
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
from insightd.queries.project import ProjectSettings
from insightd.services.context import Actor
from insightd.services.dashboards import (
    create_dashboard,
    find_dashboard,
    list_dashboards,
    load_tiles,
    serialize_dashboards,
    update_dashboard,
)

router = APIRouter(route_class=NegotiatedRoute, tags=["dashboards"])


def _id(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise NotFound()
    return int(value)


def _respond(
    state: State,
    actor: Actor,
    dashboard_id: int,
    over: overrides.Overrides,
    *,
    mode: ExecutionMode = ExecutionMode.FORCE_CACHE,
    refresh_asked: bool = False,
    scope: CancelScope | None = None,
    include_deleted: bool = False,
    status_code: int = 200,
) -> Response:
    """A dashboard as PostHog's full serializer gives it: each tile's insight in full, its query and
    result those of the dashboard's filters (with the request's overrides), computed by ``refresh`` (by
    default read from the cache only). Loaded and detached first: no database session is open while the
    results are computed (on PostgreSQL a session would sit idle in transaction all along)."""
    with state.db.read() as session:
        dashboard = find_dashboard(session, actor.project_id, dashboard_id, include_deleted=include_deleted)
        tiles = load_tiles(session, dashboard, detach=True)
    computed = insight_results(
        state.queries,
        [insight for _, insight in tiles],
        team_id=actor.project_id,
        project=ProjectSettings.of(actor.project),
        mode=mode,
        refresh_requested=refresh_asked,
        scope=scope,
        filters=over.effective(dashboard.filters),
    )
    with state.db.read() as session:
        (item,) = serialize_dashboards(
            session,
            [dashboard],
            with_tiles=True,
            overrides=over,
            tiles={dashboard.id: tiles},
            results=computed,
            timezone=actor.project.timezone,
        )
    return ok(item, status_code=status_code)


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
        dashboard_id = create_dashboard(session, actor, body.changes()).id
    return _respond(state, actor, dashboard_id, overrides.Overrides(), status_code=201)


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
    return _respond(
        state,
        actor,
        _id(dashboard_id),
        over,
        mode=parse_refresh(refresh, lenient=True),
        refresh_asked=refresh_requested(refresh),
        scope=scope,
    )


@router.patch("/dashboards/{dashboard_id}/", summary="Update a dashboard; `deleted` soft-deletes or restores")
@router.put("/dashboards/{dashboard_id}/", summary="Update a dashboard (as PATCH: every field is optional)")
def update(
    state: State,
    actor: DashboardWrite,
    dashboard_id: str,
    body: Annotated[DashboardBody | None, Body()] = None,
) -> Response:
    with state.db.write() as session:
        updated = update_dashboard(session, actor, _id(dashboard_id), (body or DashboardBody()).changes()).id
    return _respond(state, actor, updated, overrides.Overrides(), include_deleted=True)


@router.delete("/dashboards/{dashboard_id}/", status_code=405, summary="Not allowed: PATCH `deleted: true`")
async def destroy(actor: DashboardWrite, dashboard_id: str) -> Response:
    return empty(405)
