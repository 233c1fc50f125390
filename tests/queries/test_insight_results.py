"""Saved insights compute or read their results by ``refresh`` (spec §10), in PostHog's fields (§15)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.queries.events import Event, ev, insert_events, trends
from tests.support import ServerThread, Tenant

VIEWS = {
    "kind": "InsightVizNode",
    "source": trends([ev("$pageview")], dateRange={"date_from": "2024-01-01", "date_to": "2024-01-03"}),
}


@pytest.fixture
def loaded(server: ServerThread, tenant: Tenant) -> Tenant:
    when = datetime(2024, 1, 2, 12, 0)
    insert_events(server, tenant.project_id, [Event("a", "$pageview", when), Event("b", "$pageview", when)])
    return tenant


def create(api: httpx.Client, tenant: Tenant, query: dict[str, Any], name: str = "x") -> int:
    response = api.post(f"{tenant.base}/insights/", json={"name": name, "query": query})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_refresh_modes_on_retrieve(api: httpx.Client, loaded: Tenant) -> None:
    insight = create(api, loaded, VIEWS)
    url = f"{loaded.base}/insights/{insight}/"
    cold = api.get(url).json()
    assert cold["result"] is None and cold["is_cached"] is False
    computed = api.get(url, params={"refresh": "blocking"}).json()
    assert computed["result"][0]["data"] == [0, 2, 0]
    assert computed["is_cached"] is False and computed["last_refresh"]
    assert computed["resolved_date_range"]["date_from"].startswith("2024-01-01")
    assert computed["timezone"] == "UTC" and "SELECT" in computed["hogql"]
    cached = api.get(url).json()
    assert cached["is_cached"] is True and cached["result"] == computed["result"]
    assert cached["last_refresh"] == computed["last_refresh"]
    assert cached["cache_target_age"] > cached["last_refresh"]
    fresh_blocking = api.get(url, params={"refresh": "blocking"}).json()
    assert fresh_blocking["is_cached"] is True  # a range that ended long ago is never stale
    forced = api.get(url, params={"refresh": "force_blocking"}).json()
    assert forced["is_cached"] is False


def test_async_refresh_reports_status(api: httpx.Client, loaded: Tenant) -> None:
    insight = create(api, loaded, VIEWS)
    body = api.get(
        f"{loaded.base}/insights/{insight}/", params={"refresh": "force_async", "client_query_id": "my-q-1"}
    ).json()
    assert body["query_status"]["id"] == "my-q-1" and body["query_status"]["query_async"] is True
    deadline = time.monotonic() + 20
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = api.get(f"{loaded.base}/query/my-q-1/").json()["query_status"]
        if status["complete"]:
            break
        time.sleep(0.05)
    assert status["complete"] and not status["error"]
    assert status["results"]["results"][0]["data"] == [0, 2, 0]
    assert api.get(f"{loaded.base}/insights/{insight}/").json()["is_cached"] is True


def test_one_broken_insight_never_breaks_a_list(api: httpx.Client, loaded: Tenant) -> None:
    create(api, loaded, VIEWS, "good")
    broken = {
        "kind": "DataVisualizationNode",
        "source": {"kind": "HogQLQuery", "query": "SELECT nope FROM events"},
    }
    create(api, loaded, broken, "broken")
    response = api.get(f"{loaded.base}/insights/", params={"refresh": "blocking"})
    assert response.status_code == 200
    by_name = {item["name"]: item for item in response.json()["results"]}
    assert by_name["good"]["result"][0]["data"] == [0, 2, 0]
    assert by_name["broken"]["result"] is None and by_name["broken"]["query_status"]["error"] is True
    single = api.get(f"{loaded.base}/insights/{by_name['broken']['id']}/", params={"refresh": "blocking"})
    assert single.status_code == 400 and "nope" in single.json()["detail"]


def test_uncomputable_kind_saves_and_explains(api: httpx.Client, tenant: Tenant) -> None:
    retention = {"kind": "InsightVizNode", "source": {"kind": "RetentionQuery", "retentionFilter": {}}}
    insight = create(api, tenant, retention)
    assert api.get(f"{tenant.base}/insights/{insight}/").json()["result"] is None
    response = api.get(f"{tenant.base}/insights/{insight}/", params={"refresh": "blocking"})
    assert response.status_code == 400 and "RetentionQuery" in response.json()["detail"]
    # As PostHog's insight endpoints: an unknown refresh value reads the cache only.
    unknown = api.get(f"{tenant.base}/insights/{insight}/", params={"refresh": "sometimes"})
    assert unknown.status_code == 200 and unknown.json()["result"] is None


def test_query_endpoint_cache_and_modes(api: httpx.Client, loaded: Tenant) -> None:
    url = f"{loaded.base}/query/"
    first = api.post(url, json={"query": VIEWS}).json()
    assert first["is_cached"] is False
    again = api.post(url, json={"query": VIEWS}).json()
    assert again["is_cached"] is True and again["cache_key"] == first["cache_key"]
    cached_only = api.post(url, json={"query": VIEWS, "refresh": "force_cache"}).json()
    assert cached_only["results"] == first["results"]
