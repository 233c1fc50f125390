"""Insight views: who looked at which insight last, and what is trending."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from insightd.services.context import Actor
from insightd.store.models import Insight, InsightViewed
from insightd.store.types import utcnow


def record_views(
    session: Session, actor: Actor, insight_ids: Sequence[int], when: datetime | None = None
) -> int:
    """One bulk upsert of ``last_viewed_at`` for this user; ids of other projects, deleted or
    missing insights are dropped silently. Returns how many views were recorded."""
    ids = list(dict.fromkeys(insight_ids))
    if not ids:
        return 0
    kept = list(
        session.scalars(
            select(Insight.id).where(
                Insight.project_id == actor.project_id, Insight.deleted.is_(False), Insight.id.in_(ids)
            )
        )
    )
    if not kept:
        return 0
    now = when or utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(InsightViewed).values(
        [
            {"project_id": actor.project_id, "user_id": actor.user.id, "insight_id": i, "last_viewed_at": now}
            for i in sorted(kept)
        ]
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["project_id", "user_id", "insight_id"],
            set_={"last_viewed_at": statement.excluded.last_viewed_at},
        )
    )
    return len(kept)
