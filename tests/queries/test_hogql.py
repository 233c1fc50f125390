"""SQL insights: HogQL sugar works, and the sandbox holds against hostile queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.queries.events import Event, insert_events, set_person
from tests.support import ServerThread, Tenant, new_tenant


def sql(tenant: Tenant, text: str) -> httpx.Response:
    query = {"kind": "DataVisualizationNode", "source": {"kind": "HogQLQuery", "query": text}}
    return tenant.client().post(f"{tenant.base}/query/", json={"query": query})


def ok(tenant: Tenant, text: str) -> dict[str, Any]:
    response = sql(tenant, text)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def two_projects(server: ServerThread) -> tuple[Tenant, Tenant]:
    mine, other = new_tenant(server), new_tenant(server)
    when = datetime(2024, 1, 8, 9, 0)
    insert_events(server, mine.project_id, [Event("a", "$pageview", when, {"$browser": "Chrome"})] * 3)
    insert_events(server, other.project_id, [Event("secret", "$pageview", when, {"$browser": "Lynx"})] * 5)
    set_person(server, mine.project_id, "a", {"email": "a@example.com"})
    return mine, other


def test_select_with_hogql_properties(two_projects: tuple[Tenant, Tenant]) -> None:
    mine, _ = two_projects
    body = ok(
        mine,
        "SELECT properties.$browser AS browser, person.properties.email, count() FROM events GROUP BY 1, 2",
    )
    assert body["results"] == [["Chrome", "a@example.com", 3]]
    assert body["columns"][0] == "browser"
    assert body["types"][2][1] == "UInt64"
    assert body["hasMore"] is False


def test_project_filter_is_injected(two_projects: tuple[Tenant, Tenant]) -> None:
    mine, other = two_projects
    body = ok(mine, f"SELECT count() FROM events WHERE team_id = {other.project_id} OR 1 = 1")
    assert body["results"] == [[3]]
    body = ok(mine, "SELECT DISTINCT distinct_id FROM events")
    assert body["results"] == [["a"]]
    nested = ok(
        mine, "WITH x AS (SELECT * FROM events) SELECT count() FROM x UNION ALL SELECT count() FROM events"
    )
    assert sorted(nested["results"]) == [[3], [3]]


def test_default_limit_and_has_more(two_projects: tuple[Tenant, Tenant]) -> None:
    mine, _ = two_projects
    body = ok(mine, "SELECT number FROM (SELECT arrayJoin(range(150)) AS number)")
    assert len(body["results"]) == 100 and body["hasMore"] is True
    body = ok(mine, "SELECT arrayJoin(range(150)) AS n LIMIT 120")
    # PostHog's paginator only runs for a single SELECT without LIMIT: otherwise no hasMore/limit/offset.
    assert len(body["results"]) == 120 and body["hasMore"] is None and body["limit"] is None


HOSTILE = [
    "SELECT * FROM system.tables",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')",
    "SELECT * FROM remote('127.0.0.1', system.one)",
    "SELECT * FROM numbers(10000000000)",
    "SELECT * FROM person_overrides",
    "SELECT * FROM default.events",
    "SELECT 1 SETTINGS readonly = 0",
    "SELECT 1 FORMAT JSONEachRow",
    "SELECT * FROM events INTO OUTFILE '/tmp/x'",
    "INSERT INTO events (event) VALUES ('x')",
    "DROP TABLE events",
    "ALTER TABLE events DELETE WHERE 1",
    "SELECT 1; DROP TABLE events",
    "CREATE TABLE x (a Int8) ENGINE = Memory",
    "SELECT dictGet('d', 'a', 1)",
    "SELECT joinGet('j', 'a', 1)",
    "SELECT sleepEachRow(1) FROM events",
    "WITH t AS (SELECT * FROM system.one) SELECT * FROM t",
    "SELECT * FROM events WHERE event IN (SELECT name FROM system.functions)",
    "SELECT * FROM (SELECT * FROM file('x'))",
    "SELECT getSetting('max_threads')",
    "this is not sql",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_queries_are_refused(tenant: Tenant, text: str) -> None:
    response = sql(tenant, text)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "validation_error" and body["detail"]
    assert "Traceback" not in body["detail"]


def test_engine_errors_are_readable_400(tenant: Tenant) -> None:
    response = sql(tenant, "SELECT no_such_column FROM events")
    assert response.status_code == 400
    assert "no_such_column" in response.json()["detail"]
