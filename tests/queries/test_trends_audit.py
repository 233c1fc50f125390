"""Trends behaviours the PostHog audit checked: date property operators, out-of-range dates, BoldNumber's
end of day, null in total-value breakdown limits, person-property maths, sessions, unsupported options,
formula nodes and TrendsFilter validation — all through POST /query/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.queries.events import Event, ev, loaded_tenant, run, set_person, trends
from tests.support import ServerThread, Tenant

RANGE = {"date_from": "2024-01-03", "date_to": "2024-01-10"}


def post(tenant: Tenant, query: dict[str, Any]) -> Any:
    return tenant.client().post(f"{tenant.base}/query/", json={"query": query})


def total(tenant: Tenant, *series: dict[str, Any], **extra: Any) -> list[Any]:
    body = run(tenant, trends(list(series), trendsFilter={"display": "ActionsTable"}, **extra))
    return [item["aggregated_value"] for item in body["results"]]


# -- 1. is_date_before / is_date_after / is_date_exact -----------------------------------------------
@pytest.fixture
def dated(server: ServerThread) -> Tenant:
    at = datetime(2024, 1, 8, 12)
    stored = ["2024-01-04", "2024-01-06T10:00:00Z", "1704412800", "2024-01-05 00:00:00", "soon", None]
    events = [
        Event(f"u{i}", "signup", at, {} if value is None else {"paid_on": value})
        for i, value in enumerate(stored)
    ]
    return loaded_tenant(server, events)


def _date_filter(operator: str, value: str) -> dict[str, Any]:
    return {"key": "paid_on", "operator": operator, "value": value, "type": "event"}


def test_date_operators_parse_iso_dates_and_unix_timestamps(dated: Tenant) -> None:
    def count(operator: str, value: str) -> int:
        (value_,) = total(dated, ev("signup"), dateRange=RANGE, properties=[_date_filter(operator, value)])
        return int(value_)

    # Stored: 01-04, 01-06 10:00Z, 1704412800 (= 01-05 00:00Z), "2024-01-05 00:00:00", "soon", missing.
    assert count("is_date_before", "2024-01-05") == 1
    assert count("is_date_after", "2024-01-05") == 1
    assert count("is_date_exact", "2024-01-05") == 2
    assert count("is_date_after", "2024-01-01T00:00:00Z") == 4
    assert count("is_date_before", "1704412801") == 3


def test_date_operators_read_stored_dates_as_the_best_effort_parser(server: ServerThread) -> None:
    """Stored forms that ClickHouse's best-effort parser (PostHog's) reads: compact and unpadded dates,
    slashes, a year, unix milliseconds; impossible days and other numbers are no date."""
    stored = {
        "20240103": True,  # 2024-01-03
        "2024-1-3 9:05": True,
        "2024/01/03": True,
        "1704240000000": True,  # ms: 2024-01-03 00:00Z
        "2023": True,  # 2023-01-01
        "2024-02-30": False,
        "20240230": False,
        "99999": False,
    }
    at = datetime(2024, 1, 8, 12)
    tenant = loaded_tenant(
        server, [Event(f"u{i}", "signup", at, {"paid_on": value}) for i, value in enumerate(stored)]
    )
    (before,) = total(
        tenant, ev("signup"), dateRange=RANGE, properties=[_date_filter("is_date_before", "2024-01-04")]
    )
    (after,) = total(
        tenant, ev("signup"), dateRange=RANGE, properties=[_date_filter("is_date_after", "2024-01-02")]
    )
    assert (before, after) == (5, 4)  # the year 2023 is before 01-02; the rest fall on 01-03


def test_date_operators_take_relative_dates(server: ServerThread) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    recent = (now - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    old = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    tenant = loaded_tenant(
        server,
        [
            Event("a", "signup", now - timedelta(hours=1), {"paid_on": recent}),
            Event("b", "signup", now - timedelta(hours=1), {"paid_on": old}),
        ],
    )
    window = {"date_from": "-1d"}
    after = total(tenant, ev("signup"), dateRange=window, properties=[_date_filter("is_date_after", "-7d")])
    before = total(tenant, ev("signup"), dateRange=window, properties=[_date_filter("is_date_before", "-7d")])
    ancient = total(
        tenant, ev("signup"), dateRange=window, properties=[_date_filter("is_date_after", "-1000d")]
    )
    assert (after, before, ancient) == ([1], [1], [2])
    tenant.close()


# -- 2. relative dates out of range -------------------------------------------------------------------
def test_overflowing_relative_dates_are_a_validation_error(dated: Tenant) -> None:
    for query in (
        trends([ev("signup")], dateRange={"date_from": "-99999999d"}),
        trends([ev("signup")], dateRange={"date_from": "-3d", "date_to": "-99999999d"}),
        trends([ev("signup")], properties=[_date_filter("is_date_after", "-99999999d")]),
    ):
        response = post(dated, query)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["type"] == "validation_error"
        assert "out of range" in body["detail"]
        assert set(body) == {"type", "code", "detail", "attr"}


def test_compare_period_before_year_one_is_a_validation_error(dated: Tenant) -> None:
    query = trends([ev("signup")], dateRange={"date_from": "-738000d"}, compareFilter={"compare": True})
    response = post(dated, query)
    assert response.status_code == 400, response.text
    assert "out of range" in response.json()["detail"]


# -- 4. total-value breakdown limit ranks null like any value ------------------------------------------
def test_total_value_breakdown_limit_ranks_null_by_its_total(server: ServerThread) -> None:
    at = datetime(2024, 1, 5, 12)
    counts = {"A": 5, "B": 4, "C": 3, "D": 2, None: 3}
    events = [
        Event(f"u{value}{i}", "view", at, {} if value is None else {"plan": value})
        for value, n in counts.items()
        for i in range(n)
    ]
    tenant = loaded_tenant(server, events)
    breakdown = {"breakdown": "plan", "breakdown_limit": 4}
    body = run(
        tenant,
        trends(
            [ev("view")], dateRange=RANGE, breakdownFilter=breakdown, trendsFilter={"display": "ActionsPie"}
        ),
    )
    got = [(item["breakdown_value"], item["aggregated_value"]) for item in body["results"]]
    assert got == [
        ("A", 5),
        ("B", 4),
        ("C", 3),
        ("$$_posthog_breakdown_null_$$", 3),
        ("$$_posthog_breakdown_other_$$", 2),
    ]
    assert body["hasMore"] is True
    series = run(tenant, trends([ev("view")], dateRange=RANGE, breakdownFilter=breakdown))
    assert [item["breakdown_value"] for item in series["results"]] == [
        "A",
        "B",
        "C",
        "D",
        "$$_posthog_breakdown_other_$$",
    ]
    tenant.close()


# -- 5. property maths over person properties ----------------------------------------------------------
def test_property_math_reads_person_properties_when_asked(server: ServerThread) -> None:
    at = datetime(2024, 1, 5, 12)
    events = [
        Event("a", "buy", at, {"age": 100}),
        Event("a", "buy", at, {"age": 100}),
        Event("b", "buy", at, {"age": 100}),
    ]
    tenant = loaded_tenant(server, events)
    set_person(server, tenant.project_id, "a", {"age": 30})
    set_person(server, tenant.project_id, "b", {"age": 50})
    person = {"math_property": "age", "math_property_type": "person_properties"}
    assert total(tenant, ev("buy", math="sum", **person), dateRange=RANGE) == [110]
    assert total(tenant, ev("buy", math="max", **person), dateRange=RANGE) == [50]
    assert total(tenant, ev("buy", math="sum", math_property="age"), dateRange=RANGE) == [300]
    tenant.close()


# -- 6. unique sessions --------------------------------------------------------------------------------
def test_unique_session_counts_events_without_a_session_as_one_session(server: ServerThread) -> None:
    at = datetime(2024, 1, 5, 12)
    sessions = ["s1", "s1", "s2", None, None]
    events = [Event("a", "view", at, {} if s is None else {"$session_id": s}) for s in sessions]
    tenant = loaded_tenant(server, events)
    assert total(tenant, ev("view", math="unique_session"), dateRange=RANGE) == [3]
    tenant.close()


# -- 7. options insightd cannot compute are refused -----------------------------------------------------
@pytest.mark.parametrize(
    ("query", "attr"),
    [
        (trends([ev("view", math="dau", math_group_type_index=0)]), "series__0__math_group_type_index"),
        (
            trends([ev("view", math="avg", math_property="$session_duration")]),
            "series__0__math_property",
        ),
        (
            trends([ev("view")], breakdownFilter={"breakdown": "n", "breakdown_histogram_bin_count": 5}),
            "breakdownFilter__breakdown_histogram_bin_count",
        ),
    ],
)
def test_unsupported_options_are_refused_by_name(dated: Tenant, query: dict[str, Any], attr: str) -> None:
    response = post(dated, query)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["attr"] == attr
    assert attr.rsplit("__", 1)[-1] in body["detail"] or "$session_duration" in body["detail"]


# -- 8-12. formulas, TrendsFilter, action.math ------------------------------------------------------------
@pytest.fixture
def browsers(server: ServerThread) -> Tenant:
    """a: Chrome 3, Firefox 1, Safari 1 on 01-05; b: Chrome 1, Firefox 2 on 01-05; both 1 Chrome on 12-31."""
    at, before = datetime(2024, 1, 5, 12), datetime(2023, 12, 31, 12)
    plan = {
        ("a", "Chrome"): 3,
        ("a", "Firefox"): 1,
        ("a", "Safari"): 1,
        ("b", "Chrome"): 1,
        ("b", "Firefox"): 2,
    }
    events = [
        Event(f"u{i}", name, at, {"$browser": browser})
        for (name, browser), n in plan.items()
        for i in range(n)
    ]
    events += [Event("p", name, before, {"$browser": "Chrome"}) for name in ("a", "b")]
    return loaded_tenant(server, events)


def test_formula_nodes_label_with_custom_name_in_order(browsers: Tenant) -> None:
    nodes = [{"formula": "A+B", "custom_name": "Both"}, {"formula": "A-B"}]
    body = run(browsers, trends([ev("a"), ev("b")], dateRange=RANGE, trendsFilter={"formulaNodes": nodes}))
    got = [(i["label"], i["order"], i["count"], i["action"]) for i in body["results"]]
    assert got == [("Both", 0, 8.0, None), ("Formula (A-B)", 1, 2.0, None)]


def test_formula_with_breakdown_labels_the_formula_and_sorts_descending(browsers: Tenant) -> None:
    body = run(
        browsers,
        trends(
            [ev("a"), ev("b")],
            dateRange=RANGE,
            breakdownFilter={"breakdown": "$browser"},
            trendsFilter={"formula": "A+B", "display": "ActionsTable"},
        ),
    )
    got = [(i["label"], i["breakdown_value"], i["aggregated_value"]) for i in body["results"]]
    # Highest total first.
    assert got == [
        ("Formula (A+B)", "Chrome", 4.0),
        ("Formula (A+B)", "Firefox", 3.0),
        ("Formula (A+B)", "Safari", 1.0),
    ]
    assert all(isinstance(i["aggregated_value"], float) for i in body["results"])
    tie = run(
        browsers,
        trends(
            [ev("a")],
            dateRange=RANGE,
            breakdownFilter={"breakdown": "$browser"},
            trendsFilter={"formulaNodes": [{"formula": "A*0", "custom_name": "zero"}]},
        ),
    )
    assert [(i["label"], i["breakdown_value"]) for i in tie["results"]] == [
        ("zero", "Safari"),
        ("zero", "Firefox"),
        ("zero", "Chrome"),
    ]


def test_several_formulas_with_compare_go_formula_by_formula(browsers: Tenant) -> None:
    body = run(
        browsers,
        trends(
            [ev("a"), ev("b")],
            dateRange={"date_from": "2024-01-03", "date_to": "2024-01-06"},
            compareFilter={"compare": True},
            trendsFilter={"formulas": ["A+B", "A-B"]},
        ),
    )
    got = [(i["label"], i["compare_label"], i["order"], i["count"]) for i in body["results"]]
    assert got == [
        ("Formula (A+B)", "current", 0, 8.0),
        ("Formula (A+B)", "previous", 0, 2.0),
        ("Formula (A-B)", "current", 1, 2.0),
        ("Formula (A-B)", "previous", 1, 0.0),
    ]


def test_total_value_formula_is_a_float_and_action_math_echoes_the_series(browsers: Tenant) -> None:
    body = run(
        browsers,
        trends([ev("a"), ev("b")], dateRange=RANGE, trendsFilter={"formula": "A", "display": "BoldNumber"}),
    )
    (item,) = body["results"]
    assert item["aggregated_value"] == 5.0 and isinstance(item["aggregated_value"], float)
    plain = run(browsers, trends([ev("a"), ev("b", math="dau")], dateRange=RANGE))
    assert [i["action"]["math"] for i in plain["results"]] == [None, "dau"]


@pytest.mark.parametrize(
    ("trends_filter", "attr"),
    [
        ({"display": "PieChart"}, "query__trendsFilter__display"),
        ({"formulaa": "A+B"}, "query__trendsFilter__formulaa"),
    ],
)
def test_trends_filter_refuses_unknown_fields_and_displays(
    dated: Tenant, trends_filter: dict[str, Any], attr: str
) -> None:
    response = post(dated, trends([ev("signup")], trendsFilter=trends_filter))
    assert response.status_code == 400, response.text
    assert response.json()["attr"] == attr


def test_trends_filter_accepts_posthog_display_settings(dated: Tenant) -> None:
    settings = {
        "display": "ActionsAreaGraph",
        "showLegend": True,
        "showValuesOnSeries": False,
        "aggregationAxisFormat": "numeric",
        "decimalPlaces": 2,
        "goalLines": [{"label": "goal", "value": 10}],
        "hiddenLegendIndexes": [1],
        "yAxisScaleType": "log10",
        "showPercentStackView": False,
        "resultCustomizationBy": "value",
        "showMultipleYAxes": False,
        "showAlertThresholdLines": False,
    }
    body = run(dated, trends([ev("signup")], dateRange=RANGE, trendsFilter=settings))
    assert body["results"][0]["count"] == 6.0
