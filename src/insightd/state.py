"""What a running insightd holds: settings, the metadata store and the rate limiter."""

from __future__ import annotations

from dataclasses import dataclass

from insightd.auth.ratelimit import MemoryRateLimiter, RateLimiter
from insightd.services.accounts import ensure_defaults
from insightd.settings import Settings
from insightd.store.db import Database
from insightd.store.migrate import upgrade


@dataclass
class AppState:
    settings: Settings
    db: Database
    rate_limiter: RateLimiter

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> AppState:
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        if migrate:
            upgrade(db)
            with db.write() as session:
                ensure_defaults(session)
        return cls(settings=settings, db=db, rate_limiter=MemoryRateLimiter(settings.rate_limits))

    def close(self) -> None:
        self.db.dispose()
