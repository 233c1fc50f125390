"""Single-flight on real threads: one execution, shared results, cancels that respect sharing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from insightd.coalescing import Cancelled, LocalCoalescer
from insightd.metrics import Metrics


class Job:
    """A computation that blocks until released or killed, counting its executions."""

    def __init__(self, result: Any = "rows", fail_first: BaseException | None = None) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.killed: list[str] = []
        self.runs = 0
        self.result = result
        self.fail_first = fail_first
        self._lock = threading.Lock()

    def compute(self, flight_id: str) -> Any:
        with self._lock:
            self.runs += 1
            run = self.runs
        self.started.set()
        while not self.release.wait(0.005):
            if flight_id in self.killed:
                raise RuntimeError("killed by the engine")
        if self.fail_first is not None and run == 1:
            raise self.fail_first
        return f"{self.result}-{run}"

    def kill(self, flight_id: str) -> None:
        self.killed.append(flight_id)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def coalescer(metrics: Metrics) -> Iterator[LocalCoalescer]:
    running = LocalCoalescer(metrics)
    yield running
    running.close()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=60) as executor:
        yield executor


def wait_for_waiters(coalescer: LocalCoalescer, key: str, count: int) -> None:
    deadline = time.monotonic() + 5
    while coalescer.waiting(key) < count:
        assert time.monotonic() < deadline, f"only {coalescer.waiting(key)} waiters"
        time.sleep(0.002)


def value(metrics: Metrics, name: str, **labels: str) -> float:
    sample = metrics.registry.get_sample_value(name, labels or None)
    return sample or 0.0


def test_fifty_identical_requests_execute_once(
    coalescer: LocalCoalescer, metrics: Metrics, pool: ThreadPoolExecutor
) -> None:
    job = Job()
    futures = [pool.submit(coalescer.run, "k", f"c{i}", job.compute, job.kill) for i in range(50)]
    wait_for_waiters(coalescer, "k", 50)
    job.release.set()
    assert {f.result(5) for f in futures} == {"rows-1"}
    assert job.runs == 1
    assert value(metrics, "insightd_query_executions_total") == 1
    assert value(metrics, "insightd_query_coalesced_total") == 49


def test_different_keys_run_separately(coalescer: LocalCoalescer, pool: ThreadPoolExecutor) -> None:
    a, b = Job("a"), Job("b")
    fa = pool.submit(coalescer.run, "ka", "c1", a.compute, a.kill)
    fb = pool.submit(coalescer.run, "kb", "c2", b.compute, b.kill)
    a.release.set()
    b.release.set()
    assert (fa.result(5), fb.result(5)) == ("a-1", "b-1")


def test_cancelling_one_waiter_keeps_the_query_for_the_others(
    coalescer: LocalCoalescer, metrics: Metrics, pool: ThreadPoolExecutor
) -> None:
    job = Job()
    leader = pool.submit(coalescer.run, "k", "leader", job.compute, job.kill)
    job.started.wait(5)
    follower = pool.submit(coalescer.run, "k", "follower", job.compute, job.kill)
    wait_for_waiters(coalescer, "k", 2)
    assert coalescer.cancel("leader") is True
    with pytest.raises(Cancelled):
        leader.result(5)
    assert job.killed == []  # somebody still waits
    job.release.set()
    assert follower.result(5) == "rows-1"
    assert value(metrics, "insightd_query_cancellations_total", outcome="requested") == 1
    assert value(metrics, "insightd_query_cancellations_total", outcome="killed") == 0


def test_last_waiter_leaving_kills_the_engine_query(
    coalescer: LocalCoalescer, metrics: Metrics, pool: ThreadPoolExecutor
) -> None:
    job = Job()
    first = pool.submit(coalescer.run, "k", "a", job.compute, job.kill)
    job.started.wait(5)
    second = pool.submit(coalescer.run, "k", "b", job.compute, job.kill)
    wait_for_waiters(coalescer, "k", 2)
    coalescer.cancel("a")
    coalescer.cancel("b")
    for future in (first, second):
        with pytest.raises(Cancelled):
            future.result(5)
    assert job.killed == ["a"]  # the flight carries the first waiter's id
    assert value(metrics, "insightd_query_cancellations_total", outcome="killed") == 1


def test_cancel_from_a_non_waiting_client_only_kills_an_orphan(
    coalescer: LocalCoalescer, pool: ThreadPoolExecutor
) -> None:
    job = Job()
    waiting = pool.submit(coalescer.run, "k", "a", job.compute, job.kill)
    job.started.wait(5)
    assert coalescer.cancel("someone-else") is False
    assert coalescer.cancel_flight("a") is False  # "a" still waits on it
    assert job.killed == []
    job.release.set()
    assert waiting.result(5) == "rows-1"


def test_failed_flight_is_not_shared_a_follower_takes_over(
    coalescer: LocalCoalescer, metrics: Metrics, pool: ThreadPoolExecutor
) -> None:
    job = Job(fail_first=ValueError("leader's failure"))
    leader = pool.submit(coalescer.run, "k", "leader", job.compute, job.kill)
    job.started.wait(5)
    followers = [pool.submit(coalescer.run, "k", f"f{i}", job.compute, job.kill) for i in range(3)]
    wait_for_waiters(coalescer, "k", 4)
    job.release.set()
    with pytest.raises(ValueError, match="leader's failure"):
        leader.result(5)
    assert {f.result(5) for f in followers} == {"rows-2"}
    assert job.runs == 2
    assert value(metrics, "insightd_query_executions_total") == 2


def test_new_request_after_landing_starts_a_new_flight(coalescer: LocalCoalescer) -> None:
    job = Job()
    job.release.set()
    assert coalescer.run("k", "a", job.compute, job.kill) == "rows-1"
    assert coalescer.run("k", "b", job.compute, job.kill) == "rows-2"


def test_a_reused_waiter_id_does_not_merge_two_waits(
    coalescer: LocalCoalescer, pool: ThreadPoolExecutor
) -> None:
    job = Job()
    futures: list[Future[Any]] = [
        pool.submit(coalescer.run, "k", "same", job.compute, job.kill) for _ in range(3)
    ]
    wait_for_waiters(coalescer, "k", 3)
    job.release.set()
    assert [f.result(5) for f in futures] == ["rows-1"] * 3


def test_a_failure_repeated_by_the_takeover_is_shared(
    coalescer: LocalCoalescer, metrics: Metrics, pool: ThreadPoolExecutor
) -> None:
    class AlwaysFails(Job):
        def compute(self, flight_id: str) -> Any:
            super().compute(flight_id)
            raise ValueError(f"bad query ({flight_id})")

    job = AlwaysFails()
    leader = pool.submit(coalescer.run, "k", "leader", job.compute, job.kill)
    job.started.wait(5)
    followers = [pool.submit(coalescer.run, "k", f"f{i}", job.compute, job.kill) for i in range(5)]
    wait_for_waiters(coalescer, "k", 6)
    job.release.set()
    for future in [leader, *followers]:
        with pytest.raises(ValueError, match="bad query"):
            future.result(5)
    assert job.runs == 2  # the leader's run and one takeover, not one run per follower


def test_a_cancel_that_arrives_before_its_wait_still_cancels_it(coalescer: LocalCoalescer) -> None:
    job = Job()
    assert coalescer.cancel("early") is False
    with pytest.raises(Cancelled):
        coalescer.run("k", "early", job.compute, job.kill)
    assert job.runs == 0
    job.release.set()
    assert coalescer.run("k", "early", job.compute, job.kill) == "rows-1"  # remembered once only
