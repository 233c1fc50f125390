"""Organizations, projects, users, memberships and personal API keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from insightd.auth.keys import (
    generate_personal_api_key,
    generate_project_token,
    hash_key_value,
    mask_key_value,
)
from insightd.errors import ValidationFailed
from insightd.store.models import Membership, Organization, PersonalAPIKey, Project, User

DEFAULT_ADMIN_EMAIL = "admin@localhost"


def ensure_defaults(session: Session) -> None:
    """On an empty store: organization "Default", project 1 and ``admin@localhost`` (a member)."""
    if session.scalar(select(Organization.id).limit(1)) is not None:
        return
    org = Organization(name="Default")
    session.add(org)
    session.flush()
    project = Project(
        id=1, organization_id=org.id, name="Default project", api_token=generate_project_token()
    )
    admin = User(email=DEFAULT_ADMIN_EMAIL, first_name="Admin")
    session.add_all([project, admin])
    session.flush()
    session.add(Membership(project_id=project.id, user_id=admin.id, level="admin"))
    session.flush()
    _sync_project_sequence(session)


def _sync_project_sequence(session: Session) -> None:
    """After an explicit project id, move PostgreSQL's sequence past it (SQLite needs nothing)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('projects', 'id'), (SELECT max(id) FROM projects))"
        )


def default_organization(session: Session) -> Organization:
    org = session.scalar(select(Organization).order_by(Organization.id).limit(1))
    if org is None:
        raise ValidationFailed("The store has no organization; run `insightd migrate` first.")
    return org


def user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise ValidationFailed(f"No user with email {email!r}.", attr="email")
    return user


def project_by_id(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise ValidationFailed(f"No project with id {project_id}.", attr="project")
    return project


def create_user(
    session: Session, email: str, first_name: str = "", project_ids: Sequence[int] = (1,), last_name: str = ""
) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationFailed(f"{email!r} is not an email address.", attr="email")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationFailed(f"A user with email {email!r} already exists.", attr="email")
    projects = [project_by_id(session, pid) for pid in project_ids]
    user = User(email=email, first_name=first_name, last_name=last_name)
    session.add(user)
    session.flush()
    for project in projects:
        session.add(Membership(project_id=project.id, user_id=user.id))
    session.flush()
    return user


def create_project(
    session: Session,
    name: str,
    member_emails: Sequence[str] = (),
    timezone: str = "UTC",
    project_id: int | None = None,
) -> Project:
    """A project in the organization; ``project_id`` keeps a PostHog project's id when moving over."""
    if not name.strip():
        raise ValidationFailed("A project needs a name.", attr="name")
    if project_id is not None and (project_id < 1 or session.get(Project, project_id) is not None):
        raise ValidationFailed(f"Project id {project_id} is taken or invalid.", attr="id")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"Unknown timezone {timezone!r}.", attr="timezone") from exc
    org = default_organization(session)
    members = [user_by_email(session, DEFAULT_ADMIN_EMAIL)] + [
        user_by_email(session, e) for e in member_emails
    ]
    project = Project(
        id=project_id,
        organization_id=org.id,
        name=name.strip(),
        api_token=generate_project_token(),
        timezone=timezone,
    )
    session.add(project)
    session.flush()
    if project_id is not None:
        _sync_project_sequence(session)
    for user_id in dict.fromkeys(m.id for m in members):
        session.add(Membership(project_id=project.id, user_id=user_id))
    session.flush()
    return project


@dataclass(frozen=True)
class CreatedKey:
    key: PersonalAPIKey
    value: str


def create_personal_api_key(
    session: Session,
    user: User,
    scopes: Sequence[str] = ("*",),
    project_ids: Sequence[int] | None = None,
    label: str = "",
) -> CreatedKey:
    for pid in project_ids or ():
        project_by_id(session, pid)
    value = generate_personal_api_key()
    key = PersonalAPIKey(
        user_id=user.id,
        label=label[:40],
        secure_value=hash_key_value(value),
        mask_value=mask_key_value(value),
        scopes=list(scopes),
        scoped_teams=list(project_ids) if project_ids else None,
    )
    session.add(key)
    session.flush()
    return CreatedKey(key=key, value=value)
