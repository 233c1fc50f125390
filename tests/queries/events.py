"""Putting events and persons into the event store for query tests (the schema.py table contract)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tests.support import ServerThread, Tenant, new_tenant


@dataclass
class Event:
    distinct_id: str
    event: str
    timestamp: datetime  # UTC
    properties: dict[str, Any] = field(default_factory=dict)
    person: str | None = None  # person key; default: the distinct_id


def person_uuid(tenant_id: int, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"insightd-test/{tenant_id}/{key}"))


def insert_events(server: ServerThread, team_id: int, events: Iterable[Event]) -> None:
    rows = [
        {
            "uuid": str(uuid.uuid4()),
            "team_id": team_id,
            "event": e.event,
            "distinct_id": e.distinct_id,
            "person_id": person_uuid(team_id, e.person or e.distinct_id),
            "properties": json.dumps(e.properties),
            "timestamp": e.timestamp.strftime("%Y-%m-%d %H:%M:%S.%f"),
        }
        for e in events
    ]
    server.state.engine.insert("events", rows)


def loaded_tenant(server: ServerThread, events: Iterable[Event], timezone: str = "UTC") -> Tenant:
    """A fresh project in ``timezone`` holding ``events``."""
    tenant = new_tenant(server, timezone=timezone)
    insert_events(server, tenant.project_id, events)
    return tenant


def merge_person(server: ServerThread, team_id: int, old: str, into: str) -> None:
    server.state.engine.insert(
        "person_overrides",
        [
            {
                "team_id": team_id,
                "old_person_id": person_uuid(team_id, old),
                "override_person_id": person_uuid(team_id, into),
                "version": 1,
            }
        ],
    )


def set_person(server: ServerThread, team_id: int, key: str, properties: Mapping[str, Any]) -> None:
    server.state.engine.insert(
        "persons",
        [
            {
                "id": person_uuid(team_id, key),
                "team_id": team_id,
                "properties": json.dumps(dict(properties)),
                "created_at": "2024-01-01 00:00:00",
                "version": 1,
            }
        ],
    )


def run(tenant: Tenant, query: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = tenant.client().post(f"{tenant.base}/query/", json={"query": query, **body})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def trends(series: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"kind": "TrendsQuery", "series": series, **extra}


def ev(event: str | None, **extra: Any) -> dict[str, Any]:
    return {"kind": "EventsNode", "event": event, **extra}
