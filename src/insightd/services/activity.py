"""The activity log: who created, changed, deleted or restored what, with before/after values."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from insightd.services.context import Actor
from insightd.store.models import ActivityLog, User


def change(scope: str, field: str, before: Any, after: Any, action: str = "changed") -> dict[str, Any]:
    return {"type": scope, "action": action, "field": field, "before": before, "after": after}


def log_activity(
    session: Session,
    actor: Actor,
    scope: str,
    item_id: int | str,
    activity: str,
    *,
    name: str | None,
    short_id: str | None = None,
    changes: list[dict[str, Any]] | None = None,
) -> None:
    """One entry: ``actor`` did ``activity`` (created, updated, deleted, restored) to an item of ``scope``."""
    session.add(
        ActivityLog(
            project_id=actor.project_id,
            user_id=actor.user.id,
            scope=scope,
            item_id=str(item_id),
            activity=activity,
            detail={
                "id": str(item_id),
                "changes": changes or None,
                "merge": None,
                "trigger": None,
                "name": name,
                "short_id": short_id,
                "type": None,
            },
        )
    )


def list_activity(
    session: Session, project_id: int, scope: str, item_id: str | None, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """Newest first, as PostHog's activity endpoints return it."""
    where = [ActivityLog.project_id == project_id, ActivityLog.scope == scope]
    if item_id is not None:
        where.append(ActivityLog.item_id == item_id)
    total = session.scalar(select(func.count()).select_from(ActivityLog).where(*where)) or 0
    rows = session.execute(
        select(ActivityLog, User)
        .outerjoin(User, User.id == ActivityLog.user_id)
        .where(*where)
        .order_by(ActivityLog.created_at.desc(), ActivityLog.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return total, [
        {
            "id": entry.uuid,
            "user": (
                {"first_name": user.first_name, "email": user.email}
                if user
                else {"first_name": "System", "email": None, "is_system": True}
            ),
            "activity": entry.activity,
            "scope": entry.scope,
            "item_id": entry.item_id,
            "detail": entry.detail,
            "created_at": entry.created_at,
        }
        for entry, user in rows
    ]
