"""The offline generator names insights the way a person would (table-driven)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from insightd.metadata.offline import offline_metadata
from insightd.metadata.words import SMALL_WORDS
from tests.metadata.queries import (
    action,
    breakdown,
    event,
    funnel,
    prop,
    retention,
    sql,
    table,
    trends,
    viz,
)

NAMES: list[tuple[str, dict[str, Any], str]] = [
    # trends: one series
    ("pageviews", trends(event("$pageview"), interval="day"), "Daily Pageviews"),
    ("default interval", trends(event("$pageview")), "Daily Pageviews"),
    ("weekly signups", trends(event("user_signed_up"), interval="week"), "Weekly Signups"),
    ("monthly purchases", trends(event("purchase"), interval="month"), "Monthly Purchases"),
    ("hourly logins", trends(event("logged_in"), interval="hour"), "Hourly Logins"),
    ("verb then object", trends(event("uploaded_file"), interval="week"), "Weekly File Uploads"),
    ("object then verb", trends(event("report exported"), interval="day"), "Daily Report Exports"),
    ("screens", trends(event("$screen"), interval="day"), "Daily Screen Views"),
    ("all events", trends(event(None), interval="day"), "Daily Events"),
    ("custom name wins", trends(event("$pageview", custom_name="Blog Visits")), "Daily Blog Visits"),
    ("action", trends(action(12, "Completed onboarding"), interval="week"), "Weekly Completed Onboarding"),
    # maths
    ("DAU", trends(event("$pageview", math="dau"), interval="day"), "Daily Active Users"),
    ("WAU by dau weekly", trends(event("$pageview", math="dau"), interval="week"), "Weekly Active Users"),
    ("weekly_active math", trends(event("$pageview", math="weekly_active")), "Weekly Active Users"),
    ("monthly_active math", trends(event(None, math="monthly_active")), "Monthly Active Users"),
    ("unique signups", trends(event("signed_up", math="dau"), interval="week"), "Weekly Unique Signups"),
    ("sessions", trends(event("$pageview", math="unique_session")), "Daily Sessions with Pageviews"),
    ("first time", trends(event("purchase", math="first_time_for_user")), "Daily First-Time Purchases"),
    (
        "revenue sum",
        trends(event("purchase", math="sum", math_property="revenue"), interval="month"),
        "Monthly Revenue from Purchases",
    ),
    (
        "average order value",
        trends(event("purchase", math="avg", math_property="revenue"), interval="week"),
        "Weekly Average Revenue per Purchase",
    ),
    (
        "p95 load time",
        trends(event("$pageview", math="p95", math_property="load_time"), interval="day"),
        "Daily P95 Load Time per Pageview",
    ),
    (
        "per user",
        trends(event("$pageview", math="avg_count_per_actor"), interval="week"),
        "Weekly Average Pageviews per User",
    ),
    # several series and formulas
    (
        "three series",
        trends(event("$pageview"), event("$pageleave"), event("insight created")),
        "Pageviews, Pageleaves, and Insight Created",
    ),
    ("two series", trends(event("signed_up"), event("logged_in")), "Signups and Logins"),
    (
        "many series",
        trends(*(event(e) for e in ("$pageview", "a", "b", "c", "d", "e", "f"))),
        "Pageviews and Other Key Metrics",
    ),
    (
        "ratio formula",
        trends(event("purchase"), event("$pageview"), trendsFilter={"formula": "A/B"}),
        "Purchases per Pageview",
    ),
    (
        "percent formula",
        trends(event("signed_up"), event("$pageview"), trendsFilter={"formula": "A / B * 100"}),
        "Signups as % of Pageviews",
    ),
    # breakdowns, filters and displays
    (
        "by browser",
        trends(event("$pageview"), interval="day", breakdownFilter=breakdown("$browser")),
        "Daily Pageviews by Browser",
    ),
    (
        "by country (person property)",
        trends(
            event("signed_up"), interval="week", breakdownFilter=breakdown("$geoip_country_code", "person")
        ),
        "Weekly Signups by Country",
    ),
    (
        "two breakdowns",
        trends(
            event("$pageview"),
            breakdownFilter={"breakdowns": [{"property": "$browser"}, {"property": "$os"}]},
        ),
        "Daily Pageviews by Browser and OS",
    ),
    (
        "utm breakdown",
        trends(event("signed_up"), interval="week", breakdownFilter=breakdown("utm_source")),
        "Weekly Signups by UTM Source",
    ),
    (
        "cohort breakdown",
        trends(event("$pageview"), breakdownFilter={"breakdown": [3, 4], "breakdown_type": "cohort"}),
        "Daily Pageviews by Cohort",
    ),
    (
        "filter on browser",
        trends(event("$pageview"), properties=[prop("$browser", "Chrome")]),
        "Daily Pageviews on Chrome",
    ),
    (
        "filter on source",
        trends(event("signed_up"), interval="week", properties=[prop("utm_source", "google")]),
        "Weekly Signups from Google",
    ),
    (
        "person property filter",
        trends(
            event("uploaded_file", math="dau"), interval="week", properties=[prop("plan", "pro", "person")]
        ),
        "Weekly Unique File Uploads (Plan: Pro)",
    ),
    (
        "big number",
        trends(event("signed_up"), trendsFilter={"display": "BoldNumber"}, dateRange={"date_from": "-30d"}),
        "Signups in the Last 30 Days",
    ),
    ("pie", trends(event("$pageview"), trendsFilter={"display": "ActionsPie"}), "Pageviews"),
    (
        "cumulative",
        trends(event("signed_up"), trendsFilter={"display": "ActionsLineGraphCumulative"}),
        "Cumulative Signups",
    ),
    # funnels
    ("two steps", funnel(event("signed_up"), event("purchase")), "Signup → Purchase Conversion"),
    (
        "three steps",
        funnel(event("$pageview"), event("signed_up"), event("purchase")),
        "Pageview → Signup → Purchase Conversion",
    ),
    (
        "long funnel keeps entry and exit",
        funnel(event("$pageview"), event("viewed_pricing"), event("checkout_started"), event("purchase")),
        "Pageview → Purchase Conversion",
    ),
    (
        "funnel by browser",
        funnel(event("signed_up"), event("purchase"), breakdownFilter=breakdown("$browser")),
        "Signup → Purchase Conversion by Browser",
    ),
    (
        "time to convert",
        funnel(event("signed_up"), event("purchase"), funnelsFilter={"funnelVizType": "time_to_convert"}),
        "Signup → Purchase Time to Convert",
    ),
    (
        "conversion trend",
        funnel(
            event("signed_up"), event("purchase"), interval="week", funnelsFilter={"funnelVizType": "trends"}
        ),
        "Weekly Signup → Purchase Conversion",
    ),
    # retention
    ("same event", retention("$pageview", "$pageview"), "Daily Pageview Retention"),
    (
        "weekly after signup",
        retention("signed_up", "$pageview", period="Week"),
        "Weekly Retention: Signup → Pageview",
    ),
    ("different events", retention("signed_up", "used_feature"), "Retention: Signup → Used Feature"),
    (
        "same custom event",
        retention("logged_in", "logged_in", period="Month"),
        "Monthly Retention after Login",
    ),
    # paths, stickiness, lifecycle
    (
        "page paths",
        viz({"kind": "PathsQuery", "pathsFilter": {"includeEventTypes": ["$pageview"]}}),
        "User Page Paths",
    ),
    (
        "page and screen paths",
        viz({"kind": "PathsQuery", "pathsFilter": {"includeEventTypes": ["$pageview", "$screen"]}}),
        "User Page & Screen Paths",
    ),
    (
        "paths from a url",
        viz(
            {
                "kind": "PathsQuery",
                "pathsFilter": {
                    "includeEventTypes": ["$pageview"],
                    "startPoint": "https://example.com/project/1/insights",
                },
            }
        ),
        "Page Paths from Insights Page",
    ),
    ("all paths", viz({"kind": "PathsQuery", "pathsFilter": {}}), "User Paths"),
    (
        "stickiness",
        viz({"kind": "StickinessQuery", "series": [event("dashboard viewed")]}),
        "Dashboard View Stickiness",
    ),
    ("lifecycle", viz({"kind": "LifecycleQuery", "series": [event("$pageview")]}), "Pageview Lifecycle"),
    # tables
    (
        "events in the last hour on chrome",
        table(
            {
                "kind": "EventsQuery",
                "select": ["*"],
                "event": "$pageview",
                "after": "-1h",
                "properties": [prop("$browser", "Chrome")],
            }
        ),
        "Pageviews in the Last Hour on Chrome",
    ),
    (
        "all recent events",
        table({"kind": "EventsQuery", "select": ["*"], "after": "-24h"}),
        "Events in the Last 24 Hours",
    ),
    (
        "events in a cohort",
        table(
            {
                "kind": "EventsQuery",
                "select": ["*"],
                "event": "signed_up",
                "after": "-7d",
                "properties": [{"key": "id", "value": 5, "type": "cohort", "cohort_name": "Real Persons"}],
            }
        ),
        "Signups in the Last 7 Days (Real Persons)",
    ),
    ("persons", table({"kind": "ActorsQuery", "select": ["person"]}), "All Persons"),
    ("person search", table({"kind": "ActorsQuery", "search": "acme"}), 'Persons Matching "acme"'),
    (
        "funnel drop-offs",
        table(
            {
                "kind": "ActorsQuery",
                "source": {
                    "kind": "FunnelsActorsQuery",
                    "funnelStep": -2,
                    "source": {"kind": "FunnelsQuery", "series": [event("signed_up"), event("purchase")]},
                },
            }
        ),
        "Persons Who Dropped Off at Step 2: Signup → Purchase",
    ),
    (
        "funnel conversions",
        table(
            {
                "kind": "ActorsQuery",
                "source": {
                    "kind": "FunnelsActorsQuery",
                    "funnelStep": 2,
                    "source": {"kind": "FunnelsQuery", "series": [event("signed_up"), event("purchase")]},
                },
            }
        ),
        "Persons Who Converted at Step 2: Signup → Purchase",
    ),
    (
        "lifecycle persons",
        table(
            {
                "kind": "ActorsQuery",
                "source": {
                    "kind": "InsightActorsQuery",
                    "status": "resurrecting",
                    "source": {"kind": "LifecycleQuery", "series": [event("$pageview")]},
                },
            }
        ),
        "Resurrecting Persons on Pageviews",
    ),
    (
        "persons behind a trend series",
        table(
            {
                "kind": "ActorsQuery",
                "source": {
                    "kind": "InsightActorsQuery",
                    "series": 1,
                    "source": {"kind": "TrendsQuery", "series": [event("$pageview"), event("signed_up")]},
                },
            }
        ),
        "Persons Who Performed Signups",
    ),
    (
        "groups search",
        table({"kind": "GroupsQuery", "group_type_index": 0, "search": "Acme"}),
        'Groups Matching "Acme"',
    ),
    ("web overview", viz({"kind": "WebOverviewQuery", "properties": []}), "Web Analytics Overview"),
    (
        "web top pages",
        viz({"kind": "WebStatsTableQuery", "breakdownBy": "Page", "properties": []}),
        "Top Pages",
    ),
]


@pytest.mark.parametrize(("query", "expected"), [(q, n) for _, q, n in NAMES], ids=[i for i, _, _ in NAMES])
def test_offline_name(query: dict[str, Any], expected: str) -> None:
    assert offline_metadata(query).name == expected


@pytest.mark.parametrize("query", [q for _, q, _ in NAMES], ids=[i for i, _, _ in NAMES])
def test_description_is_one_short_sentence(query: dict[str, Any]) -> None:
    description = offline_metadata(query).description
    assert 10 < len(description) <= 200
    assert description[0].isupper() and description.endswith(".")
    assert description.count(". ") == 0, description


@pytest.mark.parametrize("query", [q for _, q, _ in NAMES], ids=[i for i, _, _ in NAMES])
def test_names_are_short_title_case_without_filler(query: dict[str, Any]) -> None:
    name = offline_metadata(query).name
    words = [w for w in name.split() if w not in ("→", "&")]
    assert 1 <= len(words) <= 12
    assert not {"Count", "Total", "Trend", "Data"} & set(words), name
    assert all(not w[:1].isalpha() or w[:1].isupper() or w in SMALL_WORDS for w in words), name


def test_descriptions_say_what_is_measured() -> None:
    cases = {
        "The number of pageviews per day over the last 30 days, broken down by browser.": trends(
            event("$pageview"),
            interval="day",
            dateRange={"date_from": "-30d"},
            breakdownFilter=breakdown("$browser"),
        ),
        "The share of users who go from signup to purchase within 7 days.": funnel(
            event("signed_up"),
            event("purchase"),
            funnelsFilter={"funnelWindowInterval": 7, "funnelWindowIntervalUnit": "day"},
        ),
        "Unique users with file uploads per week where plan is pro, over the last 90 days.": trends(
            event("uploaded_file", math="dau"),
            interval="week",
            properties=[prop("plan", "pro", "person")],
            dateRange={"date_from": "-90d"},
        ),
    }
    for expected, query in cases.items():
        assert offline_metadata(query).description == expected


def test_deterministic_and_well_under_a_millisecond() -> None:
    queries = [q for _, q, _ in NAMES]
    first = [offline_metadata(q) for q in queries]
    started = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        assert [offline_metadata(q) for q in queries] == first
    per_call = (time.perf_counter() - started) / (rounds * len(queries))
    assert per_call < 0.001, f"{per_call * 1000:.3f} ms per call"


@pytest.mark.parametrize(
    "query",
    [
        viz({"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": 5, "math": ["x"]}]}),
        viz({"kind": "FunnelsQuery", "series": []}),
        viz({"kind": "RetentionQuery", "retentionFilter": "nope"}),
        table(
            {"kind": "ActorsQuery", "source": {"kind": "FunnelsActorsQuery", "funnelStep": 9, "source": {}}}
        ),
        table({"kind": "EventsQuery", "properties": [None, 3, {"type": "cohort"}], "after": 7}),
        {"kind": "HogQuery", "code": "return 1"},
        {"kind": "SavedInsightNode", "shortId": "abc"},
    ],
)
def test_odd_queries_still_get_a_name(query: dict[str, Any]) -> None:
    metadata = offline_metadata(query)
    assert metadata.name.strip() and metadata.description.strip()


SQL_NAMES: list[tuple[str, str]] = [
    ("select count() from events", "Total Event Count"),
    ("select count() from events where event = '$pageview'", "Total Pageview Count"),
    (
        "select toStartOfDay(timestamp) as day, count() from events where event = '$pageview' group by day",
        "Daily Pageviews",
    ),
    ("select event, count() from events group by event", "Event Count by Event Name"),
    ("select properties.$browser, uniq(distinct_id) from events group by 1", "Unique Users by Browser"),
    (
        "select sum(toFloat(properties.revenue)) from events where event = 'purchase'",
        "Total Revenue from Purchases",
    ),
    ("select count() from persons", "Total Person Count"),
    ("select 1", "Custom SQL Query Result"),
]


@pytest.mark.parametrize(("text", "expected"), SQL_NAMES, ids=[t for t, _ in SQL_NAMES])
def test_sql_insights_are_named_from_what_they_compute(text: str, expected: str) -> None:
    name = offline_metadata(sql(text)).name
    assert name == expected
    assert 2 <= len(name.split()) <= 12
