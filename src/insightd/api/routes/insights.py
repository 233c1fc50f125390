"""``/api/projects/{project_id}/insights/``: the insight resource and its collection actions."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from starlette.responses import Response

from insightd.api import overrides
from insightd.api.deps import ActivityRead, InsightRead, InsightWrite, State
from insightd.api.pagination import MAX_PAGE, limit_offset, page, positive_int
from insightd.api.rendering import NegotiatedRoute, empty, ok
from insightd.api.schemas import InsightWrite as InsightBody
from insightd.api.waiting import while_connected
from insightd.domain.values import str_to_bool
from insightd.execution.cancellation import CancelScope
from insightd.execution.insights import insight_results
from insightd.execution.modes import parse_refresh, refresh_requested
from insightd.queries.project import ProjectSettings
from insightd.services.activity import list_activity
from insightd.services.context import Actor
from insightd.services.dashboards import dashboard_tile
from insightd.services.insight_list import list_insights
from insightd.services.insights import create_insight, find_insight, update_insight
from insightd.services.representations import serialize_insights

router = APIRouter(route_class=NegotiatedRoute, tags=["insights"])
ACTIVITY_PAGE = 10


@router.get("/insights/", summary="List insights")
async def list_(request: Request, state: State, actor: InsightRead) -> Response:
    scope = state.queries.cancel_scope()
    return await while_connected(request, scope, partial(_list, request, state, actor, scope))


def _list(request: Request, state: State, actor: Actor, scope: CancelScope) -> Response:
    limit, offset = limit_offset(request)
    params = dict(request.query_params)
    basic = str_to_bool(params.get("basic"))
    refresh = params.get("refresh")
    with state.db.read() as session:
        result = list_insights(session, actor, params, limit, offset)
        computed = (
            None
            if basic
            else insight_results(
                state.queries,
                result.insights,
                team_id=actor.project_id,
                project=ProjectSettings.of(actor.project),
                mode=parse_refresh(refresh, lenient=True),
                refresh_requested=refresh_requested(refresh),
                scope=scope,
            )
        )
        items = serialize_insights(
            session,
            result.insights,
            basic=basic,
            last_viewed=result.last_viewed,
            timezone=actor.project.timezone,
            results=computed,
        )
    for item in items:
        item["search_match_type"] = result.match_types.get(item["id"])
    return ok(page(request, result.count, items, limit, offset))


@router.post(
    "/insights/", status_code=201, summary="Create an insight (its result read or computed by `refresh`)"
)
async def create(
    request: Request, state: State, actor: InsightWrite, body: Annotated[InsightBody | None, Body()] = None
) -> Response:
    scope = state.queries.cancel_scope()
    return await while_connected(
        request, scope, partial(_create, request, state, actor, body or InsightBody(), scope)
    )


def _create(request: Request, state: State, actor: Actor, body: InsightBody, scope: CancelScope) -> Response:
    over = overrides.checked(overrides.from_query_string(request.query_params))
    with state.db.write() as session:
        insight_id = create_insight(session, actor, body.changes()).id
    return _respond(request, state, actor, str(insight_id), scope, over, body.refresh, status_code=201)


def _activity(request: Request, state: State, actor: Actor, item_id: str | None) -> Response:
    limit = min(MAX_PAGE, positive_int(request.query_params.get("limit"), ACTIVITY_PAGE))
    page_number = min(MAX_PAGE, positive_int(request.query_params.get("page"), 1))
    with state.db.read() as session:
        if item_id is not None:
            item_id = str(find_insight(session, actor.project_id, item_id, include_deleted=True).id)
        total, results = list_activity(
            session, actor.project_id, "Insight", item_id, limit, (page_number - 1) * limit
        )

    def link(number: int) -> str:
        return str(request.url.include_query_params(page=number, limit=limit))

    return ok(
        {
            "results": results,
            "next": link(page_number + 1) if page_number * limit < total else None,
            "previous": link(page_number - 1) if page_number > 1 else None,
            "total_count": total,
        }
    )


@router.get("/insights/activity/", summary="Activity log of the project's insights")
def activity(request: Request, state: State, actor: ActivityRead) -> Response:
    return _activity(request, state, actor, None)


@router.get("/insights/{lookup}/activity/", summary="Activity log of one insight")
def insight_activity(request: Request, state: State, actor: ActivityRead, lookup: str) -> Response:
    return _activity(request, state, actor, lookup)


@router.get("/insights/{lookup}/", summary="Retrieve an insight by id or short_id")
async def retrieve(request: Request, state: State, actor: InsightRead, lookup: str) -> Response:
    scope = state.queries.cancel_scope()
    return await while_connected(request, scope, partial(_retrieve, request, state, actor, lookup, scope))


def _retrieve(request: Request, state: State, actor: Actor, lookup: str, scope: CancelScope) -> Response:
    over = overrides.checked(overrides.from_query_string(request.query_params))
    basic = str_to_bool(request.query_params.get("basic"))
    return _respond(
        request,
        state,
        actor,
        lookup,
        scope,
        over,
        basic=basic,
        include_deleted=False,
        from_dashboard=request.query_params.get("from_dashboard"),
    )


def _respond(
    request: Request,
    state: State,
    actor: Actor,
    lookup: str,
    scope: CancelScope,
    over: overrides.Overrides,
    body_refresh: Any = None,
    *,
    basic: bool = False,
    include_deleted: bool = True,
    status_code: int = 200,
    from_dashboard: str | None = None,
) -> Response:
    """One insight as PostHog's serializer gives it (retrieve, create, update): its result read or
    computed by ``refresh`` (the query string's, else the body's), dashboard filters applied to the
    query that runs and is shown (never saved).

    ``from_dashboard`` (retrieve): when the insight has a live tile on that dashboard of the project, the
    dashboard's filters apply under the request's overrides and the tile's ``color`` and ``layouts`` are
    added; otherwise it is ignored, as PostHog does (no error, no tile fields)."""
    refresh: str | bool | None = request.query_params.get("refresh")
    if refresh is None and body_refresh is not None:
        refresh = body_refresh if isinstance(body_refresh, bool) else str(body_refresh)
    tile: dict[str, Any] | None = None
    dashboard_filters: dict[str, Any] | None = None
    with state.db.read() as session:
        insight = find_insight(session, actor.project_id, lookup, include_deleted=include_deleted)
        if from_dashboard is not None:
            found = dashboard_tile(session, actor.project_id, from_dashboard, insight.id)
            if found is not None:
                found_tile, dashboard_filters = found
                tile = {"color": found_tile.color, "layouts": found_tile.layouts}
        session.expunge(insight)  # a detached copy: the effective query it gets is never saved
    # Computing may take a while: no database session is held meanwhile. The basic serializer shows the
    # saved query (PostHog's InsightBasicSerializer); otherwise the dashboard's filters apply to it.
    computed = (
        None
        if basic
        else insight_results(
            state.queries,
            [insight],
            team_id=actor.project_id,
            project=ProjectSettings.of(actor.project),
            mode=parse_refresh(refresh, lenient=True),
            client_query_id=request.query_params.get("client_query_id"),
            refresh_requested=refresh_requested(refresh),
            raise_errors=True,
            scope=scope,
            filters=over.effective(dashboard_filters),
        )
    )
    with state.db.read() as session:
        (item,) = serialize_insights(
            session, [insight], basic=basic, timezone=actor.project.timezone, results=computed
        )
    if tile is not None:
        item.update(tile)
    return ok(item, status_code=status_code)


async def _update(request: Request, state: State, actor: Actor, lookup: str, body: InsightBody) -> Response:
    scope = state.queries.cancel_scope()

    def work() -> Response:
        over = overrides.checked(overrides.from_query_string(request.query_params))
        with state.db.write() as session:
            insight_id = update_insight(session, actor, lookup, body.changes()).id
        return _respond(request, state, actor, str(insight_id), scope, over, body.refresh)

    return await while_connected(request, scope, work)


@router.patch("/insights/{lookup}/", summary="Update some fields; `deleted` soft-deletes or restores")
async def partial_update(
    request: Request,
    state: State,
    actor: InsightWrite,
    lookup: str,
    body: Annotated[InsightBody | None, Body()] = None,
) -> Response:
    return await _update(request, state, actor, lookup, body or InsightBody())


@router.put("/insights/{lookup}/", summary="Update an insight")
async def update(
    request: Request,
    state: State,
    actor: InsightWrite,
    lookup: str,
    body: Annotated[InsightBody | None, Body()] = None,
) -> Response:
    return await _update(request, state, actor, lookup, body or InsightBody())


@router.delete("/insights/{lookup}/", status_code=405, summary="Not allowed: PATCH `deleted: true` instead")
async def destroy(actor: InsightWrite, lookup: str) -> Response:
    return empty(405)
