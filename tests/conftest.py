from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ServerThread, Tenant, make_settings, new_tenant, postgres_database

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture(scope="session")
def server(database_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """One real insightd server per backend for the whole session; tests isolate by tenant."""
    settings = make_settings(tmp_path_factory.mktemp("data"), database_url)
    with ServerThread(settings) as running:
        yield running


@pytest.fixture
def tenant(server: ServerThread) -> Iterator[Tenant]:
    created = new_tenant(server)
    yield created
    created.close()


@pytest.fixture
def api(tenant: Tenant) -> httpx.Client:
    """An HTTP client authenticated as the tenant's owner with an all-scopes key."""
    return tenant.client()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
