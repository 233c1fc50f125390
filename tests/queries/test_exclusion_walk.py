"""``funnel_sql.exclusion_layers`` (the closed form of the ordered walk with exclusions) equals
``funnel_walk.walk_ordered`` on random actors: 2–4 steps, one or two exclusions over random step
ranges, repeated events and timestamps, run on the real engine without a server."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from insightd.queries import funnel_sql
from insightd.queries.funnel_walk import Walk, walk_ordered
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
    arrays = ", ".join(
        "[" + ", ".join(str((t * 1_000_000 + SHIFT) * 32 + c) for t, c in a) + "]" for a in actors
    )
    sql = (
        f"SELECT CAST(z.1 AS Array(Int64)) AS a, z.2 AS actor, '' AS bd "
        f"FROM (SELECT arrayJoin(arrayZip([{arrays}], range({len(actors)}))) AS z)"
    )
    times = ", ".join(f"t{k}" for k in range(1, steps + 1))
    query = funnel_sql.actor_query(sql, steps, window * 1_000_000, carry=("bd", "actor"), marks=marks)
    rows = (
        process_engine().execute(f"SELECT actor, mixed, level, {times} FROM ({query})").rows if actors else []
    )
    assert len(rows) == len(actors)
    for actor, mixed, level, *stamps in rows:
        if int(mixed):  # different events at one timestamp: the Python walk decides (not this form)
            assert any(
                t1 == t2 and c1 != c2
                for (t1, c1), (t2, c2) in zip(actors[int(actor)], actors[int(actor)][1:], strict=False)
            )
            continue
        walk = python_walk(actors[int(actor)], steps, exclusions, window)
        got = tuple((int(t) - SHIFT) / 1e6 for t in stamps[: int(level)])
        assert (int(level) - 1, got) == (walk.step, walk.times), actors[int(actor)]
