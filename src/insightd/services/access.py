"""Who is calling and what they may do: personal API key authentication and project access.

The order of checks follows PostHog's permission chain: authenticate (401), the key's scope
(403), the key's project restriction (403), the project's existence (404), membership (403).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from insightd.auth.scopes import has_scope
from insightd.errors import AuthenticationFailed, NotFound, PermissionDenied
from insightd.store.db import Database
from insightd.store.models import Membership, PersonalAPIKey, Project, User
from insightd.store.types import utcnow

KEY_SOURCES = {
    "header": "Personal API key found in request Authorization header is invalid.",
    "body": "Personal API key found in request body is invalid.",
    "query": "Personal API key found in request query string is invalid.",
}
LAST_USED_GRANULARITY = timedelta(hours=1)
logger = logging.getLogger("insightd.auth")


@dataclass(frozen=True)
class Principal:
    user: User
    key_id: str
    key_hash: str
    scopes: tuple[str, ...]
    scoped_teams: tuple[int, ...] | None
    last_used_at: datetime | None = None

    @property
    def needs_touch(self) -> bool:
        """Whether ``last_used_at`` is due an update (PostHog updates it at most once an hour)."""
        return self.last_used_at is None or utcnow() - self.last_used_at > LAST_USED_GRANULARITY


def authenticate_key(session: Session, secure_value: str, source: str) -> Principal:
    """Find the active user behind a key (by its ``sha256$`` value), or raise 401 with PostHog's message.

    Reads only: recording ``last_used_at`` is :func:`touch_key`'s job, in a write transaction of its own.
    """
    row = session.execute(
        select(PersonalAPIKey, User)
        .join(User, User.id == PersonalAPIKey.user_id)
        .where(PersonalAPIKey.secure_value == secure_value)
    ).first()
    if row is None or not row[1].is_active:
        raise AuthenticationFailed(KEY_SOURCES[source])
    key, user = row
    session.expunge(user)
    return Principal(
        user=user,
        key_id=key.id,
        key_hash=secure_value,
        scopes=tuple(key.scopes or ()),
        scoped_teams=tuple(int(t) for t in key.scoped_teams) if key.scoped_teams else None,
        last_used_at=key.last_used_at,
    )


def touch_key(db: Database, principal: Principal) -> None:
    """Record that the key was used now; best effort (a busy store must never fail the request)."""
    try:
        with db.write() as session:
            session.execute(
                update(PersonalAPIKey)
                .where(PersonalAPIKey.id == principal.key_id)
                .values(last_used_at=utcnow())
            )
    except OperationalError:
        logger.warning(
            "could not record last_used_at of key %s; will retry on a later request", principal.key_id
        )


def require_scope(principal: Principal, scope: str | None) -> None:
    if scope is None:
        return
    if not has_scope(principal.scopes, scope):
        raise PermissionDenied(f"API key missing required scope '{scope}'")


def current_project_id(session: Session, principal: Principal) -> int:
    """PostHog's ``@current``: the key's project if it is restricted to one, else the user's first."""
    if principal.scoped_teams is not None and len(principal.scoped_teams) == 1:
        return principal.scoped_teams[0]
    first = session.scalar(
        select(func.min(Membership.project_id)).where(Membership.user_id == principal.user.id)
    )
    if first is None:
        raise NotFound("Project not found.")
    return int(first)


def project_for(session: Session, principal: Principal, project_id: int) -> Project:
    """The project a request may act on, after the key's restriction and membership checks."""
    if principal.scoped_teams is not None and project_id not in principal.scoped_teams:
        raise PermissionDenied(f"API key does not have access to the requested project: ID {project_id}.")
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("Project not found.")
    is_member = session.scalar(
        select(Membership.id).where(
            Membership.project_id == project_id, Membership.user_id == principal.user.id
        )
    )
    if is_member is None:
        raise PermissionDenied("You don't have access to the project.")
    session.expunge(project)
    return project
