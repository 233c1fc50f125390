"""Insight use cases: create, retrieve, update (soft delete and restore included)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from insightd.domain.queries import InvalidQuery, insight_type, validate_query
from insightd.domain.short_ids import generate_short_id
from insightd.domain.tags import normalize_tags
from insightd.errors import NotFound, ParseError, ValidationFailed
from insightd.metadata.service import derived_name, refreshed_derived_name
from insightd.services.activity import change, log_activity
from insightd.services.context import Actor
from insightd.services.tagging import replace_tags, tags_for
from insightd.services.views import record_views
from insightd.store.models import Dashboard, DashboardTile, Insight
from insightd.store.types import utcnow

# PostHog bumps last_modified_* whenever a request sends one of its material fields; insightd also
# counts a query that really changed as material.
MATERIAL_FIELDS = ("name", "description", "filters")
LOGGED_FIELDS = ("name", "derived_name", "description", "query", "filters", "order", "favorited", "saved")
SCOPE = "Insight"


def find_insight(session: Session, project_id: int, lookup: str, *, include_deleted: bool = False) -> Insight:
    """By numeric id first, then by short_id (PostHog's rule for all-digit short_ids)."""
    base = select(Insight).where(Insight.project_id == project_id)
    if not include_deleted:
        base = base.where(Insight.deleted.is_(False))
    insight = None
    if "\x00" in lookup:
        raise NotFound()
    if lookup.isdigit() and len(lookup) < 19:
        insight = session.scalar(base.where(Insight.id == int(lookup)))
    if insight is None and len(lookup) <= 12:
        insight = session.scalar(base.where(Insight.short_id == lookup))
    if insight is None:
        raise NotFound()
    return insight


def check_query(query: Any) -> dict[str, Any] | None:
    if not query:  # a falsy query is not validated, as PostHog's body parser
        return None if query is None else query
    try:
        return validate_query(query)
    except InvalidQuery as exc:
        raise ParseError(str(exc)) from exc


def _dashboards_of_project(session: Session, project_id: int, ids: list[int]) -> list[int]:
    found = set(
        session.scalars(
            select(Dashboard.id).where(
                Dashboard.project_id == project_id, Dashboard.id.in_(ids), Dashboard.deleted.is_(False)
            )
        )
    )
    for dashboard_id in ids:
        if dashboard_id not in found:
            raise ValidationFailed("Dashboard not found", attr="dashboards")
    return list(dict.fromkeys(ids))


def _set_dashboards(
    session: Session, insight: Insight, dashboard_ids: list[int]
) -> tuple[list[int], list[int]]:
    tiles = {
        t.dashboard_id: t
        for t in session.scalars(select(DashboardTile).where(DashboardTile.insight_id == insight.id))
    }
    before = sorted(d for d, t in tiles.items() if not t.deleted)
    for dashboard_id in dashboard_ids:
        tile = tiles.get(dashboard_id)
        if tile is None:
            session.add(DashboardTile(dashboard_id=dashboard_id, insight_id=insight.id))
        elif tile.deleted:
            tile.deleted = False
    for dashboard_id, tile in tiles.items():
        if dashboard_id not in dashboard_ids and not tile.deleted:
            tile.deleted = True
    return before, sorted(dashboard_ids)


def _new_short_id(session: Session, project_id: int) -> str:
    while True:
        candidate = generate_short_id()
        taken = session.scalar(
            select(Insight.id).where(Insight.project_id == project_id, Insight.short_id == candidate)
        )
        if taken is None:
            return candidate


def create_insight(session: Session, actor: Actor, data: dict[str, Any]) -> Insight:
    query = check_query(data.get("query"))
    dashboards = _dashboards_of_project(session, actor.project_id, data.get("dashboards") or [])
    now = utcnow()
    insight = Insight(
        project_id=actor.project_id,
        short_id=_new_short_id(session, actor.project_id),
        name=data.get("name"),
        derived_name=data.get("derived_name") or derived_name(query),
        description=data.get("description"),
        query=query,
        filters=data.get("filters") or {},
        insight_type=insight_type(query, data.get("filters")),
        order=data.get("order"),
        deleted=bool(data.get("deleted", False)),
        saved=bool(data.get("saved", True)),
        favorited=bool(data.get("favorited", False)),
        folder=data.get("_create_in_folder"),
        created_at=now,
        created_by_id=actor.user.id,
        last_modified_at=now,
        last_modified_by_id=actor.user.id,
        updated_at=now,
    )
    session.add(insight)
    try:
        session.flush()
    except IntegrityError as exc:  # pragma: no cover - short_id collision between racing creators
        raise ValidationFailed("Could not allocate a short id; please retry.") from exc
    if dashboards:
        _set_dashboards(session, insight, dashboards)
    if "tags" in data and data["tags"] is not None:
        replace_tags(session, actor.project_id, "insight", {insight.id: normalize_tags(data["tags"])})
    if insight.name or insight.derived_name:
        log_activity(
            session,
            actor,
            SCOPE,
            insight.id,
            "created",
            name=insight.name or insight.derived_name,
            short_id=insight.short_id,
        )
    record_views(session, actor, [insight.id], when=now)
    session.flush()
    return insight


def update_insight(session: Session, actor: Actor, lookup: str, data: dict[str, Any]) -> Insight:
    """PUT and PATCH: only fields present in ``data`` change. ``deleted: false`` restores."""
    include_deleted = data.get("deleted") is False
    insight = find_insight(session, actor.project_id, lookup, include_deleted=include_deleted)
    changes: list[dict[str, Any]] = []
    if "query" in data:
        data["query"] = check_query(data["query"])
        if not data.get("derived_name"):  # generate_metadata's offline name follows the query
            data["derived_name"] = refreshed_derived_name(insight.derived_name, insight.query, data["query"])
    if "dashboards" in data:
        dashboards = _dashboards_of_project(session, actor.project_id, data["dashboards"] or [])
    for field in LOGGED_FIELDS:
        if field in data:
            value = data[field] if field != "filters" else (data[field] or {})
            if field in ("saved", "favorited"):
                value = bool(value)
            before = getattr(insight, field)
            if before != value:
                changes.append(change(SCOPE, field, before, value))
                setattr(insight, field, value)
    if "saved" not in data:
        insight.saved = True
    if "query" in data or "filters" in data:
        insight.insight_type = insight_type(insight.query, insight.filters)
    if "_create_in_folder" in data:
        insight.folder = data["_create_in_folder"]
    if "dashboards" in data:
        before_d, after_d = _set_dashboards(session, insight, dashboards)
        if before_d != after_d:
            changes.append(change(SCOPE, "dashboards", before_d, after_d))
    if "tags" in data and data["tags"] is not None:
        diff = replace_tags(session, actor.project_id, "insight", {insight.id: normalize_tags(data["tags"])})
        if insight.id in diff:
            changes.append(change(SCOPE, "tags", *diff[insight.id]))
    activity = "updated"
    if "deleted" in data and bool(data["deleted"]) != insight.deleted:
        activity = "deleted" if data["deleted"] else "restored"
        changes.append(change(SCOPE, "deleted", insight.deleted, bool(data["deleted"])))
        insight.deleted = bool(data["deleted"])
        if insight.deleted:
            for tile in session.scalars(select(DashboardTile).where(DashboardTile.insight_id == insight.id)):
                tile.deleted = True
    now = utcnow()
    insight.is_sample = False
    insight.updated_at = now
    if any(field in data for field in MATERIAL_FIELDS) or any(c["field"] == "query" for c in changes):
        insight.last_modified_at = now
        insight.last_modified_by_id = actor.user.id
    if changes:
        log_activity(
            session,
            actor,
            SCOPE,
            insight.id,
            activity,
            name=insight.name or insight.derived_name,
            short_id=insight.short_id,
            changes=changes,
        )
    session.flush()
    return insight


def insight_tags(session: Session, insight: Insight) -> list[str]:
    return tags_for(session, "insight", [insight.id])[insight.id]
