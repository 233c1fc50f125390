"""Funnels through POST /query/ reproduce the spec's worked example (§7)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.queries.events import ev, run
from tests.queries.worked_example import RANGE, load
from tests.support import ServerThread, Tenant, new_tenant

STEPS = [ev("$pageview"), ev("signup"), ev("purchase")]


@pytest.fixture
def example(server: ServerThread) -> Tenant:
    tenant = new_tenant(server)
    load(server, tenant.project_id)
    return tenant


def funnel(tenant: Tenant, series: list[dict[str, Any]] | None = None, **filters: Any) -> Any:
    query: dict[str, Any] = {"kind": "FunnelsQuery", "series": series or STEPS, "dateRange": RANGE}
    extra = filters.pop("breakdownFilter", None)
    if extra:
        query["breakdownFilter"] = extra
    query["funnelsFilter"] = {"funnelWindowInterval": 14, "funnelWindowIntervalUnit": "day", **filters}
    return run(tenant, {"kind": "InsightVizNode", "source": query})["results"]


def test_ordered_counts_and_conversion_times(example: Tenant) -> None:
    steps = funnel(example)
    assert [s["count"] for s in steps] == [3, 3, 1]
    assert steps[0]["average_conversion_time"] is None
    assert steps[1]["average_conversion_time"] == 1600
    assert steps[1]["median_conversion_time"] == 1500
    assert steps[2]["average_conversion_time"] == steps[2]["median_conversion_time"] == 88200
    assert [s["name"] for s in steps] == ["$pageview", "signup", "purchase"]


def test_strict_and_unordered(example: Tenant) -> None:
    assert [s["count"] for s in funnel(example, funnelOrderType="strict")] == [3, 2, 1]
    unordered = funnel(example, funnelOrderType="unordered")
    assert [s["count"] for s in unordered] == [3, 3, 2]
    assert unordered[1]["name"] == "Completed 2 steps" and unordered[1]["action_id"] is None


def test_exclusion_removes_actor(example: Tenant) -> None:
    exclusion = {**ev("purchase"), "funnelFromStep": 0, "funnelToStep": 1}
    steps = funnel(example, STEPS[:2], exclusions=[exclusion])
    assert [s["count"] for s in steps] == [2, 2]


def test_breakdown_first_touch(example: Tenant) -> None:
    groups = funnel(example, breakdownFilter={"breakdown": "$browser"})
    got = {tuple(g[0]["breakdown_value"]): [s["count"] for s in g] for g in groups}
    assert got == {("Chrome",): [2, 2, 1], ("Firefox",): [1, 1, 0]}


def test_time_to_convert(example: Tenant) -> None:
    result = funnel(example, funnelVizType="time_to_convert")
    assert result == {"bins": [[89700, 1], [89760, 0]], "average_conversion_time": 89700}


def test_trends_viz(example: Tenant) -> None:
    (item,) = funnel(example, funnelVizType="trends")
    assert item["data"] == [0, 0, 0, 0, 0, 50.0, 0, 0]
    assert item["count"] == 8


def test_validation_errors_are_400(example: Tenant) -> None:
    client = example.client()
    one_step = {"kind": "FunnelsQuery", "series": [ev("$pageview")]}
    response = client.post(f"{example.base}/query/", json={"query": one_step})
    assert response.status_code == 400
    assert response.json()["detail"] == "Funnels require at least two steps."
    unknown = {"kind": "FunnelsQuery", "series": STEPS, "funnelsFilter": {"funnelWindowIntervall": 3}}
    body = client.post(f"{example.base}/query/", json={"query": unknown}).json()
    assert body["type"] == "validation_error" and "funnelWindowIntervall" in body["detail"]
    retention = {"kind": "InsightVizNode", "source": {"kind": "RetentionQuery", "retentionFilter": {}}}
    body = client.post(f"{example.base}/query/", json={"query": retention}).json()
    assert "RetentionQuery" in body["detail"] and body["attr"] == "query__source__kind"
