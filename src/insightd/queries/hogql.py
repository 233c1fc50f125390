"""HogQLQuery (SQL insights) in a sandbox: user SQL is parsed, checked and rewritten, never passed through.

- Parsed with sqlglot (ClickHouse dialect): exactly one SELECT (CTEs, subqueries, UNION allowed).
- Tables: only ``events`` and ``persons`` (and the query's own CTEs). Each is replaced by a subquery
  of this project's rows, so no other project's rows are reachable. Qualified names (``system.x``),
  table functions (``file``, ``url``, ``remote``, ``numbers`` …), ``SETTINGS``, ``FORMAT``, ``INTO``
  and every write or DDL statement are refused; so are functions that reach outside the data.
- HogQL sugar: ``properties.$browser``, ``properties['$browser']``, the event's person (``person.id``,
  ``person.created_at``, ``person.properties.email``, also as ``events.person…`` / ``e.person…``, resolved
  through merges); ``timestamp`` is in the project timezone.
- Calls reach ClickHouse as written (``hogql_dialect``); columns are named and datetimes written as
  PostHog's (``hogql_columns``).
- Rows: no LIMIT → 100 (one more is fetched to set ``hasMore``); a LIMIT is capped at 50 000.
  Time: ``max_execution_time``; writes: ``readonly=2``.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from functools import cache
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import sqlglot
from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType  # type: ignore[attr-defined]

from insightd.engine.base import EngineError, QuerySyntaxError
from insightd.errors import QueryError
from insightd.queries import hogql_columns, hogql_functions
from insightd.queries.dates import parse_date
from insightd.queries.hogql_dialect import DIALECT
from insightd.queries.models import HogQLFilters, HogQLQuery, PropertyFilter
from insightd.queries.project import ProjectSettings, week_mode
from insightd.queries.properties import FilterBuilder
from insightd.queries.runner import QueryContext
from insightd.queries.source import events_from
from insightd.queries.sql import Params, property_raw

DEFAULT_LIMIT = 100
MAX_LIMIT = 50_000
MAX_SECONDS = 60
# Bytes of result a query may build (ClickHouse ``max_result_bytes``); past it the query stops with a 400.
MAX_RESULT_BYTES = 64 * 1024**2
TABLES = ("events", "persons")
# Function forms of IN: their second argument is read like the right side of IN.
_IN_FUNCTIONS = frozenset(
    {"in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin", "globalnotnullin"}
)
# Keywords that may stand before "(" without being a function call.
_STRUCTURAL = frozenset(
    {
        "all",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "between",
        "by",
        "case",
        "desc",
        "distinct",
        "else",
        "except",
        "exists",
        "filter",
        "from",
        "having",
        "ilike",
        "in",
        "intersect",
        "interval",
        "is",
        "join",
        "lateral",
        "like",
        "limit",
        "not",
        "offset",
        "on",
        "or",
        "over",
        "prewhere",
        "qualify",
        "recursive",
        "select",
        "then",
        "union",
        "using",
        "values",
        "when",
        "where",
        "window",
        "with",
    }
)
# Names ClickHouse also runs as functions when written bare (without parentheses) and no column or alias
# of that name is in scope: server facts are refused like their calls, the others are no HogQL column.
_BARE_SERVER_CALLS = frozenset(
    {
        "currentuser",
        "currentdatabase",
        "current_database",
        "current_user",
        "current_schemas",
        "current_role",
        "session_user",
        "database",
        "schema",
        "user",
    }
)
_BARE_CALLS = _BARE_SERVER_CALLS | {"now", "today", "curdate", "current_date", "current_timestamp"}
# The sandbox's own calls (placeholders) are named ``__insightd_<nonce>_…`` with a nonce per query; names
# starting with ``__insightd_`` are refused in the user's text.
_RESERVED_PREFIX = "__insightd_"
WRITES = (exp.Insert, exp.Delete, exp.Update, exp.Create, exp.Drop, exp.Alter, exp.Command, exp.Merge)


FILTERS_CALL = "filters"
VALUE_CALL = "value_"
# {filters}, {filters.dateRange.from}, {variables.x}, {x}: each becomes a call Sandbox.rewrite replaces.
_PLACEHOLDER = re.compile(r"\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}")
_BOUND_CALLS = {
    "filters.dateRange.from": "filters_from",
    "filters.dateRange.to": "filters_to",
}


class _Placeholders:
    """PostHog's placeholders: ``{filters…}`` (HogQLFilters), ``{variables.<code_name>}`` (the query's
    ``variables``, by code name) and ``{name}`` (the query's ``values``). Each value is kept here and
    put in the parsed query as a literal, never pasted into the SQL text."""

    def __init__(self, values: dict[str, Any] | None, variables: dict[str, Any] | None) -> None:
        self.given, self.variables = values or {}, variables or {}
        self.found: list[Any] = []
        self.prefix = f"{_RESERVED_PREFIX}{secrets.token_hex(8)}_"

    def own(self, name: str) -> str | None:
        """The placeholder call ``name`` stands for (``filters``, ``value_3`` …), None for another name."""
        return name[len(self.prefix) :] if name.startswith(self.prefix) else None

    def call(self, name: str) -> str:
        return self.prefix + self._call(name)

    def _call(self, name: str) -> str:
        if name == "filters":
            return FILTERS_CALL
        if name.startswith("filters."):
            call = _BOUND_CALLS.get(name)
            if call is None:
                raise QueryError(
                    f"Unsupported filters placeholder `{{{name}}}`. Supported filters placeholders are: "
                    "`{filters}`, `{filters.dateRange.from}`, `{filters.dateRange.to}`."
                )
            return call
        if name.startswith("variables."):
            return self._keep(self._variable(name.removeprefix("variables.")))
        if name in self.given:
            return self._keep(self.given[name])
        usable = ", ".join(self.given) or "none"
        raise QueryError(
            f"Placeholder {{{name}}} is not available in this context. You can use the following: {usable}"
        )

    def _variable(self, code_name: str) -> Any:
        for variable in self.variables.values():
            if isinstance(variable, dict) and variable.get("code_name") == code_name:
                return None if variable.get("isNull") else variable.get("value")
        raise QueryError(f"Variable {code_name} is missing from query")

    def _keep(self, value: Any) -> str:
        self.found.append(value)
        return f"{VALUE_CALL}{len(self.found) - 1}"


def _quote_dollar_identifiers(sql: str, placeholders: _Placeholders | None = None) -> str:
    """``properties.$browser`` → ``properties.`$browser```, and PostHog's placeholders → calls that
    ``Sandbox.rewrite`` replaces (both outside string literals and comments)."""
    found = placeholders or _Placeholders(None, None)
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql[i : i + len(_RESERVED_PREFIX)].lower() == _RESERVED_PREFIX:
            raise _reserved_name()
        placeholder = _PLACEHOLDER.match(sql, i) if ch == "{" else None
        if placeholder is not None:
            out.append(f"{found.call(placeholder.group(1))}()")
            i = placeholder.end()
            continue
        if ch in ("'", '"', "`"):
            j = i + 1
            while j < n and sql[j] != ch:
                j += 2 if sql[j] == "\\" else 1
            if ch != "'" and _RESERVED_PREFIX in sql[i : j + 1].lower():
                raise _reserved_name()
            out.append(sql[i : j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j == -1 else j
            out.append(sql[i:j])
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j == -1 else j + 2
            out.append(sql[i:j])
            i = j
        elif ch == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] in "_$"):
                j += 1
            out.append(f"`{sql[i:j]}`")
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _reserved_name() -> QueryError:
    return QueryError(f"Names starting with '{_RESERVED_PREFIX}' are reserved in SQL insights.")


def _leading_name(node: exp.Func) -> str | None:
    """The function name ClickHouse gets for ``node`` (None for syntax such as CASE or ``[1, 2]``)."""
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    match = re.match(r"\s*[`\"]?([A-Za-z_]\w*)[`\"]?\s*\(", node.sql(dialect=DIALECT))
    return match.group(1) if match else None


# Names sqlglot writes for allowed functions it parses into its own nodes (``dateDiff`` → ``DATE_DIFF``,
# ``leftPad`` → ``LPAD`` …): the same calls, so allowed too (test_hogql_sandbox.py derives them).
GENERATED_NAMES = frozenset(
    {
        "date_add",
        "date_diff",
        "date_sub",
        "groupconcat",
        "lpad",
        "ltrim",
        "randcanonical",
        "rpad",
        "rtrim",
        "timestamp_add",
        "timestamp_sub",
    }
)


def _unsupported(name: str) -> QueryError:
    return QueryError(f"Unsupported function call '{name}(...)'")


def _check_written_calls(tokens: list[Token], internal: str) -> None:
    """Every name the user wrote before "(" (outside strings) is a known function, a keyword or a type."""
    for at, token in enumerate(tokens[:-1]):
        if tokens[at + 1].token_type != TokenType.L_PAREN:
            continue
        if at > 0 and tokens[at - 1].token_type in (TokenType.ALIAS, TokenType.DCOLON):
            continue  # CAST(x AS Nullable(String)), x::Array(String), WITH t AS (…)
        name = token.text
        if token.token_type not in (TokenType.VAR, TokenType.IDENTIFIER):
            if token.token_type in ClickHouse.parser_class.TYPE_TOKENS or name.lower() in _STRUCTURAL:
                continue
            if not re.fullmatch(r"[A-Za-z_]\w*", name):
                continue  # punctuation: ")(", ",(", …
        if not (hogql_functions.is_allowed(name) or name.startswith(internal)):
            raise _unsupported(name)


def _defined_in_scope(column: exp.Column, name: str) -> bool:
    """Whether a bare ``name`` at ``column`` is a lambda parameter, an alias of its SELECT, a scalar WITH,
    or a column of a subquery or CTE it selects from (else ClickHouse would run a function of that name)."""
    node: exp.Expr | None = column.parent
    while node is not None and not isinstance(node, exp.Select):
        if isinstance(node, exp.Lambda) and any(p.name == name for p in node.expressions):
            return True
        node = node.parent
    if node is None:
        return False
    select = node
    if any(isinstance(e, exp.Alias) and e.alias == name for e in select.expressions):
        return True
    ctes: dict[str, exp.CTE] = {}
    current: exp.Expr | None = select
    while current is not None:
        with_ = current.args.get("with_")
        if isinstance(with_, exp.With):
            for cte in with_.expressions:
                if cte.args.get("scalar") and cte.alias_or_name == name:
                    return True
                ctes.setdefault(str(cte.alias_or_name), cte)
        current = current.parent
    for source in [select.args.get("from_"), *(select.args.get("joins") or [])]:
        table = source.this if source is not None else None
        query = None
        if isinstance(table, exp.Subquery):
            query = table.this
        elif isinstance(table, exp.Table) and not table.args.get("db") and table.name in ctes:
            query = ctes[table.name].this
        if isinstance(query, exp.Query) and name in query.named_selects:
            return True
    return False


def _visible_ctes(node: exp.Expr) -> set[str]:
    """Names of the table CTEs ``node`` can see: those of every WITH it sits in (its own and outer ones)."""
    names: set[str] = set()
    current: exp.Expr | None = node
    child: exp.Expr | None = None
    while current is not None:
        with_ = current.args.get("with_")
        if isinstance(with_, exp.With):
            ctes = list(with_.expressions)
            if child is with_ and isinstance(node_cte := _enclosing_cte(node, with_), exp.CTE):
                # Inside a CTE's body: only the CTEs before it (its own name, and later ones, would be
                # tables of the database there).
                ctes = ctes[: ctes.index(node_cte)]
            names.update(cte.alias_or_name for cte in ctes if not cte.args.get("scalar"))
        child, current = current, current.parent
    return names


def _enclosing_cte(node: exp.Expr, with_: exp.With) -> exp.CTE | None:
    """The CTE of ``with_`` whose body holds ``node``."""
    current: exp.Expr | None = node
    while current is not None and current.parent is not with_:
        current = current.parent
    return current if isinstance(current, exp.CTE) else None


class Sandbox:
    """Checks and rewrites one user query for one project."""

    def __init__(
        self,
        team_id: int,
        project: ProjectSettings,
        *,
        filters: HogQLFilters | None = None,
        now: datetime | None = None,
        values: dict[str, Any] | None = None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.team_id, self.project, self.filters = team_id, project, filters
        self.timezone = project.timezone
        self.now = (now or datetime.now(ZoneInfo(self.timezone))).astimezone(ZoneInfo(self.timezone))
        self.params = Params()
        self.placeholders = _Placeholders(values, variables)
        self.text = ""
        self.tokens: list[Token] = []
        # (column, types name) per select expression of the user's query (None for a ``*``).
        self.names: list[tuple[str, str] | None] = []

    def parse(self, sql: str) -> exp.Query:
        self.text = _quote_dollar_identifiers(sql, self.placeholders)
        try:
            self.tokens = DIALECT.tokenize(self.text)
            statements = [s for s in DIALECT.parser().parse(self.tokens, self.text) if s]
        except (ParseError, TokenError, ValueError, TypeError, IndexError, AttributeError) as exc:
            if "multiple 'LIMIT' clauses" in str(exc):
                raise QueryError(
                    "A LIMIT after LIMIT … BY is not supported in SQL insights: select from the LIMIT … BY "
                    "query as a subquery instead, e.g. SELECT * FROM (… LIMIT 1 BY event) LIMIT 3."
                ) from exc
            raise QueryError(f"Syntax error in SQL: {str(exc).splitlines()[0]}") from exc
        if len(statements) != 1:
            raise QueryError("Only one SELECT statement is allowed.")
        root = statements[0]
        if not isinstance(root, exp.Query):
            raise QueryError("Only SELECT queries are allowed.")
        return root

    def check(self, root: exp.Query) -> None:
        _check_written_calls(self.tokens, self.placeholders.prefix)
        for node in root.walk():
            if isinstance(node, WRITES):
                raise QueryError("Only SELECT queries are allowed.")
            if isinstance(node, exp.Select | exp.SetOperation):
                for key in ("settings", "format", "into"):
                    if node.args.get(key):
                        raise QueryError(f"{key.upper()} is not allowed in SQL insights.")
            if isinstance(node, exp.Select) and not node.expressions:
                raise QueryError("Syntax error in SQL: SELECT needs at least one expression.")
            if isinstance(node, exp.Final):
                raise QueryError("FINAL is not supported in SQL insights.")
            if isinstance(node, exp.CTE):
                self._check_cte(node)
            if isinstance(node, exp.Table):
                self._check_table(node)
            if isinstance(node, exp.In):
                for rhs in [
                    node.args.get("field"),
                    *(node.expressions if len(node.expressions) == 1 else []),
                ]:
                    self._check_in_source(rhs, node)
            if isinstance(node, exp.Func):
                self._check_function(node)
            if isinstance(node, exp.Column) and not node.table and node.name.lower() in _BARE_CALLS:
                self._check_bare(node)

    def _check_bare(self, column: exp.Column) -> None:
        name = str(column.name)
        if _defined_in_scope(column, name):
            return
        if name.lower() in _BARE_SERVER_CALLS:
            raise _unsupported(name)
        raise QueryError(f"Unknown column '{name}'. To call the function, write {name}().")

    @property
    def reserved(self) -> frozenset[str]:
        """The tables the sandbox's own SQL reads (unqualified, so a CTE of that name would shadow them)."""
        return _reserved_tables()

    def _check_cte(self, cte: exp.CTE) -> None:
        name = str(cte.alias_or_name)
        if name.lower() in self.reserved:
            raise QueryError(
                f"The name '{name}' is taken by a table: a CTE cannot shadow it. Choose another name."
            )

    def _check_function(self, node: exp.Func) -> None:
        name = _leading_name(node)
        if name is None or self.placeholders.own(name) is not None:
            return
        if hogql_functions.is_allowed(name) or (
            not isinstance(node, exp.Anonymous) and name.lower() in GENERATED_NAMES
        ):
            if (
                isinstance(node, exp.Anonymous)
                and name.lower() in _IN_FUNCTIONS
                and len(node.expressions) > 1
            ):
                self._check_in_source(node.expressions[1], node)
            if isinstance(node, exp.Anonymous) and name.lower() == "arrayreduce":
                first = node.expressions[0] if node.expressions else None
                if not (
                    isinstance(first, exp.Literal)
                    and first.is_string
                    and hogql_functions.is_allowed(str(first.this))
                ):
                    raise QueryError("arrayReduce takes the name of an allowed aggregate function first.")
            return
        raise _unsupported(name)

    def _check_in_source(self, rhs: exp.Expr | None, at: exp.Expr) -> None:
        """The right side of IN: ClickHouse reads a bare name there as a table, so only a CTE name is let
        through (subqueries, lists and other expressions are checked like the rest of the query)."""
        while isinstance(rhs, exp.Paren):
            rhs = rhs.this
        if not isinstance(rhs, exp.Column | exp.Identifier | exp.Table | exp.Dot):
            return
        bare = isinstance(rhs, exp.Identifier) or (isinstance(rhs, exp.Column) and not rhs.table)
        if bare and rhs.name in _visible_ctes(at):
            return
        raise QueryError(
            f"The right side of IN must be a subquery, a list of values or a CTE name, not "
            f"'{rhs.sql(dialect=DIALECT)}'."
        )

    def _check_table(self, table: exp.Table) -> None:
        if not isinstance(table.this, exp.Identifier):
            raise QueryError("Table functions are not allowed; query the events and persons tables.")
        if table.args.get("db") or table.args.get("catalog"):
            raise QueryError(f"Unknown table '{table.sql(dialect=DIALECT)}'. Available: events, persons.")
        if table.args.get("sample"):
            raise QueryError("SAMPLE is not supported in SQL insights.")
        if table.name not in TABLES and table.name not in _visible_ctes(table):
            raise QueryError(f"Unknown table '{table.name}'. Available: events, persons.")

    def rewrite(self, root: exp.Query) -> exp.Query:
        for call in list(root.find_all(exp.Anonymous)):
            own = self.placeholders.own(str(call.name))
            if own is not None and own.startswith(VALUE_CALL):
                call.replace(exp.convert(self.placeholders.found[int(own[len(VALUE_CALL) :])]))
        self.names = hogql_columns.select_names(root.selects)
        self._translate_calls(root)
        person = self._rewrite_properties(root)
        person = self._rewrite_filters(root) or person
        for call in list(root.find_all(exp.Anonymous)):
            if str(call.name).lower() == "tostartofweek" and len(call.expressions) == 1:
                # PostHog's printer: weeks start on the project's week start day.
                call.append("expressions", exp.Literal.number(week_mode(self.project.week_start_day)))
        self._hide_internal_columns(root)
        for table in list(root.find_all(exp.Table)):
            # Every events / persons table is this project's rows: no CTE can take these names (check).
            if table.name not in TABLES or table.args.get("db"):
                continue
            inner = self._events_sql(person) if table.name == "events" else self._persons_sql()
            alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
            source = exp.Subquery(this=sqlglot.parse_one(inner, read=DIALECT), alias=alias.copy())
            table.replace(source)
        return root

    def _translate_calls(self, root: exp.Query) -> None:
        """HogQL names ClickHouse lacks or runs differently → PostHog's ClickHouse forms (innermost first)."""
        for node in reversed(list(root.find_all(exp.Anonymous, exp.AnonymousAggFunc, exp.CurrentDate))):
            if isinstance(node, exp.CurrentDate):
                node.replace(exp.Anonymous(this="today", expressions=[]))
                continue
            translated = hogql_functions.translate(str(node.name), list(node.expressions), self.timezone)
            if translated is not None:
                node.replace(translated)

    @staticmethod
    def _hide_internal_columns(root: exp.Query) -> None:
        """``*`` over events / persons lists PostHog's fields: never ``team_id`` (PostHog leaves it out of
        every table's ``*``), ``$session_id`` (out of the events table's) or the sandbox's own columns."""
        for star in list(root.find_all(exp.Star)):
            owner = star.parent.parent if isinstance(star.parent, exp.Column) else star.parent
            if not isinstance(owner, exp.Select) or star.parent not in (owner, *owner.expressions):
                continue
            sources = [owner.args.get("from_"), *(owner.args.get("joins") or [])]
            tables = [s.this for s in sources if s is not None]
            if not any(
                isinstance(t, exp.Table) and t.name in TABLES and not t.args.get("db") for t in tables
            ):
                continue
            hidden = [exp.column(exp.to_identifier(name, quoted=True)) for name in _HIDDEN_FROM_STAR]
            star.set("except_", [*(star.args.get("except_") or []), *hidden])

    def _rewrite_properties(self, root: exp.Query) -> bool:
        """HogQL's fields: ``properties.x`` / ``properties['x']`` (also behind a table name or alias) and
        the event's person (``person.id``, ``person.created_at``, ``person.properties[.x]``, also as
        ``events.person…`` / ``e.person…``). True if the person is used."""
        uses_person = False
        for node in list(root.find_all(exp.Column, exp.Dot, exp.Bracket)):
            parent = node.parent
            if (
                isinstance(parent, exp.Dot | exp.Bracket)
                and parent.this is node
                and hogql_columns.chain(parent) is not None
            ):
                continue  # part of a longer chain, rewritten with it
            parts = hogql_columns.chain(node)
            if parts is None or (isinstance(node, exp.Column) and len(parts) == 1):
                continue
            owner = parts[:1] if len(parts) > 2 and parts[1] == "person" and parts[0] != "person" else []
            rest = parts[len(owner) :]
            if rest[0] == "person":
                target = self._person_field(rest)
                if target is None:
                    continue
                uses_person = True
                column, keys = target
                column = ".".join([*owner, column])
                node.replace(self._json(column, keys) if keys else exp.column(*reversed(column.split("."))))
                continue
            if "properties" not in parts or parts.index("properties") == len(parts) - 1:
                continue
            at = parts.index("properties")
            if at > 1:
                continue
            node.replace(self._json(".".join([*parts[:at], "properties"]), parts[at + 1 :]))
        return uses_person

    @staticmethod
    def _person_field(parts: list[str]) -> tuple[str, list[str]] | None:
        """(column of the sandbox's events view, property keys) for ``person.…``."""
        if len(parts) == 1:
            return None
        field, keys = parts[1], parts[2:]
        if field in _PERSON_FIELDS and (not keys or field == "properties"):
            return _PERSON_FIELDS[field], keys
        raise QueryError(
            f"Unknown field '{'.'.join(parts)}'; a person has id, created_at and properties.<name>."
        )

    def _rewrite_filters(self, root: exp.Query) -> bool:
        """Each ``{filters}`` → the query's ``filters`` (PostHog's HogQLFilters) as a condition on the
        events of the SELECT it is in: properties, ``timestamp >= date_from``, ``timestamp < date_to`` and,
        with ``filterTestAccounts``, the project's test account filters. True if a person property is used."""
        uses_person = False
        for call in list(root.find_all(exp.Anonymous)):
            own = self.placeholders.own(str(call.name))
            if own in _BOUND_CALLS.values():
                self._rewrite_bound(call)
                continue
            if own != FILTERS_CALL:
                continue
            if call.expressions:
                raise QueryError("The {filters} placeholder takes no arguments.")
            select = call.find_ancestor(exp.Select)
            alias = self._events_alias(select) if select is not None else None
            if alias is None:
                raise QueryError(
                    "Cannot use 'filters' placeholder in a SELECT clause that does not select from "
                    "the events table."
                )
            condition, person = self._filters_condition(alias)
            uses_person = uses_person or person
            call.replace(sqlglot.parse_one(condition, read=DIALECT))
        return uses_person

    def _rewrite_bound(self, call: exp.Anonymous) -> None:
        """``{filters.dateRange.from}`` / ``.to`` → the resolved bound; without one, the comparison the
        placeholder is in becomes true (PostHog: the condition is skipped)."""
        if call.expressions:
            raise QueryError("The {filters.dateRange.…} placeholders take no arguments.")
        given = self.filters is not None and bool(self.filters.model_fields_set)
        bound = None
        if given:
            bound = self._date_from() if str(call.name).endswith("_from") else self._date_to()[0]
        if bound is not None:
            call.replace(sqlglot.parse_one(self.params.moment(bound, self.timezone), read=DIALECT))
            return
        comparison = call.find_ancestor(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
        if comparison is None:
            raise QueryError("A {filters.dateRange.…} placeholder must be compared with something.")
        comparison.replace(exp.true())

    @staticmethod
    def _events_alias(select: exp.Select) -> str | None:
        sources = [select.args.get("from_"), *(select.args.get("joins") or [])]
        for source in sources:
            table = source.this if source is not None else None
            if isinstance(table, exp.Table) and table.name == "events" and not table.args.get("db"):
                return str(table.alias_or_name)
        return None

    def _filters_condition(self, alias: str) -> tuple[str, bool]:
        filters = self.filters
        if filters is None:
            return "true", False
        column = exp.to_identifier(alias).sql(dialect=DIALECT)
        builder = _SandboxFilters(self.params, self.project, self.now, column)
        properties = self.project.with_test_filters(filters.properties, filters.filterTestAccounts)
        parts = [builder.where(properties)]
        lower, (upper, inclusive) = self._date_from(), self._date_to()
        if upper is not None:
            op = "<=" if inclusive else "<"
            parts.append(f"{column}.timestamp {op} {self.params.moment(upper, self.timezone)}")
        if lower is not None:
            parts.append(f"{column}.timestamp >= {self.params.moment(lower, self.timezone)}")
        parts = [p for p in parts if p != "1"]
        return (" AND ".join(f"({p})" for p in parts) if parts else "true"), builder.person

    # PostHog's {filters} date bounds (ReplaceFilters): relative dates snap to whole days unless they
    # move by hours, minutes or seconds; a date alone or a relative date_to means the end of that day
    # (inclusive) unless ``explicitDate``; an ISO datetime is used as written; no date_to with a
    # date_from means the end of today; "all" has no lower bound.
    def _parsed(self, text: str) -> tuple[datetime, str | None]:
        """(moment, relative kind: None for an absolute date) of a date string."""
        parsed = parse_date(text, self.now, ZoneInfo(self.timezone))
        return parsed.moment, parsed.relative_kind

    def _date_from(self) -> datetime | None:
        date_range = self.filters.dateRange if self.filters else None
        text = date_range.date_from if date_range else None
        if not text or text.strip() == "all":
            return None
        moment, kind = self._parsed(text)
        if kind is None or kind in _SUB_DAY:
            return moment
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)

    def _date_to(self) -> tuple[datetime | None, bool]:
        """(upper bound, inclusive)."""
        date_range = self.filters.dateRange if self.filters else None
        text = date_range.date_to if date_range else None
        if text is None:
            start = date_range.date_from if date_range else None
            if not start or start.strip() == "all" or self._parsed(start)[1] in _SUB_DAY:
                return None, False
            moment = self.now
        else:
            moment, kind = self._parsed(text)
            if kind is None and not _DATE_ONLY.match(text.strip()):
                return moment, False  # an ISO datetime, as written
            if kind in _SUB_DAY:
                return moment, False
        if date_range is not None and date_range.explicitDate:
            return moment, False
        return moment.replace(hour=23, minute=59, second=59, microsecond=999999), True

    def _json(self, target: str, keys: list[str]) -> exp.Expr:
        literal = ", ".join(exp.Literal.string(k).sql(dialect=DIALECT) for k in keys)
        parsed = sqlglot.parse_one(property_raw(target, literal), read=DIALECT)
        return parsed

    def _events_sql(self, person: bool) -> str:
        team = str(int(self.team_id))
        tz = exp.Literal.string(self.timezone).sql(dialect=DIALECT)
        source = events_from(team, "1", resolve_persons=True, person_properties=False)
        extra = ""
        if person:
            # The event's person (after merges): its latest non-deleted version, as events_from's.
            source += (
                " LEFT JOIN (SELECT id, argMax(properties, version) AS properties, "
                "argMax(created_at, version) AS created_at FROM persons "
                f"WHERE team_id = {team} GROUP BY id HAVING argMax(is_deleted, version) = 0) AS person "
                "ON person.id = events.pid"
            )
            extra = (
                ", person.properties AS __person_properties, person.id AS __person_id, "
                f"toTimeZone(person.created_at, {tz}) AS __person_created_at"
            )
        # PostHog's order of the events table's fields (its ``*``: team_id and $session_id left out).
        return (
            "SELECT events.uuid AS uuid, events.event AS event, events.properties AS properties, "
            f"toTimeZone(events.timestamp, {tz}) AS timestamp, {team} AS team_id, "
            "events.distinct_id AS distinct_id, events.elements_chain AS elements_chain, "
            f"toTimeZone(events.created_at, {tz}) AS created_at, "
            "ifNull(events.mat_session_id, '') AS `$session_id`, events.pid AS person_id"
            f"{extra} FROM {source}"
        )

    def _persons_sql(self) -> str:
        tz = exp.Literal.string(self.timezone).sql(dialect=DIALECT)
        return (
            "SELECT id, argMax(properties, version) AS properties, "
            f"toTimeZone(argMax(created_at, version), {tz}) AS created_at FROM persons "
            f"WHERE team_id = {int(self.team_id)} GROUP BY id HAVING argMax(is_deleted, version) = 0"
        )

    def limit(self, root: exp.Query) -> tuple[exp.Query, int | None]:
        """Cap the rows. Returns the query to run and, for a single SELECT without a LIMIT (PostHog's
        paginator: ``DEFAULT_LIMIT`` rows, one more fetched to set ``hasMore``), the rows the user gets;
        None when the query has its own LIMIT or is a UNION (capped at ``MAX_LIMIT``, no ``hasMore``).
        ``LIMIT n BY …`` is no row limit: the query is wrapped, and a plain OFFSET after it (HogQL's
        ``LIMIT 1 BY x OFFSET 2``) skips rows of the result."""
        limit, offset = root.args.get("limit"), root.args.get("offset")
        limit_by = (isinstance(limit, exp.Limit) and bool(limit.expressions)) or (
            isinstance(offset, exp.Offset) and bool(offset.expressions)
        )
        if isinstance(root, exp.Select) and limit_by:
            skip = None
            if isinstance(offset, exp.Offset) and not offset.expressions:
                skip = offset.expression
                root.set("offset", None)
            wrapped = exp.select("*").from_(root.subquery("_user")).limit(DEFAULT_LIMIT + 1)
            return (wrapped.offset(skip) if skip is not None else wrapped), DEFAULT_LIMIT
        if isinstance(root, exp.Select) and limit is None:
            return root.limit(DEFAULT_LIMIT + 1), DEFAULT_LIMIT
        if isinstance(root, exp.Select):
            value = limit.expression if isinstance(limit, exp.Limit) else None
            if not (isinstance(value, exp.Literal) and not value.is_string and str(value.this).isdigit()):
                raise QueryError("LIMIT must be a whole number.")
            # In place: WITH TIES and the OFFSET stay.
            value.replace(exp.Literal.number(min(int(value.this), MAX_LIMIT)))
            return root, None
        return exp.select("*").from_(root.subquery("_user")).limit(MAX_LIMIT), None


@cache
def _reserved_tables() -> frozenset[str]:
    """``Sandbox.reserved``: the same tables for every team and time zone, so parsed once per process."""
    sandbox = Sandbox(0, ProjectSettings())
    sql = f"{sandbox._events_sql(True)} UNION ALL {sandbox._persons_sql()}"
    tables = sqlglot.parse_one(sql, read=DIALECT).find_all(exp.Table)
    return frozenset({*TABLES, *(str(t.name).lower() for t in tables)})


_PERSON_FIELDS = {
    "id": "__person_id",
    "created_at": "__person_created_at",
    "properties": "__person_properties",
}
_HIDDEN_FROM_STAR = ("team_id", "$session_id", *_PERSON_FIELDS.values())
_DATE_ONLY = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_SUB_DAY = frozenset({"h", "M", "s"})


class _SandboxFilters(FilterBuilder):
    """Property filters over the sandbox's ``events`` view (aliased ``column``): its ``properties`` and,
    for person properties, its ``__person_properties``."""

    def __init__(self, params: Params, project: ProjectSettings, now: datetime, column: str) -> None:
        super().__init__(params, ZoneInfo(project.timezone), now)
        self.column, self.person = column, False

    def _property(self, item: PropertyFilter) -> str:
        key = self.params.string(item.key)
        if item.type == "person":
            self.person = True
            return property_raw(f"{self.column}.__person_properties", key)
        return property_raw(f"{self.column}.properties", key)


class HogQLRunner:
    kind: ClassVar[str] = "HogQLQuery"

    def __init__(self, query: HogQLQuery, ctx: QueryContext) -> None:
        self.query, self.ctx = query, ctx

    @property
    def interval(self) -> str | None:
        return None

    def date_to(self) -> datetime | None:
        return None

    def calculate(self) -> dict[str, Any]:
        sandbox = Sandbox(
            self.ctx.team_id,
            self.ctx.project,
            filters=self.query.filters,
            now=self.ctx.now,
            values=self.query.values,
            variables=self.query.variables,
        )
        root = sandbox.parse(self.query.query)
        sandbox.check(root)
        root = sandbox.rewrite(root)
        runnable, shown = sandbox.limit(root)
        sql = runnable.sql(dialect=DIALECT)
        seconds = min(MAX_SECONDS, int(self.ctx.settings.get("max_execution_time", MAX_SECONDS)))
        self.ctx.settings = {**self.ctx.settings, **_SETTINGS, "max_execution_time": seconds}
        try:
            result = self.ctx.execute(sql, sandbox.params.values)
        except QueryError as exc:
            raise _user_error(exc) from exc
        rows = hogql_columns.convert_rows(result.rows, result.types)
        columns, typed = hogql_columns.name_columns(sandbox.names, result.columns)
        return {
            "results": rows if shown is None else rows[:shown],
            "columns": columns,
            "types": [[name, type_] for name, type_ in zip(typed, result.types, strict=True)],
            "hasMore": None if shown is None else len(rows) > shown,
            "limit": shown,
            "offset": None if shown is None else 0,
            "hogql": self.query.query,
            "clickhouse": sql,
            "timezone": self.ctx.timezone,
        }


# Per query: no writes, the new analyzer (a WITH alias never stands for a column of the subqueries the
# sandbox puts in place of events / persons) and a cap on the bytes of the result.
_SETTINGS: dict[str, Any] = {
    "readonly": 2,
    "enable_analyzer": 1,
    "max_result_bytes": MAX_RESULT_BYTES,
    "result_overflow_mode": "throw",
}
_TOO_MANY_BYTES = 396
# Where an engine message starts quoting the SQL the sandbox built (its subqueries, SETTINGS, query id).
_QUOTED_SQL = re.compile(
    r"(\s*\(line \d+, col \d+\))?:\s*(\(?SELECT|.*\bSETTINGS\b|.*insightd_query_id).*", re.S
)
# ClickHouse's "… In query SELECT …": the message is what comes before.
_IN_QUERY = re.compile(r"\.?\s*In query \(?(SELECT|WITH)\b.*", re.S)


_INTERNAL_QUALIFIER = re.compile(r"\b__table\d+\.")
_INTERNAL_NAME = re.compile(r"\b(__\w+|_user\b)")


def _user_error(exc: QueryError) -> QueryError:
    """An engine refusal in the user's terms: never the rewritten SQL or the engine settings."""
    cause = exc.__cause__
    if isinstance(cause, EngineError) and cause.code == _TOO_MANY_BYTES:
        mib = MAX_RESULT_BYTES // 1024**2
        return QueryError(
            f"Query result is too large: it is over {mib} MiB. Select fewer rows or columns, "
            "or aggregate the data."
        )
    detail = str(exc.detail)
    cleaned = _QUOTED_SQL.sub("", _IN_QUERY.sub("", detail))
    if isinstance(cause, QuerySyntaxError) and ("SETTINGS" in cleaned or "SELECT" in cleaned):
        return QueryError("Syntax error in SQL.")
    # The analyzer's names for the sandbox's subqueries (``__table3.team_id``) are not the user's.
    cleaned = _INTERNAL_QUALIFIER.sub("", cleaned)
    if _INTERNAL_NAME.search(cleaned):
        first = _INTERNAL_NAME.split(cleaned, maxsplit=1)[0].rstrip(" `'\"(:,")
        return QueryError(
            f"{first or 'The query could not be run'} (in a part of the query the sandbox adds)."
        )
    return exc if cleaned == detail else QueryError(cleaned.rstrip(" .:") + ".")
