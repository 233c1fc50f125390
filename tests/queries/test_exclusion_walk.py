"""The SQL walks with exclusions equal the Python walks on random actors, run on the real engine without
a server: ``funnel_sql.exclusion_layers`` (a closed form of the ordered walk with exclusions) equals
``walk_ordered`` for 2–4 steps and one or two exclusions over random step ranges, and the unordered
layers with exclusions equal ``walk_unordered``; with repeated events and timestamps."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from insightd.queries import funnel_sql
from insightd.queries.funnel_walk import Walk, walk_ordered, walk_unordered
from tests.support import process_engine

SHIFT = funnel_sql.EPOCH_SHIFT


@st.composite
def funnels(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]], int, list[list[tuple[int, int]]]]:
    steps = draw(st.integers(2, 4))
    exclusions = []
    for _ in range(draw(st.integers(1, 2))):
        start = draw(st.integers(0, steps - 2))
        exclusions.append((start, draw(st.integers(start + 1, steps - 1))))
    window = draw(st.sampled_from([30, 60, 100, 1000]))
    excluded = [funnel_sql.EXCLUSION_CODE + j for j in range(len(exclusions))]
    codes = [*range(1, steps + 1), *excluded, *excluded]  # exclusions often
    grid = draw(st.sampled_from([20, 40, 200]))  # 10 s apart: timestamps tie sometimes
    event = st.tuples(st.integers(0, grid).map(lambda t: 1000 + 10 * t), st.sampled_from(codes))
    actors = draw(st.lists(st.lists(event, min_size=2, max_size=20), min_size=30, max_size=60))
    return steps, exclusions, window, [sorted(a) for a in actors if any(c == 1 for _, c in a)]


def python_walk(
    events: list[tuple[int, int]], steps: int, exclusions: list[tuple[int, int]], window: int
) -> Walk:
    walk_events = []
    for t, code in events:
        if code < funnel_sql.EXCLUSION_CODE:
            walk_events.append((float(t), [code], ""))
        else:
            start, end = exclusions[code - funnel_sql.EXCLUSION_CODE]
            walk_events.append((float(t), [-s for s in range(start + 2, end + 2)], ""))
    walk_events.sort(key=lambda e: (e[0], e[1][0]))  # as the API fetches them
    return walk_ordered(walk_events, steps, float(window))


def sql_walks(
    actors: list[list[tuple[int, int]]], steps: int, window: int, order: str, marks: dict[int, list[int]]
) -> list[tuple[list[tuple[int, int]], tuple[int, tuple[float, ...]]]]:
    """(events, (step, times)) per actor from the SQL layers, leaving out actors with different events at
    one timestamp (``mixed``: the Python walk decides for them) after checking that they are such."""
    arrays = ", ".join(
        "[" + ", ".join(str((t * 1_000_000 + SHIFT) * 32 + c) for t, c in a) + "]" for a in actors
    )
    source = (
        f"SELECT CAST(z.1 AS Array(Int64)) AS a, z.2 AS actor, '' AS bd "
        f"FROM (SELECT arrayJoin(arrayZip([{arrays}], range({len(actors)}))) AS z)"
    )
    times = ", ".join(f"t{k}" for k in range(1, steps + 1))
    query = funnel_sql.actor_query(
        source, steps, window * 1_000_000, order=order, carry=("bd", "actor"), marks=marks
    )
    rows = (
        process_engine().execute(f"SELECT actor, mixed, level, {times} FROM ({query})").rows if actors else []
    )
    assert len(rows) == len(actors)
    out = []
    for actor, mixed, level, *stamps in rows:
        events = actors[int(actor)]
        if int(mixed):
            assert any(t1 == t2 and c1 != c2 for (t1, c1), (t2, c2) in zip(events, events[1:], strict=False))
            continue
        out.append((events, (int(level) - 1, tuple((int(t) - SHIFT) / 1e6 for t in stamps[: int(level)]))))
    return out


@settings(max_examples=60, deadline=None)
@given(case=funnels())
def test_exclusion_layers_equal_the_python_walk(
    case: tuple[int, list[tuple[int, int]], int, list[list[tuple[int, int]]]],
) -> None:
    steps, exclusions, window, actors = case
    marks: dict[int, list[int]] = {}
    for j, (start, end) in enumerate(exclusions):
        for level in range(start + 1, end + 1):
            marks.setdefault(level, []).append(funnel_sql.EXCLUSION_CODE + j)
    for events, got in sql_walks(actors, steps, window, "ordered", marks):
        walk = python_walk(events, steps, exclusions, window)
        assert got == (walk.step, walk.times), events


@settings(max_examples=40, deadline=None)
@given(case=funnels())
def test_unordered_layers_with_exclusions_equal_the_python_walk(
    case: tuple[int, list[tuple[int, int]], int, list[list[tuple[int, int]]]],
) -> None:
    steps, _exclusions, window, actors = case
    whole = [-s for s in range(2, steps + 1)]  # unordered funnels exclude over the whole funnel
    for events, got in sql_walks(actors, steps, window, "unordered", {1: [funnel_sql.EXCLUSION_CODE]}):
        walk_events = [(float(t), [c] if c < funnel_sql.EXCLUSION_CODE else whole, "") for t, c in events]
        walk_events.sort(key=lambda e: (e[0], e[1][0]))
        walk = walk_unordered(walk_events, steps, float(window))
        assert got == (walk.step, walk.times), events
