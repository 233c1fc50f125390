"""chDB: ClickHouse running inside this process, data in ``<data-dir>/events``.

One process may own a chDB data directory at a time. Queries carry their id in a comment
(``/* insightd_query_id:<id> */``) so that ``cancel`` can ``KILL QUERY`` them from a second
connection while the first one is blocked running them (chDB releases the GIL meanwhile).

A chDB connection runs one statement at a time, so queries borrow one of a small pool of
connections to the same data directory and independent queries run concurrently. A connection whose
query failed (killed, typically) is cleaned before it is lent again: chDB hands a killed query's
unread output to the next query on its connection, and keeps it in ``system.processes`` until then.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from insightd.engine.base import EngineError, QueryCancelled, QueryResult, QuerySyntaxError, QueryTimeout

_QUERY_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")
_CODE = re.compile(r"Code: (\d+)")
_SYNTAX_CODES = {46, 47, 60, 62, 36, 43, 53, 386, 184, 215}
DEFAULT_CONNECTIONS = 3
# Per query, and for all concurrent queries together: the pool's queries cannot take all 24 GiB.
DEFAULT_SETTINGS: dict[str, Any] = {
    "max_threads": 2,
    "max_memory_usage": 6 * 1024**3,
    "max_memory_usage_for_user": 16 * 1024**3,
    "output_format_json_quote_64bit_integers": 0,
    "output_format_json_quote_decimals": 0,
}


_TOO_MANY_BYTES = 396  # ClickHouse's TOO_MANY_ROWS_OR_BYTES


def _map_error(exc: Exception) -> EngineError:
    text = str(exc)
    match = _CODE.search(text)
    code = int(match.group(1)) if match else None
    message = re.sub(r"\s*\(version [^)]*\)", "", text).strip()
    message = re.sub(r"^Code: \d+\.\s*DB::Exception:\s*", "", message)
    if code == 394:
        return QueryCancelled("The query was cancelled.", code)
    if code == 159:
        return QueryTimeout("The query took too long and was stopped.", code)
    if code in _SYNTAX_CODES:
        return QuerySyntaxError(message, code)
    return EngineError(message, code)


def _last_document(text: str) -> Any:
    """The query's JSON output. After a ``KILL QUERY``, chDB hands the killed query's unread output
    to the next query on the same connection, ahead of its own: that leftover is skipped."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        match = re.search(r"unexpected content after document: .*\(char (\d+)\)", str(exc))
        if match is None:
            raise
        return _last_document(text[int(match.group(1)) :].lstrip())


def _setting_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class _Pool:
    """A fixed set of query connections, each lent to one borrower at a time (the most recently
    returned first). A connection given back after a failure is cleaned, or replaced if it fails."""

    def __init__(self, connect: Callable[[], Any], size: int) -> None:
        self._connect = connect
        self._lock = threading.Lock()
        self._all = [connect() for _ in range(size)]
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        for conn in self._all:
            self._idle.put(conn)

    @contextlib.contextmanager
    def borrow(self) -> Iterator[Any]:
        conn = self._idle.get()
        failed = True
        try:
            yield conn
            failed = False
        finally:
            self._idle.put(self._clean(conn) if failed else conn)

    def _clean(self, conn: Any) -> Any:
        """Run a trivial query: it takes a killed query's leftover output and ends its entry. A
        connection that fails even that is replaced (kept if no new one opens: never raises, and
        the pool never shrinks, so borrowers cannot wait forever)."""
        try:
            conn.query("SELECT 1", "CSV")
            return conn
        except Exception:
            try:
                fresh = self._connect()
            except Exception:
                return conn
            with contextlib.suppress(Exception):
                conn.close()
            with self._lock:
                self._all = [fresh if c is conn else c for c in self._all]
            return fresh

    def close(self) -> None:
        with self._lock:
            conns = list(self._all)
        for conn in conns:
            with contextlib.suppress(Exception):  # best effort at shutdown
                conn.close()


class ChDBEngine:
    name = "chdb"

    def __init__(
        self, path: Path, settings: Mapping[str, Any] | None = None, *, connections: int = DEFAULT_CONNECTIONS
    ) -> None:
        import chdb  # heavy: imported only when an engine is opened

        if connections < 1:
            raise ValueError("a chDB engine needs at least one query connection")
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self.connections = connections
        self._queries = _Pool(lambda: chdb.connect(str(path)), connections)
        self._control = chdb.connect(str(path))  # for KILL QUERY, while query connections are busy
        self._control_lock = threading.Lock()
        self._writer = chdb.connect(str(path))  # inserts, so they never share a connection with queries
        self._lock = threading.Lock()

    def _sql(self, sql: str, query_id: str | None, settings: Mapping[str, Any] | None) -> str:
        """Append the engine's SETTINGS to a SELECT, and the query id as a trailing comment."""
        text = sql.strip().rstrip(";")
        if text.lstrip("( \n").upper().startswith(("SELECT", "WITH")):
            merged = {**self.settings, **(settings or {})}
            clause = ", ".join(f"{k} = {_setting_value(v)}" for k, v in merged.items())
            text = f"{text}\nSETTINGS {clause}"
        if query_id is not None:
            if not _QUERY_ID.match(query_id):
                raise EngineError(f"invalid query id {query_id!r}")
            text = f"{text}\n/* insightd_query_id:{query_id} */"
        return text

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        query_id: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> QueryResult:
        statement = self._sql(sql, query_id, settings)
        started = time.perf_counter()
        try:
            with self._queries.borrow() as conn:
                result = conn.query(statement, "JSONCompact", params=dict(params or {}))
                raw = result.bytes() if hasattr(result, "bytes") else bytes(result)
        except Exception as exc:  # chDB raises RuntimeError-like errors for engine failures
            raise _map_error(exc) from exc
        elapsed = (time.perf_counter() - started) * 1000
        if not raw:
            return QueryResult(columns=[], types=[], rows=[], elapsed_ms=elapsed)
        cap = (settings or {}).get("max_result_bytes") or self.settings.get("max_result_bytes")
        if cap and len(raw) > int(cap):  # chDB checks it per block only when a query has several
            raise EngineError(f"Limit for result exceeded, max bytes: {int(cap)}", _TOO_MANY_BYTES)
        payload = _last_document(raw.decode())
        meta = payload.get("meta", [])
        return QueryResult(
            columns=[m["name"] for m in meta],
            types=[m["type"] for m in meta],
            rows=payload.get("data", []),
            elapsed_ms=elapsed,
            rows_read=int(payload.get("statistics", {}).get("rows_read", 0)),
        )

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        body = b"\n".join(orjson.dumps(dict(r)) for r in rows)
        try:
            with self._lock:
                self._writer.query(f"INSERT INTO {table} FORMAT JSONEachRow\n" + body.decode())
        except Exception as exc:
            raise _map_error(exc) from exc
        return len(rows)

    supports_computed_columns = True

    def insert_arrow(
        self,
        table: str,
        data: Any,
        *,
        dedup_token: str | None = None,
        computed: Mapping[str, str] | None = None,
        unique_keys: bool = False,
    ) -> int:
        """Append a pyarrow Table (columns named like the target's). With ``dedup_token``, a block
        already inserted under the same token (within the table's deduplication window) is skipped.
        ``computed`` adds columns (materialised ones too) from trusted SQL expressions over the block.
        ``unique_keys``: the caller guarantees no two rows share a sorting key, so a Replacing table
        skips collapsing the block on insert (``optimize_on_insert``; 40 % of an ``events`` insert)."""
        if data.num_rows == 0:
            return 0
        extra = dict(computed or {})
        if not all(_QUERY_ID.match(name) for name in (table, *extra)):
            raise EngineError(f"invalid table or column name in {table!r}")
        columns = ", ".join(f"`{name}`" for name in (*data.column_names, *extra))
        options = []
        if dedup_token is not None:
            options.append(f"insert_deduplication_token = {_setting_value(dedup_token)}")
        if extra:
            options.append("insert_allow_materialized_columns = 1")
        if unique_keys:
            options.append("optimize_on_insert = 0")
        settings = f" SETTINGS {', '.join(options)}" if options else ""
        select = ", ".join(("*", *extra.values()))
        insightd_block = data  # noqa: F841 - chDB's Python() table function finds it by name
        with self._lock:
            try:
                self._writer.query(
                    f"INSERT INTO {table} ({columns}){settings} SELECT {select} FROM Python(insightd_block)"
                )
            except Exception as exc:
                raise _map_error(exc) from exc
        return int(data.num_rows)

    def query_arrow(self, sql: str, data: Any) -> list[list[Any]]:
        """Run a SELECT that reads the pyarrow Table ``data`` as ``Python(insightd_block)``
        (on the insert connection: the table function finds the block by name in this frame)."""
        insightd_block = data  # noqa: F841
        with self._lock:
            try:
                result = self._writer.query(sql, "JSONCompact")
            except Exception as exc:
                raise _map_error(exc) from exc
        raw = result.bytes() if hasattr(result, "bytes") else bytes(result)
        return list(orjson.loads(raw).get("data", [])) if raw else []

    def cancel(self, query_id: str) -> bool:
        if not _QUERY_ID.match(query_id):
            return False
        marker = f"insightd_query_id:{query_id} */"
        try:
            with self._control_lock:  # one chDB connection serves one call at a time (two at once hang)
                out = self._control.query(
                    "KILL QUERY WHERE query LIKE {pattern:String} AND query NOT LIKE '%KILL QUERY%' ASYNC",
                    "CSV",
                    params={"pattern": f"%{marker}%"},
                )
        except Exception:
            return False
        return bool(str(out).strip())

    def close(self) -> None:
        for conn in (self._writer, self._control):
            with contextlib.suppress(Exception):  # best effort at shutdown
                conn.close()
        self._queries.close()
