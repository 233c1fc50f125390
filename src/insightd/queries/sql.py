"""Small helpers for building ClickHouse SQL with bound parameters (never inlined user values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from insightd.events.schema import MATERIALIZED_PROPERTIES

NULL_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass
class Params:
    """Collects values as ``{pN:Type}`` placeholders for the engine's parameter binding."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any, type_: str = "String") -> str:
        name = f"p{len(self.values)}"
        if type_.startswith("DateTime64") and isinstance(value, datetime):
            value = value.strftime("%Y-%m-%d %H:%M:%S.%f")
        self.values[name] = value
        return f"{{{name}:{type_}}}"

    def string(self, value: str) -> str:
        return self.add(value, "String")

    def strings(self, values: list[str]) -> str:
        """An ``Array(String)`` constant (the engine parses array parameters from their literal text)."""
        quoted = ("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)
        return self.add("[" + ", ".join(quoted) + "]", "Array(String)")

    def number(self, value: float) -> str:
        return self.add(float(value), "Float64")

    def moment(self, value: datetime, tz: str) -> str:
        """A timestamp constant: wall time in ``tz`` (the value is converted there first)."""
        return self.add(value, f"DateTime64(6, '{tz}')")


def property_raw(column: str, key_sql: str) -> str:
    """PostHog's string view of a JSON property: a string's text, any other value's JSON text, null or
    missing → NULL. The same expression as the materialised columns (``events.schema``)."""
    return f"JSONExtract({column}, {key_sql}, 'Nullable(String)')"


def event_property(key: str, params: Params) -> str:
    """An event property as Nullable(String); hot properties are read from their materialised column."""
    column = MATERIALIZED_PROPERTIES.get(key)
    if column is None:
        return property_raw("properties", params.string(key))
    return f"events.{column}"


def person_property(key: str, params: Params) -> str:
    return property_raw("person.properties", params.string(key))
