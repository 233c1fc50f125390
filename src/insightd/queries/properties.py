"""Property filters → ClickHouse conditions, with PostHog's operators and missing-value rules (spec §4)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from insightd.errors import QueryError
from insightd.queries.dates import parse_date
from insightd.queries.models import Properties, PropertyFilter, PropertyGroup, Scalar
from insightd.queries.sql import Params, event_property, person_property

NEEDS_NO_VALUE = ("is_set", "is_not_set")
UNIX_TIMESTAMP = re.compile(r"\d{9,11}(\.\d+)?")
# Stored text that ``_stored_date`` reads as a date, beside DATE_TEXT: its month and day,
# YYYYMMDD, a year, unix seconds and milliseconds.
DATE_PARTS = (r"^\d{4}[-/](\d{1,2})", r"^\d{4}[-/]\d{1,2}[-/](\d{1,2})")
COMPACT_DATE = r"^\d{8}$"
YEAR = r"^(19|2[0-2])\d{2}$"
SECONDS = rf"^\s*{UNIX_TIMESTAMP.pattern}\s*$"
MILLISECONDS = r"^\d{13}$"
# Dates the best-effort parser takes: Y-M-D or Y/M/D (one or two digit month and day), an optional
# time (a valid hour and minute) and zone.
DATE_TEXT = (
    r"^\d{4}(-\d{1,2}-\d{1,2}|/\d{1,2}/\d{1,2})"
    r"([T ]([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?\s*(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?)?$"
)


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(value: Scalar) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value.strip()) if value.strip() else None
    except ValueError:
        return None


def _values(value: Scalar | list[Scalar] | None) -> list[Scalar]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def uses_person(properties: Properties) -> bool:
    return any(f.type == "person" for f in iter_filters(properties))


def iter_filters(properties: Properties) -> list[PropertyFilter]:
    out: list[PropertyFilter] = []
    items: Sequence[PropertyFilter | PropertyGroup]
    if properties is None:
        return out
    items = properties.values if isinstance(properties, PropertyGroup) else properties
    for item in items:
        if isinstance(item, PropertyGroup):
            out.extend(iter_filters(item))
        else:
            out.append(item)
    return out


class FilterBuilder:
    def __init__(self, params: Params, tz: ZoneInfo, now: datetime) -> None:
        self.params, self.tz, self.now = params, tz, now

    def where(self, properties: Properties) -> str:
        if properties is None:
            return "1"
        if isinstance(properties, PropertyGroup):
            return self.group(properties)
        return self.group(PropertyGroup(type="AND", values=list(properties)))

    def group(self, group: PropertyGroup) -> str:
        parts = [
            self.group(item) if isinstance(item, PropertyGroup) else self.condition(item)
            for item in group.values
        ]
        parts = [p for p in parts if p != "1"]
        if not parts:
            return "1"
        if len(parts) == 1:
            return parts[0]
        joiner = " AND " if group.type == "AND" else " OR "
        return "(" + joiner.join(f"({p})" for p in parts) + ")"

    def condition(self, item: PropertyFilter) -> str:
        p = self._property(item)
        op, values = item.operator, _values(item.value)
        if op == "is_set":
            return f"{p} IS NOT NULL"
        if op == "is_not_set":
            return f"{p} IS NULL"
        if not values:
            return "0" if op == "in" else "1"  # an incomplete filter is ignored, as PostHog does
        if op in ("exact", "in"):
            return self._any(p, values, lambda pv: f"ifNull({pv[0]} = {pv[1]}, 0)")
        if op in ("is_not", "not_in"):
            return self._all(p, values, lambda pv: f"ifNull({pv[0]} != {pv[1]}, 1)")
        if op == "icontains":
            return self._any_text(p, values, "ifNull({p} ILIKE concat('%', {v}, '%'), 0)")
        if op == "not_icontains":
            return self._all_text(p, values, "ifNull({p} NOT ILIKE concat('%', {v}, '%'), 1)")
        if op == "regex":
            return self._any_text(p, values, "ifNull(match({p}, {v}), 0)")
        if op == "not_regex":
            return self._all_text(p, values, "ifNull(NOT match({p}, {v}), 1)")
        if op in ("gt", "gte", "lt", "lte", "min", "max"):
            symbol = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "min": ">=", "max": "<="}[op]
            return self._compare(p, values[0], symbol)
        if op in ("is_date_before", "is_date_after", "is_date_exact"):
            symbol = {"is_date_before": "<", "is_date_after": ">", "is_date_exact": "="}[op]
            constant = self.params.moment(self._date_value(_text(values[0])), self.tz.key)
            return f"ifNull({self._stored_date(p)} {symbol} {constant}, 0)"
        raise QueryError(f"Unsupported property filter operator '{op}'.")

    def _date_value(self, text: str) -> datetime:
        """The filter's date: a unix timestamp, an ISO date or a relative date (``-7d``) from now."""
        if UNIX_TIMESTAMP.fullmatch(text.strip()):
            try:
                return datetime.fromtimestamp(float(text), tz=self.tz)
            except (OverflowError, ValueError, OSError) as exc:
                raise QueryError(f"Invalid date: {text!r} is out of range.") from exc
        return parse_date(text, self.now, self.tz).moment

    def _stored_date(self, p: str) -> str:
        """The property read as a date, as HogQL's ``toDateTime`` (ClickHouse's best-effort parse in the
        project's timezone; NULL when it is no date). This chDB has no ``…OrNull`` best-effort parser, so
        only text it takes reaches it (``multiIf`` is short-circuit): dates ``Y-M-D`` or ``Y/M/D`` (one
        or two digit month and day, a real day) with an optional time and zone, ``YYYYMMDD`` and a
        year; unix timestamps in seconds (9–11 digits) or milliseconds (13); the rest is NULL."""
        tz = self.params.string(self.tz.key)

        def matches(regex: str) -> str:
            return f"match({p}, {self.params.string(regex)})"

        def is_day(y: str, m: str, d: str) -> str:  # toDate takes 02-30 as 03-01: the text must come back
            text = f"concat({y}, '-', {m}, '-', {d})"
            return f"ifNull(toString(toDateOrNull({text})) = {text}, 0)"

        def part(regex: str) -> str:  # month or day, two digits (leftPad also cuts longer text)
            return f"leftPad(regexpExtract({p}, {self.params.string(regex)}, 1), 2, '0')"

        dated = is_day(f"substring({p}, 1, 4)", *(part(r) for r in DATE_PARTS))
        compact = is_day(f"substring({p}, 1, 4)", f"substring({p}, 5, 2)", f"substring({p}, 7, 2)")
        best = f"parseDateTime64BestEffort({p}, 6, {tz})"
        millis = f"toDateTime64(fromUnixTimestamp64Milli(toInt64({p}), {tz}), 6, {tz})"
        return (
            # the text the best-effort parser takes (it throws on anything else)
            f"multiIf(({matches(DATE_TEXT)} AND {dated}) OR ({matches(COMPACT_DATE)} AND {compact}) "
            f"OR {matches(YEAR)}, {best}, "
            f"{matches(SECONDS)}, toDateTime64OrNull(trimBoth({p}), 6, {tz}), "
            f"{matches(MILLISECONDS)}, {millis}, NULL)"
        )

    def _property(self, item: PropertyFilter) -> str:
        if item.type == "person":
            return person_property(item.key, self.params)
        return event_property(item.key, self.params)

    def _operands(self, p: str, value: Scalar) -> tuple[str, str]:
        number = _number(value) if not isinstance(value, str) else None
        if number is not None:
            return f"toFloat64OrNull({p})", self.params.number(number)
        return p, self.params.string(_text(value))

    def _any(self, p: str, values: list[Scalar], build: object) -> str:
        assert callable(build)
        parts = [build(self._operands(p, v)) for v in values]
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _all(self, p: str, values: list[Scalar], build: object) -> str:
        assert callable(build)
        parts = [build(self._operands(p, v)) for v in values]
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _any_text(self, p: str, values: list[Scalar], template: str) -> str:
        parts = [template.format(p=p, v=self.params.string(_text(v))) for v in values]
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _all_text(self, p: str, values: list[Scalar], template: str) -> str:
        parts = [template.format(p=p, v=self.params.string(_text(v))) for v in values]
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _compare(self, p: str, value: Scalar, symbol: str) -> str:
        number = _number(value)
        if number is not None:
            return f"ifNull(toFloat64OrNull({p}) {symbol} {self.params.number(number)}, 0)"
        return f"ifNull({p} {symbol} {self.params.string(_text(value))}, 0)"
