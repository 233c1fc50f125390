"""For random small event sets and queries, the API's numbers equal the plain-Python oracle's."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.queries import oracle
from tests.queries.events import Event, ev, loaded_tenant, run, trends
from tests.support import ServerThread

START, END = date(2024, 1, 2), date(2024, 1, 9)
BASE = datetime(2023, 12, 31)


@st.composite
def event_sets(draw: st.DrawFn, names: tuple[str, ...] = ("a", "b", "c")) -> list[Event]:
    count = draw(st.integers(min_value=0, max_value=25))
    seconds = draw(st.lists(st.integers(0, 12 * 86400), min_size=count, max_size=count, unique=True))
    out = []
    for offset in seconds:
        person = draw(st.sampled_from(["p1", "p2", "p3", "p4"]))
        browser = draw(st.sampled_from(["X", "Y", "", None]))  # "" and no value: both the null key
        props = {"$browser": browser} if browser is not None else {}
        out.append(Event(person, draw(st.sampled_from(names)), BASE + timedelta(seconds=offset), props))
    return out


SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(
    events=event_sets(),
    math=st.sampled_from(["total", "dau"]),
    interval=st.sampled_from(["hour", "day", "week"]),
    tz=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]),
    breakdown=st.booleans(),
)
def test_trends_equal_oracle(
    server: ServerThread, events: list[Event], math: str, interval: str, tz: str, breakdown: bool
) -> None:
    tenant = loaded_tenant(server, events, tz)
    query = trends(
        [ev("a", math=math)],
        interval=interval,
        dateRange={"date_from": START.isoformat(), "date_to": END.isoformat()},
        **({"breakdownFilter": {"breakdown": "$browser"}} if breakdown else {}),
    )
    results = run(tenant, query)["results"]
    expected = oracle.trends(events, "a", math, interval, tz, START, END, "$browser" if breakdown else None)
    if breakdown:
        got = {item["breakdown_value"]: item["data"] for item in results}
        assert got == expected
    else:
        (item,) = results
        assert item["data"] == expected.get(None, [0] * len(item["data"]))
    tenant.close()


@SETTINGS
@given(events=event_sets(), hours=st.sampled_from([1, 24, 72]))
def test_ordered_funnel_equals_oracle(server: ServerThread, events: list[Event], hours: int) -> None:
    tenant = loaded_tenant(server, events)
    query = {
        "kind": "FunnelsQuery",
        "series": [ev("a"), ev("b"), ev("c")],
        "dateRange": {"date_from": "2023-12-30", "date_to": "2024-01-20"},
        "funnelsFilter": {"funnelWindowInterval": hours, "funnelWindowIntervalUnit": "hour"},
    }
    steps = run(tenant, query)["results"]
    assert [s["count"] for s in steps] == oracle.funnel_counts(
        events, ["a", "b", "c"], timedelta(hours=hours)
    )
    tenant.close()
