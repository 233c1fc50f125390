"""Single-flight and cancel through the real server, with real concurrent HTTP requests (issue 6).

Long queries come from SQL insights over a tenant's 600 events: a three-way cross join counts
216 million rows (a second or two), a four-way one would run for minutes (it only ever ends by
being killed). Synchronisation is by polling what the server shows (``/metrics``, the engine's
``system.processes``) with deadlines, never by sleeping.
"""

from __future__ import annotations

import functools
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from insightd.execution.killable import engine_query_id
from tests.queries.events import Event, insert_events
from tests.support import ServerThread, Tenant, new_tenant

# Coalescing does not depend on the metadata database: one backend is enough.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

ROWS = 600
FINITE = "select count() as n from events a cross join events b cross join events c"
ENDLESS = FINITE + " cross join events d"
CANCELLED = {
    "type": "validation_error",
    "code": "query_cancelled",
    "detail": "The query was cancelled.",
    "attr": None,
}


@pytest.fixture
def heavy(server: ServerThread, tenant: Tenant) -> Tenant:
    start = datetime(2024, 1, 1)
    events = [Event(f"u{i % 50}", "$pageview", start + timedelta(seconds=i)) for i in range(ROWS)]
    insert_events(server, tenant.project_id, events)
    return tenant


@pytest.fixture
def pool() -> Any:
    with ThreadPoolExecutor(max_workers=64) as executor:
        yield executor


def hogql(sql: str) -> dict[str, Any]:
    return {"kind": "HogQLQuery", "query": sql}


def metric(server: ServerThread, name: str, **labels: str) -> float:
    text = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class Counters:
    """Deltas of the server's query counters since this object was made."""

    NAMES = {
        "executions": ("insightd_query_executions_total", {}),
        "coalesced": ("insightd_query_coalesced_total", {}),
        "killed": ("insightd_query_cancellations_total", {"outcome": "killed"}),
        "cache_hits": ("insightd_cache_hits_total", {}),
        "cache_misses": ("insightd_cache_misses_total", {}),
    }

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.base = self._read()

    def _read(self) -> dict[str, float]:
        return {short: metric(self.server, name, **labels) for short, (name, labels) in self.NAMES.items()}

    def __getattr__(self, short: str) -> float:
        if short not in self.NAMES:
            raise AttributeError(short)
        name, labels = self.NAMES[short]
        return metric(self.server, name, **labels) - self.base[short]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> float:
    """Poll ``check`` until it holds; the seconds it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        time.sleep(0.005)
    return time.monotonic() - started


@functools.cache
def _inspector(path: str) -> Any:
    """A chDB connection of our own: the engine's query connection is busy running the query."""
    import chdb

    return chdb.connect(path)


def running(server: ServerThread, project_id: int, query_id: str) -> bool:
    """Whether the engine runs the computation of ``query_id`` right now, not killed (system.processes;
    a killed query's entry lingers, marked cancelled, until its connection runs the next query)."""
    marker = f"insightd_query_id:{engine_query_id(f'p{project_id}:{query_id}')} */"
    out = _inspector(str(server.state.engine.path)).query(  # type: ignore[attr-defined]
        "SELECT count() FROM system.processes WHERE position(query, {m:String}) > 0 "
        "AND position(query, 'system.processes') = 0 AND NOT is_cancelled",
        "CSV",
        params={"m": marker},
    )
    return int(str(out).strip() or 0) > 0


def engine_free(client: httpx.Client, tenant: Tenant) -> None:
    """Prove the engine stopped: its query connection runs one statement at a time, so a small query
    through the API completes only once the killed one has really ended."""
    probe = post_query(
        client, tenant, "select count() from events", uuid.uuid4().hex, refresh="force_blocking"
    )
    assert probe.json()["results"] == [[ROWS]]


def post_query(client: httpx.Client, tenant: Tenant, sql: str, query_id: str, **extra: Any) -> httpx.Response:
    body = {"query": hogql(sql), "client_query_id": query_id, **extra}
    return client.post(f"{tenant.base}/query/", json=body, timeout=60)


def cancel(client: httpx.Client, tenant: Tenant, query_id: str) -> httpx.Response:
    return client.post(f"{tenant.base}/insights/cancel/", json={"client_query_id": query_id})


def test_fifty_identical_requests_run_the_engine_once(
    server: ServerThread, heavy: Tenant, pool: ThreadPoolExecutor
) -> None:
    client = heavy.client(limits=httpx.Limits(max_connections=64))
    counters = Counters(server)
    # Four times FINITE's rows (a few seconds), so on a busy machine all 49 join before it ends.
    longer = FINITE + " cross join (select 1 from events limit 4) d"
    leader = pool.submit(post_query, client, heavy, longer, "lead")
    wait_until(lambda: counters.executions == 1, "the leader's flight")
    followers = [pool.submit(post_query, client, heavy, longer, f"f{i}") for i in range(49)]
    wait_until(lambda: counters.coalesced == 49, "49 followers to join")
    responses = [leader.result(60)] + [f.result(60) for f in followers]
    assert [r.status_code for r in responses] == [200] * 50
    assert {str(r.json()["results"]) for r in responses} == {str([[ROWS**3 * 4]])}
    assert counters.executions == 1


def test_every_waiter_passes_its_own_auth_checks(
    server: ServerThread, heavy: Tenant, pool: ThreadPoolExecutor
) -> None:
    owner = heavy.client()
    insight = owner.post(f"{heavy.base}/insights/", json={"name": "heavy", "query": hogql(FINITE)}).json()
    url = f"{heavy.base}/insights/{insight['id']}/"
    _, member_email = heavy.add_user()
    member = heavy.client(heavy.new_key(member_email, scopes=["insight:read"]))
    no_scope = heavy.client(heavy.new_key(member_email, scopes=["dashboard:read"]))
    outsider = new_tenant(server)
    stranger = outsider.client()
    anonymous = httpx.Client(base_url=server.base_url, timeout=30)
    counters = Counters(server)

    leader = pool.submit(owner.get, url, params={"refresh": "force_blocking", "client_query_id": "a"})
    wait_until(lambda: counters.executions == 1, "the leader's flight")
    refused = {
        "no insight:read": no_scope.get(url, params={"refresh": "force_blocking"}),
        "other project": stranger.get(url, params={"refresh": "force_blocking"}),
        "anonymous": anonymous.get(url, params={"refresh": "force_blocking"}),
    }
    follower = pool.submit(member.get, url, params={"refresh": "force_blocking", "client_query_id": "b"})
    wait_until(lambda: counters.coalesced == 1, "the member to join")

    assert {why: r.status_code for why, r in refused.items()} == {
        "no insight:read": 403,
        "other project": 403,
        "anonymous": 401,
    }
    assert all("result" not in r.json() for r in refused.values())
    assert leader.result(60).json()["result"] == follower.result(60).json()["result"] == [[ROWS**3]]
    assert counters.executions == 1
    anonymous.close()
    outsider.close()


def test_cancelled_leader_leaves_followers_their_result(
    server: ServerThread, heavy: Tenant, pool: ThreadPoolExecutor
) -> None:
    client = heavy.client()
    counters = Counters(server)
    leader = pool.submit(post_query, client, heavy, FINITE, "lead")
    wait_until(lambda: counters.executions == 1, "the leader's flight")
    followers = [pool.submit(post_query, client, heavy, FINITE, f"f{i}") for i in range(3)]
    wait_until(lambda: counters.coalesced == 3, "the followers to join")

    assert cancel(client, heavy, "lead").status_code == 201
    cancelled = leader.result(10)
    assert (cancelled.status_code, cancelled.json()) == (400, CANCELLED)
    assert running(server, heavy.project_id, "lead")  # the flight still runs for the followers
    assert [f.result(60).json()["results"] for f in followers] == [[[ROWS**3]]] * 3
    assert counters.executions == 1 and counters.killed == 0


def test_last_waiter_leaving_kills_the_engine_query(
    server: ServerThread, heavy: Tenant, pool: ThreadPoolExecutor
) -> None:
    client = heavy.client()
    counters = Counters(server)
    first = pool.submit(post_query, client, heavy, ENDLESS, "q1")
    wait_until(lambda: running(server, heavy.project_id, "q1"), "the engine to run q1")
    second = pool.submit(post_query, client, heavy, ENDLESS, "q2")
    wait_until(lambda: counters.coalesced == 1, "q2 to join")

    assert cancel(client, heavy, "q1").status_code == 201
    assert first.result(10).json() == CANCELLED
    assert running(server, heavy.project_id, "q1") and counters.killed == 0  # q2 still waits

    started = time.monotonic()
    response = client.delete(f"{heavy.base}/query/q2/")
    engine_free(client, heavy)
    stopped_after = time.monotonic() - started
    assert (response.status_code, response.json()) == (200, {"message": "Cancelled query on clickhouse"})
    assert (second.result(10).status_code, second.result().json()) == (400, CANCELLED)
    assert counters.killed == 1
    assert stopped_after < 1.0, f"the engine stopped {stopped_after * 1000:.0f} ms after the cancel"
    print(f"cancel-to-stopped: {stopped_after * 1000:.0f} ms")


def test_a_cancel_from_another_project_does_nothing(
    server: ServerThread, heavy: Tenant, pool: ThreadPoolExecutor
) -> None:
    client = heavy.client()
    outsider = new_tenant(server)
    other = outsider.client()
    waiting = pool.submit(post_query, client, heavy, ENDLESS, "shared-name")
    wait_until(lambda: running(server, heavy.project_id, "shared-name"), "the engine to run it")

    assert cancel(other, outsider, "shared-name").status_code == 201
    assert other.delete(f"{outsider.base}/query/shared-name/").status_code == 200
    # Another project's id in this project's URL is refused before anything is looked up.
    assert (
        other.post(f"{heavy.base}/insights/cancel/", json={"client_query_id": "shared-name"}).status_code
        == 403
    )
    assert running(server, heavy.project_id, "shared-name") and not waiting.done()

    assert cancel(client, heavy, "shared-name").status_code == 201
    assert waiting.result(10).json() == CANCELLED
    engine_free(client, heavy)
    outsider.close()


def test_a_client_that_disconnects_stops_the_engine_query(server: ServerThread, heavy: Tenant) -> None:
    counters = Counters(server)
    body = httpx.Request("POST", "/", json={"query": hogql(ENDLESS), "client_query_id": "gone"}).content
    head = (
        f"POST {heavy.base}/query/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {heavy.key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head.encode() + body)
        wait_until(lambda: running(server, heavy.project_id, "gone"), "the engine to run it")
    started = time.monotonic()
    wait_until(lambda: counters.killed == 1, "the server to notice and kill", 5)
    engine_free(heavy.client(), heavy)
    print(f"disconnect-to-stopped: {(time.monotonic() - started) * 1000:.0f} ms")


def test_cancelling_an_async_query_marks_its_status(server: ServerThread, heavy: Tenant) -> None:
    client = heavy.client()
    started = post_query(client, heavy, ENDLESS, "job-1", refresh="force_async")
    assert started.status_code == 202 and started.json()["query_status"]["id"] == "job-1"
    wait_until(lambda: running(server, heavy.project_id, "job-1"), "the engine to run the job")

    assert cancel(client, heavy, "job-1").status_code == 201
    response = client.get(f"{heavy.base}/query/job-1/")
    status = response.json()["query_status"]
    assert response.status_code == 400 and "cancelled" not in status  # PostHog's QueryStatus has no such key
    assert status["complete"] is True and status["error"] is True
    assert status["error_message"] == "The query was cancelled."
    engine_free(client, heavy)


def test_a_cancel_that_overtakes_its_query_still_cancels_it(server: ServerThread, heavy: Tenant) -> None:
    client = heavy.client()
    counters = Counters(server)
    query_id = f"early-{uuid.uuid4().hex[:6]}"
    assert cancel(client, heavy, query_id).status_code == 201
    response = post_query(client, heavy, ENDLESS, query_id)
    assert (response.status_code, response.json()) == (400, CANCELLED)
    assert counters.executions == 0


def test_cancel_endpoint_contract(server: ServerThread, tenant: Tenant) -> None:
    client = tenant.client()
    url = f"{tenant.base}/insights/cancel/"
    for body in ({}, {"other": 1}, None):
        response = client.post(url, json=body)
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "code": "invalid_input",
            "detail": "Field is required.",
            "attr": "client_query_id",
        }
    for value in ("nothing-running", "", 42, None, "x" * 5000):
        response = client.post(url, json={"client_query_id": value})
        assert (response.status_code, response.content) == (201, b"")
    _, email = tenant.add_user()
    no_read = tenant.client(tenant.new_key(email, scopes=["dashboard:read"]))
    assert no_read.post(url, json={"client_query_id": "x"}).status_code == 403
    assert no_read.delete(f"{tenant.base}/query/x/").status_code == 403


def test_metrics_count_cache_hits_misses_and_durations(server: ServerThread, heavy: Tenant) -> None:
    client = heavy.client()
    counters = Counters(server)
    durations = metric(server, "insightd_query_duration_seconds_count")
    query = {"query": hogql("select count() from events")}
    # The query endpoint computes on a miss even when asked for the cache only (PostHog).
    forced = client.post(f"{heavy.base}/query/", json={**query, "refresh": "force_cache"}).json()
    assert forced["results"] == [[ROWS]] and forced["is_cached"] is False
    assert client.post(f"{heavy.base}/query/", json=query).json()["is_cached"] is True
    assert (counters.cache_misses, counters.cache_hits, counters.executions) == (1, 1, 1)
    assert metric(server, "insightd_query_duration_seconds_count") == durations + 1
    text = httpx.get(f"{server.base_url}/metrics").text
    assert 'route="/api/projects/{project_id}/query/"' in text and "insightd_http_request_duration" in text


def test_deleting_a_running_async_query_forgets_it(server: ServerThread, heavy: Tenant) -> None:
    """PostHog's DELETE /query/{id}/: the query is cancelled and its status deleted (a later GET is 404)."""
    client = heavy.client()
    started = post_query(client, heavy, ENDLESS, "job-2", refresh="force_async")
    assert started.status_code == 202
    wait_until(lambda: running(server, heavy.project_id, "job-2"), "the engine to run the job")
    deleted = client.delete(f"{heavy.base}/query/job-2/")
    assert (deleted.status_code, deleted.json()) == (200, {"message": "Cancelled query on clickhouse"})
    assert client.get(f"{heavy.base}/query/job-2/").status_code == 404
    engine_free(client, heavy)
