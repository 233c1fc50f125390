"""Dashboards: enough of PostHog's dashboard resource to hold insights and tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from insightd.domain.tags import normalize_tags
from insightd.errors import NotFound, ValidationFailed
from insightd.queries.dashboard_filters import Overrides, check_storable, dashboard_filter
from insightd.services.activity import change, log_activity
from insightd.services.context import Actor
from insightd.services.representations import serialize_insights, users_by_id
from insightd.services.tagging import replace_tags, tags_for
from insightd.store.models import Dashboard, DashboardTile, Insight
from insightd.store.types import utcnow

SCOPE = "Dashboard"
# A dashboard's live tiles, each with its insight, in tile order.
Tiles = list[tuple[DashboardTile, Insight]]


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


def _written(data: dict[str, Any], field: str) -> dict[str, Any] | None:
    """A dashboard's ``filters`` or ``variables`` as a request sets them, as PostHog's serializer (its
    ``update`` reads them from the request: ``validate_filters`` / ``validate_variables`` never run, as
    both fields are read-only method fields): an empty value (``{}``, ``null``, ``""``, ``0``, ``[]``)
    changes nothing, anything else must be a JSON object (its 400 says "Filters must be a dictionary"
    for variables too, as PostHog's does), and one that no store takes is a 400 too."""
    value = data.get(field)
    if not value:
        return None
    if not isinstance(value, dict):
        raise ValidationFailed("Filters must be a dictionary", code="invalid")
    check_storable(value, field)
    return dashboard_filter(value, field) if field == "filters" else value


def create_dashboard(session: Session, actor: Actor, data: dict[str, Any]) -> Dashboard:
    """PostHog's create reads ``filters`` from the request; ``variables`` are only copied when
    duplicating a dashboard, so a new one starts without."""
    filters = _written(data, "filters") or {}
    now = utcnow()
    dashboard = Dashboard(
        project_id=actor.project_id,
        name=data.get("name"),
        description=data.get("description") or "",
        pinned=bool(data.get("pinned", False)),
        filters=filters,
        variables={},
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
    written = {field: _written(data, field) for field in ("filters", "variables")}  # 400s before any change
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
    for field, value in written.items():
        if value is not None and value != getattr(dashboard, field):
            changes.append(change(SCOPE, field, getattr(dashboard, field), value))
            setattr(dashboard, field, value)
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
    session: Session,
    dashboards: list[Dashboard],
    *,
    with_tiles: bool,
    overrides: Overrides | None = None,
    tiles: Mapping[int, Tiles] | None = None,
    results: Mapping[int, Mapping[str, Any]] | None = None,
    timezone: str = "UTC",
) -> list[dict[str, Any]]:
    """PostHog's dashboard serializers: the basic one (lists) or, ``with_tiles``, the full one with
    ``filters`` and ``variables`` (the request's overrides over the stored ones), the stored ones as
    ``persisted_*``, and the tiles (``tiles`` per dashboard id, as ``load_tiles`` gave them, else read
    now), each insight in full with its ``results`` (per insight id) when given, else basic."""
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
            over = overrides or Overrides()
            data["filters"] = {**(dashboard.filters or {}), **(over.filters or {})}
            data["variables"] = {**(dashboard.variables or {}), **(over.variables or {})}
            data["persisted_filters"] = dashboard.filters or None
            data["persisted_variables"] = dashboard.variables or None
            rows = (tiles or {}).get(dashboard.id)
            data["tiles"] = _tiles(
                session,
                rows if rows is not None else load_tiles(session, dashboard),
                results=results,
                timezone=timezone,
            )
        out.append(data)
    return out


def dashboard_tile(
    session: Session, project_id: int, dashboard_id: str, insight_id: int
) -> tuple[DashboardTile, dict[str, Any]] | None:
    """The live tile of an insight on a dashboard of the project (PostHog's ``from_dashboard`` lookup), with
    that dashboard's filters (one query): none when the insight is not on it, or the dashboard is deleted,
    of another project or not a dashboard id."""
    if not dashboard_id.isdigit() or len(dashboard_id) > 18:
        return None
    row = session.execute(
        select(DashboardTile, Dashboard.filters)
        .join(Dashboard, Dashboard.id == DashboardTile.dashboard_id)
        .where(
            DashboardTile.dashboard_id == int(dashboard_id),
            DashboardTile.insight_id == insight_id,
            DashboardTile.deleted.is_(False),
            Dashboard.deleted.is_(False),
            Dashboard.project_id == project_id,
        )
    ).first()
    return None if row is None else (row[0], row[1])


def load_tiles(session: Session, dashboard: Dashboard, *, detach: bool = False) -> Tiles:
    """The dashboard's live tiles with their (live) insights, in tile order. ``detach``: the tiles and
    insights leave the session (with the dashboard), so results can be computed with no session open and
    an insight's query replaced by the one the dashboard's filters make without ever being saved."""
    rows = [
        (tile, insight)
        for tile, insight in session.execute(
            select(DashboardTile, Insight)
            .join(Insight, Insight.id == DashboardTile.insight_id)
            .where(
                DashboardTile.dashboard_id == dashboard.id,
                DashboardTile.deleted.is_(False),
                Insight.deleted.is_(False),
            )
            .order_by(DashboardTile.id)
        ).all()
    ]
    if detach:
        for tile, insight in rows:
            session.expunge(tile)
            session.expunge(insight)
        session.expunge(dashboard)
    return rows


def _tiles(
    session: Session,
    rows: Tiles,
    *,
    results: Mapping[int, Mapping[str, Any]] | None,
    timezone: str,
) -> list[dict[str, Any]]:
    insights = serialize_insights(
        session, [insight for _, insight in rows], basic=results is None, timezone=timezone, results=results
    )
    return [
        {
            "id": tile.id,
            "layouts": tile.layouts,
            "color": tile.color,
            "deleted": tile.deleted,
            "insight": insight,
            "order": order,
            "last_refresh": insight.get("last_refresh"),
            "is_cached": insight.get("is_cached", False),
        }
        for order, ((tile, _), insight) in enumerate(zip(rows, insights, strict=True))
    ]
