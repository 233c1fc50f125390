"""A project's settings, as PostHog's team endpoint shows and changes them."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from insightd.errors import NotFound, ValidationFailed
from insightd.store.models import Project


def serialize_project(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "organization": project.organization_id,
        "name": project.name,
        "api_token": project.api_token,
        "timezone": project.timezone,
        "week_start_day": project.week_start_day,
        "test_account_filters": project.test_account_filters,
        "test_account_filters_default_checked": False,
        "created_at": project.created_at.isoformat().replace("+00:00", "Z"),
    }


def update_project(session: Session, project_id: int, changes: dict[str, Any]) -> Project:
    """Apply ``changes`` (validated fields of ``ProjectWrite``); null means "leave as is"."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("Project not found.")
    if changes.get("timezone") is not None:
        try:
            ZoneInfo(changes["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationFailed(
                f'"{changes["timezone"]}" is not a valid choice.', attr="timezone", code="invalid_choice"
            ) from exc
    for field in ("name", "timezone", "week_start_day", "test_account_filters"):
        if changes.get(field) is not None:
            setattr(project, field, changes[field].strip() if field == "name" else changes[field])
    session.flush()
    return project
