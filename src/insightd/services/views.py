"""Insight views: who looked at which insight last, and what is trending."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from insightd.services.context import Actor
from insightd.services.representations import last_viewed_by_anyone, serialize_insights, users_by_id
from insightd.store.models import Insight, InsightViewed
from insightd.store.types import UTCDateTime, utcnow

MY_LAST_VIEWED = 5
VIEWERS_SHOWN = 3
TRENDING_LIMIT_MAX = 100
MAX_DAYS = 36_500  # a century: wider windows mean "all time" and would overflow a datetime


def record_views(
    session: Session, actor: Actor, insight_ids: Sequence[int], when: datetime | None = None
) -> int:
    """One bulk upsert of ``last_viewed_at`` for this user; ids of other projects, deleted or
    missing insights are dropped silently (in the same statement). Returns how many views were
    recorded."""
    ids = sorted(set(insight_ids))  # one lock order for every writer
    if not ids:
        return 0
    found = (
        select(
            literal(actor.project_id),
            literal(actor.user.id),
            Insight.id,
            literal(when or utcnow(), UTCDateTime()),
        )
        .where(Insight.project_id == actor.project_id, Insight.deleted.is_(False), Insight.id.in_(ids))
        .order_by(Insight.id)
    )
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(InsightViewed).from_select(
        ["project_id", "user_id", "insight_id", "last_viewed_at"], found
    )
    result = session.execute(
        statement.on_conflict_do_update(
            index_elements=["project_id", "user_id", "insight_id"],
            set_={"last_viewed_at": statement.excluded.last_viewed_at},
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


@cache
def _recent_views_statement() -> Select[Any]:
    """Built once: on a hot read path, building the statement costs more than running it. Plain rows,
    not ORM objects: loading objects costs more than the query itself."""
    return (
        select(*Insight.__table__.c, InsightViewed.last_viewed_at.label("viewed_at"))
        .join(Insight, Insight.id == InsightViewed.insight_id)
        .where(
            InsightViewed.project_id == bindparam("project_id"),
            InsightViewed.user_id == bindparam("user_id"),
            Insight.deleted.is_(False),
        )
        # The view row id breaks ties: it is in the (project, user, last_viewed_at) index, so no sort.
        .order_by(InsightViewed.last_viewed_at.desc(), InsightViewed.id.desc())
        .limit(bindparam("limit"))
    )


def my_last_viewed(session: Session, actor: Actor, limit: int = MY_LAST_VIEWED) -> list[dict[str, Any]]:
    """The user's most recently viewed insights in this project (deleted ones left out), newest
    first, as basic-serializer objects whose ``last_viewed_at`` is this user's view time."""
    params = {"project_id": actor.project_id, "user_id": actor.user.id, "limit": limit}
    rows = session.execute(_recent_views_statement(), params).all()
    return serialize_insights(session, rows, basic=True, last_viewed={row.id: row.viewed_at for row in rows})


def trending(session: Session, actor: Actor, days: int, limit: int) -> list[dict[str, Any]]:
    """Insights ranked by how many users viewed them in the last ``days`` days, then by
    ``last_modified_at``; each with ``view_count``, up to 3 recent ``viewers`` and ``last_viewed_at``."""
    limit = min(limit, TRENDING_LIMIT_MAX)
    if limit <= 0:
        return []
    cutoff = utcnow() - timedelta(days=max(-MAX_DAYS, min(days, MAX_DAYS)))
    # The window's views grouped per insight, read from the covering index (project, last_viewed_at,
    # insight); views are unique per (project, user, insight), so the count is of viewers.
    counted = (
        select(InsightViewed.insight_id, func.count().label("view_count"))
        .where(InsightViewed.project_id == actor.project_id, InsightViewed.last_viewed_at >= cutoff)
        .group_by(InsightViewed.insight_id)
        .subquery()
    )
    top = (
        select(Insight.id, counted.c.view_count)
        .join(counted, counted.c.insight_id == Insight.id)
        .where(Insight.deleted.is_(False))
        .order_by(counted.c.view_count.desc(), Insight.last_modified_at.desc(), Insight.id.desc())
        .limit(limit)
        .subquery()
    )
    ranked = session.execute(
        select(Insight, top.c.view_count)
        .join(top, top.c.id == Insight.id)
        .order_by(top.c.view_count.desc(), Insight.last_modified_at.desc(), Insight.id.desc())
    ).all()
    insights = [insight for insight, _ in ranked]
    ids = [insight.id for insight in insights]
    viewers = _recent_viewers(session, actor.project_id, ids, cutoff)
    wanted: set[int | None] = {i.last_modified_by_id for i in insights}
    wanted.update(u for shown in viewers.values() for u in shown)
    users = users_by_id(session, wanted)
    items = serialize_insights(session, insights, basic=True, last_viewed=last_viewed_by_anyone(session, ids))
    for item, (insight, count) in zip(items, ranked, strict=True):
        item["view_count"] = count
        item["viewers"] = [users[u] for u in viewers.get(insight.id, []) if users.get(u)]
        item["last_modified_by"] = users.get(insight.last_modified_by_id or 0)
    return items


def _recent_viewers(
    session: Session, project_id: int, insight_ids: list[int], cutoff: datetime
) -> dict[int, list[int]]:
    """Up to ``VIEWERS_SHOWN`` users per insight whose view falls in the window, most recent first."""
    if not insight_ids:
        return {}
    position = (
        func.row_number()
        .over(
            partition_by=InsightViewed.insight_id,
            order_by=(InsightViewed.last_viewed_at.desc(), InsightViewed.id.desc()),
        )
        .label("position")
    )
    ranked = (
        select(InsightViewed.insight_id, InsightViewed.user_id, position)
        .where(
            InsightViewed.project_id == project_id,
            InsightViewed.insight_id.in_(insight_ids),
            InsightViewed.last_viewed_at >= cutoff,
        )
        .subquery()
    )
    viewers: dict[int, list[int]] = defaultdict(list)
    rows = session.execute(
        select(ranked.c.insight_id, ranked.c.user_id)
        .where(ranked.c.position <= VIEWERS_SHOWN)
        .order_by(ranked.c.insight_id, ranked.c.position)
    )
    for insight_id, user_id in rows:
        viewers[insight_id].append(user_id)
    return viewers
