"""HogQLQuery (SQL insights) in a sandbox: user SQL is parsed, checked and rewritten, never passed through.

- Parsed with sqlglot (ClickHouse dialect): exactly one SELECT (CTEs, subqueries, UNION allowed).
- Tables: only ``events`` and ``persons`` (and the query's own CTEs). Each is replaced by a subquery
  of this project's rows, so no other project's rows are reachable. Qualified names (``system.x``),
  table functions (``file``, ``url``, ``remote``, ``numbers`` …), ``SETTINGS``, ``FORMAT``, ``INTO``
  and every write or DDL statement are refused; so are functions that reach outside the data.
- HogQL sugar: ``properties.$browser``, ``properties['$browser']``, ``person.properties.email``;
  ``timestamp`` is in the project timezone.
- Rows: no LIMIT → 100 (one more is fetched to set ``hasMore``); a LIMIT is capped at 50 000.
  Time: ``max_execution_time``; writes: ``readonly=2``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from insightd.errors import QueryError
from insightd.queries.dates import parse_date
from insightd.queries.models import HogQLFilters, HogQLQuery, PropertyFilter
from insightd.queries.project import ProjectSettings, week_mode
from insightd.queries.properties import FilterBuilder
from insightd.queries.runner import QueryContext
from insightd.queries.source import events_from
from insightd.queries.sql import Params, property_raw

DEFAULT_LIMIT = 100
MAX_LIMIT = 50_000
MAX_SECONDS = 60
TABLES = ("events", "persons")
DENIED_FUNCTIONS = {
    "joinget",
    "joingetornull",
    "catboostevaluate",
    "modelevaluate",
    "evalmlmethod",
    "getsetting",
    "getmacro",
    "getclientsetting",
    "getserverport",
    "tcpport",
    "hostname",
    "fqdn",
    "currentuser",
    "currentdatabase",
    "currentroles",
    "enabledroles",
    "defaultroles",
    "currentprofiles",
    "filesystemavailable",
    "filesystemcapacity",
    "filesystemunreserved",
    "addresstoline",
    "addresstolinewithinlines",
    "addresstosymbol",
    "demangle",
    "sleep",
    "sleepeachrow",
    "initialqueryid",
    "queryid",
    "serveruuid",
    "uptime",
    "buildid",
    "input",
    "transactionid",
    "transactionlatestsnapshot",
    "transactionoldestsnapshot",
}
DENIED_PREFIXES = ("dictget", "dicthas", "file", "url", "remote", "s3", "hdfs", "azure", "mysql", "postgres")
WRITES = (exp.Insert, exp.Delete, exp.Update, exp.Create, exp.Drop, exp.Alter, exp.Command, exp.Merge)


FILTERS_CALL = "__insightd_filters"
# {filters}, {filters.dateRange.from}, {filters.dateRange.to}: each becomes a call Sandbox.rewrite replaces.
_FILTERS_PLACEHOLDER = re.compile(r"\{\s*(filters(?:\.[A-Za-z_]\w*)*)\s*\}")
_BOUND_CALLS = {
    "filters.dateRange.from": "__insightd_filters_from",
    "filters.dateRange.to": "__insightd_filters_to",
}


def _quote_dollar_identifiers(sql: str) -> str:
    """``properties.$browser`` → ``properties.`$browser```, and PostHog's ``{filters}`` placeholder → a
    call that ``Sandbox.rewrite`` replaces (both outside string literals and comments)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        placeholder = _FILTERS_PLACEHOLDER.match(sql, i) if ch == "{" else None
        if placeholder is not None:
            name = placeholder.group(1)
            call = FILTERS_CALL if name == "filters" else _BOUND_CALLS.get(name)
            if call is None:
                raise QueryError(
                    f"Unsupported filters placeholder `{{{name}}}`. Supported filters placeholders are: "
                    "`{filters}`, `{filters.dateRange.from}`, `{filters.dateRange.to}`."
                )
            out.append(f"{call}()")
            i = placeholder.end()
            continue
        if ch in ("'", '"', "`"):
            j = i + 1
            while j < n and sql[j] != ch:
                j += 2 if sql[j] == "\\" else 1
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


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    return str(node.sql_name())


class Sandbox:
    """Checks and rewrites one user query for one project."""

    def __init__(
        self,
        team_id: int,
        project: ProjectSettings,
        *,
        filters: HogQLFilters | None = None,
        now: datetime | None = None,
    ) -> None:
        self.team_id, self.project, self.filters = team_id, project, filters
        self.timezone = project.timezone
        self.now = (now or datetime.now(ZoneInfo(self.timezone))).astimezone(ZoneInfo(self.timezone))
        self.params = Params()

    def parse(self, sql: str) -> exp.Query:
        try:
            statements = [s for s in sqlglot.parse(_quote_dollar_identifiers(sql), read="clickhouse") if s]
        except (ParseError, TokenError) as exc:
            raise QueryError(f"Syntax error in SQL: {str(exc).splitlines()[0]}") from exc
        if len(statements) != 1:
            raise QueryError("Only one SELECT statement is allowed.")
        root = statements[0]
        if not isinstance(root, exp.Query):
            raise QueryError("Only SELECT queries are allowed.")
        return root

    def check(self, root: exp.Query) -> None:
        ctes = {cte.alias_or_name for cte in root.find_all(exp.CTE)}
        for node in root.walk():
            if isinstance(node, WRITES):
                raise QueryError("Only SELECT queries are allowed.")
            if isinstance(node, exp.Select | exp.Union):
                for key in ("settings", "format", "into"):
                    if node.args.get(key):
                        raise QueryError(f"{key.upper()} is not allowed in SQL insights.")
            if isinstance(node, exp.Table):
                self._check_table(node, ctes)
            if isinstance(node, exp.Func):
                name = _function_name(node).lower()
                if name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES):
                    raise QueryError(f"Unsupported function call '{_function_name(node)}(...)'")

    def _check_table(self, table: exp.Table, ctes: set[str]) -> None:
        if not isinstance(table.this, exp.Identifier):
            raise QueryError("Table functions are not allowed; query the events and persons tables.")
        if table.args.get("db") or table.args.get("catalog"):
            raise QueryError(
                f"Unknown table '{table.sql(dialect='clickhouse')}'. Available: events, persons."
            )
        if table.name not in TABLES and table.name not in ctes:
            raise QueryError(f"Unknown table '{table.name}'. Available: events, persons.")

    def rewrite(self, root: exp.Query) -> exp.Query:
        person = self._rewrite_properties(root)
        person = self._rewrite_filters(root) or person
        for call in list(root.find_all(exp.Anonymous)):
            if str(call.name).lower() == "tostartofweek" and len(call.expressions) == 1:
                # PostHog's printer: weeks start on the project's week start day.
                call.append("expressions", exp.Literal.number(week_mode(self.project.week_start_day)))
        ctes = {cte.alias_or_name for cte in root.find_all(exp.CTE)}
        for table in list(root.find_all(exp.Table)):
            if table.name in ctes or table.name not in TABLES:
                continue
            alias = table.alias or table.name
            inner = self._events_sql(person) if table.name == "events" else self._persons_sql()
            subquery = sqlglot.parse_one(f"SELECT * FROM ({inner}) AS {alias}", read="clickhouse")
            from_ = subquery.args["from_"].this
            table.replace(from_)
        return root

    def _rewrite_properties(self, root: exp.Query) -> bool:
        uses_person = False
        for column in list(root.find_all(exp.Column)):
            parts = [p.name for p in column.parts]
            if "properties" not in parts or parts.index("properties") == len(parts) - 1:
                if parts[:1] == ["person"] and len(parts) == 2:
                    raise QueryError(f"Unknown field '{'.'.join(parts)}'; use person.properties.<name>.")
                continue
            at = parts.index("properties")
            owner, keys = parts[:at], parts[at + 1 :]
            if owner == ["person"]:
                uses_person = True
                target = "__person_properties"
            elif len(owner) <= 1:
                target = ".".join([*owner, "properties"]) if owner else "properties"
            else:
                continue
            column.replace(self._json(target, keys))
        for bracket in list(root.find_all(exp.Bracket)):
            base = bracket.this
            keys = bracket.expressions
            if isinstance(base, exp.Column) and base.name == "properties" and len(keys) == 1:
                key = keys[0]
                if isinstance(key, exp.Literal) and key.is_string:
                    owner = [p.name for p in base.parts][:-1]
                    target = "__person_properties" if owner == ["person"] else "properties"
                    uses_person = uses_person or owner == ["person"]
                    bracket.replace(self._json(target, [key.name]))
        return uses_person

    def _rewrite_filters(self, root: exp.Query) -> bool:
        """Each ``{filters}`` → the query's ``filters`` (PostHog's HogQLFilters) as a condition on the
        events of the SELECT it is in: properties, ``timestamp >= date_from``, ``timestamp < date_to`` and,
        with ``filterTestAccounts``, the project's test account filters. True if a person property is used."""
        uses_person = False
        for call in list(root.find_all(exp.Anonymous)):
            if str(call.name) in _BOUND_CALLS.values():
                self._rewrite_bound(call)
                continue
            if str(call.name) != FILTERS_CALL:
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
            call.replace(sqlglot.parse_one(condition, read="clickhouse"))
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
            call.replace(sqlglot.parse_one(self.params.moment(bound, self.timezone), read="clickhouse"))
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
        column = exp.to_identifier(alias).sql(dialect="clickhouse")
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
        literal = ", ".join(exp.Literal.string(k).sql(dialect="clickhouse") for k in keys)
        parsed = sqlglot.parse_one(property_raw(target, literal), read="clickhouse")
        return parsed

    def _events_sql(self, person: bool) -> str:
        team = str(int(self.team_id))
        tz = exp.Literal.string(self.timezone).sql(dialect="clickhouse")
        source = events_from(team, "1", resolve_persons=True, person_properties=person)
        extra = ", person.properties AS __person_properties" if person else ""
        return (
            f"SELECT {team} AS team_id, events.uuid AS uuid, events.event AS event, "
            "events.distinct_id AS distinct_id, events.elements_chain AS elements_chain, "
            f"toTimeZone(events.created_at, {tz}) AS created_at, "
            "events.pid AS person_id, events.properties AS properties, "
            f"toTimeZone(events.timestamp, {tz}) AS timestamp, "
            "ifNull(events.mat_session_id, '') AS `$session_id`"
            f"{extra} FROM {source}"
        )

    def _persons_sql(self) -> str:
        tz = exp.Literal.string(self.timezone).sql(dialect="clickhouse")
        return (
            "SELECT id, argMax(properties, version) AS properties, "
            f"toTimeZone(argMax(created_at, version), {tz}) AS created_at FROM persons "
            f"WHERE team_id = {int(self.team_id)} GROUP BY id HAVING argMax(is_deleted, version) = 0"
        )

    def limit(self, root: exp.Query) -> tuple[exp.Query, int]:
        """Cap the rows; returns the query to run and the number of rows the user gets."""
        limit = root.args.get("limit")
        if isinstance(root, exp.Select) and limit is not None:
            value = limit.expression
            if not (isinstance(value, exp.Literal) and not value.is_string and str(value.this).isdigit()):
                raise QueryError("LIMIT must be a whole number.")
            wanted = min(int(value.this), MAX_LIMIT)
            return root.limit(wanted + 1), wanted
        if limit is not None:
            return exp.select("*").from_(root.subquery("_user")).limit(MAX_LIMIT + 1), MAX_LIMIT
        if isinstance(root, exp.Select):
            return root.limit(DEFAULT_LIMIT + 1), DEFAULT_LIMIT
        return exp.select("*").from_(root.subquery("_user")).limit(DEFAULT_LIMIT + 1), DEFAULT_LIMIT


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
        sandbox = Sandbox(self.ctx.team_id, self.ctx.project, filters=self.query.filters, now=self.ctx.now)
        root = sandbox.parse(self.query.query)
        sandbox.check(root)
        root = sandbox.rewrite(root)
        runnable, shown = sandbox.limit(root)
        sql = runnable.sql(dialect="clickhouse")
        seconds = min(MAX_SECONDS, int(self.ctx.settings.get("max_execution_time", MAX_SECONDS)))
        self.ctx.settings = {**self.ctx.settings, "max_execution_time": seconds, "readonly": 2}
        result = self.ctx.execute(sql, sandbox.params.values)
        rows = result.rows
        return {
            "results": rows[:shown],
            "columns": result.columns,
            "types": [[name, type_] for name, type_ in zip(result.columns, result.types, strict=True)],
            "hasMore": len(rows) > shown,
            "limit": shown,
            "offset": 0,
            "hogql": self.query.query,
            "clickhouse": sql,
            "timezone": self.ctx.timezone,
        }
