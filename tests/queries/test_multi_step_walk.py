"""The ordered SQL walk over step masks (``funnel_sql.walk_layers(masks=…)``: events that match several
steps, as when one event name is two steps or a step is all events) equals ``walk_ordered``: on random
actors on the real engine without a server, and through the API over random events."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from insightd.queries import funnel_sql
from insightd.queries.funnel_walk import Walk, walk_ordered
from tests.queries.events import Event, ev, insert_events, run
from tests.queries.test_funnel_sql_walk import SETTINGS, event_sets, funnel, got, summary
from tests.support import ServerThread, new_tenant, process_engine

SHIFT = funnel_sql.EPOCH_SHIFT
SPAN = 2**funnel_sql.MULTI_STEP_BITS
Actor = list[tuple[int, int]]  # (seconds, code in the step_masks table)


@st.composite
def funnels(draw: st.DrawFn) -> tuple[int, int, list[int], list[Actor]]:
    """A funnel of 2–5 steps over the events a, b and all events (None), and actors' events as codes."""
    names = draw(st.lists(st.sampled_from(["a", "b", None]), min_size=2, max_size=5))
    table = funnel_sql.step_masks(names)
    assert table is not None
    window = draw(st.sampled_from([30, 60, 100, 1000]))
    grid = draw(st.sampled_from([20, 40, 200]))  # 10 s apart: timestamps tie sometimes
    event = st.tuples(st.integers(0, grid).map(lambda t: 1000 + 10 * t), st.integers(1, len(table) - 1))
    actors = draw(st.lists(st.lists(event, min_size=2, max_size=20), min_size=30, max_size=60))
    return len(names), window, table, [sorted(a) for a in actors if any(table[c] & 2 for _, c in a)]


def steps_of(mask: int) -> list[int]:
    return [k for k in range(1, funnel_sql.MAX_SQL_STEPS + 1) if mask >> k & 1]


@settings(max_examples=60, deadline=None)
@given(case=funnels())
def test_multi_step_walk_equals_the_python_walk(case: tuple[int, int, list[int], list[Actor]]) -> None:
    steps, window, table, actors = case
    arrays = ", ".join(
        "[" + ", ".join(str((t * 1_000_000 + SHIFT) * SPAN + c) for t, c in a) + "]" for a in actors
    )
    source = (
        f"SELECT CAST(z.1 AS Array(Int64)) AS a, z.2 AS actor, '' AS bd "
        f"FROM (SELECT arrayJoin(arrayZip([{arrays}], range({len(actors)}))) AS z)"
    )
    query = funnel_sql.actor_query(source, steps, window * 1_000_000, carry=("bd", "actor"), masks=table)
    times = ", ".join(f"t{k}" for k in range(1, steps + 1))
    rows = (
        process_engine().execute(f"SELECT actor, mixed, level, {times} FROM ({query})").rows if actors else []
    )
    assert len(rows) == len(actors)
    for actor, mixed, level, *stamps in rows:
        events = [(t, table[c]) for t, c in actors[int(actor)]]
        ties = [(m1, m2) for (t1, m1), (t2, m2) in zip(events, events[1:], strict=False) if t1 == t2]
        assert bool(mixed) == any(len(steps_of(m1)) > 1 or len(steps_of(m2)) > 1 for m1, m2 in ties)
        if mixed:
            continue
        walk = walk_ordered([(float(t), steps_of(m), "") for t, m in events], steps, float(window))
        got = (int(level) - 1, tuple((int(t) - SHIFT) / 1e6 for t in stamps[: int(level)]))
        assert got == (walk.step, walk.times), events


STEP_SHAPES = [  # (event, browser filter) per step: one event in two steps, all-events steps, filters
    [("a", None), ("a", None), ("b", None)],
    [("a", "X"), ("a", None), ("b", None)],
    [(None, None), ("b", None), ("a", None)],
    [("a", None), (None, "Y"), ("a", None)],
]


def matched(shape: list[tuple[str | None, str | None]], event: Event) -> list[int]:
    browser = event.properties.get("$browser")
    return [
        k
        for k, (name, only) in enumerate(shape, start=1)
        if (name is None or name == event.event) and (only is None or only == browser)
    ]


TIED_AT = datetime(2024, 1, 2)
# Events tied on time and first step but not on all steps ('a' is steps 1 and 3, 'b' steps 1 and 2): the
# walk's tie rules depend on their order, which the fetch now fixes (found by this test, once in a few runs).
TIED = [Event("p1", "a", TIED_AT, {"$browser": "X"})] * 3 + [
    Event("p1", name, TIED_AT + timedelta(seconds=10), {"$browser": "X"}) for name in ("a", "b")
]


@SETTINGS
@example(events=TIED, minutes=5, shape=STEP_SHAPES[2], attribution="first_touch")
@example(events=TIED[::-1], minutes=5, shape=STEP_SHAPES[2], attribution=None)
@given(
    events=event_sets(),
    minutes=st.sampled_from([5, 60, 240]),
    shape=st.sampled_from(STEP_SHAPES),
    attribution=st.sampled_from([None, "first_touch", "last_touch", "all_events"]),
)
def test_funnels_with_events_of_several_steps_equal_posthog_walk(
    server: ServerThread,
    events: list[Event],
    minutes: int,
    shape: list[tuple[str | None, str | None]],
    attribution: str | None,
) -> None:
    """Through the API (the SQL walk over masks, tied actors in Python): the step counts and conversion
    times of ``walk_ordered`` over each event's matched steps."""
    tenant = new_tenant(server)
    insert_events(server, tenant.project_id, events)
    actors: dict[str, list[tuple[float, list[int], str]]] = defaultdict(list)
    for e in events:
        if steps := matched(shape, e):
            moment = e.timestamp.replace(tzinfo=UTC).timestamp()
            actors[e.distinct_id].append((moment, steps, str(e.properties.get("$browser") or "")))
    expected: dict[str, list[Walk]] = defaultdict(list)
    for evs in actors.values():
        evs.sort(key=lambda x: (x[0], x[1][0], x[2], x[1]))  # as the API fetches them
        if not any(1 in x[1] for x in evs):
            continue
        if attribution == "all_events":
            groups = [(v, [x for x in evs if x[2] == v]) for v in dict.fromkeys(x[2] for x in evs)]
        else:
            ordered = evs if attribution != "last_touch" else list(reversed(evs))
            groups = [(next((x[2] for x in ordered if x[2]), "") if attribution else "", evs)]
        for value, group in groups:
            walk = walk_ordered(group, 3, minutes * 60.0)
            if walk.step >= 0:
                expected[value].append(walk)
    series = [
        ev(name, properties=[{"key": "$browser", "value": only, "operator": "exact", "type": "event"}])
        if only
        else ev(name)
        for name, only in shape
    ]
    query = {**funnel(minutes), "series": series}
    if attribution is None:
        assert got(run(tenant, query)["results"]) == summary(expected.get("", []))
    else:
        query["breakdownFilter"] = {"breakdown": "$browser"}
        query["funnelsFilter"]["breakdownAttributionType"] = attribution
        groups_ = run(tenant, query)["results"]
        assert {g[0]["breakdown_value"][0]: got(g) for g in groups_} == {
            value: summary(walks) for value, walks in expected.items()
        }
    tenant.close()
