"""The acting user and project of one request, handed from the API layer to services."""

from __future__ import annotations

from dataclasses import dataclass

from insightd.store.models import Project, User


@dataclass(frozen=True)
class Actor:
    project: Project
    user: User

    @property
    def project_id(self) -> int:
        return self.project.id
