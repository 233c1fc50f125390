"""``/api/projects/{project_id}/tags/``: the project's tag names."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from insightd.api.deps import InsightRead, State
from insightd.api.pagination import limit_offset, page
from insightd.api.rendering import NegotiatedRoute, ok
from insightd.services.tagging import project_tag_names

router = APIRouter(route_class=NegotiatedRoute, tags=["tags"])


@router.get("/tags/", summary="The project's tag names, sorted; paginated with ?search=")
def list_(request: Request, state: State, actor: InsightRead) -> Response:
    search = request.query_params.get("search")
    with state.db.read() as session:
        names = project_tag_names(session, actor.project_id, search)
    if search is None:
        return ok(names)
    limit, offset = limit_offset(request, default_limit=100)
    limit = min(limit, 100)
    return ok(page(request, len(names), names[offset : offset + limit], limit, offset))
