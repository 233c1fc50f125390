"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from insightd.store.db import Database
from insightd.store.migrate import upgrade
from insightd.store.models import Base
from tests.support import postgres_database


def _differences(url: str) -> list[object]:
    db = Database(url)
    try:
        upgrade(db)
        with db.engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))
    finally:
        db.dispose()


def test_migrations_match_models_on_sqlite(tmp_path: Path) -> None:
    assert _differences(f"sqlite:///{tmp_path / 'm.db'}") == []


def test_migrations_match_models_on_postgresql() -> None:
    with postgres_database() as url:
        assert _differences(url.replace("postgresql://", "postgresql+psycopg://")) == []


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'twice.db'}")
    try:
        upgrade(db)
        upgrade(db)
    finally:
        db.dispose()
