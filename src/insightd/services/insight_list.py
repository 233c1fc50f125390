"""The insight list: PostHog's filters, search and ordering over the metadata store."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, false, func, null, or_, select
from sqlalchemy.orm import Session

from insightd.domain.dates import parse_date
from insightd.domain.queries import INSIGHT_TYPES
from insightd.domain.search import similarity
from insightd.domain.tags import tagify
from insightd.domain.values import INT64_MAX, str_to_bool
from insightd.errors import ValidationFailed
from insightd.services.context import Actor
from insightd.store.models import Dashboard, DashboardTile, Insight, InsightViewed, Tag, TaggedItem

SEARCH_MAX = 200
SORTABLE = {
    "id": Insight.id,
    "short_id": Insight.short_id,
    "name": Insight.name,
    "derived_name": Insight.derived_name,
    "description": Insight.description,
    "order": Insight.order,
    "created_at": Insight.created_at,
    "created_by": Insight.created_by_id,
    "last_modified_at": Insight.last_modified_at,
    "last_modified_by": Insight.last_modified_by_id,
    "updated_at": Insight.updated_at,
    "favorited": Insight.favorited,
    "saved": Insight.saved,
    "last_refresh": Insight.last_refresh,
}
DATE_FILTERS = {
    "date_from": ("last_modified_at", ">"),
    "date_to": ("last_modified_at", "<"),
    "created_date_from": ("created_at", ">"),
    "created_date_to": ("created_at", "<"),
    "last_viewed_date_from": ("last_viewed_at", ">"),
    "last_viewed_date_to": ("last_viewed_at", "<"),
}
NAME_SIMILARITY = 0.3
DESCRIPTION_SIMILARITY = 0.4


@dataclass
class InsightPage:
    count: int
    insights: list[Insight]
    last_viewed: dict[int, datetime] | None  # None: not loaded with the page
    match_types: dict[int, str]


def _json_int_list(params: Mapping[str, str], key: str) -> list[int]:
    try:
        value = json.loads(params[key])
    except (ValueError, TypeError):
        value = None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValidationFailed(f"{key} must be a JSON array of integers, such as [1, 2].", attr=key)
    return [v if -INT64_MAX <= v <= INT64_MAX else -1 for v in value]  # an id beyond 64 bits matches nothing


def _json_str_list(params: Mapping[str, str], key: str) -> list[str]:
    try:
        value = json.loads(params[key])
    except (ValueError, TypeError):
        value = [params[key]]  # a bare tag name
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationFailed(f"{key} must be a JSON array of strings.", attr=key)
    return value


def _last_viewed_subquery(project_id: int) -> Any:
    return (
        select(InsightViewed.insight_id, func.max(InsightViewed.last_viewed_at).label("last_viewed_at"))
        .where(InsightViewed.project_id == project_id)
        .group_by(InsightViewed.insight_id)
        .subquery("views")
    )


def _apply_filters(query: Select[Any], actor: Actor, params: Mapping[str, str], views: Any) -> Select[Any]:
    columns = {
        "last_modified_at": Insight.last_modified_at,
        "created_at": Insight.created_at,
        "last_viewed_at": views.c.last_viewed_at,
    }
    for key, (field, op) in DATE_FILTERS.items():
        if params.get(key):
            moment = parse_date(params[key], actor.project.timezone)
            if moment is None:
                raise ValidationFailed(
                    f"Invalid date: {params[key]!r}. Use ISO 8601 or a relative date such as -7d.", attr=key
                )
            column = columns[field]
            query = query.where(column > moment if op == ">" else column < moment)
    if params.get("short_id"):
        query = query.where(Insight.short_id == params["short_id"])
    if "saved" in params:
        if str_to_bool(params["saved"]):
            on_dashboard = exists().where(
                DashboardTile.insight_id == Insight.id,
                DashboardTile.deleted.is_(False),
                Dashboard.id == DashboardTile.dashboard_id,
                Dashboard.deleted.is_(False),
                Dashboard.creation_mode != "unlisted",
            )
            query = query.where(or_(Insight.saved.is_(True), on_dashboard))
        else:
            query = query.where(Insight.saved.is_(False))
    if "user" in params:
        query = query.where(Insight.created_by_id == actor.user.id)
    if "favorited" in params:
        query = query.where(Insight.favorited.is_(True))
    if params.get("created_by"):
        creators = _json_int_list(params, "created_by")
        if creators:  # PostHog filters only on a non-empty list
            query = query.where(Insight.created_by_id.in_(creators))
    if params.get("insight"):
        # As PostHog: an unknown kind matches nothing rather than failing.
        kind = params["insight"].upper()
        query = query.where(Insight.insight_type == kind) if kind in INSIGHT_TYPES else query.where(false())
    if params.get("dashboards"):
        for dashboard_id in _json_int_list(params, "dashboards"):
            query = query.where(
                exists().where(
                    DashboardTile.insight_id == Insight.id,
                    DashboardTile.dashboard_id == dashboard_id,
                    DashboardTile.deleted.is_(False),
                )
            )
    raw_tags = _json_str_list(params, "tags") if params.get("tags") else []
    names = [tagify(t.replace("\x00", "")) for t in raw_tags]
    if names:  # PostHog filters only on a non-empty list
        query = query.where(
            exists().where(
                TaggedItem.insight_id == Insight.id, Tag.id == TaggedItem.tag_id, Tag.name.in_(names)
            )
        )
    return query


def _order_by(params: Mapping[str, str], views: Any) -> list[Any]:
    raw = params.get("order", "").strip()
    if not raw:
        return [Insight.order.asc().nulls_last(), Insight.id.desc()]
    descending = raw.startswith("-")
    field = raw.lstrip("-")
    column = views.c.last_viewed_at if field == "last_viewed_at" else SORTABLE.get(field)
    if column is None:
        raise ValidationFailed(
            f"Cannot order by '{field}'. Choose one of: {', '.join(sorted([*SORTABLE, 'last_viewed_at']))}.",
            attr="order",
        )
    if descending:
        return [column.desc().nulls_last(), Insight.id.desc()]
    return [column.asc().nulls_first(), Insight.id.asc()]


def _search(session: Session, query: Select[Any], term: str) -> tuple[list[int], dict[int, str]]:
    """Exact (substring) matches first, then trigram-similar ones, as PostHog ranks them."""
    term = term.replace("\x00", "").strip()
    lowered = term.lower()
    rows = session.execute(
        query.with_only_columns(Insight.id, Insight.name, Insight.derived_name, Insight.description).order_by(
            None
        )
    )
    candidates = {row[0]: row[1:] for row in rows}
    tag_rows = (
        session.execute(
            select(TaggedItem.insight_id, Tag.name)
            .join(Tag, Tag.id == TaggedItem.tag_id)
            .where(TaggedItem.insight_id.in_(candidates))
        ).all()
        if candidates
        else []
    )
    tags: dict[int, list[str]] = {}
    for insight_id, tag_name in tag_rows:
        if insight_id is not None:
            tags.setdefault(insight_id, []).append(tag_name)
    exact: list[tuple[int, int]] = []
    similar: list[tuple[float, int]] = []
    for insight_id, (name, derived, description) in candidates.items():
        texts = [name or "", derived or "", description or "", *tags.get(insight_id, [])]
        if any(lowered in text.lower() for text in texts):
            exact.append((0 if (name or derived or "").lower() == lowered else 1, insight_id))
            continue
        score = max(similarity(term, name or ""), similarity(term, derived or ""))
        described = similarity(term, description or "")
        if score >= NAME_SIMILARITY or described >= DESCRIPTION_SIMILARITY:
            similar.append((max(score, described * 0.5), insight_id))
    exact.sort(key=lambda item: (item[0], -item[1]))
    similar.sort(key=lambda item: (-item[0], -item[1]))
    match_types = {i: "exact" for _, i in exact} | {i: "similar" for _, i in similar}
    return [i for _, i in exact] + [i for _, i in similar], match_types


def list_insights(
    session: Session, actor: Actor, params: Mapping[str, str], limit: int, offset: int
) -> InsightPage:
    params = {key: value.replace("\x00", "") for key, value in params.items()}  # PostgreSQL refuses NUL
    views = _last_viewed_subquery(actor.project_id)
    needs_views = "last_viewed_at" in params.get("order", "") or any(
        params.get(k) for k in ("last_viewed_date_from", "last_viewed_date_to")
    )
    if needs_views:  # aggregating every view of the project costs; only when asked for
        base = select(Insight, views.c.last_viewed_at).outerjoin(views, views.c.insight_id == Insight.id)
    else:
        base = select(Insight, null().label("last_viewed_at"))
    base = base.where(Insight.project_id == actor.project_id, Insight.deleted.is_(False))
    base = _apply_filters(base, actor, params, views)
    search = params.get("search")
    if search is not None and len(search) > SEARCH_MAX:
        raise ValidationFailed("Search query must be 200 characters or fewer.", attr="search")
    if search and search.strip() and not params.get("order"):
        ordered_ids, match_types = _search(session, base, search)
        page_ids = ordered_ids[offset : offset + limit]
        rows = session.execute(base.where(Insight.id.in_(page_ids))).all() if page_ids else []
        by_id = {row[0].id: row for row in rows}
        rows = [by_id[i] for i in page_ids if i in by_id]
        count = len(ordered_ids)
    else:
        match_types = {}
        if search and search.strip():
            ordered_ids, match_types = _search(session, base, search)
            base = base.where(Insight.id.in_(ordered_ids)) if ordered_ids else base.where(false())
        count = session.scalar(base.with_only_columns(func.count(Insight.id)).order_by(None)) or 0
        rows = list(
            session.execute(base.order_by(*_order_by(params, views)).limit(limit).offset(offset)).all()
        )
    return InsightPage(
        count=count,
        insights=[row[0] for row in rows],
        last_viewed={row[0].id: row[1] for row in rows if row[1] is not None} if needs_views else None,
        match_types=match_types,
    )
