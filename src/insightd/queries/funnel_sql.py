"""The ordered funnel walk in ClickHouse SQL, for funnels where it provably equals ``funnel_walk``.

Applies when the funnel is ``ordered``, has no exclusions, every step is a distinct named event (so one
event serves at most one step) and attribution is first/last touch. Then PostHog's walk (spec §5.4)
has a closed form over each actor's events sorted by (time, step), with no fold (chdb-core-lite 26.5
has no ``arrayFold``):

- from each step-1 event (a *start* s) follow the greedy chain: the first step-2 event at or after it,
  then the first step-3 event at or after that, …; the chain's level is how many of its steps lie within
  ``W`` of s. The actor's level is the best chain's (the oracle's definition, which equals the walk's);
- the walk's best path is the first path to reach that level: the chain that completes it earliest,
  and of those the latest start (the walk extends the latest start it holds). Its step times are the
  conversion times.

"next step-k event at or after index i" is one backward fill per step (``arrayReverseFill``), so an
actor costs O(steps × events). Timestamps are integer microseconds: window tests and times are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from insightd.queries.models import FunnelsFilter, FunnelsQuery

MAX_SQL_STEPS = 16


def applicable(query: FunnelsQuery, flt: FunnelsFilter, viz: str) -> bool:
    """True when the SQL walk gives exactly the numbers of ``funnel_walk.walk_ordered``."""
    if (flt.funnelOrderType or "ordered") != "ordered" or flt.exclusions:
        return False
    if viz not in ("steps", "time_to_convert"):
        return False
    names = [node.event for node in query.series]
    if None in names or len(set(names)) != len(names) or len(names) > MAX_SQL_STEPS:
        return False
    bf = query.breakdownFilter
    if bf and bf.breakdown:
        return (flt.breakdownAttributionType or "first_touch") in ("first_touch", "last_touch")
    return True


def walk_layers(steps: int, window_us: int) -> list[tuple[list[str], list[str]]]:
    """Subquery layers over ``ts`` (Array(Int64) µs) and ``st`` (Array(UInt8) step) → ``level``, ``t1..tn``.

    ``level`` is the 1-based furthest step and ``tk`` the best path's step-k time (0 past ``level``).
    Each layer is (columns kept, columns added): ClickHouse inlines aliases, so chained aliases
    inside one SELECT make the analyzer's work grow steeply; a layer boundary stops that.
    """
    nexts = [
        f"arrayReverseFill(x -> x > 0, arrayMap((i, x) -> if(x = {k}, i, 0), arrayEnumerate(st), st)) AS r{k}"
        for k in range(2, steps + 1)
    ]
    chain, index = ["i"], "i"
    for k in range(2, steps + 1):
        index = f"r{k}[{index}]"
        chain.append(index)
    starts = "arrayFilter((i, x) -> x = 1, arrayEnumerate(st), st)"
    within = " + ".join(f"(c[{k}] > 0 AND ts[c[{k}]] - ts[c[1]] <= {window_us})" for k in range(2, steps + 1))
    best = (
        "arrayReverseSort(x -> (x.1, -x.2, x.3), arrayMap(c -> (toUInt8(1 + " + within + "), "
        f"ts[c[1 + {within}]], c[1], c), chains))[1]"
    )
    times = [f"if(level >= {k}, ts[path[{k}]], 0) AS t{k}" for k in range(1, steps + 1)]
    return [
        (["ts", "st"], nexts),
        (["ts"], [f"arrayMap(i -> [{', '.join(chain)}], {starts}) AS chains"]),
        (["ts"], [f"{best} AS top"]),
        (["ts"], ["top.1 AS level", "top.4 AS path"]),
        (["level"], times),
    ]


def step_aggregates(steps: int) -> list[str]:
    """Per group: actors reaching each step; per step ≥ 2 the sum, count and median of non-zero times.

    The median interpolates between the two middle values (ClickHouse ``median`` semantics on PostHog's
    side; the lite engine has no ``quantileExactInclusive``), from the sorted times.
    """
    out = [f"countIf(level >= {k}) AS reached{k}" for k in range(1, steps + 1)]
    for k in range(2, steps + 1):
        diff, cond = f"(t{k} - t{k - 1})", f"level >= {k} AND t{k} != t{k - 1}"
        times = f"arraySort(groupArrayIf({diff}, {cond}))"
        middle = (
            "arrayMap(a -> (a[intDiv(length(a) - 1, 2) + 1] + a[intDiv(length(a), 2) + 1]) / 2, "
            f"[{times}])[1]"
        )
        out += [f"sumIf({diff}, {cond}) AS sum{k}", f"countIf({cond}) AS n{k}", f"{middle} AS median{k}"]
    return out


def actor_query(events: str, steps: int, window_us: int, attribution: str | None) -> str:
    """Per actor: ``level``, ``t1..tn`` and the attributed ``bd``, from ``events`` = (actor, evs) rows.

    ``evs`` is the actor's Array((µs, step, bd)) sorted by (time, step).
    """
    bd = "''"
    if attribution is not None:
        pick = "arrayFirst" if attribution == "first_touch" else "arrayLast"
        bd = f"{pick}(x -> x != '', arrayMap(e -> e.3, evs))"
    sql = f"SELECT arrayMap(e -> e.1, evs) AS ts, arrayMap(e -> e.2, evs) AS st, {bd} AS bd FROM ({events})"
    for keep, added in walk_layers(steps, window_us):
        sql = f"SELECT {', '.join([*keep, 'bd', *added])} FROM ({sql})"
    return sql


def parse_steps(row: Sequence[Any], steps: int) -> tuple[list[int], list[float | None], list[float | None]]:
    """One aggregate row (without the group column) → reached counts, mean and median seconds per step."""
    reached = [int(row[k]) for k in range(steps)]
    means: list[float | None] = [None]
    medians: list[float | None] = [None]
    for k in range(steps - 1):
        total, count, median = row[steps + 3 * k : steps + 3 * k + 3]
        means.append(int(total) / 1e6 / int(count) if count else None)
        medians.append(float(median) / 1e6 if count else None)
    return reached, means, medians
