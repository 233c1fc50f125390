"""The SQL-insight sandbox against an audit's hostile queries: another project's rows, internal tables,
server facts, huge results and malformed SQL are refused with a 400, never a 500 or a leak."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
import sqlglot
from sqlglot import exp

from insightd.queries import hogql_functions
from insightd.queries.hogql import GENERATED_NAMES
from tests.queries.events import Event, insert_events
from tests.support import ServerThread, Tenant, new_tenant

SECRET = "secret-event"


def post(tenant: Tenant, text: str, **extra: Any) -> httpx.Response:
    query = {"kind": "HogQLQuery", "query": text, **extra}
    return tenant.client().post(
        f"{tenant.base}/query/", json={"query": query, "refresh": "force_blocking"}, timeout=120
    )


def refused(tenant: Tenant, text: str, **extra: Any) -> str:
    response = post(tenant, text, **extra)
    assert response.status_code == 400, response.text
    detail: str = response.json()["detail"]
    assert SECRET not in response.text and "SETTINGS" not in detail and "insightd_query_id" not in detail
    return detail


def ok(tenant: Tenant, text: str, **extra: Any) -> dict[str, Any]:
    response = post(tenant, text, **extra)
    assert response.status_code == 200, response.text
    assert SECRET not in response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def mine(server: ServerThread) -> Tenant:
    """A project with 2 events; another project holds a secret one."""
    tenant, other = new_tenant(server), new_tenant(server)
    when = datetime(2024, 3, 1, 12)
    insert_events(server, tenant.project_id, [Event("a", "$pageview", when)] * 2)
    insert_events(server, other.project_id, [Event("b", SECRET, when)])
    return tenant


SHADOWING = [
    "WITH events AS (SELECT * FROM events) SELECT team_id, event FROM events",
    "SELECT event FROM events WHERE 1 IN (WITH events AS (SELECT 1 AS x) SELECT x FROM events)",
    "WITH 1 AS events SELECT team_id, count() FROM events GROUP BY team_id",
    "WITH person_distinct_ids AS (SELECT * FROM person_distinct_ids) SELECT * FROM person_distinct_ids",
    "WITH persons AS (SELECT * FROM persons) SELECT * FROM persons",
    "WITH person_overrides AS (SELECT 1 AS x) SELECT event FROM events",
    "WITH event_uuids AS (SELECT * FROM event_uuids) SELECT * FROM event_uuids",
    "WITH person_overrides AS (SELECT 1 AS x) SELECT * FROM person_overrides",
    "WITH t AS (SELECT * FROM t) SELECT * FROM t",
    "WITH a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a",
    "WITH x AS (SELECT 1 AS y) SELECT * FROM (WITH Events AS (SELECT 1) SELECT 1) AS s",
]


@pytest.mark.parametrize("text", SHADOWING)
def test_a_cte_cannot_shadow_a_table(mine: Tenant, text: str) -> None:
    refused(mine, text)


COMMON_NAMES = ["users", "views", "metrics", "errors", "settings", "tables", "columns", "parts"]
COMMON_NAMES += ["numbers", "one"]


@pytest.mark.parametrize("name", COMMON_NAMES)
def test_common_cte_names_are_free(mine: Tenant, name: str) -> None:
    """Only the tables the sandbox's own SQL reads are reserved, not every table name of the engine."""
    body = ok(mine, f"WITH {name} AS (SELECT distinct_id FROM events) SELECT count() FROM {name}")
    assert body["results"] == [[2]]


def test_a_cte_is_visible_only_in_its_scope(mine: Tenant) -> None:
    detail = refused(mine, "SELECT (WITH t AS (SELECT 1 AS x) SELECT x FROM t), * FROM t")
    assert "Unknown table 't'" in detail
    body = ok(mine, "WITH t AS (SELECT event FROM events) SELECT count() FROM (SELECT * FROM t)")
    assert body["results"] == [[2]]


IN_TABLES = [
    "SELECT count() FROM events WHERE event IN person_distinct_ids",
    "SELECT count() FROM events WHERE event IN default.person_distinct_ids",
    "SELECT count() FROM events WHERE event NOT IN event_uuids",
    "SELECT count() FROM events WHERE event GLOBAL IN system.one",
    "SELECT count() FROM events WHERE event IN (persons)",
    "SELECT count() FROM events WHERE notIn(event, (system.one))",
]


@pytest.mark.parametrize("text", IN_TABLES)
def test_in_cannot_read_a_table(mine: Tenant, text: str) -> None:
    assert "right side of IN" in refused(mine, text)


def test_in_still_takes_lists_subqueries_and_ctes(mine: Tenant) -> None:
    assert ok(mine, "SELECT count() FROM events WHERE event IN ('$pageview', 'x')")["results"] == [[2]]
    assert ok(mine, "SELECT count() FROM events WHERE event IN (SELECT event FROM events)")["results"] == [
        [2]
    ]
    cte = "WITH e AS (SELECT event FROM events) SELECT count() FROM events WHERE event IN e"
    assert ok(mine, cte)["results"] == [[2]]


FUNCTIONS = [
    "currentDatabase()",
    "current_database()",
    "CURRENT_DATABASE",
    "getServerSetting('path')",
    "displayName()",
    "getOSKernelVersion()",
    "hasColumnInTable('default', 'events', 'team_id')",
    "version()",
    "VERSION()",
    "getSettingOrDefault('max_threads', 1)",
    "getMergeTreeSetting('index_granularity')",
    "revision()",
    "user()",
    "currentSchemas(true)",
    "connectionId()",
    "logTrace('x')",
    "`currentDatabase`()",
    "dictGet('d', 'a', 1)",
    "CURRENT_USER",
    "currentUser",
    "currentDatabase",
    "`currentDatabase`",
    "DATABASE",
    "SCHEMA",
    "schema",
    "user",
    "current_user",
    "current_database",
]


@pytest.mark.parametrize("call", FUNCTIONS)
def test_functions_outside_the_allowlist_are_refused(mine: Tenant, call: str) -> None:
    assert "Unsupported function call" in refused(mine, f"SELECT {call}")


@pytest.mark.parametrize(
    "call", ["timezone()", "timezone('UTC')", "arrayReduce('file', [1])", "arrayReduce('sleepEachRow', [1])"]
)
def test_allowed_names_with_server_forms_are_refused(mine: Tenant, call: str) -> None:
    """``timezone()`` is the server's zone in ClickHouse (HogQL's takes two arguments); arrayReduce runs
    only an allowed aggregation."""
    refused(mine, f"SELECT {call}")


INTERNAL_NAMES = [
    "SELECT __insightd_value_99()",
    "SELECT __insightd_value_x()",
    "SELECT __insightd_filters()",
    "SELECT count() FROM events WHERE __insightd_filters()",
    "SELECT `__insightd_filters`()",
    'SELECT "__INSIGHTD_filters"()',
    "SELECT 1 AS __insightd_x",
]


@pytest.mark.parametrize("text", INTERNAL_NAMES)
def test_the_sandboxes_own_names_are_refused(mine: Tenant, text: str) -> None:
    assert "reserved" in refused(mine, text)


def test_internal_prefix_in_a_string_is_data(mine: Tenant) -> None:
    assert ok(mine, "SELECT '__insightd_filters()'")["results"] == [["__insightd_filters()"]]


def test_bare_names_are_columns_or_aliases_in_scope(mine: Tenant) -> None:
    for name in ("now", "today", "curdate", "NOW"):
        assert "Unknown column" in refused(mine, f"SELECT {name}")
    body = ok(mine, "SELECT user FROM (SELECT distinct_id AS user FROM events) LIMIT 1")
    assert body["results"] == [["a"]]
    body = ok(mine, "WITH t AS (SELECT event AS schema FROM events) SELECT schema FROM t LIMIT 1")
    assert body["results"] == [["$pageview"]]
    assert ok(mine, "SELECT arrayMap(user -> user + 1, [1]) AS x")["results"] == [[[2]]]
    assert ok(mine, "SELECT 1 AS user, user + 1")["results"] == [[1, 2]]
    # An alias of another scope is not this one's.
    assert "Unsupported function call" in refused(mine, "SELECT (SELECT 1 AS user), user")


def test_allowed_functions_in_any_case(mine: Tenant) -> None:
    text = (
        "SELECT COUNT(*), countIf(event = '$pageview'), uniq(distinct_id), toStartOfDay(timestamp) AS d, "
        "dateDiff('day', d, d), ifNull(NULL, 1), CAST(1 AS String), quantile(0.5)(1), sumIf(1, true) "
        "FROM events GROUP BY d"
    )
    assert ok(mine, text)["results"][0][:3] == [2, 2, 1]


def test_generated_names_are_derived_from_the_allowlist() -> None:
    """GENERATED_NAMES is what sqlglot turns allowed calls into (so it needs updating with sqlglot)."""
    found: set[str] = set()
    for name in hogql_functions.allowed():
        for arity in range(4):
            try:
                args = ", ".join(["x", "'s'", "1"][:arity])
                parsed = sqlglot.parse_one(f"SELECT {name}({args})", read="clickhouse")
                generated = [f.sql(dialect="clickhouse") for f in parsed.find_all(exp.Func)]
            except Exception:  # odd arities are not the point
                continue
            found |= {g.split("(")[0].strip('`"').lower() for g in generated if "(" in g}
    assert {n for n in found if not hogql_functions.is_allowed(n) and n.isidentifier()} <= GENERATED_NAMES


@pytest.mark.parametrize(
    "text",
    ["SELECT count() FROM events AS `a b`", "SELECT count() FROM events AS `e UNION ALL SELECT 1`"],
)
def test_aliases_are_quoted(mine: Tenant, text: str) -> None:
    assert ok(mine, text)["results"] == [[2]]


@pytest.mark.parametrize("text", ["SELECT", "SELECT * FROM events FINAL", "SELECT * FROM events SAMPLE 0.1"])
def test_bad_sql_gets_a_clean_error(mine: Tenant, text: str) -> None:
    detail = refused(mine, text)
    assert "__person_properties" not in detail and "argMax" not in detail


def test_limit_by_is_applied(server: ServerThread) -> None:
    tenant = new_tenant(server)
    when = datetime(2024, 3, 1, 12)
    insert_events(server, tenant.project_id, [Event("a", "x", when)] * 3 + [Event("b", "y", when)] * 3)
    body = ok(tenant, "SELECT event FROM events ORDER BY event LIMIT 1 BY event")
    assert body["results"] == [["x"], ["y"]]
    assert body["hasMore"] is False and body["limit"] == 100


def test_limit_by_with_offset_and_limit(server: ServerThread) -> None:
    tenant = new_tenant(server)
    when = datetime(2024, 3, 1, 12)
    events = [Event("a", name, when) for name in "wxyz" for _ in range(2)]
    insert_events(server, tenant.project_id, events)
    body = ok(tenant, "SELECT event FROM events ORDER BY event LIMIT 1 BY event OFFSET 2")
    assert body["results"] == [["y"], ["z"]]
    body = ok(tenant, "SELECT event FROM events ORDER BY event LIMIT 1 OFFSET 1 BY event")
    assert body["results"] == [["w"], ["x"], ["y"], ["z"]]
    detail = refused(tenant, "SELECT event FROM events LIMIT 1 BY event LIMIT 3")
    assert "LIMIT after LIMIT … BY is not supported" in detail
    body = ok(tenant, "SELECT event FROM events ORDER BY event LIMIT 1 WITH TIES")
    assert body["results"] == [["w"], ["w"]]


def test_engine_errors_never_name_the_sandboxes_subqueries(mine: Tenant) -> None:
    for text in ["SELECT event FROM events LIMIT 1 WITH TIES", "SELECT __person_id FROM events"]:
        response = post(mine, text)
        assert "__table" not in response.text and "__person" not in response.text.replace(text, "")


def test_star_lists_posthogs_event_fields(mine: Tenant) -> None:
    body = ok(mine, "SELECT *, person.properties.email FROM events LIMIT 1")
    fields = ["uuid", "event", "properties", "timestamp", "distinct_id", "elements_chain", "created_at"]
    assert body["columns"] == [*fields, "person_id", "person.properties.email"]
    body = ok(mine, "SELECT e.* FROM events AS e LIMIT 1")
    assert body["columns"] == [*fields, "person_id"]
    assert body["results"][0][1] == "$pageview"


def test_paging_fields_only_without_limit_or_union(mine: Tenant) -> None:
    body = ok(mine, "SELECT 1 UNION ALL SELECT 2")
    assert body["hasMore"] is None and body["limit"] is None and body["offset"] is None
    body = ok(mine, "SELECT event FROM events")
    assert body["hasMore"] is False and body["limit"] == 100 and body["offset"] == 0


def test_values_and_variables(mine: Tenant) -> None:
    body = ok(mine, "SELECT {name}, {n} + 1", values={"name": "x'; DROP", "n": 1})
    assert body["results"] == [["x'; DROP", 2]]
    variables = {"abc": {"variableId": "abc", "code_name": "ev", "value": "$pageview"}}
    text = "SELECT count() FROM events WHERE event = {variables.ev}"
    assert ok(mine, text, variables=variables)["results"] == [[2]]
    assert (
        refused(mine, "SELECT {variables.nope}", variables=variables) == "Variable nope is missing from query"
    )
    assert "Placeholder {x} is not available" in refused(mine, "SELECT {x}")


def test_a_result_over_the_byte_cap_is_refused(mine: Tenant) -> None:
    """~100 MB of result (past the 64 MiB cap) is a 400, and a smaller one still comes back."""
    detail = refused(mine, "SELECT repeat('z', 1000000) AS s, arrayJoin(range(100)) AS i")
    assert detail.startswith("Query result is too large")
    assert len(ok(mine, "SELECT repeat('z', 1000) AS s, arrayJoin(range(100)) AS i")["results"]) == 100
