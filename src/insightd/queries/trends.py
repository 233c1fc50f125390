"""TrendsQuery: one SQL aggregation per series and period, shaped as PostHog's series items (spec §2–3)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from insightd.errors import QueryError
from insightd.queries import breakdowns
from insightd.queries.dates import ResolvedRange, compare_to_period, previous_period
from insightd.queries.formula import evaluate, parse_formula
from insightd.queries.models import (
    PROPERTY_MATHS,
    TOTAL_VALUE_DISPLAYS,
    EventsNode,
    TrendsFormulaNode,
    TrendsQuery,
)
from insightd.queries.project import week_mode
from insightd.queries.properties import FilterBuilder, uses_person
from insightd.queries.runner import QueryContext
from insightd.queries.source import events_from
from insightd.queries.sql import Params, event_property, person_property

QUANTILES = {"median": 0.5, "p75": 0.75, "p90": 0.9, "p95": 0.95, "p99": 0.99}
BUCKET_FUNCTIONS = {
    "minute": "toStartOfMinute({t})",
    "hour": "toStartOfHour({t})",
    "day": "toStartOfDay({t})",
    "week": "toStartOfWeek({t}, {week_mode})",
    "month": "toStartOfMonth({t})",
}
ROLLING_DAYS = {"weekly_active": 7, "monthly_active": 30}
Values = dict[breakdowns.Key, list[float] | float]


@dataclass
class SeriesResult:
    index: int
    series: EventsNode
    period: str  # "current" | "previous"
    range: ResolvedRange
    values: Values  # breakdown value (None: no breakdown) → bucket values, or the total


def _effective_math(series: EventsNode, interval: str) -> str:
    math_ = series.math or "total"
    if math_ == "weekly_active" and interval in ("week", "month"):
        return "dau"
    if math_ == "monthly_active" and interval == "month":
        return "dau"
    return math_


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    number = float(value)
    return 0.0 if math.isnan(number) else number


def _clean(value: float) -> float | int:
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def _reads_person(series: EventsNode) -> bool:
    """A property math over person properties (``math_property_type``) reads ``person.properties``."""
    return series.math in PROPERTY_MATHS and series.math_property_type == "person_properties"


def _check_supported(query: TrendsQuery) -> None:
    """Options insightd cannot compute are refused, never silently ignored."""
    for index, series in enumerate(query.series):
        if series.math_group_type_index is not None:
            raise QueryError(
                "Group aggregation (math_group_type_index) is not supported: insightd has no groups.",
                attr=f"series__{index}__math_group_type_index",
            )
        if series.math in PROPERTY_MATHS and series.math_property == "$session_duration":
            raise QueryError(
                "math_property '$session_duration' (a sessions-table property) is not supported.",
                attr=f"series__{index}__math_property",
            )
        if series.math in PROPERTY_MATHS and series.math_property_type not in (
            None,
            "event_properties",
            "person_properties",
        ):
            raise QueryError(
                f"math_property_type '{series.math_property_type}' is not supported.",
                attr=f"series__{index}__math_property_type",
            )
    bf = query.breakdownFilter
    if bf is not None and bf.breakdown_histogram_bin_count is not None and bf.breakdown:
        raise QueryError(
            "Histogram breakdowns (breakdown_histogram_bin_count) are not supported.",
            attr="breakdownFilter__breakdown_histogram_bin_count",
        )


class TrendsRunner:
    kind: ClassVar[str] = "TrendsQuery"

    def __init__(self, query: TrendsQuery, ctx: QueryContext) -> None:
        self.query, self.ctx = query, ctx
        self.display = (query.trendsFilter.display if query.trendsFilter else None) or "ActionsLineGraph"
        self.total_value = self.display in TOTAL_VALUE_DISPLAYS
        self.parts = breakdowns.parts_of(query.breakdownFilter)
        self.multiple = bool(query.breakdownFilter and query.breakdownFilter.breakdowns)
        self.breakdown = query.breakdownFilter if self.parts else None
        _check_supported(query)

    @property
    def interval(self) -> str:
        return "day" if self.total_value else (self.query.interval or "day")

    def date_to(self) -> datetime | None:
        return self._range().date_to

    def _range(self) -> ResolvedRange:
        return self.ctx.resolve_range(self.query.dateRange, self.interval, exact=self.display == "BoldNumber")

    # -- SQL ---------------------------------------------------------------------------------------
    def _bucket(self, column: str, interval: str) -> str:
        column = f"toTimeZone({column}, '{self.ctx.timezone}')"
        return BUCKET_FUNCTIONS[interval].format(
            t=column, week_mode=week_mode(self.ctx.project.week_start_day)
        )

    def _filters(self, series: EventsNode, params: Params) -> tuple[str, bool]:
        builder = FilterBuilder(params, self.ctx.tz, self.ctx.now)
        shared = self.ctx.project.with_test_filters(self.query.properties, self.query.filterTestAccounts)
        parts = [builder.where(shared), builder.where(series.properties)]
        person = uses_person(shared) or uses_person(series.properties) or _reads_person(series)
        if any(part.type == "person" for part in self.parts):
            person = True
        return " AND ".join(p for p in parts if p != "1") or "1", person

    def _aggregate(self, series: EventsNode, math_: str, params: Params) -> str:
        if math_ == "total":
            return "count()"
        if math_ == "dau":
            return "uniqExact(events.pid)"
        if math_ == "unique_session":
            # PostHog counts the events' ``$session_id`` column, '' when missing: one more "session".
            return f"uniqExact(ifNull({event_property('$session_id', params)}, ''))"
        if math_ in PROPERTY_MATHS:
            assert series.math_property is not None
            read = person_property if _reads_person(series) else event_property
            value = f"toFloat64OrNull({read(series.math_property, params)})"
            if math_ in QUANTILES:
                return f"ifNull(quantile({QUANTILES[math_]})({value}), 0)"
            return f"ifNull({math_}({value}), 0)"
        raise AssertionError(math_)

    def _run(self, series: EventsNode, rng: ResolvedRange) -> Values:
        params = Params()
        tz = self.ctx.timezone
        math_ = _effective_math(series, rng.interval)
        filters, person_props = self._filters(series, params)
        breakdown = breakdowns.key_sql(self.parts, self.multiple, params) if self.parts else "''"
        event = f"events.event = {params.string(series.event)}" if series.event is not None else "1"
        team = params.add(self.ctx.team_id, "UInt64")
        lower = rng.where_from
        if math_ in ROLLING_DAYS:
            lower = (rng.date_to if self.total_value else rng.where_from) - timedelta(
                days=ROLLING_DAYS[math_]
            )
        upper = params.moment(rng.date_to, tz)
        time_where = f"events.timestamp <= {upper}"
        if math_ != "first_time_for_user":
            time_where = f"events.timestamp >= {params.moment(lower, tz)} AND {time_where}"
        source = events_from(
            team,
            f"{event} AND {time_where}",
            resolve_persons=self._needs_persons(math_, person_props),
            person_properties=person_props,
        )
        if math_ in ROLLING_DAYS and not self.total_value:
            sql = self._rolling_sql(source, filters, breakdown, rng, ROLLING_DAYS[math_], params)
        elif math_ == "first_time_for_user":
            sql = self._first_time_sql(source, filters, breakdown, rng, params)
        elif self._cumulative_actors(math_):
            bucket = self._bucket("events.timestamp", rng.interval)
            sql = (
                f"SELECT toString(b) AS bucket, bd AS breakdown, count() AS value FROM ("
                f"SELECT events.pid, {breakdown} AS bd, min({bucket}) AS b FROM {source} "
                f"WHERE {filters} GROUP BY events.pid, bd) GROUP BY bucket, breakdown"
            )
        elif math_ == "total" and self.parts:
            sql = self._count_by_raw_values(source, filters, rng, params)
        else:
            agg = "uniqExact(events.pid)" if math_ in ROLLING_DAYS else self._aggregate(series, math_, params)
            if self.total_value:
                sql = (
                    f"SELECT '' AS bucket, {breakdown} AS breakdown, {agg} AS value "
                    f"FROM {source} WHERE {filters} GROUP BY breakdown"
                )
            else:
                bucket = self._bucket("events.timestamp", rng.interval)
                sql = (
                    f"SELECT toString({bucket}) AS bucket, {breakdown} AS breakdown, {agg} AS value "
                    f"FROM {source} WHERE {filters} GROUP BY bucket, breakdown"
                )
        result = self.ctx.execute(sql, params.values)
        return self._place(result.rows, rng)

    def _count_by_raw_values(self, source: str, filters: str, rng: ResolvedRange, params: Params) -> str:
        """Counts by breakdown: grouped by the raw property values and the bucket first, so the key's
        string work (the null sentinel, URL normalising) and the bucket's text are done per group, not
        per event; the outer query adds up groups that map to one key (NULL and '')."""
        raws = [f"r{index}" for index in range(len(self.parts))]
        inner = [
            f"{breakdowns.raw_sql(part, params)} AS {raw}" for part, raw in zip(self.parts, raws, strict=True)
        ]
        bucket = "''" if self.total_value else self._bucket("events.timestamp", rng.interval)
        key = breakdowns.key_of_raw(self.parts, self.multiple, raws)
        return (
            f"SELECT toString(b) AS bucket, {key} AS breakdown, sum(c) AS value FROM ("
            f"SELECT {bucket} AS b, {', '.join(inner)}, count() AS c FROM {source} WHERE {filters} "
            f"GROUP BY b, {', '.join(raws)}) GROUP BY bucket, breakdown"
        )

    def _needs_persons(self, math_: str, person_props: bool) -> bool:
        """Resolve merged persons when the math counts persons or person properties are read."""
        counts_persons = math_ not in ("total", "unique_session", *PROPERTY_MATHS)
        return (counts_persons or person_props) and self.ctx.has_person_overrides()

    def _cumulative_actors(self, math_: str) -> bool:
        return self.display == "ActionsLineGraphCumulative" and math_ == "dau" and not self.total_value

    def _rolling_sql(
        self, source: str, filters: str, breakdown: str, rng: ResolvedRange, days: int, params: Params
    ) -> str:
        slot = rng.interval if rng.interval in ("hour", "minute") else "day"
        truncate = self._bucket("events.timestamp", slot)
        tz = self.ctx.timezone
        starts = "[" + ", ".join(f"'{b.strftime('%Y-%m-%d %H:%M:%S')}'" for b in rng.buckets()) + "]"
        buckets = params.add(starts, f"Array(DateTime('{tz}'))")
        return (
            f"SELECT toString(b) AS bucket, bd AS breakdown, uniqExact(pid) AS value FROM ("
            f"SELECT DISTINCT {truncate} AS t, events.pid AS pid, {breakdown} AS bd FROM {source} "
            f"WHERE {filters}) "
            f"ARRAY JOIN arrayFilter(x -> x >= t AND x < t + INTERVAL {days} DAY, {buckets}) AS b "
            f"GROUP BY bucket, breakdown"
        )

    def _first_time_sql(
        self, source: str, filters: str, breakdown: str, rng: ResolvedRange, params: Params
    ) -> str:
        lower = params.moment(rng.where_from, self.ctx.timezone)
        cond = f"events.timestamp >= {lower} AND {filters}"
        bucket = "''" if self.total_value else f"toString({self._bucket('first_in', rng.interval)})"
        return (
            f"SELECT {bucket} AS bucket, bd AS breakdown, count() AS value FROM ("
            f"SELECT events.pid, min(events.timestamp) AS first_ever, "
            f"minIf(events.timestamp, {cond}) AS first_in, "
            f"countIf({cond}) AS matching, argMinIf({breakdown}, events.timestamp, {cond}) AS bd "
            f"FROM {source} GROUP BY events.pid HAVING matching > 0 AND first_ever = first_in"
            f") GROUP BY bucket, breakdown"
        )

    def _place(self, rows: Sequence[Sequence[Any]], rng: ResolvedRange) -> Values:
        out: Values = {}
        if self.total_value:
            for _bucket, value_key, value in rows:
                out[breakdowns.key_of(value_key) if self.breakdown else None] = _number(value)
            return out
        slot_of, size = rng.slots(), len(rng.buckets())
        for bucket, value_key, value in rows:
            position = slot_of(bucket)
            if position is None:
                continue
            key = breakdowns.key_of(value_key) if self.breakdown else None
            data = out.setdefault(key, [0.0] * size)
            assert isinstance(data, list)
            data[position] += _number(value)
        return out

    # -- shaping ----------------------------------------------------------------------------------
    def calculate(self) -> dict[str, Any]:
        current = self._range()
        periods = [("current", current)]
        compare = (
            self.query.compareFilter and self.query.compareFilter.compare and current.relative_from != "all"
        )
        dr = self.query.dateRange
        compare_to = self.query.compareFilter.compare_to if self.query.compareFilter else None
        if compare and compare_to:
            periods.append(("previous", compare_to_period(current, compare_to)))
        elif compare:
            previous = previous_period(current, dr.date_from if dr else None, dr.date_to if dr else None)
            periods.append(("previous", previous))
        has_more = False
        per_period: list[list[list[dict[str, Any]]]] = []
        for period, rng in periods:
            computed = [
                SeriesResult(i, s, period, rng, self._run(s, rng)) for i, s in enumerate(self.query.series)
            ]
            per_series, more = self._items(computed, bool(compare))
            has_more = has_more or more
            per_period.append(per_series)
        formulas = self._formulas()
        if formulas:
            # As PostHog: per formula, its current then its previous items.
            results = [
                item
                for order, node in enumerate(formulas)
                for per_series in per_period
                for item in self._formula_items(node, order, per_series, bool(compare))
            ]
        else:
            results = [item for per_series in per_period for items in per_series for item in items]
        return {
            "results": results,
            "hasMore": has_more,
            "resolved_date_range": current.as_json(),
            "timezone": self.ctx.timezone,
        }

    def _formulas(self) -> list[TrendsFormulaNode]:
        """``formulaNodes``, else the legacy ``formulas`` / ``formula`` as nodes (PostHog's runner)."""
        tf = self.query.trendsFilter
        if tf is None:
            return []
        if tf.formulaNodes:
            nodes = tf.formulaNodes
        elif tf.formulas:
            nodes = [TrendsFormulaNode(formula=f) for f in tf.formulas]
        else:
            nodes = [TrendsFormulaNode(formula=tf.formula)] if tf.formula else []
        return [node for node in nodes if node.formula.strip()]

    def _items(self, computed: list[SeriesResult], compare: bool) -> tuple[list[list[dict[str, Any]]], bool]:
        """Each series' items (breakdown values limited)."""
        limit = self.breakdown.breakdown_limit if self.breakdown and self.breakdown.breakdown_limit else 25
        if self.display == "WorldMap" and not (self.breakdown and self.breakdown.breakdown_limit):
            limit = 250
        has_more = False
        per_series: list[list[dict[str, Any]]] = []
        for result in computed:
            values = result.values
            if self.breakdown:
                values, more = breakdowns.limit_values(values, limit)
                has_more = has_more or more
                if self.breakdown.breakdown_hide_other_aggregation:
                    values = {k: v for k, v in values.items() if not breakdowns.is_other(k)}
            elif not values:
                values = {None: 0.0 if self.total_value else [0.0] * len(result.range.buckets())}
            per_series.append([self._item(result, key, data, compare) for key, data in values.items()])
        return per_series, has_more

    def _label(self, series: EventsNode) -> str:
        return series.event if series.event is not None else "All events"

    def _item(
        self, result: SeriesResult, key: breakdowns.Key, data: list[float] | float, compare: bool
    ) -> dict[str, Any]:
        series, rng = result.series, result.range
        label = self._label(series)
        if self.breakdown:
            value = breakdowns.label(key)
            label = value if len(self.query.series) == 1 else f"{label} - {value}"
        days = rng.day_strings()
        item: dict[str, Any] = {
            "label": label,
            "filter": self._legacy_filter(rng),
            "action": {
                "id": series.event,
                "type": "events",
                "order": result.index,
                "name": self._label(series),
                "custom_name": series.custom_name,
                "math": None if series.math is None else _effective_math(series, rng.interval),
                "math_property": series.math_property,
                "math_hogql": None,
                "math_group_type_index": series.math_group_type_index,
                "properties": {},
                "days": days,
            },
            "order": result.index,
        }
        if self.total_value:
            assert not isinstance(data, list)
            item.update({"aggregated_value": _clean(data), "data": [], "days": [], "count": 0})
        else:
            assert isinstance(data, list)
            values = self._transform(data)
            count = values[-1] if self.display == "ActionsLineGraphCumulative" and values else sum(values)
            item.update(
                {
                    "data": [_clean(v) for v in values],
                    "labels": rng.labels(),
                    "days": days,
                    "count": float(count),
                }
            )
        if self.breakdown:
            item["breakdown_value"] = breakdowns.as_json(key)
        if compare:
            item["compare"] = True
            item["compare_label"] = result.period
        return item

    def _transform(self, data: list[float]) -> list[float]:
        values = list(data)
        if self.display == "ActionsLineGraphCumulative":
            running, out = 0.0, []
            for value in values:
                running += value
                out.append(running)
            values = out
        smoothing = self.query.trendsFilter.smoothingIntervals if self.query.trendsFilter else None
        if smoothing and smoothing > 1 and not self.total_value:
            values = [
                float(
                    math.floor(
                        sum(values[max(0, i - smoothing + 1) : i + 1])
                        / len(values[max(0, i - smoothing + 1) : i + 1])
                    )
                )
                for i in range(len(values))
            ]
        return values

    def _legacy_filter(self, rng: ResolvedRange) -> dict[str, Any]:
        dr = self.query.dateRange
        out: dict[str, Any] = {
            "insight": "TRENDS",
            "date_from": dr.date_from if dr and dr.date_from else "-7d",
            "date_to": dr.date_to if dr else None,
            "interval": rng.interval,
            "display": self.display,
        }
        if self.multiple:
            out["breakdowns"] = [
                {"property": p.property, "type": p.type, "normalize_url": p.normalize_url} for p in self.parts
            ]
        elif self.breakdown:
            out.update(
                {"breakdown": self.breakdown.breakdown, "breakdown_type": self.breakdown.breakdown_type}
            )
        return out

    def _formula_items(
        self, node: TrendsFormulaNode, order: int, per_series: list[list[dict[str, Any]]], compare: bool
    ) -> list[dict[str, Any]]:
        """One formula over one period's series items (PostHog's ``apply_formula``): per breakdown value
        when there is a breakdown (a series without the value counts zeros), else over each series'
        first item. The item is the first series' with ``label`` = ``custom_name`` or ``Formula (…)``."""
        tree = parse_formula(node.formula, len(self.query.series))
        keys: list[Any] = [None]
        if self.breakdown:
            seen = {breakdowns.key_of(i.get("breakdown_value")) for items in per_series for i in items}
            keys = [breakdowns.as_json(k) for k in sorted(seen, key=_natural)]
        group: list[dict[str, Any]] = []
        for key in keys:
            matched = [
                next((i for i in items if not self.breakdown or i.get("breakdown_value") == key), None)
                for items in per_series
            ]
            template = next((i for i in matched if i is not None), None)
            if template is None:
                continue
            item = dict(template)
            item.update(
                {"label": node.custom_name or f"Formula ({node.formula})", "action": None, "order": order}
            )
            if self.total_value:
                value = evaluate(tree, [_number(i["aggregated_value"]) if i else 0.0 for i in matched])
                item.update({"aggregated_value": float(value), "data": None, "count": 0})
            else:
                length = len(template["data"])
                columns = [[float(v) for v in i["data"]] if i else [0.0] * length for i in matched]
                data = [evaluate(tree, [col[b] for col in columns]) for b in range(length)]
                item.update({"data": [_clean(v) for v in data], "count": float(sum(data))})
            group.append(item)
        if self.breakdown and compare:
            group.sort(key=lambda item: -float(item["count"]))  # stable: natural value order on ties
        elif self.breakdown:
            group.sort(key=breakdowns.formula_rank, reverse=True)
        return group


def _natural(key: breakdowns.Key) -> tuple[Any, ...]:
    """natsort's case-insensitive natural order: digit runs compare as numbers."""
    parts = key if isinstance(key, tuple) else (str(key),)
    return tuple(
        tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", part)) for part in parts
    )
