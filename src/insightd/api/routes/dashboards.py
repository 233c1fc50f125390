"""``/api/projects/{project_id}/dashboards/``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from starlette.responses import Response

from insightd.api.deps import DashboardRead, DashboardWrite, State
from insightd.api.pagination import limit_offset, page
from insightd.api.rendering import NegotiatedRoute, empty, ok
from insightd.api.schemas import DashboardWrite as DashboardBody
from insightd.errors import NotFound
from insightd.services.dashboards import (
    create_dashboard,
    find_dashboard,
    list_dashboards,
    serialize_dashboards,
    update_dashboard,
)

router = APIRouter(route_class=NegotiatedRoute, tags=["dashboards"])


def _id(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise NotFound()
    return int(value)


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
        (item,) = serialize_dashboards(session, [dashboard], with_tiles=True)
    return ok(item, status_code=201)


@router.get("/dashboards/{dashboard_id}/", summary="Retrieve a dashboard with its insights")
def retrieve(state: State, actor: DashboardRead, dashboard_id: str) -> Response:
    with state.db.read() as session:
        dashboard = find_dashboard(session, actor.project_id, _id(dashboard_id))
        (item,) = serialize_dashboards(session, [dashboard], with_tiles=True)
    return ok(item)


@router.patch("/dashboards/{dashboard_id}/", summary="Update a dashboard; `deleted` soft-deletes or restores")
def partial_update(
    state: State,
    actor: DashboardWrite,
    dashboard_id: str,
    body: Annotated[DashboardBody | None, Body()] = None,
) -> Response:
    with state.db.write() as session:
        dashboard = update_dashboard(session, actor, _id(dashboard_id), (body or DashboardBody()).changes())
        (item,) = serialize_dashboards(session, [dashboard], with_tiles=True)
    return ok(item)


@router.delete("/dashboards/{dashboard_id}/", status_code=405, summary="Not allowed: PATCH `deleted: true`")
async def destroy(actor: DashboardWrite, dashboard_id: str) -> Response:
    return empty(405)
