"""Multiple breakdowns (``breakdownFilter.breakdowns``, spec §3.3) through POST /query/ vs the oracle."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.queries import oracle
from tests.queries.events import Event, ev, loaded_tenant, run, set_person, trends
from tests.support import ServerThread, Tenant

START, END = date(2024, 1, 2), date(2024, 1, 9)
BASE = datetime(2023, 12, 31)
RANGE = {"date_from": START.isoformat(), "date_to": END.isoformat()}
BROWSER_OS = [{"property": "$browser", "type": "event"}, {"property": "$os", "type": "event"}]


@st.composite
def event_sets(draw: st.DrawFn) -> list[Event]:
    count = draw(st.integers(min_value=0, max_value=30))
    seconds = draw(st.lists(st.integers(0, 12 * 86400), min_size=count, max_size=count, unique=True))
    out = []
    for offset in seconds:
        props = {
            key: value
            for key, value in (
                ("$browser", draw(st.sampled_from(["X", "Y", "", None]))),
                ("$os", draw(st.sampled_from(["Mac", "Win", None]))),
            )
            if value is not None
        }
        person = draw(st.sampled_from(["p1", "p2", "p3", "p4"]))
        out.append(Event(person, draw(st.sampled_from(["a", "b"])), BASE + timedelta(seconds=offset), props))
    return out


def keyed(results: list[dict[str, Any]]) -> list[tuple[tuple[str, ...], list[int]]]:
    return [(tuple(item["breakdown_value"]), item["data"]) for item in results]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=event_sets(),
    math=st.sampled_from(["total", "dau"]),
    interval=st.sampled_from(["day", "week"]),
    tz=st.sampled_from(["UTC", "America/New_York"]),
    limit=st.integers(min_value=1, max_value=6),
)
def test_multiple_breakdowns_equal_oracle(
    server: ServerThread, events: list[Event], math: str, interval: str, tz: str, limit: int
) -> None:
    tenant = loaded_tenant(server, events, tz)
    query = trends(
        [ev("a", math=math)],
        interval=interval,
        dateRange=RANGE,
        breakdownFilter={"breakdowns": BROWSER_OS, "breakdown_limit": limit},
    )
    body = run(tenant, query)
    values = oracle.trends(events, "a", math, interval, tz, START, END, ["$browser", "$os"])
    expected = oracle.limit(values, limit)
    assert keyed(body["results"]) == [(key, data) for key, data in expected.items()]
    assert body["hasMore"] == (len(values) > limit)
    for item in body["results"]:
        assert item["label"] == "::".join(item["breakdown_value"])
        assert item["count"] == float(sum(item["data"]))
    tenant.close()


def _load(server: ServerThread) -> Tenant:
    day = datetime(2024, 1, 3, 12)
    events = [
        Event("u1", "a", day, {"$browser": "Chrome", "$os": "Mac"}),
        Event("u1", "a", day + timedelta(days=1), {"$browser": "Chrome", "$os": "Mac"}),
        Event("u2", "a", day, {"$browser": "Chrome"}),
        Event("u3", "a", day, {"$browser": "Safari", "$os": "Mac"}),
        Event("u3", "b", day, {"$browser": "Safari", "$os": "Mac"}),
    ]
    tenant = loaded_tenant(server, events)
    set_person(server, tenant.project_id, "u1", {"plan": "pro"})
    return tenant


def test_null_sentinel_person_breakdown_and_series_prefix(server: ServerThread) -> None:
    tenant = _load(server)
    breakdowns = [{"property": "$os"}, {"property": "plan", "type": "person"}]
    body = run(
        tenant,
        trends([ev("a"), ev("b")], dateRange=RANGE, breakdownFilter={"breakdowns": breakdowns}),
    )
    got = {(item["action"]["order"], item["label"]): item["count"] for item in body["results"]}
    null = oracle.NULL
    assert got == {
        (0, "a - Mac::pro"): 2.0,
        (0, f"a - Mac::{null}"): 1.0,
        (0, f"a - {null}::{null}"): 1.0,
        (1, f"b - Mac::{null}"): 1.0,
    }
    assert body["hasMore"] is False
    assert body["results"][0]["filter"]["breakdowns"][1] == {
        "property": "plan",
        "type": "person",
        "normalize_url": False,
    }
    tenant.close()


def test_other_bucket_total_value_and_formula(server: ServerThread) -> None:
    tenant = _load(server)
    other = [oracle.OTHER, oracle.OTHER]
    body = run(
        tenant,
        trends(
            [ev("a")],
            dateRange=RANGE,
            trendsFilter={"display": "ActionsTable"},
            breakdownFilter={"breakdowns": BROWSER_OS, "breakdown_limit": 1},
        ),
    )
    rows = [(item["breakdown_value"], item["aggregated_value"]) for item in body["results"]]
    assert rows == [(["Chrome", "Mac"], 2), (other, 2)]
    assert body["hasMore"] is True
    hidden = run(
        tenant,
        trends(
            [ev("a")],
            dateRange=RANGE,
            breakdownFilter={
                "breakdowns": BROWSER_OS,
                "breakdown_limit": 1,
                "breakdown_hide_other_aggregation": True,
            },
        ),
    )
    assert [item["breakdown_value"] for item in hidden["results"]] == [["Chrome", "Mac"]]
    assert hidden["hasMore"] is True
    formula = run(
        tenant,
        trends(
            [ev("a"), ev("b")],
            dateRange=RANGE,
            trendsFilter={"formula": "A+B"},
            breakdownFilter={"breakdowns": BROWSER_OS},
        ),
    )
    sums = {"::".join(item["breakdown_value"]): item["count"] for item in formula["results"]}
    assert sums == {"Chrome::Mac": 2.0, "Safari::Mac": 2.0, f"Chrome::{oracle.NULL}": 1.0}
    assert {item["label"] for item in formula["results"]} == {"Formula (A+B)"}
    assert formula["results"][-1]["breakdown_value"] == ["Chrome", oracle.NULL]
    tenant.close()


def test_refused_combinations(tenant: Tenant) -> None:
    client = tenant.client()
    too_many = trends([ev("a")], breakdownFilter={"breakdowns": [{"property": f"p{i}"} for i in range(4)]})
    funnel = {
        "kind": "FunnelsQuery",
        "series": [ev("a"), ev("b")],
        "breakdownFilter": {"breakdowns": BROWSER_OS},
    }
    for query in (too_many, funnel):
        response = client.post(f"{tenant.base}/query/", json={"query": query})
        assert response.status_code == 400, response.text
