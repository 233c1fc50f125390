"""``POST /insights/cancel/``: cancel a query this project's client started (spec §4).

Only the key's presence is checked (PostHog); the answer is 201 with an empty body whether or not
a query was found. Unlike PostHog it accepts personal API keys with ``insight:read``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from starlette.responses import Response

from insightd.api.deps import InsightRead, State
from insightd.api.rendering import NegotiatedRoute, empty
from insightd.errors import ValidationFailed

router = APIRouter(route_class=NegotiatedRoute, tags=["insights"])


@router.post(
    "/insights/cancel/", status_code=201, summary="Cancel a running insight query by client_query_id"
)
def cancel(state: State, actor: InsightRead, body: Annotated[Any, Body()] = None) -> Response:
    if not isinstance(body, dict) or "client_query_id" not in body:
        raise ValidationFailed("Field is required.", attr="client_query_id")
    state.queries.cancel(actor.project_id, body["client_query_id"])
    return empty(201)
