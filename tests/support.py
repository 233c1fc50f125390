"""Test support: a real insightd server on a real socket, and isolated tenants inside it."""

from __future__ import annotations

import itertools
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn

from insightd.api.app import create_app
from insightd.engine.base import Engine
from insightd.services import accounts
from insightd.settings import Settings
from insightd.state import AppState

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
# chDB opens one data directory per process, so every test server in this process shares one engine;
# tenants get project ids from one counter, so their events never mix even across servers.
_PROJECT_IDS = itertools.count(1000)
_ENGINE: Engine | None = None
_ENGINE_LOCK = threading.Lock()


def process_engine() -> Engine:
    """The chDB engine shared by every test server in this process (tables created)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            from insightd.engine.chdb import ChDBEngine
            from insightd.events import schema

            engine = ChDBEngine(Path(tempfile.mkdtemp(prefix="insightd-events-")))
            schema.create(engine)
            _ENGINE = engine
        return _ENGINE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test session (dropped afterwards)."""
    name = f"insightd_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(tmp: Path, database_url: str | None, **overrides: Any) -> Settings:
    return Settings(
        data_dir=tmp, database_url=database_url, rate_limits=overrides.pop("rate_limits", "off"), **overrides
    )


class ServerThread:
    """uvicorn serving ``create_app(settings)`` in a background thread on a free port."""

    def __init__(self, settings: Settings) -> None:
        self.state = AppState.open(settings)
        self.state.use_engine(process_engine())
        self.app = create_app(settings, state=self.state)
        self.port = free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("insightd test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.state.close()


@dataclass
class Tenant:
    """A fresh project with its own user and key, inside a shared running server."""

    server: ServerThread
    project_id: int
    user_id: int
    email: str
    key: str
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"/api/projects/{self.project_id}"

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.key}"} if (key or self.key) else {}
        client = httpx.Client(base_url=self.server.base_url, headers=headers, timeout=30, **kwargs)
        self.clients.append(client)
        return client

    def add_user(self, project_ids: Sequence[int] | None = None) -> tuple[int, str]:
        """Another member (by default of this tenant's project); returns (user id, email)."""
        email = f"u{uuid.uuid4().hex[:10]}@example.com"
        with self.server.state.db.write() as session:
            user = accounts.create_user(session, email, "Other", project_ids or [self.project_id])
            return user.id, email

    def new_key(
        self, email: str | None = None, scopes: Sequence[str] = ("*",), projects: Sequence[int] | None = None
    ) -> str:
        with self.server.state.db.write() as session:
            user = accounts.user_by_email(session, email or self.email)
            return accounts.create_personal_api_key(session, user, scopes, projects).value

    def close(self) -> None:
        for client in self.clients:
            client.close()


def new_tenant(server: ServerThread, timezone: str = "UTC") -> Tenant:
    email = f"owner{uuid.uuid4().hex[:10]}@example.com"
    with server.state.db.write() as session:
        project = accounts.create_project(
            session, f"Test {uuid.uuid4().hex[:6]}", timezone=timezone, project_id=next(_PROJECT_IDS)
        )
        user = accounts.create_user(session, email, "Owner", [project.id])
        key = accounts.create_personal_api_key(session, user).value
        return Tenant(server=server, project_id=project.id, user_id=user.id, email=email, key=key)


def trends_query(event: str = "$pageview") -> dict[str, Any]:
    return {
        "kind": "InsightVizNode",
        "source": {"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": event}]},
    }
