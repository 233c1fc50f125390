"""A plain-Python oracle for trends and ordered funnels over a handful of events (independent of the SQL)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.queries.events import Event

NULL = "$$_posthog_breakdown_null_$$"
OTHER = "$$_posthog_breakdown_other_$$"
Key = str | tuple[str, ...] | None


def _bucket(moment: datetime, interval: str) -> datetime:
    if interval == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = datetime.combine(moment.date(), time(), moment.tzinfo)
    if interval == "week":
        return day - timedelta(days=(moment.weekday() + 1) % 7)
    return day


def trends(
    events: list[Event],
    event: str,
    math: str,
    interval: str,
    tz: str,
    start: date,
    end: date,
    breakdown: str | list[str] | None,
) -> dict[Key, list[int]]:
    """Bucket values per breakdown value for an absolute range [start, end] in ``tz``.

    A list of breakdowns keys the values by a tuple, one string (or the null sentinel) per breakdown.
    """
    zone = ZoneInfo(tz)
    lower = datetime.combine(start, time(), zone)
    upper = datetime.combine(end, time(), zone)
    if interval != "hour":
        upper = datetime.combine(end, time(23, 59, 59, 999999), zone)
    buckets: list[datetime] = []
    current = _bucket(lower, interval)
    step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}[interval]
    while current <= upper:
        buckets.append(current)
        current = (current.replace(tzinfo=None) + step).replace(tzinfo=zone)
    seen: dict[tuple[Key, datetime], set[str]] = defaultdict(set)
    counts: dict[tuple[Key, datetime], int] = defaultdict(int)
    values: set[Key] = set()
    for e in events:
        local = e.timestamp.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
        if e.event != event or not lower <= local <= upper:
            continue
        value: Key = None
        if isinstance(breakdown, list):
            value = tuple(str(e.properties.get(b) or "") or NULL for b in breakdown)
        elif breakdown:
            value = str(e.properties.get(breakdown) or "") or NULL
        key = (value, _bucket(local, interval).replace(tzinfo=None))
        values.add(value)
        counts[key] += 1
        seen[key].add(e.person or e.distinct_id)
    out = {}
    for value in values:
        row = []
        for b in buckets:
            key = (value, b.replace(tzinfo=None))
            row.append(len(seen[key]) if math == "dau" else counts[key])
        out[value] = row
    return out


def limit(values: dict[Key, list[int]], top: int) -> dict[Key, list[int]]:
    """Keep the ``top`` values (normal before null, more first, then by value); sum the rest as other."""

    def parts(key: Key) -> tuple[str, ...]:
        return key if isinstance(key, tuple) else (str(key),)

    def rank(item: tuple[Key, list[int]]) -> tuple[bool, int, tuple[str, ...]]:
        return (NULL in parts(item[0]), -sum(item[1]), parts(item[0]))

    ordered = sorted(values.items(), key=rank)
    out = dict(ordered[:top])
    rest = ordered[top:]
    if rest:
        first = rest[0][0]
        other: Key = (OTHER,) * len(first) if isinstance(first, tuple) else OTHER
        out[other] = [sum(column) for column in zip(*(data for _, data in rest), strict=True)]
    return out


def funnel_counts(events: list[Event], steps: list[str], window: timedelta) -> list[int]:
    """Ordered funnel, distinct step events: per actor, the best greedy chain from any first-step event."""
    by_actor: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_actor[e.person or e.distinct_id].append(e)
    reached = [0] * len(steps)
    for actor_events in by_actor.values():
        ordered = sorted(
            actor_events, key=lambda e: (e.timestamp, steps.index(e.event) if e.event in steps else 99)
        )
        best = 0
        for i, first in enumerate(ordered):
            if first.event != steps[0]:
                continue
            level, last = 1, first.timestamp
            for e in ordered[i + 1 :]:
                if level < len(steps) and e.event == steps[level] and e.timestamp >= last:
                    if e.timestamp - first.timestamp > window:
                        break
                    level, last = level + 1, e.timestamp
            best = max(best, level)
        for k in range(best):
            reached[k] += 1
    return reached
