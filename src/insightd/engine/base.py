"""The engine interface every analytical backend implements.

insightd emits ClickHouse SQL only. The embedded engine is chDB (ClickHouse in process); the
scale-out engine is a ClickHouse server reached with clickhouse-connect running the same SQL.

Errors raised by engines::

    EngineError                 any failure reported by the engine
    ├── QueryCancelled          the query was killed (``cancel``) before it finished
    ├── QueryTimeout            the engine's max_execution_time ran out
    └── QuerySyntaxError        the SQL did not parse or named unknown columns/functions
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class EngineError(Exception):
    """The engine refused or failed a query; ``message`` is readable by a user."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class QueryCancelled(EngineError):
    pass


class QueryTimeout(EngineError):
    pass


class QuerySyntaxError(EngineError):
    pass


@dataclass
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    elapsed_ms: float = 0.0
    rows_read: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    """``execute`` runs one statement; ``insert``/``insert_arrow`` append rows; ``cancel`` kills by
    query id."""

    name: str

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        query_id: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> QueryResult: ...

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int: ...

    def insert_arrow(self, table: str, data: Any, *, dedup_token: str | None = None) -> int:
        """Append a ``pyarrow.Table``; a block re-sent with the same ``dedup_token`` is stored once."""
        ...

    def cancel(self, query_id: str) -> bool: ...

    def close(self) -> None: ...
