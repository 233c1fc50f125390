"""What an insight's ``query`` may be, and which insight type it is.

Full models of every query node arrive with query execution; here we check what PostHog's body
parser checks before any view code runs: the query is a JSON object whose ``kind`` is a known
node, and wrapper nodes hold a known source.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

INSIGHT_SOURCE_KINDS = {
    "TrendsQuery": "TRENDS",
    "FunnelsQuery": "FUNNELS",
    "RetentionQuery": "RETENTION",
    "PathsQuery": "PATHS",
    "StickinessQuery": "STICKINESS",
    "LifecycleQuery": "LIFECYCLE",
}
OTHER_VIZ_SOURCE_KINDS = {"WebStatsTableQuery", "WebOverviewQuery"}
DATA_NODE_SOURCE_KINDS = {
    "EventsQuery",
    "ActorsQuery",
    "HogQLQuery",
    "GroupsQuery",
    "PersonsNode",
    "SessionsQuery",
    "WebStatsTableQuery",
    "WebOverviewQuery",
    "TracesQuery",
    "ErrorTrackingQuery",
    "RevenueAnalyticsOverviewQuery",
    "MarketingAnalyticsTableQuery",
}
WRAPPER_KINDS = {"InsightVizNode", "DataTableNode", "DataVisualizationNode"}
STANDALONE_KINDS = (
    {"HogQuery", "HogQLQuery", "EventsNode", "ActionsNode", "SavedInsightNode", "HogQLAutocomplete"}
    | set(INSIGHT_SOURCE_KINDS)
    | DATA_NODE_SOURCE_KINDS
)
KNOWN_KINDS = WRAPPER_KINDS | STANDALONE_KINDS
INSIGHT_TYPES = ("TRENDS", "FUNNELS", "RETENTION", "PATHS", "STICKINESS", "LIFECYCLE", "SQL", "JSON")


class InvalidQuery(ValueError):
    """The query is not a node PostHog's schema would accept."""


def validate_query(query: Any) -> dict[str, Any]:
    """Check a query's shape and return it, or raise :class:`InvalidQuery` saying what is wrong."""
    if not isinstance(query, dict):
        raise InvalidQuery("Query must be a valid JSON object")
    kind = query.get("kind")
    if not isinstance(kind, str) or not kind:
        raise InvalidQuery("Query is missing the 'kind' field")
    if kind not in KNOWN_KINDS:
        raise InvalidQuery(f"Unknown query kind '{kind}'")
    if kind in WRAPPER_KINDS:
        source = query.get("source")
        if not isinstance(source, dict):
            raise InvalidQuery(f"{kind} requires a 'source' object")
        source_kind = source.get("kind")
        allowed = (
            set(INSIGHT_SOURCE_KINDS) | OTHER_VIZ_SOURCE_KINDS
            if kind == "InsightVizNode"
            else DATA_NODE_SOURCE_KINDS
        )
        if source_kind not in allowed:
            raise InvalidQuery(f"{kind} source has unsupported kind '{source_kind}'")
        if source_kind in ("TrendsQuery", "FunnelsQuery", "StickinessQuery", "LifecycleQuery"):
            series = source.get("series")
            if not isinstance(series, list):
                raise InvalidQuery(f"{source_kind} requires 'series' to be a list")
        if source_kind == "HogQLQuery" and not isinstance(source.get("query"), str):
            raise InvalidQuery("HogQLQuery requires 'query' to be a string")
    if (where := too_deep(query)) is not None:
        raise InvalidQuery(f"Query is nested more than {MAX_QUERY_DEPTH} levels deep at '{where}'")
    if (where := huge_integer(query)) is not None:
        raise InvalidQuery(f"Integer out of range at '{where or kind}'")
    if (where := non_finite(query)) is not None:
        raise InvalidQuery(f"NaN and infinite numbers are not allowed (at '{where or kind}')")
    return query


# Deeper than any real query node (property groups nest a few levels); JSON writers stop at 255.
MAX_QUERY_DEPTH = 64


def _children(value: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(value, dict):
        yield from value.items()
    elif isinstance(value, list):
        yield from enumerate(value)


def too_deep(value: Any) -> str | None:
    """Where (an ``attr``-style path) ``value`` nests dicts and lists more than ``MAX_QUERY_DEPTH``
    levels deep; None when it does not. Walks without recursion, so any depth is safe."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_QUERY_DEPTH:
            return "__".join(map(str, path))
        stack.extend((child, (*path, key)) for key, child in _children(node))
    return None


def huge_integer(value: Any) -> str | None:
    """Where (an ``attr``-style path, ``a__0__b``) ``value`` holds an integer outside the 64-bit range
    that ClickHouse, orjson and cache keys stop at; None when it holds none (walks without recursion)."""
    return _first(
        value, lambda n: isinstance(n, int) and not isinstance(n, bool) and not -(2**63) <= n < 2**64
    )


def non_finite(value: Any) -> str | None:
    """Where ``value`` holds NaN or an infinity (PostgreSQL's JSON refuses them; JSON writers turn them
    into null, so they would share a cache key with null); None when it holds none."""
    return _first(value, lambda n: isinstance(n, float) and not math.isfinite(n))


def _first(value: Any, bad: Callable[[Any], bool]) -> str | None:
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if bad(node):
            return "__".join(map(str, path))
        stack.extend((child, (*path, key)) for key, child in reversed(list(_children(node))))
    return None


def insight_type(query: dict[str, Any] | None, filters: dict[str, Any] | None = None) -> str | None:
    """The list filter ``insight=`` category: TRENDS … LIFECYCLE, SQL or JSON (None without a query)."""
    if not query:
        legacy = (filters or {}).get("insight")
        return str(legacy).upper() if legacy else None
    kind = query.get("kind")
    source = query.get("source") if isinstance(query.get("source"), dict) else {}
    source_kind = source.get("kind") if source else None
    if kind == "InsightVizNode" and source_kind in INSIGHT_SOURCE_KINDS:
        return INSIGHT_SOURCE_KINDS[str(source_kind)]
    if kind in ("DataVisualizationNode", "DataTableNode") and source_kind == "HogQLQuery":
        return "SQL"
    return "JSON"
