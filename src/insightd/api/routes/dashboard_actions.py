"""Collection actions on dashboards (bulk_update_tags)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from starlette.responses import Response

from insightd.api.deps import DashboardWrite, State
from insightd.api.rendering import NegotiatedRoute, ok
from insightd.api.schemas import BulkUpdateTags
from insightd.services.bulk_tags import bulk_update_tags

router = APIRouter(route_class=NegotiatedRoute, tags=["dashboards"])


@router.post(
    "/dashboards/bulk_update_tags/",
    summary="Add, remove or set tags on up to 500 dashboards in one transaction",
)
def bulk_update_tags_(
    state: State, actor: DashboardWrite, body: Annotated[BulkUpdateTags, Body()]
) -> Response:
    with state.db.write() as session:
        result = bulk_update_tags(session, actor, "dashboard", body.ids, body.action, body.tags)
    return ok(result)
