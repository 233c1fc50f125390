"""Dashboard filters applied to a saved query, as PostHog's ``apply_dashboard_filters`` does.

Insight retrieve takes them from ``filters_override`` (and ``tile_filters_override``): a JSON object with
``date_from``, ``date_to``, ``explicitDate`` and ``properties``. Insight queries get the date range
replaced (both bounds, when either is given) and the properties AND-ed with their own; a SQL insight gets
them in its ``filters`` (what ``{filters}`` reads). The stored insight is never changed.
"""

from __future__ import annotations

import copy
from typing import Any

from insightd.errors import ValidationFailed

WRAPPERS = ("InsightVizNode", "DataTableNode", "DataVisualizationNode")
INSIGHT_KINDS = (
    "TrendsQuery",
    "FunnelsQuery",
    "RetentionQuery",
    "PathsQuery",
    "StickinessQuery",
    "LifecycleQuery",
)


def dashboard_filter(value: Any, attr: str) -> dict[str, Any]:
    """A filters override, checked for shape (its property filters are checked with the query)."""
    if not isinstance(value, dict):
        raise ValidationFailed(f"{attr} must be a JSON object.", attr=attr)
    properties = value.get("properties")
    if properties is not None and not isinstance(properties, list):
        raise ValidationFailed(f"{attr}.properties must be a list of property filters.", attr=attr)
    for key in ("date_from", "date_to"):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise ValidationFailed(f"{attr}.{key} must be a date string.", attr=attr)
    return value


def apply_dashboard_filters(query: Any, filters: dict[str, Any]) -> Any:
    """A copy of ``query`` with ``filters`` applied; queries of other kinds are returned unchanged."""
    if not isinstance(query, dict):
        return query
    if query.get("kind") in WRAPPERS and isinstance(query.get("source"), dict):
        return {**query, "source": apply_dashboard_filters(query["source"], filters)}
    kind = query.get("kind")
    properties = filters.get("properties") or []
    date_from, date_to = filters.get("date_from"), filters.get("date_to")
    out = copy.deepcopy(query)
    if kind == "HogQLQuery":
        hogql = out.setdefault("filters", {}) if isinstance(out.get("filters"), dict) else {}
        out["filters"] = hogql
        if date_from or date_to:
            hogql["dateRange"] = {
                **(hogql.get("dateRange") or {}),
                "date_from": date_from,
                "date_to": date_to,
                "explicitDate": bool(filters.get("explicitDate")),
            }
        if properties:
            hogql["properties"] = [*(hogql.get("properties") or []), *properties]
        return out
    if kind not in INSIGHT_KINDS:
        return query
    if properties:
        own = out.get("properties")
        if own:
            own_group = own if isinstance(own, dict) else {"type": "AND", "values": own}
            out["properties"] = {"type": "AND", "values": [own_group, {"type": "AND", "values": properties}]}
        else:
            out["properties"] = properties
    if date_from or date_to:
        out["dateRange"] = {**(out.get("dateRange") or {}), "date_from": date_from, "date_to": date_to}
        if "explicitDate" in filters:
            out["dateRange"]["explicitDate"] = filters["explicitDate"]
        compare = out.get("compareFilter")
        if (
            kind == "TrendsQuery"
            and date_from == "all"
            and isinstance(compare, dict)
            and compare.get("compare")
        ):
            out["compareFilter"] = {**compare, "compare": False}  # no previous period to "all time"
    return out
