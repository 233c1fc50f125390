"""``bulk_update_tags`` on insights and dashboards: add, remove or set tags on many objects at once.

One transaction per request: every found object is updated, or none is. The project's tag writers
are serialised (``lock_project_tags``) *before* the current tags are read, so two requests adding
different tags to the same objects at the same time both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import Table, insert, inspect, select
from sqlalchemy.orm import Session

from insightd.domain.tags import normalize_tags
from insightd.errors import ValidationFailed
from insightd.services.activity import change, log_activity
from insightd.services.context import Actor
from insightd.services.tagging import TaggedKind, lock_project_tags, replace_tags, tags_for
from insightd.store.models import ActivityLog, Dashboard, Insight

BulkAction = Literal["add", "remove", "set"]
MAX_OPERATIONS = 10_000
SKIPPED_REASON = "Not found or no edit access"
_SCOPES: dict[TaggedKind, str] = {"insight": "Insight", "dashboard": "Dashboard"}


@dataclass(frozen=True)
class _Target:
    id: int
    name: str | None
    short_id: str | None


def check_request(ids: Sequence[int], action: BulkAction, tags: Sequence[str]) -> list[str]:
    """PostHog's cross-field rules; returns the normalised tags."""
    normalized = normalize_tags(tags)
    if action in ("add", "remove") and not normalized:
        raise ValidationFailed(f"tags must not be empty for action '{action}'.", attr="tags")
    if len(ids) * len(normalized) > MAX_OPERATIONS:
        raise ValidationFailed(
            f"Too many changes in one request: ids × distinct tags must not exceed {MAX_OPERATIONS}.",
            attr="tags",
        )
    return normalized


def _targets(session: Session, kind: TaggedKind, project_id: int, ids: list[int]) -> dict[int, _Target]:
    """The objects of this project that the caller may edit (not deleted), by id."""
    if kind == "insight":
        insight_rows = session.execute(
            select(Insight.id, Insight.name, Insight.derived_name, Insight.short_id).where(
                Insight.project_id == project_id, Insight.deleted.is_(False), Insight.id.in_(ids)
            )
        )
        return {i: _Target(i, name or derived, short) for i, name, derived, short in insight_rows}
    dashboard_rows = session.execute(
        select(Dashboard.id, Dashboard.name).where(
            Dashboard.project_id == project_id, Dashboard.deleted.is_(False), Dashboard.id.in_(ids)
        )
    )
    return {i: _Target(i, name, None) for i, name in dashboard_rows}


def _apply(current: list[str], action: BulkAction, tags: list[str]) -> list[str]:
    if action == "add":
        return sorted(set(current) | set(tags))
    if action == "remove":
        return sorted(set(current) - set(tags))
    return list(tags)


def bulk_update_tags(
    session: Session,
    actor: Actor,
    kind: TaggedKind,
    ids: Sequence[int],
    action: BulkAction,
    tags: Sequence[str],
) -> dict[str, list[dict[str, Any]]]:
    """``{"updated": [{id, tags}], "skipped": [{id, reason}]}``; ``updated`` in request order."""
    normalized = check_request(ids, action, tags)
    wanted = list(dict.fromkeys(ids))
    lock_project_tags(session, actor.project_id)  # before reading, so no concurrent tag is lost
    targets = _targets(session, kind, actor.project_id, wanted)
    found = [i for i in wanted if i in targets]
    current = tags_for(session, kind, found)
    desired = {i: _apply(current[i], action, normalized) for i in found}
    changed = replace_tags(session, actor.project_id, kind, desired, current)
    scope = _SCOPES[kind]
    for object_id, (before, after) in changed.items():
        log_activity(
            session,
            actor,
            scope,
            object_id,
            "updated",
            name=targets[object_id].name,
            short_id=targets[object_id].short_id,
            changes=[change(scope, "tags", before, after)],
        )
    _insert_pending_activity(session)
    return {
        "updated": [{"id": i, "tags": desired[i]} for i in found],
        "skipped": [{"id": i, "reason": SKIPPED_REASON} for i in wanted if i not in targets],
    }


def _insert_pending_activity(session: Session) -> None:
    """Write the entries ``log_activity`` queued with one executemany.

    The ORM would insert them one statement per row (it fetches each new primary key); at 500
    entries that is most of a request's time.
    """
    entries = [entry for entry in session.new if isinstance(entry, ActivityLog)]
    if not entries:
        return
    rows = []
    for entry in entries:
        rows.append(dict(inspect(entry).dict))
        session.expunge(entry)
    session.execute(insert(cast(Table, ActivityLog.__table__)), rows)
