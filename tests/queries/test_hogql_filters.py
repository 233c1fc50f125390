"""PostHog's ``{filters}`` placeholder in SQL insights: the query's ``filters`` (date range, property
filters, test accounts) as a condition on the events of the SELECT it sits in; dashboard filters reach
SQL insights this way."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.queries.events import Event, insert_events, loaded_tenant, run, set_person
from tests.support import ServerThread, Tenant

START = datetime(2024, 5, 1, 9)
COUNT = "SELECT count() FROM events WHERE event = '$pageview' AND {filters}"


def _tenant(server: ServerThread) -> Tenant:
    events = [
        Event("ann", "$pageview", START, {"$browser": "Chrome", "$host": "app.example.com"}),
        Event(
            "ann", "$pageview", START + timedelta(days=1), {"$browser": "Firefox", "$host": "app.example.com"}
        ),
        Event(
            "bob", "$pageview", START + timedelta(days=2), {"$browser": "Chrome", "$host": "localhost:3000"}
        ),
        Event(
            "eve", "$pageview", START + timedelta(days=3), {"$browser": "Chrome", "$host": "app.example.com"}
        ),
        Event("eve", "signup", START + timedelta(days=3), {"$browser": "Chrome"}),
    ]
    tenant = loaded_tenant(server, events)
    set_person(server, tenant.project_id, "eve", {"email": "eve@acme.test"})
    return tenant


def _count(tenant: Tenant, sql: str = COUNT, **filters: Any) -> int:
    query: dict[str, Any] = {"kind": "HogQLQuery", "query": sql}
    if filters:
        query["filters"] = filters
    return int(run(tenant, query)["results"][0][0])


def test_filters_placeholder(server: ServerThread) -> None:
    tenant = _tenant(server)
    assert _count(tenant) == 4  # no filters: {filters} is true
    assert _count(tenant, dateRange={"date_from": "2024-05-02", "date_to": "2024-05-03"}) == 2  # whole days
    assert (
        _count(tenant, dateRange={"date_from": "2024-05-02T09:00:00", "date_to": "2024-05-03T09:00:00"}) == 1
    )
    chrome = [{"key": "$browser", "value": "Chrome", "operator": "exact", "type": "event"}]
    assert _count(tenant, properties=chrome) == 3
    company = [{"key": "email", "value": "acme.test", "operator": "icontains", "type": "person"}]
    assert _count(tenant, properties=company) == 1
    aliased = "SELECT count() FROM events AS e WHERE e.event = '$pageview' AND {filters}"
    assert _count(tenant, aliased, properties=chrome, dateRange={"date_from": "2024-05-02"}) == 2


def test_filters_placeholder_with_test_accounts(server: ServerThread) -> None:
    tenant = _tenant(server)
    local = {"key": "$host", "value": "localhost", "operator": "not_icontains", "type": "event"}
    response = tenant.client().patch(f"{tenant.base}/", json={"test_account_filters": [local]})
    assert response.status_code == 200
    assert _count(tenant, filterTestAccounts=False) == 4
    assert _count(tenant, filterTestAccounts=True) == 3


def test_dashboard_filters_reach_sql_insights(server: ServerThread) -> None:
    tenant = _tenant(server)
    query = {"kind": "DataVisualizationNode", "source": {"kind": "HogQLQuery", "query": COUNT}}
    created = tenant.client().post(f"{tenant.base}/insights/", json={"name": "sql", "query": query}).json()
    url = f"{tenant.base}/insights/{created['id']}/"
    dashboard = {"date_from": "2024-05-03", "date_to": "2024-05-04"}
    body = (
        tenant.client()
        .get(url, params={"refresh": "blocking", "filters_override": json.dumps(dashboard)})
        .json()
    )
    assert body["result"][0][0] == 2
    assert tenant.client().get(url, params={"refresh": "blocking"}).json()["result"][0][0] == 4


def test_filters_placeholder_outside_an_events_select_is_a_400(server: ServerThread) -> None:
    tenant = _tenant(server)
    for sql in ["SELECT count() FROM persons WHERE {filters}", "SELECT {filters}"]:
        response = tenant.client().post(
            f"{tenant.base}/query/", json={"query": {"kind": "HogQLQuery", "query": sql, "filters": {}}}
        )
        assert response.status_code == 400, response.text
        assert "events table" in response.json()["detail"]
    text = "SELECT '{filters}' AS s FROM events LIMIT 1"  # inside a string it is just text
    assert run(tenant, {"kind": "HogQLQuery", "query": text})["results"] == [["{filters}"]]


def test_filters_date_bounds_follow_posthog(server: ServerThread) -> None:
    tenant = _tenant(server)
    whole_days = {"date_from": "2024-05-02", "date_to": "2024-05-03"}
    assert _count(tenant, dateRange=whole_days) == 2
    assert _count(tenant, dateRange={**whole_days, "explicitDate": True}) == 1  # up to 3 May 00:00

    now = datetime.now(UTC).replace(tzinfo=None)
    start_of_yesterday = datetime.combine(now.date() - timedelta(days=1), datetime.min.time())
    insert_events(
        server,
        tenant.project_id,
        [
            Event("zed", "$pageview", start_of_yesterday + timedelta(seconds=1)),
            Event("zed", "$pageview", now + timedelta(days=2)),  # a clock-skewed future event
        ],
    )
    # "-1d" starts at the beginning of yesterday; with no date_to the range ends with today.
    assert _count(tenant, dateRange={"date_from": "-1d"}) == 1
    assert _count(tenant, dateRange={"date_from": "all"}) == 6  # no bounds at all


def test_filters_placeholder_after_a_block_comment(server: ServerThread) -> None:
    tenant = _tenant(server)
    sql = "/* don't count signups */ SELECT count() FROM events WHERE event = '$pageview' AND {filters}"
    assert _count(tenant, sql, dateRange={"date_from": "2024-05-02", "date_to": "2024-05-03"}) == 2


def test_date_range_placeholders(server: ServerThread) -> None:
    tenant = _tenant(server)
    sql = (
        "SELECT count() FROM events WHERE event = '$pageview' "
        "AND timestamp >= {filters.dateRange.from} AND timestamp <= {filters.dateRange.to}"
    )
    assert _count(tenant, sql, dateRange={"date_from": "2024-05-02", "date_to": "2024-05-03"}) == 2
    assert _count(tenant, sql, dateRange={"date_from": "2024-05-03"}) == 2  # no date_to: ends today
    assert _count(tenant, sql) == 4  # no filters: both comparisons are skipped
    response = tenant.client().post(
        f"{tenant.base}/query/",
        json={"query": {"kind": "HogQLQuery", "query": "SELECT {filters.breakdown} FROM events"}},
    )
    assert response.status_code == 400
    assert "Unsupported filters placeholder `{filters.breakdown}`" in response.json()["detail"]
