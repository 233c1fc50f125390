"""Whether an organization allows its insights' summaries to be sent to an LLM."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from insightd.errors import NotFound
from insightd.store.models import Organization, Project


def ai_processing_approved(session: Session, project_id: int) -> bool:
    approved = session.scalar(
        select(Organization.is_ai_data_processing_approved)
        .join(Project, Project.organization_id == Organization.id)
        .where(Project.id == project_id)
    )
    return bool(approved)


def set_ai_processing_approval(session: Session, organization_id: int, approved: bool) -> Organization:
    organization = session.get(Organization, organization_id)
    if organization is None:
        raise NotFound(f"No organization with id {organization_id}.")
    organization.is_ai_data_processing_approved = approved
    session.flush()
    return organization
