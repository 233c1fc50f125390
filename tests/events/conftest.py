"""Fixtures for the event tests: a tenant's project token, a capture client, reading the store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from insightd.events.store import admin_token
from insightd.services import accounts
from tests.support import ServerThread, Tenant


def project_token(tenant: Tenant) -> str:
    with tenant.server.state.db.read() as session:
        return accounts.project_by_id(session, tenant.project_id).api_token


@pytest.fixture
def token(tenant: Tenant) -> str:
    """The tenant project's API token (``phc_…``), as SDKs use it."""
    return project_token(tenant)


@pytest.fixture
def capture(server: ServerThread) -> Iterator[httpx.Client]:
    """A plain HTTP client for the capture endpoints (no personal key)."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


class Store:
    """Reads back what a project holds, after the server's admin flush."""

    def __init__(self, server: ServerThread, project_id: int) -> None:
        self.server = server
        self.project_id = project_id
        token = admin_token(server.state.settings.data_dir) or ""
        self.admin = httpx.Client(
            base_url=server.base_url, timeout=60, headers={"Authorization": f"Bearer {token}"}
        )

    def flush(self) -> None:
        response = self.admin.post("/_admin/flush")
        assert response.status_code == 200, response.text

    def stats(self, uuids: list[str] | None = None) -> dict[str, int]:
        body: dict[str, Any] = {"project_id": self.project_id}
        if uuids is not None:
            body["uuids"] = uuids
        response = self.admin.post("/_admin/events/stats", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def rows(self, sql: str, **params: Any) -> list[list[Any]]:
        """Rows of ``sql`` with ``{team:UInt64}`` bound to this project."""
        self.flush()
        return self.server.state.engine.execute(sql, {"team": self.project_id, **params}).rows

    def events(self) -> list[dict[str, Any]]:
        rows = self.rows(
            "SELECT toString(uuid), event, distinct_id, toString(person_id), properties, person_properties,"
            " toUnixTimestamp64Micro(timestamp), elements_chain FROM events FINAL"
            " WHERE team_id = {team:UInt64} ORDER BY timestamp, event"
        )
        names = (
            "uuid",
            "event",
            "distinct_id",
            "person_id",
            "properties",
            "person_properties",
            "ts",
            "chain",
        )
        return [dict(zip(names, row, strict=True)) for row in rows]

    def close(self) -> None:
        self.admin.close()


@pytest.fixture
def store(tenant: Tenant) -> Iterator[Store]:
    reader = Store(tenant.server, tenant.project_id)
    yield reader
    reader.close()
