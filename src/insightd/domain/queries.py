"""What an insight's ``query`` may be, and which insight type it is.

Full models of every query node arrive with query execution; here we check what PostHog's body
parser checks before any view code runs: the query is a JSON object whose ``kind`` is a known
node, and wrapper nodes hold a known source.
"""

from __future__ import annotations

import math
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
    if (found := unstorable(query)) is not None:
        problem, where = found
        if problem == "too_deep":
            raise InvalidQuery(f"Query is nested more than {MAX_QUERY_DEPTH} levels deep at '{where}'")
        if problem == "huge_integer":
            raise InvalidQuery(f"Integer out of range at '{where or kind}'")
        raise InvalidQuery(f"NaN and infinite numbers are not allowed (at '{where or kind}')")
    return query


# Deeper than any real query node (property groups nest a few levels); JSON writers stop at 255.
MAX_QUERY_DEPTH = 64


def unstorable(value: Any) -> tuple[str, str] | None:
    """The first reason no store or JSON writer takes ``value``, and where (an ``attr``-style path,
    ``a__0__b``): ``"too_deep"`` (nested past ``MAX_QUERY_DEPTH``; JSON writers stop at 255 levels), else
    ``"huge_integer"`` (outside the 64 bits ClickHouse, orjson and cache keys stop at), else ``"non_finite"``
    (NaN or an infinity: PostgreSQL's JSON refuses them, and JSON writers turn them into null, sharing
    null's cache key). None when it is storable. One walk, without recursion, so any depth is safe."""
    huge: str | None = None
    non_finite: str | None = None
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_QUERY_DEPTH:
            return "too_deep", "__".join(map(str, path))
        if isinstance(node, dict):
            stack.extend((child, (*path, key)) for key, child in node.items())
        elif isinstance(node, list):
            stack.extend((child, (*path, key)) for key, child in enumerate(node))
        # The walk meets leaves last to first, so the last one met is the first in the document.
        elif isinstance(node, int) and not isinstance(node, bool) and not -(2**63) <= node < 2**64:
            huge = "__".join(map(str, path))
        elif isinstance(node, float) and not math.isfinite(node):
            non_finite = "__".join(map(str, path))
    if huge is not None:
        return "huge_integer", huge
    if non_finite is not None:
        return "non_finite", non_finite
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
