"""generate_metadata: a name and description for an insight's query."""

from __future__ import annotations

from fastapi import APIRouter

from insightd.api.rendering import NegotiatedRoute

router = APIRouter(route_class=NegotiatedRoute, tags=["insights"])
