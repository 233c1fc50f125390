"""The SQL funnel walk (funnel_sql) equals PostHog's walk (funnel_walk, the aggregate_funnel port).

For random event sets the API's ordered funnels (which take the SQL walk) give the step counts, the
average and median conversion times and time-to-convert that ``walk_ordered`` gives per actor, with
first/last-touch breakdowns too.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insightd.queries import funnel_sql, funnels
from insightd.queries.funnel_walk import Walk, walk_ordered, walk_unordered
from tests.queries.events import Event, ev, insert_events, run
from tests.support import ServerThread, new_tenant

BASE = datetime(2024, 1, 2)
STEPS = ["a", "b", "c"]
SETTINGS = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def event_sets(draw: st.DrawFn) -> list[Event]:
    count = draw(st.integers(min_value=1, max_value=30))
    out = []
    for _ in range(count):
        seconds = draw(st.integers(0, 6 * 3600)) * 10  # repeated timestamps happen
        person = draw(st.sampled_from(["p1", "p2", "p3"]))
        browser = draw(st.sampled_from(["X", "Y", None]))
        props = {"$browser": browser} if browser else {}
        name = draw(st.sampled_from([*STEPS, "other"]))
        out.append(Event(person, name, BASE + timedelta(seconds=seconds), props))
    return out


def expected_walks(
    events: list[Event],
    window: float,
    attribution: str | None,
    order: str = "ordered",
    exclusion: tuple[int, int] | None = None,
    attributed_step: int = 2,
) -> dict[str, list[Walk]]:
    """The walks of ``funnel_walk`` per breakdown value; ``exclusion``: "other" events excluded between
    these two (0-based) steps."""
    actors: dict[str, list[tuple[float, list[int], str]]] = defaultdict(list)
    marks = [-s for s in range(exclusion[0] + 2, exclusion[1] + 2)] if exclusion else []
    for e in events:
        excluded = exclusion is not None and e.event == "other"
        if e.event in STEPS or order == "strict" or excluded:  # a strict funnel sees every event
            value = str(e.properties.get("$browser") or "")
            moment = e.timestamp.replace(tzinfo=UTC).timestamp()
            steps = [STEPS.index(e.event) + 1] if e.event in STEPS else marks if excluded else []
            actors[e.distinct_id].append((moment, steps, value))

    def walk_of(group: list[tuple[float, list[int], str]]) -> Walk:
        if order == "unordered":
            return walk_unordered(group, len(STEPS), window)
        return walk_ordered(group, len(STEPS), window, strict=order == "strict")

    out: dict[str, list[Walk]] = defaultdict(list)
    for evs in actors.values():
        evs.sort(key=lambda x: (x[0], x[1][0] if x[1] else 0, x[2], x[1]))  # ties: by value, then steps
        entered = [s > 0 for x in evs for s in x[1]] if order == "unordered" else [x[1] == [1] for x in evs]
        if not any(entered):  # persons without a step-1 event (unordered: any step) are left out
            continue
        if attribution == "all_events":  # each value's events walk apart
            walks = [(v, walk_of([x for x in evs if x[2] == v])) for v in dict.fromkeys(x[2] for x in evs)]
        elif attribution == "step":  # each value of the step's events; the furthest walk, first on ties
            walks = []
            for v in dict.fromkeys(x[2] for x in evs if attributed_step in x[1]):
                walk = walk_of([x for x in evs if attributed_step not in x[1] or x[2] == v])
                if not walks or walk.step > walks[0][1].step:
                    walks = [(v, walk)]
        else:
            ordered = evs if attribution != "last_touch" else list(reversed(evs))
            walks = [(next((x[2] for x in ordered if x[2]), "") if attribution else "", walk_of(evs))]
        for value, walk in walks:
            if walk.step >= 0:
                out[value].append(walk)
    return out


def summary(walks: list[Walk]) -> list[tuple[int, float | None, float | None]]:
    rows = []
    for index in range(len(STEPS)):
        reached = [w for w in walks if w.step >= index]
        times = [w.timings[index - 1] for w in reached if index and w.timings[index - 1] != 0]
        mean = sum(times) / len(times) if times else None
        median = float(statistics.median(times)) if times else None
        rows.append((len(reached), mean, median))
    return rows


def got(steps: list[dict[str, Any]]) -> list[tuple[int, float | None, float | None]]:
    return [(s["count"], s["average_conversion_time"], s["median_conversion_time"]) for s in steps]


def funnel(window_minutes: int, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "FunnelsQuery",
        "series": [ev(name) for name in STEPS],
        "dateRange": {"date_from": "2024-01-01", "date_to": "2024-01-05"},
        **extra,
        "funnelsFilter": {
            "funnelWindowInterval": window_minutes,
            "funnelWindowIntervalUnit": "minute",
            **extra.pop("funnelsFilter", {}),
        },
    }


@SETTINGS
@given(
    events=event_sets(),
    minutes=st.sampled_from([5, 60, 240]),
    attribution=st.sampled_from([None, "first_touch", "last_touch", "all_events", "step"]),
)
@pytest.mark.parametrize("order", ["ordered", "unordered", "strict"])
def test_sql_walk_equals_posthog_walk(
    server: ServerThread, events: list[Event], minutes: int, attribution: str | None, order: str
) -> None:
    tenant = new_tenant(server)
    insert_events(server, tenant.project_id, events)
    attributed_step = 1 if order == "unordered" else 2  # unordered funnels attribute step 1 only
    expected = expected_walks(events, minutes * 60.0, attribution, order, attributed_step=attributed_step)
    if attribution is None:
        steps = run(tenant, funnel(minutes, funnelsFilter={"funnelOrderType": order}))["results"]
        assert got(steps) == summary(expected.get("", []))
    else:
        flt = {"breakdownAttributionType": attribution, "funnelOrderType": order}
        if attribution == "step":
            flt["breakdownAttributionValue"] = attributed_step - 1
        extra = {"breakdownFilter": {"breakdown": "$browser"}, "funnelsFilter": flt}
        groups = run(tenant, funnel(minutes, **extra))["results"]
        assert {g[0]["breakdown_value"][0]: got(g) for g in groups} == {
            value: summary(walks) for value, walks in expected.items()
        }
    tenant.close()


@SETTINGS
@given(events=event_sets(), minutes=st.sampled_from([60, 240]))
@pytest.mark.parametrize("order", ["ordered", "unordered", "strict", "exclusion"])
def test_sql_time_to_convert_equals_posthog_walk(
    server: ServerThread, events: list[Event], minutes: int, order: str
) -> None:
    tenant = new_tenant(server)
    insert_events(server, tenant.project_id, events)
    exclusion = (0, 1) if order == "exclusion" else None
    order = "ordered" if exclusion else order
    walks = expected_walks(events, minutes * 60.0, None, order, exclusion=exclusion).get("", [])
    times = [sum(w.timings[0:2]) for w in walks if w.step >= 2]
    viz: dict[str, Any] = {"funnelVizType": "time_to_convert", "funnelOrderType": order}
    if exclusion:
        viz["exclusions"] = [{"kind": "EventsNode", "event": "other", "funnelFromStep": 0, "funnelToStep": 1}]
    body = run(tenant, funnel(minutes, funnelsFilter=viz))["results"]
    if times:
        assert body["average_conversion_time"] == sum(times) / len(times)
        assert sum(count for _, count in body["bins"]) == len(times)
    else:
        assert body == {"bins": [], "average_conversion_time": None}
    tenant.close()


@pytest.mark.parametrize("by_id", [True, False])
def test_strict_funnels_walk_in_sql_and_tied_actors_in_python(
    server: ServerThread, by_id: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not by_id:  # as with many such actors: they are selected by the condition, not by id
        monkeypatch.setattr(funnels, "PYTHON_WALK_IDS", 0)
    at = BASE.replace(hour=9)
    events = [  # p1: a clean strict path a, b, c (an "other" event before the start)
        Event("p1", "other", at, {}),
        Event("p1", "a", at + timedelta(seconds=10), {}),
        Event("p1", "b", at + timedelta(seconds=20), {}),
        Event("p1", "c", at + timedelta(seconds=30), {}),
        # p2: "b" and "other" at one timestamp: the Python walk's rules apply to p2
        Event("p2", "a", at, {}),
        Event("p2", "b", at + timedelta(seconds=10), {}),
        Event("p2", "other", at + timedelta(seconds=10), {}),
        Event("p2", "c", at + timedelta(seconds=20), {}),
        # p3: an event in between breaks the strict path after "a"
        Event("p3", "a", at, {}),
        Event("p3", "other", at + timedelta(seconds=5), {}),
        Event("p3", "b", at + timedelta(seconds=10), {}),
    ]
    tenant = new_tenant(server)
    insert_events(server, tenant.project_id, events)
    body = run(tenant, funnel(60, funnelsFilter={"funnelOrderType": "strict"}))
    assert got(body["results"]) == summary(expected_walks(events, 3600.0, None, "strict").get("", []))
    assert [s["count"] for s in body["results"]] == [3, 2, 2]
    assert "arrayFill" in body["hogql"]  # the SQL walk ran …
    fetched = "actor IN" if by_id else "arrayPopFront(evs)"
    assert fetched in body["hogql"]  # … and p2's events were fetched for the Python walk
    tenant.close()


@SETTINGS
@given(
    events=event_sets(),
    minutes=st.sampled_from([5, 60, 240]),
    attribution=st.sampled_from([None, "first_touch", "all_events"]),
    exclusion=st.sampled_from([(0, 1), (1, 2), (0, 2)]),
)
@pytest.mark.parametrize("order", ["ordered", "unordered"])
def test_funnels_with_exclusions_equal_posthog_walk(
    server: ServerThread,
    events: list[Event],
    minutes: int,
    attribution: str | None,
    exclusion: tuple[int, int],
    order: str,
) -> None:
    """The SQL walks with exclusions (persons with different events at one timestamp: the Python walk)."""
    if order == "unordered":
        exclusion = (0, len(STEPS) - 1)  # unordered funnels exclude over the whole funnel only
    tenant = new_tenant(server)
    insert_events(server, tenant.project_id, events)
    expected = expected_walks(events, minutes * 60.0, attribution, order, exclusion=exclusion)
    excluded = {
        "kind": "EventsNode",
        "event": "other",
        "funnelFromStep": exclusion[0],
        "funnelToStep": exclusion[1],
    }
    flt: dict[str, Any] = {"exclusions": [excluded], "funnelOrderType": order}
    extra: dict[str, Any] = {}
    if attribution:
        extra["breakdownFilter"] = {"breakdown": "$browser"}
        flt["breakdownAttributionType"] = attribution
    results = run(tenant, funnel(minutes, funnelsFilter=flt, **extra))["results"]
    if attribution is None:
        assert got(results) == summary(expected.get("", []))
    else:
        assert {g[0]["breakdown_value"][0]: got(g) for g in results} == {
            value: summary(walks) for value, walks in expected.items()
        }
    tenant.close()


@pytest.mark.parametrize("by_id", [True, False])
def test_exclusions_walk_in_sql_and_tied_persons_in_python(
    server: ServerThread, by_id: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not by_id:
        monkeypatch.setattr(funnels, "PYTHON_WALK_IDS", 0)
    at = BASE.replace(hour=9)
    events = [
        *[Event(f"clean{i}", name, at + timedelta(seconds=10 * k + i), {}) for i in range(3)
          for k, name in enumerate(["a", "b", "c"])],
        Event("dirty", "a", at, {}),
        Event("dirty", "other", at + timedelta(seconds=5), {}),  # excluded between a and b
        Event("dirty", "b", at + timedelta(seconds=10), {}),
        Event("late", "a", at, {}),
        Event("late", "b", at + timedelta(seconds=10), {}),
        Event("late", "other", at + timedelta(seconds=15), {}),  # after b: not between a and b
        Event("again", "a", at, {}),
        Event("again", "other", at + timedelta(seconds=5), {}),  # excludes the first path only …
        Event("again", "a", at + timedelta(seconds=7), {}),  # … a new start converts
        Event("again", "b", at + timedelta(seconds=10), {}),
        Event("tied", "a", at, {}),
        Event("tied", "other", at, {}),  # at the start's timestamp: the Python walk's rules apply
        Event("tied", "b", at + timedelta(seconds=10), {}),
    ]  # fmt: skip
    tenant = new_tenant(server)
    insert_events(server, tenant.project_id, events)
    excluded = {"kind": "EventsNode", "event": "other", "funnelFromStep": 0, "funnelToStep": 1}
    body = run(tenant, funnel(60, funnelsFilter={"exclusions": [excluded]}))
    assert got(body["results"]) == summary(expected_walks(events, 3600.0, None, exclusion=(0, 1)).get("", []))
    assert [s["count"] for s in body["results"]] == [6, 6, 3]  # "dirty" is left out entirely
    assert "arrayFill" in body["hogql"]  # the SQL walk ran …
    fetched = "actor IN" if by_id else "arrayPopFront(evs)"
    assert fetched in body["hogql"]  # … and "tied" took the Python walk
    tenant.close()


def test_exclusions_of_a_step_event_walk_excluded_persons_in_python(server: ServerThread) -> None:
    """An exclusion on a step's event (with a property) can match a step event too: persons without
    such an event take the plain SQL walk, the others the Python walk."""
    at = BASE.replace(hour=9)
    events = [
        Event("clean", "a", at, {}),
        Event("clean", "b", at + timedelta(seconds=10), {"$browser": "Y"}),
        Event("clean", "c", at + timedelta(seconds=20), {}),
        Event("dirty", "a", at, {}),
        Event("dirty", "b", at + timedelta(seconds=5), {"$browser": "X"}),  # a step and an exclusion
        Event("dirty", "c", at + timedelta(seconds=20), {}),
    ]
    tenant = new_tenant(server)
    insert_events(server, tenant.project_id, events)
    excluded = {
        "kind": "EventsNode",
        "event": "b",
        "funnelFromStep": 1,
        "funnelToStep": 2,
        "properties": [{"key": "$browser", "value": "X", "operator": "exact", "type": "event"}],
    }
    body = run(tenant, funnel(60, funnelsFilter={"exclusions": [excluded]}))
    # "dirty": b serves as step 2, then (as the exclusion) marks the path that completed 2 steps —
    # but the path already moved on to step 2 at that event, so it is not excluded
    start = at.replace(tzinfo=UTC).timestamp()
    actors = [
        [(start, [1], ""), (start + 10, [2], ""), (start + 20, [3], "")],  # clean
        [(start, [1], ""), (start + 5, [2, -3], ""), (start + 20, [3], "")],  # dirty
    ]
    walks = [walk_ordered(evs, 3, 3600.0) for evs in actors]
    assert got(body["results"]) == summary([w for w in walks if w.step >= 0])
    assert "actor IN" in body["hogql"]  # "dirty" took the Python walk
    tenant.close()


@SETTINGS
@given(
    events=event_sets(),
    minutes=st.sampled_from([5, 60, 240]),
    interval=st.sampled_from(["hour", "day"]),
    timezone=st.sampled_from(["UTC", "America/Phoenix", "Asia/Kathmandu"]),
    span=st.sampled_from([(0, 2), (0, 1), (1, 2)]),
    exclusion=st.sampled_from([None, (0, 1), (1, 2), (0, 2)]),
    by_id=st.booleans(),
)
def test_sql_funnel_trends_equal_the_python_walk(
    server: ServerThread,
    events: list[Event],
    minutes: int,
    interval: str,
    timezone: str,
    span: tuple[int, int],
    exclusion: tuple[int, int] | None,
    by_id: bool,
) -> None:
    """The trends visualisation (conversion per period of entry) in SQL equals the Python walk's, with
    "other" events excluded between two steps too (persons with ties then walk in Python: fetched by
    id, or by condition as when there are many)."""
    tenant = new_tenant(server, timezone=timezone)
    insert_events(server, tenant.project_id, events)
    viz: dict[str, Any] = {"funnelVizType": "trends", "funnelFromStep": span[0], "funnelToStep": span[1]}
    if exclusion:
        start, end = exclusion
        viz["exclusions"] = [
            {"kind": "EventsNode", "event": "other", "funnelFromStep": start, "funnelToStep": end}
        ]
    query = {**funnel(minutes, funnelsFilter=viz), "interval": interval}
    with pytest.MonkeyPatch.context() as patch:
        if not by_id:
            patch.setattr(funnels, "PYTHON_WALK_IDS", 0)
        sql = run(tenant, query, refresh="force_blocking")["results"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(funnel_sql, "trends_applicable", lambda *_: False)
        python = run(tenant, query, refresh="force_blocking")["results"]
    assert sql == python
    tenant.close()


@pytest.mark.parametrize("by_id", [True, False])
@pytest.mark.parametrize("second_range", [(0, 1), (1, 2)])
def test_exclusions_tied_at_one_timestamp(
    server: ServerThread, by_id: bool, second_range: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two exclusion events at one timestamp: with the same range they are alike to the walk (SQL); with
    different ranges the person takes the Python walk, also when fetched by condition (many of them)."""
    if not by_id:
        monkeypatch.setattr(funnels, "PYTHON_WALK_IDS", 0)
    at = BASE.replace(hour=9)
    events = [
        Event("p", "x1", at, {}),
        Event("p", "x2", at, {}),
        Event("p", "a", at + timedelta(seconds=5), {}),
        Event("p", "b", at + timedelta(seconds=10), {}),
        Event("p", "c", at + timedelta(seconds=20), {}),
    ]
    tenant = new_tenant(server)
    insert_events(server, tenant.project_id, events)
    exclusions = [
        {"kind": "EventsNode", "event": "x1", "funnelFromStep": 0, "funnelToStep": 1},
        {
            "kind": "EventsNode",
            "event": "x2",
            "funnelFromStep": second_range[0],
            "funnelToStep": second_range[1],
        },
    ]
    body = run(tenant, funnel(60, funnelsFilter={"exclusions": exclusions}))
    assert [s["count"] for s in body["results"]] == [1, 1, 1]  # the exclusions came before the start
    tenant.close()


def test_a_sixteen_step_funnel_with_an_exclusion(server: ServerThread) -> None:
    """Step 16 and the exclusion are different events to the walk."""
    at = BASE.replace(hour=9)
    names = [f"s{k}" for k in range(1, 17)]
    events = [Event("p", name, at + timedelta(seconds=10 * k), {}) for k, name in enumerate(names[:15])]
    events.append(Event("p", "x", at + timedelta(seconds=200), {}))
    events += [Event("q", name, at + timedelta(seconds=10 * k), {}) for k, name in enumerate(names)]
    events.append(Event("q", "x", at + timedelta(seconds=5), {}))  # between q's steps 1 and 2
    tenant = new_tenant(server)
    insert_events(server, tenant.project_id, events)
    query = {
        **funnel(
            60,
            funnelsFilter={
                "exclusions": [{"kind": "EventsNode", "event": "x", "funnelFromStep": 0, "funnelToStep": 1}]
            },
        ),
        "series": [ev(name) for name in names],
    }
    counts = [s["count"] for s in run(tenant, query)["results"]]
    assert counts == [1] * 15 + [0]  # p converts to step 15, its "x" is no step 16; q is excluded
    tenant.close()


@pytest.mark.parametrize("by_id", [True, False])
def test_all_events_attribution_walks_each_value_apart(
    server: ServerThread, by_id: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each value's events walk apart, in SQL; a value with different events at one timestamp (strict
    funnel) takes the Python walk for that value only."""
    if not by_id:
        monkeypatch.setattr(funnels, "PYTHON_WALK_IDS", 0)
    at = BASE.replace(hour=9)
    x, y = {"$browser": "X"}, {"$browser": "Y"}
    events = [
        Event("p", "a", at, x),
        Event("p", "b", at + timedelta(seconds=10), x),
        Event("p", "a", at + timedelta(seconds=20), y),
        Event("p", "other", at + timedelta(seconds=20), y),  # tied with "a": Y walks in Python
        Event("p", "b", at + timedelta(seconds=30), y),
        Event("p", "c", at + timedelta(seconds=40), y),
    ]
    groups, hogql = all_events_groups(server, events, "strict")
    counts = {value: [c for c, _, _ in steps] for value, steps in groups.items()}
    expected = expected_walks(events, 3600.0, "all_events", "strict")
    assert counts == {value: [c for c, _, _ in summary(walks)] for value, walks in expected.items()}
    assert counts == {"X": [1, 1, 0], "Y": [1, 1, 1]}  # Y: the tie's rules let "other" pass
    assert "arrayFill" in hogql


def test_unordered_all_events_counts_values_without_the_first_step(server: ServerThread) -> None:
    """Unordered funnels walk each value from any step: a value without a step-1 event still counts."""
    at = BASE.replace(hour=9)
    x, y = {"$browser": "X"}, {"$browser": "Y"}
    events = [
        Event("p", "a", at, x),
        Event("p", "b", at + timedelta(seconds=10), y),
        Event("p", "c", at + timedelta(seconds=20), y),
    ]
    groups, _ = all_events_groups(server, events, "unordered")
    expected = expected_walks(events, 3600.0, "all_events", "unordered")
    assert groups == {value: summary(walks) for value, walks in expected.items()}
    assert groups["Y"][:2] == [(1, None, None), (1, 10.0, 10.0)]


def all_events_groups(
    server: ServerThread, events: list[Event], order: str
) -> tuple[dict[str, list[tuple[int, float | None, float | None]]], str]:
    """A 60-minute funnel over ``events`` by $browser with all-events attribution: per value its steps
    (as ``got``), and the SQL that ran."""
    tenant = new_tenant(server)
    insert_events(server, tenant.project_id, events)
    flt = {"funnelOrderType": order, "breakdownAttributionType": "all_events"}
    body = run(tenant, funnel(60, funnelsFilter=flt, breakdownFilter={"breakdown": "$browser"}))
    tenant.close()
    return {g[0]["breakdown_value"][0]: got(g) for g in body["results"]}, body["hogql"]


@pytest.mark.parametrize("python", [False, True])
def test_unordered_funnels_count_persons_without_the_first_step(
    server: ServerThread, python: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostHog's unordered walk starts at any step: a person who did only b and c completed 2 steps. An
    ordered funnel leaves them out. The same in SQL and in the Python walk."""
    if python:
        monkeypatch.setattr(funnel_sql, "applicable", lambda *args: False)
    at = BASE.replace(hour=9)
    events = [Event("p", "b", at, {}), Event("p", "c", at + timedelta(seconds=10), {})]
    tenant = new_tenant(server)
    insert_events(server, tenant.project_id, events)
    unordered = run(tenant, funnel(60, funnelsFilter={"funnelOrderType": "unordered"}))["results"]
    assert [s["count"] for s in unordered] == [1, 1, 0]
    ordered = run(tenant, funnel(60))["results"]
    assert [s["count"] for s in ordered] == [0, 0, 0]
    tenant.close()
