"""What a SQL insight's result calls its columns, and how its date and time values read, as PostHog's.

- ``columns``: a column's alias, else its expression as HogQL prints it (PostHog's ``print_columns``):
  ``properties.$browser`` (``properties['$browser']`` too), ``count()``, ``toStartOfDay(timestamp)``,
  operators as their functions (``plus(1, 2)``, ``equals(event, 'x')``). Never the SQL the sandbox
  rewrote it to.
- ``types``: named as PostHog's ClickHouse SQL aliases its columns: the alias, a field's last name
  (``properties.$browser`` → ``$browser``, ``e.event`` → ``event``), else the HogQL printout.
- Values: ClickHouse's text for ``DateTime``/``DateTime64`` becomes ISO 8601 as PostHog's JSON renderer
  writes the driver's datetimes (orjson, ``Z`` for UTC, the column's time zone offset otherwise,
  microseconds only when not zero; naive when the type has no time zone), also inside arrays, tuples
  and maps. ``Date`` is already ISO.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlglot import exp

from insightd.queries.hogql_dialect import DIALECT

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_STRING_ESCAPES = {
    "\b": "\\b",
    "\f": "\\f",
    "\r": "\\r",
    "\n": "\\n",
    "\t": "\\t",
    "\0": "\\0",
    "\a": "\\a",
    "\v": "\\v",
    "\\": "\\\\",
    "'": "\\'",
}
_OPERATORS: dict[type[exp.Expr], str] = {
    exp.Add: "plus",
    exp.Sub: "minus",
    exp.Mul: "multiply",
    exp.Div: "divide",
    exp.Mod: "modulo",
    exp.EQ: "equals",
    exp.NEQ: "notEquals",
    exp.GT: "greater",
    exp.GTE: "greaterOrEquals",
    exp.LT: "less",
    exp.LTE: "lessOrEquals",
    exp.DPipe: "concat",
}
_INTERVALS = {
    "SECOND": "Second",
    "MINUTE": "Minute",
    "HOUR": "Hour",
    "DAY": "Day",
    "WEEK": "Week",
    "MONTH": "Month",
    "QUARTER": "Quarter",
    "YEAR": "Year",
}


def identifier(name: str) -> str:
    """HogQL's identifier printout: as is when it is a plain name (``$`` allowed), else backquoted."""
    if _IDENTIFIER.match(name):
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def chain(node: exp.Expr) -> list[str] | None:
    """The names of a field chain (``e.person.properties.email``, ``properties['$browser']``), else None."""
    if isinstance(node, exp.Column):
        if isinstance(node.this, exp.Star):
            return None
        return [p.name for p in node.parts]
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Identifier):
        head = chain(node.this)
        return None if head is None else [*head, node.expression.name]
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        key = node.expressions[0]
        head = chain(node.this)
        if head is not None and "properties" in head and isinstance(key, exp.Literal) and key.is_string:
            return [*head, key.name]  # PostHog's resolver reads it as the field chain
    return None


def hogql(node: exp.Expr) -> str:
    """``node`` as PostHog's HogQL printer writes it (common forms; anything else as ClickHouse SQL)."""
    names = chain(node)
    if names is not None:
        return ".".join(identifier(n) for n in names)
    if isinstance(node, exp.Paren):
        return hogql(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return "'" + "".join(_STRING_ESCAPES.get(c, c) for c in node.name) + "'"
        return str(node.this)
    if isinstance(node, exp.Null):
        return "NULL"
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    if isinstance(node, exp.Star):
        return "*"
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
        return ".".join([*(identifier(p.name) for p in node.parts[:-1]), "*"])
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return f"-{node.this.this}"
    operator = _OPERATORS.get(type(node))
    if operator is not None:
        return _call(operator, [node.this, node.expression])
    if isinstance(node, exp.And | exp.Or):
        return _call(type(node).__name__.lower(), list(node.flatten()))
    if isinstance(node, exp.Not):
        inner = node.this.unnest() if isinstance(node.this, exp.Paren) else node.this
        if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
            return _call("notEquals", [inner.this, inner.expression])
        if isinstance(inner, exp.In) and not inner.args.get("query") and not inner.args.get("field"):
            return _call("notIn", [inner.this, exp.Tuple(expressions=inner.expressions)])
        return _call("not", [node.this])
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        return _call("equals", [node.this, node.expression])
    if isinstance(node, exp.In) and not node.args.get("query") and not node.args.get("field"):
        return _call("in", [node.this, exp.Tuple(expressions=node.expressions)])
    if isinstance(node, exp.Like | exp.ILike):
        name = "like" if isinstance(node, exp.Like) else "ilike"
        if node.args.get("negate"):
            name = "notLike" if name == "like" else "notILike"
        return _call(name, [node.this, node.expression])
    if isinstance(node, exp.Tuple):
        return _call("tuple", node.expressions)
    if isinstance(node, exp.Array):
        return "[" + ", ".join(hogql(e) for e in node.expressions) + "]"
    if isinstance(node, exp.Interval) and isinstance(node.unit, exp.Var):
        unit = _INTERVALS.get(node.unit.name.upper().removesuffix("S"))
        value = node.this
        if unit is not None and value is not None:
            if isinstance(value, exp.Literal) and value.is_string and value.name.isdigit():
                value = exp.Literal.number(value.name)
            return _call(f"toInterval{unit}", [value])
    if isinstance(node, exp.Distinct) and not node.args.get("on"):
        return "DISTINCT " + ", ".join(hogql(e) for e in node.expressions)
    if isinstance(node, exp.ParameterizedAgg | exp.CombinedParameterizedAgg):
        params = ", ".join(hogql(p) for p in node.args.get("params") or [])
        return _call(str(node.name), node.expressions) + f"({params})"
    if isinstance(node, exp.Anonymous | exp.AnonymousAggFunc | exp.CombinedAggFunc):
        return _call(str(node.name), node.expressions)
    return node.sql(dialect=DIALECT)


def _call(name: str, args: list[exp.Expr]) -> str:
    return f"{name}(" + ", ".join(hogql(a) for a in args) + ")"


def select_names(selects: list[exp.Expr]) -> list[tuple[str, str] | None]:
    """Per select expression: (column name, types name); None for a ``*`` (its columns are ClickHouse's)."""
    found: list[tuple[str, str] | None] = []
    for node in selects:
        if isinstance(node, exp.Alias):
            found.append((node.alias, node.alias))
            continue
        if isinstance(node, exp.Star | exp.Columns) or (
            isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
        ):
            found.append(None)
            continue
        printed = hogql(node)
        names = chain(node)
        found.append((printed, names[-1] if names else printed))
    return found


def name_columns(
    names: list[tuple[str, str] | None], engine_columns: list[str]
) -> tuple[list[str], list[str]]:
    """(columns, types names) of a result: the select's names where they line up with the engine's
    columns (before the first ``*`` and after the last), the engine's names for what a ``*`` became."""
    columns, typed = list(engine_columns), list(engine_columns)
    if None not in names and len(names) != len(engine_columns):
        return columns, typed
    head = names[: names.index(None)] if None in names else names
    tail = names[len(names) - names[::-1].index(None) :] if None in names else []
    if len(head) + len(tail) > len(engine_columns):
        return columns, typed
    for at, pair in enumerate(head):
        assert pair is not None
        columns[at], typed[at] = pair
    for back, pair in enumerate(reversed(tail), start=1):
        assert pair is not None
        columns[-back], typed[-back] = pair
    return columns, typed


# ----------------------------------------------------------------------------------------------------
# Values

_Converter = Any  # a callable value → value, or None when nothing changes


def _split_args(text: str) -> list[str]:
    """Top-level comma-separated parts of a type's arguments."""
    parts, depth, quoted, start = [], 0, False, 0
    for at, ch in enumerate(text):
        if ch == "'" and (at == 0 or text[at - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and ch == "," and depth == 0:
            parts.append(text[start:at].strip())
            start = at + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _unwrap(type_: str, name: str) -> str | None:
    if type_.startswith(name + "(") and type_.endswith(")"):
        return type_[len(name) + 1 : -1]
    return None


def converter(type_: str) -> _Converter:
    """How values of a ClickHouse type are rewritten (None: left as the engine gives them)."""
    type_ = type_.strip()
    for wrapper in ("Nullable", "LowCardinality"):
        inner = _unwrap(type_, wrapper)
        if inner is not None:
            return converter(inner)
    if type_ == "DateTime" or type_.startswith(("DateTime(", "DateTime64")):
        args = _split_args(_unwrap(type_, "DateTime64") or _unwrap(type_, "DateTime") or "")
        zone = next((a.strip("'") for a in args if a.startswith("'")), None)
        return _datetime(ZoneInfo(zone) if zone else None)
    inner = _unwrap(type_, "Array")
    if inner is not None:
        item = converter(inner)
        return None if item is None else (lambda v: [item(x) for x in v] if isinstance(v, list) else v)
    inner = _unwrap(type_, "Tuple")
    if inner is not None:
        # Named elements: "name Type" (a name never contains a space or "(").
        items = [converter(re.sub(r"^[A-Za-z_]\w*\s+(?=[A-Z])", "", p)) for p in _split_args(inner)]
        if not any(items):
            return None
        return lambda v: _each(v, items)
    inner = _unwrap(type_, "Map")
    if inner is not None:
        parts = _split_args(inner)
        value = converter(parts[1]) if len(parts) == 2 else None
        if value is None:
            return None
        return lambda v: {k: value(x) for k, x in v.items()} if isinstance(v, dict) else v
    return None


def _each(value: Any, items: list[_Converter]) -> Any:
    if isinstance(value, list) and len(value) == len(items):
        return [x if item is None else item(x) for x, item in zip(value, items, strict=True)]
    if isinstance(value, dict) and len(value) == len(items):
        return {k: x if item is None else item(x) for (k, x), item in zip(value.items(), items, strict=True)}
    return value


def _datetime(zone: ZoneInfo | None) -> _Converter:
    def convert(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if zone is not None:
            moment = moment.replace(tzinfo=zone)
        return orjson.dumps(moment, option=orjson.OPT_UTC_Z).decode()[1:-1]

    return convert


def convert_rows(rows: list[list[Any]], types: list[str]) -> list[list[Any]]:
    """Rows with their date and time values as PostHog's API writes them."""
    converters = [converter(t) for t in types]
    if not any(converters):
        return rows
    return [
        [value if fn is None else fn(value) for value, fn in zip(row, converters, strict=False)]
        for row in rows
    ]
