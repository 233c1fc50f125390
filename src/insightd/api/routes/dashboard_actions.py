"""collection actions on dashboards (bulk_update_tags)."""

from __future__ import annotations

from fastapi import APIRouter

from insightd.api.rendering import NegotiatedRoute

router = APIRouter(route_class=NegotiatedRoute, tags=["dashboards"])
