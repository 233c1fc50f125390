"""What a SQL (HogQL) insight computes, read from its outermost SELECT.

A small tolerant scanner rather than a full parser: HogQL has ``{filters}`` placeholders,
``properties.$browser`` paths and ClickHouse functions that general SQL parsers reject, and a
name only needs the select list, the table, the grouping and the event filter. Nothing here raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`|[A-Za-z_$][\w$.]*|\d+(?:\.\d+)?|<=|>=|!=|<>|\S""",
)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_CLAUSES = ("select", "from", "where", "group", "having", "order", "limit", "union", "settings", "window")
_COUNTS = {"count", "countif", "countdistinct"}
_UNIQUES = {"uniq", "uniqexact", "uniqcombined", "uniqhll12", "uniqif", "countdistinct"}
_AGGREGATES = {
    "sum": "Total",
    "sumif": "Total",
    "avg": "Average",
    "avgif": "Average",
    "min": "Min",
    "max": "Max",
    "median": "Median",
    "quantile": "Percentile",
    "any": "",
    "argmax": "Latest",
}
_BUCKETS = {
    "tostartofminute": "minute",
    "tostartofhour": "hour",
    "tostartofday": "day",
    "todate": "day",
    "tostartofweek": "week",
    "tomonday": "week",
    "tostartofmonth": "month",
    "tostartofquarter": "quarter",
    "tostartofyear": "year",
}
_USER_COLUMNS = ("person_id", "distinct_id", "person.id", "persons.id", "id")
_SESSION_COLUMNS = ("$session_id", "session_id", "session.session_id", "properties.$session_id")


@dataclass
class Column:
    expression: list[str]
    alias: str | None = None

    @property
    def functions(self) -> list[str]:
        tokens = self.expression
        return [t.lower() for i, t in enumerate(tokens[:-1]) if tokens[i + 1] == "(" and _is_word(t)]


@dataclass
class SelectFacts:
    """The outermost SELECT: its columns, main table, event filter, grouping and order."""

    columns: list[Column] = field(default_factory=list)
    table: str | None = None
    events: list[str] = field(default_factory=list)
    group_by: list[list[str]] = field(default_factory=list)
    ordered_by_time_desc: bool = False
    limit: int | None = None
    parsed: bool = False


def _is_word(token: str) -> bool:
    return bool(re.match(r"[A-Za-z_$]", token))


def _unquote(token: str) -> str:
    return token[1:-1] if token[:1] in "'\"`" and len(token) >= 2 else token


def _split_depth0(tokens: list[str], separator: str = ",") -> list[list[str]]:
    parts: list[list[str]] = [[]]
    depth = 0
    for token in tokens:
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        if token == separator and depth == 0:
            parts.append([])
        else:
            parts[-1].append(token)
    return [p for p in parts if p]


def _clauses(tokens: list[str]) -> dict[str, list[str]]:
    """Depth-0 clauses of the first top-level SELECT (CTEs before it are skipped)."""
    found: dict[str, list[str]] = {}
    depth, current = 0, None
    for index, token in enumerate(tokens):
        lower = token.lower()
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        if depth == 0 and lower in _CLAUSES:
            if lower == "union" or (lower == "select" and "select" in found):
                break
            if lower in ("group", "order") and index + 1 < len(tokens) and tokens[index + 1].lower() == "by":
                current = lower
                found[current] = []
                continue
            if lower not in ("group", "order"):
                current = lower
                found[current] = []
                continue
        if current is not None and not (
            current in ("group", "order") and lower == "by" and not found[current]
        ):
            found[current].append(token)
    return found


def _column(tokens: list[str]) -> Column:
    if len(tokens) >= 3 and tokens[-2].lower() == "as" and _is_word(_unquote(tokens[-1]) or "_"):
        return Column(tokens[:-2], _unquote(tokens[-1]))
    return Column(tokens)


def _table(tokens: list[str]) -> str | None:
    if not tokens:
        return None
    if tokens[0] == "(":
        inner = _clauses(tokens[1:])
        return _table(inner.get("from", []))
    return _unquote(tokens[0]) if _is_word(_unquote(tokens[0]) or "_") else None


def _events(text: str) -> list[str]:
    found: list[str] = []
    for match in re.finditer(r"\bevent\s*(?:=|==)\s*'((?:[^'\\]|\\.)*)'", text, re.I):
        found.append(match.group(1))
    for match in re.finditer(r"\bevent\s+in\s*\(([^)]*)\)", text, re.I):
        found.extend(re.findall(r"'((?:[^'\\]|\\.)*)'", match.group(1)))
    return list(dict.fromkeys(found))


def read_select(sql: str) -> SelectFacts:
    text = _PLACEHOLDER.sub("true", _COMMENTS.sub(" ", sql))
    tokens = _TOKEN.findall(text)
    clauses = _clauses(tokens)
    facts = SelectFacts(events=_events(text))
    select = clauses.get("select")
    if not select:
        return facts
    if select and select[0].lower() == "distinct":
        select = select[1:]
    facts.columns = [_column(part) for part in _split_depth0(select)]
    facts.table = _table(clauses.get("from", []))
    aliases = {c.alias: c.expression for c in facts.columns if c.alias}
    facts.group_by = [
        _grouped(part, aliases, facts.columns) for part in _split_depth0(clauses.get("group", []))
    ]
    order = [t.lower() for t in clauses.get("order", [])]
    facts.ordered_by_time_desc = bool(order) and "desc" in order and any("timestamp" in t for t in order)
    limit = clauses.get("limit", [])
    facts.limit = int(limit[0]) if limit and limit[0].isdigit() else None
    facts.parsed = True
    return facts


def _grouped(part: list[str], aliases: dict[str, list[str]], columns: list[Column]) -> list[str]:
    """A GROUP BY item as the expression it names: an alias, a 1-based position, or itself."""
    if len(part) == 1 and part[0].isdigit() and 1 <= int(part[0]) <= len(columns):
        return columns[int(part[0]) - 1].expression
    if len(part) == 1:
        return aliases.get(part[0], part)
    return part


def bucket_of(expression: list[str]) -> str | None:
    """``toStartOfWeek(timestamp)`` → "week"; None if the expression is not a time bucket."""
    for token in expression:
        if token.lower() in _BUCKETS:
            return _BUCKETS[token.lower()]
    if len(expression) >= 3 and expression[0].lower() == "tostartofinterval":
        joined = " ".join(expression).lower()
        for unit in ("minute", "hour", "day", "week", "month"):
            if unit in joined:
                return unit
    return None


def argument_of(expression: list[str]) -> list[str]:
    """The tokens inside the first function call's parentheses (after any ``DISTINCT``)."""
    if "(" not in expression:
        return expression
    start = expression.index("(") + 1
    depth, out = 1, []
    for token in expression[start:]:
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
            if depth == 0:
                break
        out.append(token)
    if out and out[0].lower() == "distinct":
        out = out[1:]
    # quantile(0.9)(x): the argument is in the second parentheses
    rest = expression[start + len(out) + 1 :]
    if expression[0].lower() == "quantile" and rest[:1] == ["("]:
        return argument_of(["f", *rest])
    return out


def quantile_level(expression: list[str]) -> str | None:
    if expression and expression[0].lower() == "quantile" and len(expression) > 2:
        try:
            return f"P{round(float(expression[2]) * 100)}"
        except ValueError:
            return None
    return None


def measure_kind(column: Column) -> str | None:
    """``count``, ``users``, ``sessions``, an aggregate word such as ``Average``, or None (a dimension)."""
    functions = column.functions
    if not functions:
        return None
    first = functions[0]
    argument = " ".join(argument_of(column.expression)).lower()
    distinct = "distinct" in [t.lower() for t in column.expression]
    if first in _UNIQUES or (first in _COUNTS and distinct):
        if any(argument.endswith(c) for c in _SESSION_COLUMNS):
            return "sessions"
        if any(argument == c or argument.endswith("." + c) for c in _USER_COLUMNS):
            return "users"
        return "unique"
    if first in _COUNTS:
        return "count"
    if first in _AGGREGATES:
        return quantile_level(column.expression) or _AGGREGATES[first]
    if (
        first in ("round", "floor", "ceil", "toint", "tofloat", "if", "coalesce", "ifnull")
        and len(functions) > 1
    ):
        inner = Column(argument_of(column.expression))
        return measure_kind(inner)
    return None
