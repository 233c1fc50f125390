"""The ClickHouse dialect SQL insights are parsed and printed in: every function call stays the call the
user wrote.

sqlglot's ClickHouse parser turns many calls into its own nodes and prints them back as other calls
(``toStartOfDay(t)`` → ``dateTrunc('DAY', t)``, ``median(x)`` → ``quantile(0.5)(x)``, ``if`` → ``CASE``),
which changes result types (``DateTime64(0)`` instead of ``DateTime``) and sometimes values. PostHog's
printer passes a HogQL call on as written, so here a call is kept as ``exp.Anonymous`` (aggregates as
sqlglot's anonymous aggregate nodes), printed back verbatim. Only calls with a syntax of their own
(``CAST(x AS T)``, ``TRIM(BOTH … FROM …)``, ``position(a IN b)``, ``EXTRACT(DAY FROM t)`` …) keep their
parsers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.parsers.clickhouse import ClickHouseParser

# Calls whose arguments have a syntax of their own: parsed (and printed) by sqlglot.
_SYNTAX = frozenset(
    {"AND", "OR", "XOR", "CAST", "TRY_CAST", "COLUMNS", "EXTRACT", "POSITION", "SUBSTRING", "TRIM", "VIEW"}
)


class _Parser(ClickHouseParser):
    FUNCTIONS: ClassVar[dict[str, Any]] = {}  # every other call: exp.Anonymous, as written
    FUNCTION_PARSERS = {k: v for k, v in ClickHouseParser.FUNCTION_PARSERS.items() if k in _SYNTAX}
    NO_PAREN_FUNCTION_PARSERS = {
        k: v for k, v in ClickHouseParser.NO_PAREN_FUNCTION_PARSERS.items() if k != "IF"
    }


class Verbatim(ClickHouse):
    Parser = _Parser


DIALECT = Verbatim()
