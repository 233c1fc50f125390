"""Independent queries run concurrently on the chDB engine (its pool of query connections).

At the engine level with real chDB (the process's shared engine): a long query that only ends by
being killed (or by its time guard) runs on one connection while short queries answer on others.
Synchronisation is by polling ``system.processes``, never by sleeping.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from insightd.engine.base import QueryCancelled
from insightd.engine.chdb import ChDBEngine
from tests.support import process_engine

# Minutes of hashing on one thread; the time guard only matters if a kill is lost.
LONG = "SELECT count() AS n FROM numbers(100000000000) WHERE sipHash64(number) % 7 = 3"
GUARD = {"max_execution_time": 60, "max_threads": 1}
SHORT_BOUND_SECONDS = 2.0  # a short query answers in milliseconds; the long one runs for minutes


@pytest.fixture
def engine() -> ChDBEngine:
    engine = process_engine()
    assert isinstance(engine, ChDBEngine)
    return engine


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=8) as executor:
        yield executor


def wait_until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.005)


@functools.cache
def _inspector(path: str) -> Any:
    """A chDB connection of our own, to look at ``system.processes``."""
    import chdb

    return chdb.connect(path)


def processes(engine: ChDBEngine, marker: str, *, killed_too: bool = False) -> int:
    """How many queries whose id starts with ``marker`` are in the engine's ``system.processes``
    (a killed one lingers, marked cancelled, until its connection runs another query)."""
    out = _inspector(str(engine.path)).query(
        "SELECT count() FROM system.processes WHERE position(query, {m:String}) > 0 "
        "AND position(query, 'system.processes') = 0" + ("" if killed_too else " AND NOT is_cancelled"),
        "CSV",
        params={"m": f"insightd_query_id:{marker}"},
    )
    return int(str(out).strip() or 0)


def running(engine: ChDBEngine, query_id: str) -> bool:
    return processes(engine, query_id + " */") > 0


def start_long(engine: ChDBEngine, pool: ThreadPoolExecutor) -> tuple[str, Future[Any]]:
    query_id = f"long-{uuid.uuid4().hex}"
    future = pool.submit(engine.execute, LONG, query_id=query_id, settings=GUARD)
    wait_until(lambda: running(engine, query_id), "the long query to start")
    return query_id, future


def stop(engine: ChDBEngine, query_id: str, future: Future[Any]) -> None:
    wait_until(lambda: engine.cancel(query_id) or future.done(), "the kill to land")
    with pytest.raises(QueryCancelled):
        future.result(timeout=30)


def test_a_short_query_answers_while_a_long_one_runs(engine: ChDBEngine, pool: ThreadPoolExecutor) -> None:
    query_id, long = start_long(engine, pool)
    try:
        started = time.monotonic()
        result = engine.execute("SELECT 40 + 2 AS answer", query_id=f"short-{uuid.uuid4().hex}")
        took = time.monotonic() - started
        assert result.rows == [[42]]
        assert took < SHORT_BOUND_SECONDS, f"the short query waited {took:.2f}s behind the long one"
        assert not long.done() and running(engine, query_id)
    finally:
        stop(engine, query_id, long)
    assert not running(engine, query_id)


def test_the_killed_connection_is_clean_for_the_next_queries(
    engine: ChDBEngine, pool: ThreadPoolExecutor
) -> None:
    """Kill long queries on every pool connection; afterwards each connection answers its own query
    (no leftover output of the killed one) and none of the killed queries lingers."""
    started = [start_long(engine, pool) for _ in range(engine.connections)]
    for query_id, future in started:
        stop(engine, query_id, future)
    assert processes(engine, "long-", killed_too=True) == 0  # no killed query lingers
    answers = list(pool.map(lambda i: engine.execute(f"SELECT {i} AS i").rows, range(engine.connections * 3)))
    assert answers == [[[i]] for i in range(engine.connections * 3)]


def test_more_queries_than_connections_wait_their_turn(engine: ChDBEngine, pool: ThreadPoolExecutor) -> None:
    """With every connection busy, the next query waits for one to come back, then runs."""
    started = [start_long(engine, pool) for _ in range(engine.connections)]
    queued = pool.submit(engine.execute, "SELECT 7 AS seven")
    try:
        with pytest.raises(TimeoutError):
            queued.result(timeout=0.3)
    finally:
        query_id, future = started[0]
        stop(engine, query_id, future)
    assert queued.result(timeout=SHORT_BOUND_SECONDS).rows == [[7]]
    for query_id, future in started[1:]:
        stop(engine, query_id, future)
