"""A query, read into the few facts that matter for naming it (PostHog's naming summary, spec §5.2).

:func:`summarize` never fails: queries are client JSON, so every field is read defensively.
:meth:`QuerySummary.text` renders PostHog's compact text summary — the only thing an LLM is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from insightd.metadata.words import window_phrase

MATH_WORDS = {
    "total": "total count",
    "dau": "unique users",
    "weekly_active": "weekly active users",
    "monthly_active": "monthly active users",
    "unique_session": "unique sessions",
    "first_time_for_user": "first time users",
    "first_matching_event_for_user": "first matching event per user",
    "avg_count_per_actor": "avg count per user",
    "min_count_per_actor": "min count per user",
    "max_count_per_actor": "max count per user",
    "median_count_per_actor": "median count per user",
    "p75_count_per_actor": "p75 count per user",
    "p90_count_per_actor": "p90 count per user",
    "p95_count_per_actor": "p95 count per user",
    "p99_count_per_actor": "p99 count per user",
    "avg": "average",
    "sum": "sum",
    "min": "minimum",
    "max": "maximum",
    "median": "median",
    "p75": "p75",
    "p90": "p90",
    "p95": "p95",
    "p99": "p99",
    "unique_group": "unique groups",
    "hogql": "custom expression",
}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Series:
    """One series or funnel step: what is counted and how."""

    event: str | None = None
    custom_name: str | None = None
    name: str | None = None
    action_id: Any = None
    math: str | None = None
    math_property: str | None = None
    math_hogql: str | None = None
    is_action: bool = False

    @property
    def label(self) -> str:
        """PostHog's label: custom name, else event, else name, else ``Action #id``, else all events."""
        if self.custom_name:
            return self.custom_name
        if self.event:
            return self.event
        if self.name:
            return self.name
        if self.action_id:
            return f"Action #{self.action_id}"
        return "All events"

    def text(self) -> str:
        parts = [self.label]
        if self.math:
            parts.append(f"({MATH_WORDS.get(self.math, self.math)})")
            if self.math_property:
                parts.append(f"of {self.math_property}")
        return " ".join(parts)


@dataclass(frozen=True)
class Filter:
    key: str
    value: Any = None
    operator: str = "exact"
    type: str | None = None
    cohort_name: str | None = None

    def text(self) -> str:
        if self.type == "cohort":
            return f"in cohort '{self.cohort_name or self.value}'"
        return (
            f"{self.key} {self.operator} {self.value}"
            if self.value is not None
            else f"{self.key} {self.operator}"
        )


@dataclass
class QuerySummary:
    """The naming facts of one query. ``kind`` is the inner kind (TrendsQuery, EventsQuery, …)."""

    kind: str
    series: list[Series] = field(default_factory=list)
    interval: str | None = None
    breakdowns: list[str] = field(default_factory=list)
    breakdown_type: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    properties: list[Filter] = field(default_factory=list)
    test_accounts_filtered: bool = False
    display: str | None = None
    formula: str | None = None
    compare: bool = False
    aggregation_group: int | None = None
    # funnels
    funnel_viz: str | None = None
    funnel_order: str | None = None
    funnel_window: str | None = None
    # retention
    target: str | None = None
    returning: str | None = None
    period: str | None = None
    first_time_retention: bool = False
    # paths
    path_types: list[str] = field(default_factory=list)
    start_point: str | None = None
    end_point: str | None = None
    # actors (persons, sessions or groups behind an insight)
    actors_of: QuerySummary | None = None
    actor_type: str | None = None
    lifecycle_status: str | None = None
    funnel_step: int | None = None
    stickiness_day: Any = None
    breakdown_value: Any = None
    search: str | None = None
    # events and groups tables
    events: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    after: str | None = None
    before: str | None = None
    group_type_index: int | None = None
    # SQL and web
    sql: str | None = None
    web_breakdown: str | None = None

    def text(self) -> str:
        """PostHog's compact summary lines (``Type: …``, ``Series: …``, …)."""
        if self.actors_of is not None:
            return f"Actors view for:\n{self.actors_of.text()}\n" + "\n".join(self._actor_lines())
        lines = [f"Type: {self.kind}"]
        if self.series:
            items = [s.text() for s in self.series]
            if self.kind == "FunnelsQuery":
                lines.append(f"Funnel steps: {' → '.join(items)}")
            else:
                lines.append(f"Series: {', '.join(items)}")
        if self.kind == "EventsQuery":
            if self.events:
                lines.append(f"Event{'s' if len(self.events) > 1 else ''}: {', '.join(self.events)}")
            else:
                lines.append("Event: All events")
        if self.kind == "GroupsQuery":
            lines.append(f"Group type: group type {self.group_type_index}")
        if self.interval:
            lines.append(f"Interval: {self.interval}")
        if self.breakdowns:
            label = "Breakdowns" if len(self.breakdowns) > 1 else "Breakdown"
            lines.append(f"{label}: {', '.join(self.breakdowns)}")
        if self.returning:
            lines.append(f"Returning event: {self.returning}")
        if self.target:
            lines.append(f"Target event: {self.target}")
        if self.period:
            lines.append(f"Period: {self.period}")
        if self.path_types:
            lines.append(f"Path type: {', '.join(self.path_types)}")
        if self.start_point:
            lines.append(f"Start point: {self.start_point}")
        if self.end_point:
            lines.append(f"End point: {self.end_point}")
        if self.aggregation_group is not None:
            lines.append(f"Aggregating by: group type {self.aggregation_group}")
        if self.properties:
            lines.append(f"Property filters: {', '.join(p.text() for p in self.properties)}")
        if self.where:
            lines.append(f"HogQL filters: {', '.join(self.where)}")
        if self.search:
            lines.append(f"Search: {self.search}")
        if self.after or self.before:
            window = [f"after {self.after}"] if self.after else []
            window += [f"before {self.before}"] if self.before else []
            lines.append(f"Time range: {' '.join(window)}")
        if self.sql:
            lines.append(f"SQL: {' '.join(self.sql.split())[:1000]}")
        if self.web_breakdown:
            lines.append(f"Breakdown: {self.web_breakdown}")
        return "\n".join(lines)

    def _actor_lines(self) -> list[str]:
        lines = [f"Actor type: {self.actor_type or 'persons'}"]
        if self.lifecycle_status:
            lines.append(f"Lifecycle status: {self.lifecycle_status}")
        if self.funnel_step is not None:
            step = abs(self.funnel_step)
            inner = self.actors_of.series if self.actors_of else []
            name = f" ({inner[step - 1].text()})" if 0 < step <= len(inner) else ""
            verb = "Converted" if self.funnel_step > 0 else "Dropped off"
            lines.append(f"{verb} at step {step}{name}")
        if self.stickiness_day is not None:
            lines.append(f"Stickiness bucket: {self.stickiness_day} days")
        if self.breakdown_value is not None:
            inner_breakdowns = self.actors_of.breakdowns if self.actors_of else []
            if inner_breakdowns:
                lines.append(f"Filtered to breakdown {inner_breakdowns[0]} = {self.breakdown_value}")
            else:
                lines.append(f"Filtered to breakdown value: {self.breakdown_value}")
        return lines


def _series(item: Any) -> Series:
    node = _dict(item)
    return Series(
        event=_str(node.get("event")),
        custom_name=_str(node.get("custom_name")),
        name=_str(node.get("name")),
        action_id=node.get("id") if node.get("kind") == "ActionsNode" else None,
        math=_str(node.get("math")),
        math_property=_str(node.get("math_property")),
        math_hogql=_str(node.get("math_hogql")),
        is_action=node.get("kind") == "ActionsNode",
    )


def _filters(value: Any) -> list[Filter]:
    """Flat list of property filters, from a list or a (nested) PropertyGroupFilter."""
    found: list[Filter] = []
    items = _list(value) or _list(_dict(value).get("values"))
    for raw in items:
        item = _dict(raw)
        if "values" in item and "key" not in item:
            found.extend(_filters(item))
        elif item:
            key = _str(item.get("key")) or ("id" if item.get("type") == "cohort" else "unknown")
            found.append(
                Filter(
                    key=key,
                    value=item.get("value"),
                    operator=_str(item.get("operator")) or "exact",
                    type=_str(item.get("type")),
                    cohort_name=_str(item.get("cohort_name")),
                )
            )
    return found


def _breakdowns(source: dict[str, Any]) -> tuple[list[str], str | None]:
    bf = _dict(source.get("breakdownFilter"))
    kind = _str(bf.get("breakdown_type"))
    found: list[str] = []
    breakdown = bf.get("breakdown")
    if isinstance(breakdown, list):
        found.extend(str(b) for b in breakdown if b not in (None, ""))
    elif breakdown not in (None, ""):
        found.append(str(breakdown))
    for item in _list(bf.get("breakdowns")):
        prop = _dict(item).get("property") if isinstance(item, dict) else item
        if prop not in (None, ""):
            found.append(str(prop))
    if kind == "cohort" and found:
        return ["cohort"], kind
    return found, kind


def _entity_label(value: Any) -> str | None:
    entity = _dict(value)
    if not entity:
        return None
    for key in ("custom_name", "name", "id"):
        if entity.get(key) not in (None, ""):
            return str(entity[key])
    return "event"


def _insight_source(source: dict[str, Any]) -> QuerySummary:
    kind = str(source.get("kind"))
    breakdowns, breakdown_type = _breakdowns(source)
    date_range = _dict(source.get("dateRange"))
    summary = QuerySummary(
        kind=kind,
        series=[_series(item) for item in _list(source.get("series"))],
        interval=_str(source.get("interval")),
        breakdowns=breakdowns,
        breakdown_type=breakdown_type,
        date_from=_str(date_range.get("date_from")),
        date_to=_str(date_range.get("date_to")),
        properties=_filters(source.get("properties")),
        test_accounts_filtered=source.get("filterTestAccounts") is True,
        aggregation_group=_int(source.get("aggregation_group_type_index")),
        compare=_dict(source.get("compareFilter")).get("compare") is True,
    )
    trends = _dict(source.get("trendsFilter")) or _dict(source.get("stickinessFilter"))
    summary.display = _str(trends.get("display"))
    formulas = [f for f in _list(trends.get("formulas")) if _str(f)]
    formula_nodes = [_str(_dict(n).get("formula")) for n in _list(trends.get("formulaNodes"))]
    summary.formula = (
        _str(trends.get("formula"))
        or (formulas[0] if formulas else None)
        or next((f for f in formula_nodes if f), None)
    )
    funnels = _dict(source.get("funnelsFilter"))
    if kind == "FunnelsQuery":
        summary.funnel_viz = _str(funnels.get("funnelVizType")) or "steps"
        summary.funnel_order = _str(funnels.get("funnelOrderType")) or "ordered"
        summary.funnel_window = window_phrase(
            funnels.get("funnelWindowInterval"), funnels.get("funnelWindowIntervalUnit")
        )
    retention = _dict(source.get("retentionFilter"))
    if retention:
        summary.returning = _entity_label(retention.get("returningEntity"))
        summary.target = _entity_label(retention.get("targetEntity"))
        summary.period = _str(retention.get("period"))
        summary.first_time_retention = retention.get("retentionType") == "retention_first_time"
    paths = _dict(source.get("pathsFilter"))
    if paths:
        summary.path_types = [str(t) for t in _list(paths.get("includeEventTypes"))]
        summary.start_point = _str(paths.get("startPoint"))
        summary.end_point = _str(paths.get("endPoint"))
    if kind in ("WebStatsTableQuery", "WebOverviewQuery"):
        summary.web_breakdown = _str(source.get("breakdownBy"))
    return summary


def _narrowed(source: dict[str, Any], index: Any) -> dict[str, Any]:
    series = _list(source.get("series"))
    if isinstance(index, int) and 0 <= index < len(series):
        return {**source, "series": [series[index]]}
    return source


def _actors(query: dict[str, Any]) -> QuerySummary:
    outer = _dict(query.get("source"))
    if outer.get("kind") not in ("InsightActorsQuery", "FunnelsActorsQuery", "StickinessActorsQuery"):
        return QuerySummary(
            kind="ActorsQuery",
            search=_str(query.get("search")),
            properties=_filters(query.get("properties")),
        )
    index = outer.get("series")
    inner_source = _dict(outer.get("source"))
    inner = _insight_source(_narrowed(inner_source, index))
    summary = QuerySummary(kind="ActorsQuery", actors_of=inner)
    summary.actor_type = _actor_type(inner_source, index, inner)
    summary.lifecycle_status = _str(outer.get("status"))
    summary.funnel_step = _int(outer.get("funnelStep"))
    if inner.kind == "StickinessQuery" and outer.get("day") is not None:
        summary.stickiness_day = outer.get("day")
    value = outer.get("breakdown")
    summary.breakdown_value = value if value is not None else outer.get("funnelStepBreakdown")
    return summary


def _actor_type(source: dict[str, Any], index: Any, inner: QuerySummary) -> str:
    if inner.aggregation_group is not None:
        return f"group type {inner.aggregation_group}"
    if "session_id" in str(_dict(source.get("funnelsFilter")).get("funnelAggregateByHogQL") or ""):
        return "sessions"
    series = _list(source.get("series"))
    if series:
        chosen = series[index] if isinstance(index, int) and 0 <= index < len(series) else series[0]
        if _dict(chosen).get("math") == "unique_session":
            return "sessions"
    return "persons"


def _events(query: dict[str, Any]) -> QuerySummary:
    event = _str(query.get("event"))
    events = [event] if event else [str(e) for e in _list(query.get("events")) if _str(e)]
    return QuerySummary(
        kind="EventsQuery",
        events=events,
        properties=_filters(query.get("properties")) + _filters(query.get("fixedProperties")),
        where=[str(w) for w in _list(query.get("where")) if _str(w)],
        after=_str(query.get("after")),
        before=_str(query.get("before")),
    )


def summarize(query: dict[str, Any]) -> QuerySummary:
    """Read any query insightd stores (wrapped or bare) into its naming summary."""
    kind = _str(query.get("kind")) or "Unknown"
    if kind in ("InsightVizNode", "DataTableNode", "DataVisualizationNode"):
        source = _dict(query.get("source"))
        if not source:
            return QuerySummary(kind="Unknown")
        return summarize(source)
    if kind == "EventsQuery":
        return _events(query)
    if kind == "ActorsQuery":
        return _actors(query)
    if kind == "GroupsQuery":
        return QuerySummary(
            kind=kind,
            group_type_index=_int(query.get("group_type_index")),
            properties=_filters(query.get("properties")),
            search=_str(query.get("search")),
        )
    if kind == "HogQLQuery":
        return QuerySummary(kind=kind, sql=_str(query.get("query")) or "")
    if kind in ("EventsNode", "ActionsNode"):
        return QuerySummary(
            kind="TrendsQuery", series=[_series(query)], properties=_filters(query.get("properties"))
        )
    return _insight_source(query)
