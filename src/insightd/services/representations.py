"""PostHog's insight serializers (full and basic) and UserBasic, built in bulk.

Related data (tags, tiles, users, views) is loaded with one query each for a whole page of
insights, never one query per insight.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from insightd.services.tagging import tags_for
from insightd.store.models import Dashboard, DashboardTile, Insight, InsightViewed, User

BASIC_FIELDS = (
    "id",
    "short_id",
    "name",
    "derived_name",
    "filters",
    "query",
    "dashboards",
    "dashboard_tiles",
    "description",
    "last_refresh",
    "refreshing",
    "saved",
    "tags",
    "updated_at",
    "created_by",
    "created_at",
    "last_modified_at",
    "favorited",
    "user_access_level",
    "last_viewed_at",
)


def user_basic(user: User | Row[Any] | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.id,
        "uuid": user.uuid,
        "distinct_id": user.distinct_id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_email_verified": user.is_email_verified,
        "hedgehog_config": None,
        "role_at_organization": None,
    }


def users_by_id(session: Session, ids: set[int | None]) -> dict[int, dict[str, Any] | None]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(*User.__table__.c).where(User.id.in_(wanted)))  # rows: no ORM loading
    return {row.id: user_basic(row) for row in rows}


def tiles_for(session: Session, insight_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    tiles: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not insight_ids:
        return tiles
    rows = session.execute(
        select(DashboardTile.id, DashboardTile.dashboard_id, DashboardTile.insight_id, DashboardTile.deleted)
        .join(Dashboard, Dashboard.id == DashboardTile.dashboard_id)
        .where(
            DashboardTile.insight_id.in_(insight_ids),
            DashboardTile.deleted.is_(False),
            Dashboard.deleted.is_(False),
        )
        .order_by(DashboardTile.id)
    )
    for tile_id, dashboard_id, insight_id, deleted in rows:
        tiles[insight_id].append({"id": tile_id, "dashboard_id": dashboard_id, "deleted": deleted})
    return tiles


def last_viewed_by_anyone(session: Session, insight_ids: Sequence[int]) -> dict[int, datetime]:
    if not insight_ids:
        return {}
    rows = session.execute(
        select(InsightViewed.insight_id, func.max(InsightViewed.last_viewed_at))
        .where(InsightViewed.insight_id.in_(insight_ids))
        .group_by(InsightViewed.insight_id)
    )
    return {key: value for key, value in rows}


def filters_hash(insight: Insight | Row[Any]) -> str:
    """A stable hash of what the insight computes (PostHog exposes its cache key under this name)."""
    payload = {"team_id": insight.project_id, "query": insight.query, "filters": insight.filters or {}}
    return "cache_" + hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def serialize_insights(
    session: Session,
    insights: Sequence[Insight] | Sequence[Row[Any]],
    *,
    basic: bool = False,
    last_viewed: Mapping[int, datetime] | None = None,
    timezone: str = "UTC",
    results: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """``results`` (per insight id) fills the computed fields: result, last_refresh, is_cached …"""
    ids = [i.id for i in insights]
    tags = tags_for(session, "insight", ids)
    tiles = tiles_for(session, ids)
    users = users_by_id(
        session, {i.created_by_id for i in insights} | {i.last_modified_by_id for i in insights}
    )
    viewed = last_viewed if last_viewed is not None else last_viewed_by_anyone(session, ids)
    out = []
    for insight in insights:
        own_tiles = tiles.get(insight.id, [])
        data: dict[str, Any] = {
            "id": insight.id,
            "short_id": insight.short_id,
            "name": insight.name,
            "derived_name": insight.derived_name,
            "filters": {} if insight.query else (insight.filters or {}),
            "query": insight.query,
            "dashboards": [t["dashboard_id"] for t in own_tiles],
            "dashboard_tiles": own_tiles,
            "description": insight.description,
            "last_refresh": insight.last_refresh,
            "refreshing": insight.refreshing,
            "saved": insight.saved,
            "tags": tags.get(insight.id, []),
            "updated_at": insight.updated_at,
            "created_by": users.get(insight.created_by_id) if insight.created_by_id else None,
            "created_at": insight.created_at,
            "last_modified_at": insight.last_modified_at,
            "favorited": insight.favorited,
            "user_access_level": "editor",
            "last_viewed_at": viewed.get(insight.id),
            "search_match_type": None,
        }
        if not basic:
            data.update(
                {
                    "order": insight.order,
                    "deleted": insight.deleted,
                    "result": None,
                    "hasMore": None,
                    "columns": None,
                    "cache_target_age": None,
                    "next_allowed_client_refresh": None,
                    "is_cached": False,
                    "query_status": None,
                    "hogql": None,
                    "types": None,
                    "timezone": timezone,
                    "resolved_date_range": None,
                    "last_modified_by": (
                        users.get(insight.last_modified_by_id) if insight.last_modified_by_id else None
                    ),
                    "is_sample": insight.is_sample,
                    "effective_restriction_level": 21,
                    "effective_privilege_level": 37,
                    "alerts": [],
                    "filters_hash": filters_hash(insight),
                }
            )
        computed = (results or {}).get(insight.id)
        if computed:
            data.update({k: v for k, v in computed.items() if k in data or not basic})
        out.append(data)
    return out
