"""What every query runner gets (the context) and gives (a response dict in PostHog's shape)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from insightd.engine.base import Engine, EngineError, QueryCancelled, QueryResult, QueryTimeout
from insightd.errors import QueryError
from insightd.queries.dates import ResolvedRange, resolve
from insightd.queries.project import ProjectSettings


@dataclass
class QueryContext:
    """One computation: the project and its settings, "now", the engine and the computation's id."""

    team_id: int
    engine: Engine
    query_id: str
    now: datetime
    settings: Mapping[str, Any] = field(default_factory=dict)
    project: ProjectSettings = field(default_factory=ProjectSettings)
    executed: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    _overrides: bool | None = field(default=None, init=False, repr=False)

    @property
    def timezone(self) -> str:
        return self.project.timezone

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> QueryResult:
        """Run one statement under this computation's query id (so ``engine.cancel`` can kill it)."""
        self.executed.append(sql)
        try:
            return self.engine.execute(sql, params, query_id=self.query_id, settings=self.settings)
        except (QueryCancelled, QueryTimeout):
            raise
        except EngineError as exc:
            message = re.split(r"\s+[Ii]n scope ", exc.message, maxsplit=1)[0]
            raise QueryError(f"Query failed: {message}") from exc

    def check(self) -> None:
        """Between engine queries, in long Python work: stop once the computation is cancelled or has run
        longer than ``max_execution_time`` (the engine enforces both only inside its own queries)."""
        if getattr(self.engine, "killed", False):
            raise QueryCancelled("the query was cancelled")
        limit = self.settings.get("max_execution_time")
        if limit and time.monotonic() - self.started > float(limit):
            raise QueryTimeout(f"the query ran longer than {limit} seconds")

    def has_person_overrides(self) -> bool:
        """Whether the project has any person merge (else ``person_id`` is the person: no join needed).

        Checked once per computation (a point lookup on the table's sort key), never cached across
        computations, so a merge is seen by the very next query.
        """
        if self._overrides is None:
            result = self.engine.execute(
                "SELECT 1 FROM person_overrides WHERE team_id = {team:UInt64} LIMIT 1",
                {"team": self.team_id},
                query_id=self.query_id,
                settings=self.settings,
            )
            self._overrides = bool(result.rows)
        return self._overrides

    def resolve_range(self, date_range: Any, interval: str, *, exact: bool = False) -> ResolvedRange:
        """A query's ``dateRange`` in this project's timezone ("all" starts at the earliest event);
        ``exact`` is PostHog's ``exact_timerange`` (``dates.resolve``)."""
        date_from = date_range.date_from if date_range else None
        earliest = self.earliest_timestamp() if date_from and date_from.strip() == "all" else None
        return resolve(
            date_from,
            date_range.date_to if date_range else None,
            interval,
            self.tz,
            self.now,
            explicit=bool(date_range and date_range.explicitDate),
            exact=exact,
            earliest=earliest,
            week_start=self.project.week_start_day,
        )

    def earliest_timestamp(self) -> datetime | None:
        result = self.execute(
            "SELECT min(timestamp) FROM events WHERE team_id = {team:UInt64} "
            "AND timestamp >= toDateTime64('2015-01-01 00:00:00', 6, 'UTC')",
            {"team": self.team_id},
        )
        value = result.rows[0][0] if result.rows else None
        if not value or str(value).startswith("1970"):
            return None
        moment = datetime.fromisoformat(str(value)).replace(tzinfo=ZoneInfo("UTC"))
        return moment.astimezone(self.tz)


class Runner(Protocol):
    """One query kind: ``calculate`` returns PostHog's response body (``results`` …)."""

    kind: ClassVar[str]

    def calculate(self) -> dict[str, Any]: ...

    @property
    def interval(self) -> str | None: ...

    def date_to(self) -> datetime | None: ...
