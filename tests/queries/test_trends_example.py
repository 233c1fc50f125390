"""Trends through POST /query/ reproduce the spec's worked example (§7) number for number."""

from __future__ import annotations

from typing import Any

import pytest

from tests.queries.events import ev, run, trends
from tests.queries.worked_example import RANGE, load
from tests.support import ServerThread, Tenant, new_tenant


@pytest.fixture
def example(server: ServerThread) -> Tenant:
    tenant = new_tenant(server)
    load(server, tenant.project_id)
    return tenant


@pytest.fixture
def example_ny(server: ServerThread) -> Tenant:
    tenant = new_tenant(server, timezone="America/New_York")
    load(server, tenant.project_id)
    return tenant


def series_data(tenant: Tenant, *series: dict[str, Any], **extra: Any) -> list[dict[str, Any]]:
    body = run(tenant, trends(list(series), dateRange=RANGE, **extra))
    results: list[dict[str, Any]] = body["results"]
    return results


def test_total_count_days_and_labels(example: Tenant) -> None:
    (item,) = series_data(example, ev("$pageview"))
    assert item["data"] == [1, 0, 0, 0, 0, 3, 1, 1]
    assert item["count"] == 6.0
    assert item["days"] == [f"2024-01-{d:02d}" for d in range(3, 11)]
    assert item["labels"][0] == "3-Jan-2024" and item["labels"][-1] == "10-Jan-2024"
    assert item["label"] == "$pageview"
    assert item["action"]["math"] is None  # echoes the series' math, as PostHog


def test_dau_counts_merged_person_once(example: Tenant) -> None:
    (item,) = series_data(example, ev("$pageview", math="dau"))
    assert item["data"] == [1, 0, 0, 0, 0, 2, 1, 1]


def test_weekly_active_rolling_window(example: Tenant) -> None:
    (item,) = series_data(example, ev("$pageview", math="weekly_active"))
    assert item["data"] == [1, 1, 1, 1, 1, 3, 3, 3]
    assert item["count"] == 14.0


def test_cumulative(example: Tenant) -> None:
    (item,) = series_data(example, ev("$pageview"), trendsFilter={"display": "ActionsLineGraphCumulative"})
    assert item["data"] == [1, 1, 1, 1, 1, 4, 5, 6]
    assert item["count"] == 6


def test_sum_ignores_non_numeric(example: Tenant) -> None:
    (item,) = series_data(example, ev("purchase", math="sum", math_property="price"))
    assert item["data"] == [0, 0, 0, 0, 0, 0, 30, 0]


def test_formula_with_zero_division(example: Tenant) -> None:
    (item,) = series_data(example, ev("signup"), ev("$pageview"), trendsFilter={"formula": "A/B*100"})
    assert item["label"] == "Formula (A/B*100)"
    assert item["data"][:5] == [0, 0, 0, 0, 0]
    assert item["data"][5] == pytest.approx(33.3333, rel=1e-4)
    assert item["data"][6:] == [100, 100]


def test_smoothing(example: Tenant) -> None:
    (item,) = series_data(example, ev("$pageview"), trendsFilter={"smoothingIntervals": 2})
    assert item["data"] == [1, 0, 0, 0, 0, 1, 2, 1]


def test_breakdown_null_and_other(example: Tenant) -> None:
    breakdown = {"breakdown": "$browser", "breakdown_type": "event"}
    body = run(example, trends([ev("$pageview")], dateRange=RANGE, breakdownFilter=breakdown))
    got = [(i["breakdown_value"], i["data"]) for i in body["results"]]
    assert got == [
        ("Chrome", [1, 0, 0, 0, 0, 2, 0, 0]),
        ("Firefox", [0, 0, 0, 0, 0, 1, 1, 0]),
        ("$$_posthog_breakdown_null_$$", [0, 0, 0, 0, 0, 0, 0, 1]),
    ]
    assert body["hasMore"] is False
    limited = run(
        example,
        trends([ev("$pageview")], dateRange=RANGE, breakdownFilter={**breakdown, "breakdown_limit": 1}),
    )
    got = [(i["breakdown_value"], i["data"]) for i in limited["results"]]
    assert got == [
        ("Chrome", [1, 0, 0, 0, 0, 2, 0, 0]),
        ("$$_posthog_breakdown_other_$$", [0, 0, 0, 0, 0, 1, 1, 1]),
    ]
    assert limited["hasMore"] is True


def test_timezone_moves_events_between_days(example_ny: Tenant) -> None:
    (item,) = series_data(example_ny, ev("$pageview"))
    assert item["data"][5:7] == [4, 0]


def test_bold_number_and_dau_total(example: Tenant) -> None:
    display = {"display": "BoldNumber"}
    body = run(
        example, trends([ev("$pageview")], dateRange={**RANGE, "explicitDate": False}, trendsFilter=display)
    )
    (item,) = body["results"]
    assert item["data"] == [] and item["count"] == 0
    # BoldNumber's given date_to still ends with its day (PostHog's exact_timerange only keeps date_from
    # and a missing date_to exact): 01-10 08:00 counts.
    assert item["aggregated_value"] == 6
    assert body["resolved_date_range"]["date_to"] == "2024-01-10T23:59:59.999999+00:00"
    explicit = run(
        example, trends([ev("$pageview")], dateRange={**RANGE, "explicitDate": True}, trendsFilter=display)
    )
    assert explicit["results"][0]["aggregated_value"] == 5  # explicitDate: to 2024-01-10 00:00 as written
    table = run(
        example,
        trends([ev("$pageview", math="dau")], dateRange=RANGE, trendsFilter={"display": "ActionsTable"}),
    )
    assert table["results"][0]["aggregated_value"] == 3


def test_compare_previous_period(example: Tenant) -> None:
    body = run(example, trends([ev("$pageview")], dateRange=RANGE, compareFilter={"compare": True}))
    current, previous = body["results"]
    assert current["compare_label"] == "current" and previous["compare_label"] == "previous"
    assert previous["labels"][0] == "27-Dec-2023"
    assert previous["data"][-1] == 1


def test_week_interval_labels(example: Tenant) -> None:
    (item,) = series_data(example, ev("$pageview"), interval="week")
    assert item["days"] == ["2023-12-31", "2024-01-07"]
    assert item["labels"] == ["3–6 Jan", "7–10 Jan"]
    assert item["data"] == [1, 5]
