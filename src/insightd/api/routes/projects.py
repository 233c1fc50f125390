"""``/api/projects/{project_id}/``: the project's settings (PostHog's team endpoint)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from starlette.responses import Response

from insightd.api.deps import ProjectRead, ProjectWrite, State
from insightd.api.rendering import NegotiatedRoute, ok
from insightd.api.schemas import ProjectWrite as ProjectBody
from insightd.services.projects import serialize_project, update_project

router = APIRouter(route_class=NegotiatedRoute, tags=["projects"])


@router.get("/", summary="Retrieve the project's settings")
def retrieve(actor: ProjectRead) -> Response:
    return ok(serialize_project(actor.project))


@router.patch(
    "/",
    summary="Change the project's name, timezone, week_start_day or test_account_filters",
)
def partial_update(
    state: State, actor: ProjectWrite, body: Annotated[ProjectBody | None, Body()] = None
) -> Response:
    with state.db.write() as session:
        project = update_project(session, actor.project_id, (body or ProjectBody()).changes())
        item = serialize_project(project)
    state.project_access.clear()  # the next request sees the new settings (not a cached project)
    return ok(item)
