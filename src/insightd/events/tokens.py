"""Project API tokens (``phc_…``) → project ids, with a small in-process cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from insightd.store.models import Project


def project_for_token(session: Session, token: str) -> int | None:
    return session.scalar(select(Project.id).where(Project.api_token == token))


class TokenCache:
    """Remembers known tokens for ``ttl`` seconds and unknown ones for ``negative_ttl``."""

    def __init__(
        self, lookup: Callable[[str], int | None], *, ttl: float = 60.0, negative_ttl: float = 2.0
    ) -> None:
        self._lookup = lookup
        self._ttl, self._negative_ttl = ttl, negative_ttl
        self._entries: dict[str, tuple[int | None, float]] = {}
        self._lock = threading.Lock()

    def resolve(self, token: str) -> int | None:
        now = time.monotonic()
        entry = self._entries.get(token)
        if entry is not None and entry[1] > now:
            return entry[0]
        project_id = self._lookup(token)
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[token] = (project_id, now + (self._ttl if project_id else self._negative_ttl))
        return project_id
