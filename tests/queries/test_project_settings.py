"""Project settings that change numbers: ``week_start_day`` (weekly buckets, HogQL ``toStartOfWeek``)
and ``test_account_filters`` (AND-ed into trends and funnels that set ``filterTestAccounts``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.queries.events import Event, ev, loaded_tenant, run, set_person, trends
from tests.support import ServerThread, Tenant

JAN = datetime(2024, 1, 1, 12)  # a Monday
WEEKS = {"date_from": "2024-01-01", "date_to": "2024-01-21"}  # Monday 1st … Sunday 21st
TEST_FILTERS = [
    {"key": "$host", "value": "^(localhost|127\\.0\\.0\\.1)($|:)", "operator": "not_regex", "type": "event"},
    {"key": "email", "value": "@acme.test", "operator": "not_icontains", "type": "person"},
]


def _patch(tenant: Tenant, **settings: Any) -> None:
    response = tenant.client().patch(f"{tenant.base}/", json=settings)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("week_start_day", "days", "counts"),
    [
        (0, ["2023-12-31", "2024-01-07", "2024-01-14", "2024-01-21"], [6, 7, 7, 1]),
        (1, ["2024-01-01", "2024-01-08", "2024-01-15"], [7, 7, 7]),
    ],
)
def test_weekly_buckets_start_on_the_projects_week_start_day(
    server: ServerThread, week_start_day: int, days: list[str], counts: list[int]
) -> None:
    tenant = loaded_tenant(server, [Event("u", "$pageview", JAN + timedelta(days=d)) for d in range(21)])
    _patch(tenant, week_start_day=week_start_day)
    body = run(tenant, trends([ev("$pageview")], interval="week", dateRange=WEEKS))
    (series,) = body["results"]
    assert series["days"] == days
    assert series["data"] == counts
    weeks = "SELECT toString(toStartOfWeek(timestamp)) AS w, count() FROM events GROUP BY w ORDER BY w"
    sql = {"kind": "HogQLQuery", "query": weeks}
    assert [row[1] for row in run(tenant, sql)["results"]] == counts


def _accounts(server: ServerThread) -> Tenant:
    events = [
        Event("real", "$pageview", JAN, {"$host": "app.example.com"}),
        Event("real", "signup", JAN + timedelta(hours=1), {"$host": "app.example.com"}),
        Event("local", "$pageview", JAN, {"$host": "localhost:8000"}),
        Event("local", "signup", JAN + timedelta(hours=1), {"$host": "localhost:8000"}),
        Event("staff", "$pageview", JAN, {"$host": "app.example.com"}),
        Event("staff", "signup", JAN + timedelta(hours=1), {"$host": "app.example.com"}),
        Event("nohost", "$pageview", JAN, {}),
    ]
    tenant = loaded_tenant(server, events)
    set_person(server, tenant.project_id, "staff", {"email": "dev@acme.test"})
    set_person(server, tenant.project_id, "real", {"email": "ann@customer.example"})
    return tenant


def test_filter_test_accounts_in_trends_and_funnels(server: ServerThread) -> None:
    tenant = _accounts(server)
    _patch(tenant, test_account_filters=TEST_FILTERS)
    day = {"date_from": "2024-01-01", "date_to": "2024-01-01T23:59:59"}
    count = trends([ev("$pageview")], dateRange=day, trendsFilter={"display": "BoldNumber"})
    assert run(tenant, count)["results"][0]["aggregated_value"] == 4
    # Not a local $host, and no person email at the company: "real" and the host-less event remain.
    assert run(tenant, {**count, "filterTestAccounts": True})["results"][0]["aggregated_value"] == 2
    funnel = {"kind": "FunnelsQuery", "series": [ev("$pageview"), ev("signup")], "dateRange": day}
    assert [s["count"] for s in run(tenant, funnel)["results"]] == [4, 3]
    assert [s["count"] for s in run(tenant, {**funnel, "filterTestAccounts": True})["results"]] == [2, 1]
    # With a query filter of its own, both apply.
    only_real = [{"key": "$host", "value": "app.example.com", "operator": "exact", "type": "event"}]
    filtered = {**count, "filterTestAccounts": True, "properties": only_real}
    assert run(tenant, filtered)["results"][0]["aggregated_value"] == 1


def test_changed_test_account_filters_are_not_answered_from_the_cache(server: ServerThread) -> None:
    tenant = _accounts(server)
    _patch(tenant, test_account_filters=TEST_FILTERS)
    query = trends(
        [ev("$pageview")],
        dateRange={"date_from": "2024-01-01", "date_to": "2024-01-01T23:59:59"},
        trendsFilter={"display": "BoldNumber"},
        filterTestAccounts=True,
    )
    assert run(tenant, query)["results"][0]["aggregated_value"] == 2
    assert run(tenant, query)["is_cached"] is True
    _patch(tenant, test_account_filters=TEST_FILTERS[:1])
    again = run(tenant, query)
    assert again["is_cached"] is False
    assert again["results"][0]["aggregated_value"] == 3
    _patch(tenant, week_start_day=1)  # every setting that changes numbers is part of the cache key
    assert run(tenant, query)["is_cached"] is False
