"""Breakdown values, ranking, limit and the "other" bucket (spec §3.1–3.3).

A breakdown key is ``None`` (no breakdown), a string (one breakdown) or a tuple of strings (multiple
breakdowns, ``breakdownFilter.breakdowns``); results show a tuple as PostHog's list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from insightd.queries.models import BreakdownFilter
from insightd.queries.sql import Params, event_property, person_property

NULL = "$$_posthog_breakdown_null_$$"
OTHER = "$$_posthog_breakdown_other_$$"
Key = str | tuple[str, ...] | None


@dataclass(frozen=True)
class Part:
    """One breakdown: the property, where it is read, and whether URLs are normalized."""

    property: str
    type: str  # "event" | "person"
    normalize_url: bool


def parts_of(bf: BreakdownFilter | None) -> list[Part]:
    """The breakdowns of a filter; ``breakdowns`` (multiple) wins over ``breakdown``."""
    if bf is None:
        return []
    if bf.breakdowns:
        return [Part(str(b.property), b.type or "event", bool(b.normalize_url)) for b in bf.breakdowns]
    if bf.breakdown:
        return [Part(bf.breakdown, bf.breakdown_type or "event", bool(bf.breakdown_normalize_url))]
    return []


def raw_sql(part: Part, params: Params) -> str:
    """The property's value as stored (a String or NULL), before ``value_of``."""
    reader = person_property if part.type == "person" else event_property
    return reader(part.property, params)


def value_of(part: Part, raw: str) -> str:
    """``ifNull(nullIf(toString(raw), ''), NULL)``: NULL and '' both become the null sentinel."""
    if part.normalize_url:
        raw = f"if(empty(trimRight({raw}, '/?#')), '/', trimRight({raw}, '/?#'))"
    return f"ifNull(nullIf(toString({raw}), ''), '{NULL}')"


def key_of_raw(parts: list[Part], multiple: bool, raws: list[str]) -> str:
    """The breakdown key from the raw values ``raws`` (SQL expressions, one per part)."""
    values = [value_of(part, raw) for part, raw in zip(parts, raws, strict=True)]
    return "[" + ", ".join(values) + "]" if multiple else values[0]


def key_sql(parts: list[Part], multiple: bool, params: Params) -> str:
    """The SQL of the breakdown key: one value, or an array of values for multiple breakdowns."""
    return key_of_raw(parts, multiple, [raw_sql(part, params) for part in parts])


def key_of(value: Any) -> Key:
    """A breakdown key as the engine returns it (a list for multiple breakdowns) → a hashable key."""
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else value


def as_json(key: Key) -> Any:
    """``breakdown_value`` as PostHog returns it: the string, or a list for multiple breakdowns."""
    return list(key) if isinstance(key, tuple) else key


def label(key: Any) -> str:
    """A breakdown's label: the value, or the values joined with ``::`` for multiple breakdowns."""
    return "::".join(str(v) for v in key) if isinstance(key, list | tuple) else str(key)


def _total(values: list[float] | float) -> float:
    return sum(values) if isinstance(values, list) else values


def _kind(key: Any) -> int:
    """Normal values rank first, then null, then other (a list is other/null if it contains one)."""
    parts = tuple(key) if isinstance(key, list | tuple) else (key,)
    return 2 if OTHER in parts else 1 if NULL in parts else 0


def is_other(key: Any) -> bool:
    """The "other" bucket (for multiple breakdowns: the list of other sentinels)."""
    return _kind(key) == 2


def _order(key: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in key) if isinstance(key, list | tuple) else (str(key),)


def limit_values(
    values: dict[Key, list[float] | float], limit: int
) -> tuple[dict[Key, list[float] | float], bool]:
    """Merge everything ranked past ``limit`` into other. Time series rank normal → null, then total
    desc, then value asc; total values (one number each) rank the null sentinel like any value, by total
    desc then value asc (PostHog's row number over the aggregated rows), and are shown normal → null →
    other, then total desc, value asc."""
    total_value = any(not isinstance(v, list) for v in values.values())

    def rank(kv: tuple[Key, list[float] | float]) -> tuple[int, float, tuple[str, ...]]:
        return (0 if total_value else _kind(kv[0]), -_total(kv[1]), _order(kv[0]))

    ranked = sorted(values.items(), key=rank)
    kept, rest = ranked[:limit], ranked[limit:]
    if total_value:
        kept.sort(key=lambda kv: (_kind(kv[0]), -_total(kv[1]), _order(kv[0])))
    out = dict(kept)
    if rest:
        first_key, first = rest[0]
        other: Key = (OTHER,) * len(first_key) if isinstance(first_key, tuple) else OTHER
        if isinstance(first, list):
            columns = [v for _, v in rest if isinstance(v, list)]
            out[other] = [sum(col) for col in zip(*columns, strict=True)]
        else:
            out[other] = sum(v for _, v in rest if not isinstance(v, list))
    return out, bool(rest)


def formula_rank(item: dict[str, Any]) -> tuple[Any, ...]:
    """PostHog's sort key of formula results with a breakdown, used with ``reverse=True``: normal
    values, then null, then other (only a single value is recognised as null/other, as PostHog
    compares the value with the sentinels), then total, count, data and ``repr`` of the value, all
    descending."""
    value = item.get("breakdown_value")
    kind = -1 if value == NULL else -2 if value == OTHER else 0
    total = item.get("aggregated_value")
    if total is None:
        total = sum(item.get("data") or [])
    return (kind, float(total), float(item.get("count") or 0), item.get("data") or [], repr(value))
