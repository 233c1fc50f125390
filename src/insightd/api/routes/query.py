"""PostHog's query endpoint: POST /query/, GET and DELETE /query/{id}/."""

from __future__ import annotations

from fastapi import APIRouter

from insightd.api.rendering import NegotiatedRoute

router = APIRouter(route_class=NegotiatedRoute, tags=["query"])
