"""bulk_update_tags, viewed, my_last_viewed and trending (collection actions on insights)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Body, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from insightd.api.deps import InsightRead, InsightWrite, State
from insightd.api.rendering import NegotiatedRoute, dumps, empty, ok
from insightd.api.schemas import BulkUpdateTags, InsightsViewed
from insightd.errors import ValidationFailed
from insightd.services.bulk_tags import bulk_update_tags
from insightd.services.context import Actor
from insightd.services.views import my_last_viewed, record_views, trending
from insightd.state import AppState

router = APIRouter(route_class=NegotiatedRoute, tags=["insights"])


@router.post(
    "/insights/bulk_update_tags/",
    summary="Add, remove or set tags on up to 500 insights in one transaction",
)
def bulk_update_tags_(state: State, actor: InsightWrite, body: Annotated[BulkUpdateTags, Body()]) -> Response:
    with state.db.write() as session:
        result = bulk_update_tags(session, actor, "insight", body.ids, body.action, body.tags)
    return ok(result)


@router.post("/insights/viewed/", status_code=201, summary="Record that you viewed these insights")
def viewed(state: State, actor: InsightRead, body: Annotated[InsightsViewed, Body()]) -> Response:
    with state.db.write() as session:
        record_views(session, actor, body.insight_ids)
    return empty(201)


@router.get("/insights/my_last_viewed/", summary="Your 5 most recently viewed insights, newest first")
async def my_last_viewed_(state: State, actor: InsightRead) -> Response:
    # Read on every page load: the rendered answer is kept until the next write to the store.
    key = ("my_last_viewed", actor.project_id, actor.user.id, state.db.generation)
    body = state.responses.get(key)
    if body is None:
        body = await run_in_threadpool(_my_last_viewed_body, state, actor)
        state.responses.put(key, body)
    return Response(body, media_type="application/json")


def _my_last_viewed_body(state: AppState, actor: Actor) -> bytes:
    with state.db.read() as session:
        return dumps(my_last_viewed(session, actor))


def _int_param(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        raise ValidationFailed("days and limit must be valid integers") from None


@router.get(
    "/insights/trending/",
    summary="Insights ranked by how many users viewed them in the last `days` days (default 7)",
)
async def trending_(request: Request, state: State, actor: InsightRead) -> Response:
    days = _int_param(request, "days", 7)
    limit = _int_param(request, "limit", 10)
    if limit < 0:
        raise ValidationFailed("days and limit must be valid integers")
    # Kept until the next write, and at most a minute: the window's edge moves with the clock.
    minute = int(time.time() // 60)
    key = ("trending", actor.project_id, days, limit, state.db.generation, minute)
    body = state.responses.get(key)
    if body is None:
        body = await run_in_threadpool(_trending_body, state, actor, days, limit)
        state.responses.put(key, body)
    return Response(body, media_type="application/json")


def _trending_body(state: AppState, actor: Actor, days: int, limit: int) -> bytes:
    with state.db.read() as session:
        items = trending(session, actor, days, limit)
    return dumps({"count": len(items), "next": None, "previous": None, "results": items})
