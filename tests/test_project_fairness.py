"""One project cannot take every engine connection: at most ``queries_per_project`` (by default one
less than the engine's connections) of its computations run at once, through the real server; the
others wait for a slot, and other projects' queries run meanwhile."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from insightd.engine.base import QueryCancelled
from insightd.errors import Throttled
from insightd.execution.fairness import ProjectSlots
from tests.queries.events import Event, insert_events
from tests.support import ServerThread, Tenant, new_tenant
from tests.test_cancel_coalescing import (
    ENDLESS,
    Counters,
    cancel,
    engine_free,
    heavy,  # noqa: F401 - a fixture
    pool,  # noqa: F401 - a fixture
    post_query,
    running,
    wait_until,
)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_project_runs_two_queries_at_once_and_others_still_run(
    server: ServerThread,
    heavy: Tenant,  # noqa: F811
    pool: ThreadPoolExecutor,  # noqa: F811
) -> None:
    client = heavy.client()
    counters = Counters(server)
    ids = [f"slow{i}" for i in range(3)]
    slow = [ENDLESS.replace("count()", f"count() + {i}") for i in range(3)]  # three computations
    first = [pool.submit(post_query, client, heavy, slow[i], ids[i]) for i in range(2)]
    wait_until(lambda: all(running(server, heavy.project_id, q) for q in ids[:2]), "two queries running")
    third = pool.submit(post_query, client, heavy, slow[2], ids[2])
    wait_until(lambda: counters.executions == 3, "the third flight")
    assert not running(server, heavy.project_id, ids[2])  # it waits for a slot of its project

    other = new_tenant(server)
    insert_events(server, other.project_id, [Event("u", "$pageview", datetime(2024, 1, 1))])
    quick = post_query(other.client(), other, "select count() from events", uuid.uuid4().hex)
    assert quick.status_code == 200 and quick.json()["results"] == [[1]]  # the third connection

    assert cancel(client, heavy, ids[0]).status_code in (200, 201, 204)
    wait_until(lambda: running(server, heavy.project_id, ids[2]), "the third query to take the slot")
    for query_id in ids[1:]:
        cancel(client, heavy, query_id)
    assert {f.result(60).status_code for f in [*first, third]} == {400}
    engine_free(client, heavy)
    other.close()


def test_a_waiting_computation_gives_up_when_cancelled_or_out_of_time() -> None:
    slots = ProjectSlots(1)
    with slots.slot(7, timeout=5, stopped=lambda: False):
        assert slots.running(7) == 1
        with pytest.raises(QueryCancelled), slots.slot(7, timeout=5, stopped=lambda: True):
            pass
        with pytest.raises(Throttled), slots.slot(7, timeout=0.2, stopped=lambda: False):
            pass
        with slots.slot(8, timeout=0.2, stopped=lambda: False):  # another project is not held up
            assert slots.running(8) == 1
    assert slots.running(7) == 0
