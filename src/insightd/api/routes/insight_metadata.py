"""generate_metadata: a name and description for an insight's query."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from insightd.api.deps import InsightWrite, State
from insightd.api.rendering import NegotiatedRoute, ok
from insightd.api.schemas import GenerateMetadata
from insightd.errors import PermissionDenied
from insightd.metadata.approval import ai_processing_approved
from insightd.metadata.service import check_query, generate_metadata, llm_config

router = APIRouter(route_class=NegotiatedRoute, tags=["insights"])
SOURCE_HEADER = "X-Insightd-Metadata-Source"


@router.post(
    "/insights/generate_metadata/",
    summary="Suggest a name and description for an insight's query (nothing is saved)",
)
async def generate(
    state: State, actor: InsightWrite, body: Annotated[GenerateMetadata | None, Body()] = None
) -> Response:
    llm = llm_config(state.settings)
    if llm is not None:

        def approved() -> bool:
            with state.db.read() as session:
                return ai_processing_approved(session, actor.project_id)

        if not await run_in_threadpool(approved):
            raise PermissionDenied("AI data processing must be approved by your organization")
    query = check_query(body.query if body else None)
    metadata, source = await generate_metadata(query, llm)
    return ok({"name": metadata.name, "description": metadata.description}, headers={SOURCE_HEADER: source})
