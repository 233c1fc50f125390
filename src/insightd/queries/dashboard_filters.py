"""Dashboard filters applied to a saved query, as PostHog's ``apply_dashboard_filters`` does.

The filters come in layers (PostHog's ``calculate_for_query_based_insight``): the dashboard's own (stored,
or none outside a dashboard), overridden key by key by the request's ``filters_override``; then a tile's
``tile_filters_override``, merged over them by priority (``merge_by_priority``). The effective set:

- replaces the date range (both bounds; ``explicitDate`` too when given), the breakdown, the interval and
  ``filterTestAccounts`` of the query when it has those fields;
- AND-s its property filters with the query's own, after dropping each of the query's own filters that one
  of them provably contradicts on the same property (``remove_contradicted``: PostHog's
  ``remove_query_properties_overridden_by``) -- ``$browser = Chrome`` on the insight and ``$browser =
  Firefox`` on the dashboard gives Firefox, not nothing; compatible ones (``= google`` and ``is set``) stack.

A SQL insight gets them in its ``filters`` (what ``{filters}`` reads). The stored insight never changes.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, get_args

from insightd.domain.queries import MAX_QUERY_DEPTH, unstorable
from insightd.errors import ValidationFailed
from insightd.queries.models import IntervalType

WRAPPERS = ("InsightVizNode", "DataTableNode", "DataVisualizationNode")
INSIGHT_KINDS = (
    "TrendsQuery",
    "FunnelsQuery",
    "RetentionQuery",
    "PathsQuery",
    "StickinessQuery",
    "LifecycleQuery",
)
# The insight kinds that carry each replaceable field (PostHog applies a field only where it exists).
WITH_BREAKDOWN = ("TrendsQuery", "FunnelsQuery", "RetentionQuery")
WITH_INTERVAL = ("TrendsQuery", "FunnelsQuery", "StickinessQuery", "LifecycleQuery")
# Fields a higher layer replaces outright when it sets them (PostHog's ``_SCALAR_OVERRIDE_FIELDS``).
SCALAR_OVERRIDES = ("breakdown_filter", "interval", "filterTestAccounts")
MAX_GROUP_DEPTH = 20


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _bad_text(value: Any) -> str | None:
    """The error code of the first text (key or value) in ``value`` no database stores -- a NUL
    (PostgreSQL refuses it) or a lone UTF-16 surrogate; None when there is none. Walks without recursion."""
    stack = [value]
    while stack:
        node = stack.pop()
        texts = [node] if isinstance(node, str) else list(node) if isinstance(node, dict) else []
        for piece in texts:
            if (bad := _UNSTORABLE.search(piece)) is not None:
                return "null_characters_not_allowed" if bad.group() == "\x00" else "invalid_unicode"
        stack.extend(node.values() if isinstance(node, dict) else node if isinstance(node, list) else ())
    return None


def check_storable(value: Any, field: str, *, text: bool = True) -> None:
    """A 400 (``attr`` the field) for a value no store or JSON writer takes: nested past MAX_QUERY_DEPTH,
    an integer past 64 bits, NaN or Infinity, and (``text``) NUL or lone surrogates in text."""
    if (found := unstorable(value)) is not None:
        problem, where = found
        if problem == "too_deep":
            raise ValidationFailed(
                f"Nested more than {MAX_QUERY_DEPTH} levels deep at '{where}'.", code="too_deep", attr=field
            )
        if problem == "huge_integer":
            raise ValidationFailed(f"Integer out of range at '{where}'.", code="max_value", attr=field)
        raise ValidationFailed(
            f"NaN and Infinity are not valid JSON numbers (at '{where}').", code="invalid", attr=field
        )
    if text and (code := _bad_text(value)) is not None:
        detail = (
            "Null characters are not allowed."
            if code == "null_characters_not_allowed"
            else "Text must be valid Unicode (no lone surrogates)."
        )
        raise ValidationFailed(detail, code=code, attr=field)


def _leaves(properties: Any, attr: str, depth: int = 0) -> list[dict[str, Any]]:
    """Dashboard property filters as a flat list: AND groups are flattened, OR groups refused (PostHog's
    ``flatten_property_leaves``)."""
    if depth > MAX_GROUP_DEPTH:
        raise ValidationFailed("Property group nesting exceeds the supported depth.", attr=attr)
    if isinstance(properties, dict):
        if not isinstance(properties.get("values"), list):
            raise ValidationFailed("Property group values must be a list.", attr=attr)
        if properties.get("type", "AND") != "AND":
            raise ValidationFailed("Only AND property groups are supported.", attr=attr)
        return _leaves(properties["values"], attr, depth + 1)
    if not isinstance(properties, list):
        raise ValidationFailed(f"{attr}.properties must be a list of property filters.", attr=attr)
    out: list[dict[str, Any]] = []
    for item in properties:
        if not isinstance(item, dict):
            raise ValidationFailed(
                f"Invalid property filter item: expected dict, got {type(item).__name__}.", attr=attr
            )
        out.extend(_leaves(item, attr, depth + 1) if "values" in item and "key" not in item else [item])
    return out


def dashboard_filter(value: Any, attr: str) -> dict[str, Any]:
    """A dashboard filter set (stored, or an override), checked for shape; property groups flattened.
    The property filters themselves are checked with the query they are applied to."""
    if not isinstance(value, dict):
        raise ValidationFailed(f"{attr} must be a JSON object.", attr=attr)
    out = dict(value)
    if value.get("properties") is not None:
        out["properties"] = _leaves(value["properties"], attr)
    for key in ("date_from", "date_to"):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise ValidationFailed(f"{attr}.{key} must be a date string.", attr=attr)
    for key in ("explicitDate", "filterTestAccounts"):
        if value.get(key) is not None and not isinstance(value[key], bool):
            raise ValidationFailed(f"{attr}.{key} must be a boolean.", attr=attr)
    if value.get("interval") is not None and value["interval"] not in get_args(IntervalType):
        raise ValidationFailed(f'{attr}.interval: "{value["interval"]}" is not a valid choice.', attr=attr)
    if value.get("breakdown_filter") is not None and not isinstance(value["breakdown_filter"], dict):
        raise ValidationFailed(f"{attr}.breakdown_filter must be a JSON object.", attr=attr)
    return out


# -- layers ---------------------------------------------------------------------------------------------


def merge_by_priority(base: dict[str, Any] | None, override: dict[str, Any] | None) -> dict[str, Any]:
    """``override`` (a tile's filters) over ``base`` (the dashboard's), as PostHog's
    ``merge_filters_by_priority``: scalars replaced when set, the date range replaced as one unit when
    either bound is set, properties stacked except the base's that an override property contradicts."""
    if not override:
        return dict(base or {})
    if not base:
        return dict(override)
    override_props = override.get("properties") or []
    merged = dict(base)
    for field in SCALAR_OVERRIDES:
        if override.get(field) is not None:
            merged[field] = override[field]
    if override.get("date_from") is not None or override.get("date_to") is not None:
        merged["date_from"] = override.get("date_from")
        merged["date_to"] = override.get("date_to")
        merged.pop("explicitDate", None)
        if override.get("explicitDate") is not None:
            merged["explicitDate"] = override["explicitDate"]
    kept = [p for p in base.get("properties") or [] if not any(contradict(p, o) for o in override_props)]
    merged.pop("properties", None)
    if kept or override_props:
        merged["properties"] = [*kept, *override_props]
    return merged


def effective_filters(
    dashboard: dict[str, Any] | None,
    filters_override: dict[str, Any] | None,
    tile_override: dict[str, Any] | None,
) -> dict[str, Any]:
    """The filter set that applies: the dashboard's with ``filters_override`` over it key by key
    (PostHog's ``filters_override_requested_by_client``), then the tile's by priority."""
    base = {**(dashboard or {}), **(filters_override or {})}
    return merge_by_priority(base, tile_override) if tile_override else base


@dataclass(frozen=True)
class Overrides:
    """A request's checked overrides (PostHog's ``filters_override``, ``tile_filters_override``,
    ``variables_override``)."""

    filters: dict[str, Any] | None = None  # over the dashboard's filters, key by key
    tile: dict[str, Any] | None = None  # over both, by priority
    variables: dict[str, Any] | None = None

    def effective(self, dashboard_filters: dict[str, Any] | None = None) -> dict[str, Any]:
        """The filters that apply to an insight seen through a dashboard with ``dashboard_filters``
        (none outside a dashboard)."""
        return effective_filters(dashboard_filters, self.filters, self.tile)


# -- contradictions (PostHog's ``filters_contradict``) ---------------------------------------------------

POSITIVE_EXACT = {"exact", "in"}
NEGATIVE_EXACT = {"is_not", "not_in"}
ONLY_SET_VALUES = POSITIVE_EXACT | {"icontains", "regex", "is_set"}  # never match an unset property


def _values(value: Any) -> list[str] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if not values:
        return None
    return [("true" if v else "false") if isinstance(v, bool) else str(v) for v in values]


def _same_property(a: Any, b: Any) -> bool:
    for f in (a, b):
        if not isinstance(f, dict) or f.get("key") is None or f.get("type") in ("cohort", "hogql"):
            return False
    return bool(
        a.get("key") == b.get("key")
        and a.get("type", "event") == b.get("type", "event")  # insightd's filters default to event
        and a.get("group_type_index") == b.get("group_type_index")
    )


def _one_way(op_a: str, values_a: list[str] | None, op_b: str, values_b: list[str] | None) -> bool:
    """Whether ``a`` matches only values that ``b`` excludes entirely."""
    if op_b == "is_not_set" and op_a in ONLY_SET_VALUES:
        return op_a == "is_set" or values_a is not None
    if values_a is None or values_b is None:
        return False
    if op_a in POSITIVE_EXACT:
        if op_b in NEGATIVE_EXACT:
            return set(values_a) <= set(values_b)
        if op_b in POSITIVE_EXACT:
            return not set(values_a) & set(values_b)
    if op_a == "icontains" and op_b == "not_icontains":
        negatives = [v.casefold() for v in values_b]
        return all(any(n in p.casefold() for n in negatives) for p in values_a)
    if op_a == "regex" and op_b == "not_regex":
        return len(values_a) == 1 and len(values_b) == 1 and values_a[0] == values_b[0]
    return False


def contradict(a: Any, b: Any) -> bool:
    """Whether two property filters on the same property can never both match."""
    if not _same_property(a, b):
        return False
    op_a, op_b = str(a.get("operator") or "exact"), str(b.get("operator") or "exact")
    va, vb = _values(a.get("value")), _values(b.get("value"))
    return _one_way(op_a, va, op_b, vb) or _one_way(op_b, vb, op_a, va)


def _without_contradicted(properties: Any, overriding: list[dict[str, Any]]) -> Any:
    """``properties`` (a list or a group, nested at any depth) less the leaves ``overriding``
    contradicts; emptied subgroups are pruned."""

    def contradicted(leaf: Any) -> bool:
        return isinstance(leaf, dict) and any(contradict(leaf, o) for o in overriding)

    if isinstance(properties, list):
        out = []
        for p in properties:
            if isinstance(p, dict) and isinstance(p.get("values"), list) and "key" not in p:
                pruned = _without_contradicted(p, overriding)
                if pruned["values"]:
                    out.append(pruned)
            elif not contradicted(p):
                out.append(p)
        return out
    if isinstance(properties, dict) and isinstance(properties.get("values"), list):
        return {**properties, "values": _without_contradicted(properties["values"], overriding)}
    return properties


def remove_contradicted(query: Any, filters: dict[str, Any]) -> Any:
    """The query less its own property filters (top level, series, SQL ``filters``) that a property
    filter of ``filters`` contradicts (PostHog's ``remove_query_properties_overridden_by``)."""
    overriding = [p for p in filters.get("properties") or [] if isinstance(p, dict)]
    if not overriding or not isinstance(query, dict):
        return query
    if query.get("kind") in WRAPPERS and isinstance(query.get("source"), dict):
        return {**query, "source": remove_contradicted(query["source"], filters)}
    out = dict(query)
    if out.get("properties") is not None:
        out["properties"] = _without_contradicted(out["properties"], overriding)
    if isinstance(out.get("series"), list):
        out["series"] = [
            {**node, "properties": _without_contradicted(node["properties"], overriding)}
            if isinstance(node, dict) and node.get("properties") is not None
            else node
            for node in out["series"]
        ]
    hogql = out.get("filters")
    if isinstance(hogql, dict) and hogql.get("properties") is not None:
        out["filters"] = {**hogql, "properties": _without_contradicted(hogql["properties"], overriding)}
    return out


# -- applying -------------------------------------------------------------------------------------------


def _is_group(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("values"), list) and "key" not in value


def _no_filter(properties: Any) -> bool:
    """Whether ``properties`` (a list or a group) holds nothing but empty groups."""
    if _is_group(properties):
        return _no_filter(properties["values"])
    return isinstance(properties, list) and all(_is_group(p) and _no_filter(p) for p in properties)


def _with_properties(own: Any, properties: list[dict[str, Any]], *, as_list: bool) -> Any:
    """The query's own property filters AND-ed with the dashboard's. ``as_list`` (a SQL insight's
    ``filters.properties``, a list whose items may be groups): the dashboard's are appended, after the
    own group when it is one. Otherwise (an insight's ``properties``, a list or a group): the two sets
    become one AND group. A value that is neither list nor group is left for the query's validation
    to report (a 400, or the insight's error in a list or on a dashboard), never guessed at."""
    if own is None or _no_filter(own):
        return list(properties)
    if not isinstance(own, list) and not _is_group(own):
        return own
    if as_list:
        return [*(own if isinstance(own, list) else [own]), *properties]
    own_group = own if isinstance(own, dict) else {"type": "AND", "values": own}
    return {"type": "AND", "values": [own_group, {"type": "AND", "values": properties}]}


def _date_range(current: Any, date_from: Any, date_to: Any) -> dict[str, Any]:
    """The dashboard's bounds over a query's ``dateRange`` (replaced outright when it is not an object)."""
    return {**(current if isinstance(current, dict) else {}), "date_from": date_from, "date_to": date_to}


def apply_dashboard_filters(query: Any, filters: dict[str, Any]) -> Any:
    """A copy of ``query`` with ``filters`` applied (as PostHog's runners' ``apply_dashboard_filters``);
    queries of other kinds are returned unchanged."""
    if not isinstance(query, dict) or not filters:
        return query
    if query.get("kind") in WRAPPERS and isinstance(query.get("source"), dict):
        return {**query, "source": apply_dashboard_filters(query["source"], filters)}
    kind = query.get("kind")
    properties = filters.get("properties") or []
    date_from, date_to = filters.get("date_from"), filters.get("date_to")
    out = copy.deepcopy(query)
    if kind == "HogQLQuery":
        hogql = out["filters"] if isinstance(out.get("filters"), dict) else {}
        out["filters"] = hogql
        if date_from or date_to:
            hogql["dateRange"] = {
                **_date_range(hogql.get("dateRange"), date_from, date_to),
                "explicitDate": bool(filters.get("explicitDate")),
            }
        if properties:
            hogql["properties"] = _with_properties(hogql.get("properties"), properties, as_list=True)
        if filters.get("filterTestAccounts") is not None:
            hogql["filterTestAccounts"] = filters["filterTestAccounts"]
        return out
    if kind not in INSIGHT_KINDS:
        return query
    if properties:
        out["properties"] = _with_properties(out.get("properties"), properties, as_list=False)
    if date_from or date_to:
        out["dateRange"] = _date_range(out.get("dateRange"), date_from, date_to)
        if filters.get("explicitDate") is not None:
            out["dateRange"]["explicitDate"] = filters["explicitDate"]
    if filters.get("breakdown_filter") and kind in WITH_BREAKDOWN:
        out["breakdownFilter"] = filters["breakdown_filter"]
    if filters.get("interval") is not None and kind in WITH_INTERVAL:
        out["interval"] = filters["interval"]
    if filters.get("filterTestAccounts") is not None:
        out["filterTestAccounts"] = filters["filterTestAccounts"]
    compare = out.get("compareFilter")
    if kind == "TrendsQuery" and date_from == "all" and isinstance(compare, dict) and compare.get("compare"):
        out["compareFilter"] = {**compare, "compare": False}  # no previous period to "all time"
    return out


def effective_query(query: Any, filters: dict[str, Any]) -> Any:
    """The query a dashboard shows and computes: the insight's own filters that ``filters`` overrides
    dropped, then ``filters`` applied (PostHog's ``resolve_effective_dashboard_filters`` and
    ``apply_dashboard_filters_to_dict``)."""
    if not filters:
        return query
    return apply_dashboard_filters(remove_contradicted(query, filters), filters)
