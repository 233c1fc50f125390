"""One project cannot take every engine connection: at most ``queries_per_project`` (by default one
less than the engine's connections) of its computations run at once, through the real server; the
others wait for a slot, and other projects' queries run meanwhile."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
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


def another_project_answers(server: ServerThread) -> None:
    other = new_tenant(server)
    insert_events(server, other.project_id, [Event("u", "$pageview", datetime(2024, 1, 1))])
    quick = post_query(other.client(), other, "select count() from events", uuid.uuid4().hex)
    assert quick.status_code == 200 and quick.json()["results"] == [[1]]
    other.close()


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

    another_project_answers(server)  # on the third connection

    assert cancel(client, heavy, ids[0]).status_code in (200, 201, 204)
    wait_until(lambda: running(server, heavy.project_id, ids[2]), "the third query to take the slot")
    for query_id in ids[1:]:
        cancel(client, heavy, query_id)
    assert {f.result(60).status_code for f in [*first, third]} == {400}
    engine_free(client, heavy)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_many_waiting_queries_of_one_project_do_not_hold_up_another(
    server: ServerThread,
    heavy: Tenant,  # noqa: F811
    pool: ThreadPoolExecutor,  # noqa: F811
) -> None:
    """Twelve slow queries of one project: two run, ten wait (each on a thread of its own, more than the
    old flight pool had), and another project's query still answers at once."""
    client = heavy.client(limits=httpx.Limits(max_connections=32))
    counters = Counters(server)
    ids = [f"many{i}" for i in range(12)]
    futures = [
        pool.submit(post_query, client, heavy, ENDLESS.replace("count()", f"count() + {i}"), query_id)
        for i, query_id in enumerate(ids)
    ]
    wait_until(lambda: counters.executions == 12, "twelve flights")
    wait_until(lambda: server.state.queries.slots.running(heavy.project_id) == 2, "two running")
    another_project_answers(server)
    for query_id in ids:
        cancel(client, heavy, query_id)
    assert {f.result(60).status_code for f in futures} == {400}
    engine_free(client, heavy)


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


def test_past_its_waiting_places_a_project_is_throttled_at_once() -> None:
    slots = ProjectSlots(1, max_waiting=1)

    def wait_long() -> None:
        with slots.slot(7, timeout=30, stopped=lambda: False):
            pass

    with ThreadPoolExecutor(1) as executor:
        with slots.slot(7, timeout=5, stopped=lambda: False):
            waiting = executor.submit(wait_long)  # takes the one waiting place
            started = time.monotonic()
            while slots._waiting.get(7, 0) == 0:
                assert time.monotonic() - started < 5
                time.sleep(0.001)
            started = time.monotonic()
            with pytest.raises(Throttled), slots.slot(7, timeout=30, stopped=lambda: False):
                pass
            assert time.monotonic() - started < 1  # at once, not after the 30 s
        waiting.result(5)  # it got the slot once the first one ended
