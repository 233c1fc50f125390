"""Insight retrieve with ``filters_override`` / ``tile_filters_override``: the dashboard's date range
replaces the insight's, its property filters are AND-ed with the insight's, and the stored insight is
unchanged (PostHog's ``apply_dashboard_filters``)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from tests.queries.events import Event, ev, loaded_tenant, trends
from tests.support import ServerThread, Tenant

START = datetime(2024, 3, 1, 12)


def _tenant(server: ServerThread) -> Tenant:
    events = [
        Event(f"u{i}", "$pageview", START + timedelta(days=day), {"$browser": browser, "plan": plan})
        for i, (day, browser, plan) in enumerate(
            [(0, "Chrome", "free"), (0, "Chrome", "pro"), (1, "Firefox", "pro"), (2, "Chrome", "pro"),
             (9, "Chrome", "pro")]
        )
    ]  # fmt: skip
    return loaded_tenant(server, events)


def _retrieve(tenant: Tenant, insight_id: int, **overrides: Any) -> dict[str, Any]:
    params = {"refresh": "blocking", **{k: json.dumps(v) for k, v in overrides.items()}}
    response = tenant.client().get(f"{tenant.base}/insights/{insight_id}/", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_dashboard_dates_and_properties_apply_to_the_computation(server: ServerThread) -> None:
    tenant = _tenant(server)
    chrome = [{"key": "$browser", "value": "Chrome", "operator": "exact", "type": "event"}]
    source = trends(
        [ev("$pageview")],
        dateRange={"date_from": "2024-03-01", "date_to": "2024-03-15"},
        properties=chrome,
        trendsFilter={"display": "BoldNumber"},
    )
    query = {"kind": "InsightVizNode", "source": source}
    created = tenant.client().post(f"{tenant.base}/insights/", json={"name": "views", "query": query}).json()
    assert _retrieve(tenant, created["id"])["result"][0]["aggregated_value"] == 4  # Chrome views

    pro = [{"key": "plan", "value": "pro", "operator": "exact", "type": "event"}]
    dashboard = {"date_from": "2024-03-01", "date_to": "2024-03-03T23:59:59", "properties": pro}
    body = _retrieve(tenant, created["id"], filters_override=dashboard)
    assert body["result"][0]["aggregated_value"] == 2  # Chrome (the insight's) AND pro, first three days
    effective = body["query"]["source"]
    assert effective["dateRange"]["date_to"] == "2024-03-03T23:59:59"
    assert effective["properties"]["type"] == "AND"

    # A tile's filters apply after the dashboard's.
    tile = {"date_from": "2024-03-01", "date_to": "2024-03-15"}
    assert _retrieve(tenant, created["id"], filters_override=dashboard, tile_filters_override=tile)[
        "result"
    ][0]["aggregated_value"] == 3  # fmt: skip

    stored = _retrieve(tenant, created["id"])
    assert stored["query"] == query  # the saved insight is untouched
    assert stored["result"][0]["aggregated_value"] == 4


def test_bad_filter_overrides_are_400s(server: ServerThread) -> None:
    tenant = _tenant(server)
    query = {"kind": "InsightVizNode", "source": trends([ev("$pageview")])}
    created = tenant.client().post(f"{tenant.base}/insights/", json={"name": "x", "query": query}).json()
    url = f"{tenant.base}/insights/{created['id']}/"
    for params, attr in [
        ({"filters_override": "[1, 2]"}, "filters_override"),
        ({"filters_override": json.dumps({"properties": {"key": "x"}})}, "filters_override"),
        ({"tile_filters_override": json.dumps({"date_from": 7})}, "tile_filters_override"),
    ]:
        response = tenant.client().get(url, params={**params, "refresh": "blocking"})
        assert response.status_code == 400, (params, response.text)
        assert response.json()["attr"] == attr
    bad_filter = json.dumps({"properties": [{"key": "x", "operator": "resembles"}]})
    response = tenant.client().get(url, params={"filters_override": bad_filter, "refresh": "blocking"})
    assert response.status_code == 400 and "operator" in response.json()["detail"]
