"""SQL insights answer as PostHog's HogQLQuery does: column names are the HogQL the user wrote, functions
run as written (ClickHouse's own result types), date and time values are ISO 8601 as PostHog's JSON
renderer writes them, and the event's person has id, created_at and properties."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.queries.events import Event, loaded_tenant, merge_person, person_uuid, set_person
from tests.support import ServerThread, Tenant

WHEN = datetime(2024, 1, 8, 9, 4, 14)


def ok(tenant: Tenant, text: str) -> dict[str, Any]:
    query = {"kind": "HogQLQuery", "query": text}
    response = tenant.client().post(
        f"{tenant.base}/query/", json={"query": query, "refresh": "force_blocking"}, timeout=120
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def mine(server: ServerThread) -> Tenant:
    properties = {"$browser": "Chrome", "$time": "2024-01-08T09:00:00Z"}
    tenant = loaded_tenant(server, [Event("a", "$pageview", WHEN, properties)] * 2)
    set_person(server, tenant.project_id, "a", {"email": "a@example.com"})
    return tenant


COLUMNS = [
    ("properties.$browser", "properties.$browser", "$browser"),
    ("properties['$browser']", "properties.$browser", "$browser"),
    ("e.properties.$browser", "e.properties.$browser", "$browser"),
    ("person.properties.email", "person.properties.email", "email"),
    ("count()", "count()", "count()"),
    ("toStartOfDay(timestamp)", "toStartOfDay(timestamp)", "toStartOfDay(timestamp)"),
    ("e.event", "e.event", "event"),
    ("1 + 2", "plus(1, 2)", "plus(1, 2)"),
    ("event = '$pageview'", "equals(event, '$pageview')", "equals(event, '$pageview')"),
    ("properties.$browser AS browser", "browser", "browser"),
    ("count(DISTINCT distinct_id)", "count(DISTINCT distinct_id)", "count(DISTINCT distinct_id)"),
]


@pytest.mark.parametrize(("expression", "column", "typed"), COLUMNS)
def test_columns_are_the_hogql_written(mine: Tenant, expression: str, column: str, typed: str) -> None:
    """PostHog's ``columns``: the alias, else the HogQL printout of the expression (never our rewrite);
    ``types`` carry the names PostHog's ClickHouse SQL gives its columns (a field's last name)."""
    body = ok(mine, f"SELECT {expression} FROM events AS e LIMIT 1")
    assert body["columns"] == [column]
    assert body["types"][0][0] == typed


def test_columns_of_a_union_and_a_star(mine: Tenant) -> None:
    body = ok(mine, "SELECT count() AS n, 1 UNION ALL SELECT count(), 2 FROM events")
    assert body["columns"] == ["n", "1"]
    body = ok(mine, "SELECT properties.$browser, *, count() OVER () FROM events")
    assert body["columns"][0] == "properties.$browser"
    assert body["columns"][-1] == "count() OVER ()"
    assert {"uuid", "event", "timestamp"} <= set(body["columns"][1:-1])


def test_functions_run_as_written(mine: Tenant) -> None:
    """Each call reaches ClickHouse as written, so its result type is ClickHouse's own (sqlglot would
    turn toStartOfDay into dateTrunc('DAY') → DateTime64(0), median into quantile(0.5), if into CASE)."""
    body = ok(
        mine,
        "SELECT toStartOfDay(timestamp) AS d, toStartOfMonth(d), median(1), if(1, 'a', 'b') "
        "FROM events GROUP BY d",
    )
    types = [t for _, t in body["types"]]
    assert types == ["DateTime('UTC')", "Date", "Float64", "String"]
    assert body["results"] == [["2024-01-08T00:00:00Z", "2024-01-01", 1.0, "a"]]
    assert "toStartOfDay(" in body["clickhouse"] and "dateTrunc" not in body["clickhouse"]
    assert "median(" in body["clickhouse"] and "CASE" not in body["clickhouse"]


def test_engine_errors_name_the_problem(mine: Tenant) -> None:
    query = {"kind": "HogQLQuery", "query": "SELECT timestamp, count() FROM events"}
    response = mine.client().post(f"{mine.base}/query/", json={"query": query})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "not under aggregate function" in detail and "toTimeZone" not in detail


def test_datetimes_are_iso_with_the_zone(mine: Tenant, server: ServerThread) -> None:
    body = ok(
        mine,
        "SELECT timestamp, toDate(timestamp), [timestamp], tuple(timestamp, 1) FROM events LIMIT 1",
    )
    assert body["results"] == [
        [
            "2024-01-08T09:04:14Z",
            "2024-01-08",
            ["2024-01-08T09:04:14Z"],
            ["2024-01-08T09:04:14Z", 1],
        ]
    ]
    later = WHEN.replace(microsecond=500000)
    paris = loaded_tenant(server, [Event("a", "x", later)], timezone="Europe/Paris")
    body = ok(paris, "SELECT timestamp, toStartOfDay(timestamp) FROM events")
    assert body["results"] == [["2024-01-08T10:04:14.500000+01:00", "2024-01-08T00:00:00+01:00"]]
    assert body["types"][0][1] == "DateTime64(6, 'Europe/Paris')"


def test_person_fields(mine: Tenant, server: ServerThread) -> None:
    pid = person_uuid(mine.project_id, "a")
    body = ok(
        mine,
        "SELECT person.id, person_id, person.created_at, person.properties['email'], "
        "events.person.properties.email FROM events LIMIT 1",
    )
    assert body["results"] == [[pid, pid, "2024-01-01T00:00:00Z", "a@example.com", "a@example.com"]]
    assert body["columns"] == [
        "person.id",
        "person_id",
        "person.created_at",
        "person.properties.email",
        "events.person.properties.email",
    ]
    aliased = ok(mine, "SELECT e.person.properties.email, e.person.id FROM events AS e LIMIT 1")
    assert aliased["results"] == [["a@example.com", pid]]
    where = ok(mine, "SELECT count() FROM events WHERE person.properties.email = 'a@example.com'")
    assert where["results"] == [[2]]


def test_person_fields_follow_merges(server: ServerThread) -> None:
    tenant = loaded_tenant(server, [Event("old", "x", WHEN)])
    set_person(server, tenant.project_id, "new", {"email": "new@example.com"})
    merge_person(server, tenant.project_id, "old", "new")
    body = ok(tenant, "SELECT person.id, person_id, person.properties.email FROM events")
    new = person_uuid(tenant.project_id, "new")
    assert body["results"] == [[new, new, "new@example.com"]]


def test_unknown_person_field_is_a_400(mine: Tenant) -> None:
    query = {"kind": "HogQLQuery", "query": "SELECT person.nope FROM events"}
    response = mine.client().post(f"{mine.base}/query/", json={"query": query})
    assert response.status_code == 400
    assert "person.nope" in response.json()["detail"]


POSTHOG_CALLS = [
    ("toInt('1')", 1),
    ("toInt('x')", None),
    ("toFloat('1.5')", 1.5),
    ("toDecimal('1.5', 2)", 1.5),
    ("toIntOrZero('x')", 0),
    ("toFloatOrZero('x')", 0.0),
    ("toUUID('nope')", None),
    ("toDateTime('2024-01-08 09:00:00')", "2024-01-08T09:00:00Z"),
    ("toDateTime(properties.$time)", "2024-01-08T09:00:00Z"),
    ("toDate('nope')", None),
    ("toDate(timestamp)", "2024-01-08"),
    ("toStartOfInterval(timestamp, toIntervalHour(1))", "2024-01-08T09:00:00Z"),
    ("date_trunc('day', timestamp)", "2024-01-08T00:00:00Z"),
    ("date_diff('day', timestamp, timestamp + toIntervalDay(2))", 2),
    ("date_part('year', timestamp)", 2024),
    ("current_date() = today()", True),
    ("toDateTime64(timestamp, 3)", "2024-01-08T09:04:14Z"),
    ("fromUnixTimestamp64Milli(toUnixTimestamp64Milli(timestamp))", "2024-01-08T09:04:14"),
    ("toTypeName(1)", "UInt8"),
    ("hex(255)", "FF"),
    ("cityHash64('a') > 0", True),
    ("toBool(1)", True),
    ("split_part('a,b,c', ',', 2)", "b"),
    ("left('héllo', 2)", "hé"),
    ("isEmpty('')", True),
    ("timezone('Europe/Paris', timestamp)", "2024-01-08T10:04:14+01:00"),
    ("rowNumberInAllBlocks()", 0),
]


@pytest.mark.parametrize(("call", "value"), POSTHOG_CALLS)
def test_posthogs_functions_run_as_posthog_prints_them(mine: Tenant, call: str, value: Any) -> None:
    """PostHog's current HogQL names, translated as its printer does where ClickHouse lacks the name or
    runs it differently (toInt → accurateCastOrNull, toDateTime of a string → best-effort parsing …)."""
    body = ok(mine, f"SELECT {call} FROM events LIMIT 1")
    result = body["results"][0][0]
    assert (result if not isinstance(value, bool) else bool(result)) == value


def test_posthogs_aggregations(mine: Tenant) -> None:
    body = ok(
        mine,
        "SELECT quantileExact(0.5)(1), array_agg(event), string_agg(event, ','), groupArraySample(1)(event), "
        "every(true), uniqMerge(s) FROM events, (SELECT uniqState(distinct_id) AS s FROM events) AS st",
    )
    assert body["results"] == [[1, ["$pageview", "$pageview"], "$pageview,$pageview", ["$pageview"], True, 1]]


def test_now_is_in_the_project_timezone(server: ServerThread) -> None:
    paris = loaded_tenant(server, [Event("a", "x", WHEN)], timezone="Europe/Paris")
    body = ok(paris, "SELECT now(), current_timestamp() FROM events")
    assert [t for _, t in body["types"]] == ["DateTime64(6, 'Europe/Paris')"] * 2
    assert "now64(6, 'Europe/Paris')" in body["clickhouse"]
