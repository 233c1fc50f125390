"""Dashboards: enough of PostHog's dashboard resource to hold insights and tags."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from insightd.domain.tags import normalize_tags
from insightd.errors import NotFound
from insightd.services.activity import change, log_activity
from insightd.services.context import Actor
from insightd.services.representations import serialize_insights, users_by_id
from insightd.services.tagging import replace_tags, tags_for
from insightd.store.models import Dashboard, DashboardTile, Insight
from insightd.store.types import utcnow

SCOPE = "Dashboard"


def find_dashboard(
    session: Session, project_id: int, dashboard_id: int, *, include_deleted: bool = False
) -> Dashboard:
    query = select(Dashboard).where(Dashboard.project_id == project_id, Dashboard.id == dashboard_id)
    if not include_deleted:
        query = query.where(Dashboard.deleted.is_(False))
    dashboard = session.scalar(query)
    if dashboard is None:
        raise NotFound()
    return dashboard


def create_dashboard(session: Session, actor: Actor, data: dict[str, Any]) -> Dashboard:
    now = utcnow()
    dashboard = Dashboard(
        project_id=actor.project_id,
        name=data.get("name"),
        description=data.get("description") or "",
        pinned=bool(data.get("pinned", False)),
        created_at=now,
        created_by_id=actor.user.id,
        last_modified_at=now,
    )
    session.add(dashboard)
    session.flush()
    if data.get("tags") is not None:
        replace_tags(session, actor.project_id, "dashboard", {dashboard.id: normalize_tags(data["tags"])})
    log_activity(
        session,
        actor,
        SCOPE,
        dashboard.id,
        "created",
        name=dashboard.name,
    )
    return dashboard


def update_dashboard(session: Session, actor: Actor, dashboard_id: int, data: dict[str, Any]) -> Dashboard:
    dashboard = find_dashboard(
        session, actor.project_id, dashboard_id, include_deleted=data.get("deleted") is False
    )
    changes = []
    for field in ("name", "description", "pinned", "deleted"):
        if field in data and data[field] is not None and getattr(dashboard, field) != data[field]:
            if field == "description" and data[field] is None:
                continue
            changes.append(change(SCOPE, field, getattr(dashboard, field), data[field]))
            setattr(dashboard, field, data[field])
    if data.get("tags") is not None:
        diff = replace_tags(
            session, actor.project_id, "dashboard", {dashboard.id: normalize_tags(data["tags"])}
        )
        if dashboard.id in diff:
            changes.append(change(SCOPE, "tags", *diff[dashboard.id]))
    if changes:
        dashboard.last_modified_at = utcnow()
        activity = "updated"
        if any(c["field"] == "deleted" for c in changes):
            activity = "deleted" if dashboard.deleted else "restored"
        log_activity(
            session,
            actor,
            SCOPE,
            dashboard.id,
            activity,
            name=dashboard.name,
            changes=changes,
        )
    session.flush()
    return dashboard


def list_dashboards(
    session: Session, actor: Actor, limit: int, offset: int, search: str | None
) -> tuple[int, list[Dashboard]]:
    query = select(Dashboard).where(Dashboard.project_id == actor.project_id, Dashboard.deleted.is_(False))
    if search:
        query = query.where(Dashboard.name.ilike(f"%{search}%"))
    count = session.scalar(query.with_only_columns(func.count(Dashboard.id))) or 0
    rows = list(
        session.scalars(
            query.order_by(Dashboard.pinned.desc(), Dashboard.name, Dashboard.id).limit(limit).offset(offset)
        )
    )
    return count, rows


def serialize_dashboards(
    session: Session, dashboards: list[Dashboard], *, with_tiles: bool
) -> list[dict[str, Any]]:
    ids = [d.id for d in dashboards]
    tags = tags_for(session, "dashboard", ids)
    users = users_by_id(session, {d.created_by_id for d in dashboards})
    out = []
    for dashboard in dashboards:
        data: dict[str, Any] = {
            "id": dashboard.id,
            "name": dashboard.name,
            "description": dashboard.description,
            "pinned": dashboard.pinned,
            "created_at": dashboard.created_at,
            "created_by": users.get(dashboard.created_by_id) if dashboard.created_by_id else None,
            "last_modified_at": dashboard.last_modified_at,
            "is_shared": False,
            "deleted": dashboard.deleted,
            "creation_mode": dashboard.creation_mode,
            "tags": tags.get(dashboard.id, []),
            "restriction_level": 21,
            "effective_restriction_level": 21,
            "effective_privilege_level": 37,
            "user_access_level": "editor",
            "team_id": dashboard.project_id,
        }
        if with_tiles:
            data["tiles"] = _tiles(session, dashboard)
        out.append(data)
    return out


def _tiles(session: Session, dashboard: Dashboard) -> list[dict[str, Any]]:
    rows = session.execute(
        select(DashboardTile, Insight)
        .join(Insight, Insight.id == DashboardTile.insight_id)
        .where(
            DashboardTile.dashboard_id == dashboard.id,
            DashboardTile.deleted.is_(False),
            Insight.deleted.is_(False),
        )
        .order_by(DashboardTile.id)
    ).all()
    insights = serialize_insights(session, [insight for _, insight in rows], basic=True)
    return [
        {
            "id": tile.id,
            "layouts": tile.layouts,
            "color": tile.color,
            "deleted": tile.deleted,
            "insight": insight,
        }
        for (tile, _), insight in zip(rows, insights, strict=True)
    ]
