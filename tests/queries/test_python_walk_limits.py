"""Funnels walked in Python (here: unordered, with one event in both steps) stop at the time limit
and on cancel, as engine queries do, instead of running on after the engine's limit."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from insightd.engine.base import QueryCancelled, QueryTimeout
from insightd.execution.killable import KillableEngine
from insightd.queries.registry import parse_query, runner_for
from insightd.queries.runner import QueryContext
from tests.queries.events import Event, ev, insert_events
from tests.support import ServerThread, new_tenant

QUERY = {
    "kind": "FunnelsQuery",
    "series": [ev("a"), ev("a")],
    "dateRange": {"date_from": "2024-01-01", "date_to": "2024-01-03"},
    "breakdownFilter": {"breakdown": "$browser"},
    "funnelsFilter": {"funnelOrderType": "unordered"},
}


def _context(server: ServerThread, **fields: object) -> QueryContext:
    tenant = new_tenant(server)
    at = datetime(2024, 1, 2, 9)
    insert_events(
        server, tenant.project_id, [Event(f"p{i}", "a", at + timedelta(seconds=i)) for i in range(50)]
    )
    engine = KillableEngine(server.state.engine, f"q{tenant.project_id}")
    return QueryContext(
        team_id=tenant.project_id,
        engine=engine,
        query_id=engine.query_id,
        now=datetime.now(UTC),
        settings={"max_execution_time": 60},
        **fields,  # type: ignore[arg-type]
    )


def test_python_walk_stops_at_the_time_limit(server: ServerThread) -> None:
    ctx = _context(server, started=time.monotonic() - 61)  # as if the engine had taken 61 s already
    with pytest.raises(QueryTimeout):
        runner_for(parse_query(QUERY), ctx).calculate()


def test_a_cancelled_computation_stops_between_engine_queries(server: ServerThread) -> None:
    ctx = _context(server)
    runner = runner_for(parse_query(QUERY), ctx)
    assert runner.calculate()["results"][0][0]["count"] == 50  # walks fine while not cancelled
    ctx.check()
    assert isinstance(ctx.engine, KillableEngine)
    ctx.engine.kill()  # what a cancel does: the Python walk's next check stops it
    with pytest.raises(QueryCancelled):
        ctx.check()
