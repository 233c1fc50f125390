"""``compareFilter.compare_to`` (spec §2.7): the previous items cover the current range moved back by
``compare_to`` (same length), computed through POST /query/ and checked against the oracle."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.queries import oracle
from tests.queries.events import Event, ev, loaded_tenant, run, trends
from tests.support import ServerThread, Tenant

START, END = date(2024, 1, 2), date(2024, 1, 9)
SHIFTED = {"-1w": date(2023, 12, 26), "-3d": date(2023, 12, 30), "-1m": date(2023, 12, 2)}


@st.composite
def event_sets(draw: st.DrawFn) -> list[Event]:
    count = draw(st.integers(min_value=0, max_value=30))
    seconds = draw(st.lists(st.integers(0, 48 * 86400), min_size=count, max_size=count, unique=True))
    base = datetime(2023, 11, 25)
    return [
        Event(draw(st.sampled_from(["p1", "p2", "p3"])), "a", base + timedelta(seconds=offset))
        for offset in seconds
    ]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=event_sets(),
    compare_to=st.sampled_from(sorted(SHIFTED)),
    math=st.sampled_from(["total", "dau"]),
    interval=st.sampled_from(["hour", "day", "week"]),
    tz=st.sampled_from(["UTC", "Asia/Kolkata"]),
)
def test_compare_to_equals_oracle_on_the_shifted_range(
    server: ServerThread, events: list[Event], compare_to: str, math: str, interval: str, tz: str
) -> None:
    tenant = loaded_tenant(server, events, tz)
    body = run(
        tenant,
        trends(
            [ev("a", math=math)],
            interval=interval,
            dateRange={"date_from": START.isoformat(), "date_to": END.isoformat()},
            compareFilter={"compare": True, "compare_to": compare_to},
        ),
    )
    current, previous = body["results"]
    start = SHIFTED[compare_to]
    end = start + (END - START)
    periods = ((current, (START, END), "current"), (previous, (start, end), "previous"))
    for item, (first, last), label in periods:
        expected = oracle.trends(events, "a", math, interval, tz, first, last, None)
        assert item["data"] == expected.get(None, [0] * len(item["data"]))
        assert item["compare"] is True and item["compare_label"] == label
    assert previous["days"][-1][:10] <= end.isoformat() < current["days"][-1][:10]
    tenant.close()


def test_compare_to_needs_compare_and_zero_shift_repeats_the_range(tenant: Tenant) -> None:
    query = trends([ev("a")], compareFilter={"compare_to": "-1w"})
    (item,) = run(tenant, query)["results"]
    assert "compare_label" not in item
    zero = trends(
        [ev("a")], dateRange={"date_from": "-48h"}, compareFilter={"compare": True, "compare_to": "-0d"}
    )
    current, previous = run(tenant, zero)["results"]
    assert previous["days"] == current["days"] and previous["labels"] == current["labels"]
