"""bulk_update_tags, viewed, my_last_viewed and trending (collection actions on insights)."""

from __future__ import annotations

from fastapi import APIRouter

from insightd.api.rendering import NegotiatedRoute

router = APIRouter(route_class=NegotiatedRoute, tags=["insights"])
