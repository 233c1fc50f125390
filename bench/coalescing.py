"""Benchmark: single-flight of identical insight refreshes, and cancel-to-stopped latency.

Starts the real insightd app on 127.0.0.1 (uvicorn in a thread of this process) over a fresh
embedded store, measures, prints a table and stops (bounded: every request has a timeout).

    .venv/bin/python -m bench.coalescing                 # the figures in bench/README.md
    .venv/bin/python -m bench.coalescing --rounds 3
    .venv/bin/python -m bench.coalescing --connections 1   # one query connection: queries queue

1. 50 concurrent identical refreshes (GET insights/{id}/?refresh=force_blocking) of a SQL insight
   whose query takes about a second: the leader is sent first, the 49 followers as soon as its engine
   query runs. Engine executions per round, latency of the leader vs the followers.
2. The same 50 fired at once at a trends insight over 1M events (a ~100 ms query).
3. Cancel: an endless query, then POST insights/cancel/; the cancel's response time, the waiting
   request's 400, and "stopped": the killed query has left the engine's ``system.processes`` (its
   connection is cleaned before it goes back to the pool).
4. A short query (count of 1M events) alone, and while a long one (a ~4 s cross join) runs: with
   the engine's pool of query connections it does not wait for the long one.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import chdb
import httpx

from bench.queries import serve
from insightd.execution.killable import engine_query_id
from insightd.services import accounts
from insightd.settings import Settings
from insightd.state import AppState

CONCURRENCY = 50
SQL_ROWS = 500
SMALL = f"(select uuid from events limit {SQL_ROWS})"
FINITE = f"select count() from {SMALL} a cross join {SMALL} b cross join {SMALL} c"
ENDLESS = f"{FINITE} cross join {SMALL} d"
LONG_ROWS = 180
LONG_SMALL = f"(select uuid from events limit {LONG_ROWS})"
LONG = " cross join ".join(f"{LONG_SMALL} {t}" for t in "abcd").join(("select count() from ", ""))
SHORT = "select count() from events"
TRENDS = {
    "kind": "InsightVizNode",
    "source": {
        "kind": "TrendsQuery",
        "series": [{"kind": "EventsNode", "event": "$pageview", "math": "dau"}],
        "dateRange": {"date_from": "-30d"},
        "breakdownFilter": {"breakdown": "$browser"},
    },
}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def metric(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def wait_until(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not get there in time")
        time.sleep(0.002)


def timed_get(client: httpx.Client, url: str, params: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.get(url, params=params)
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


def setup(folder: Path, connections: int) -> tuple[AppState, Settings, int, str]:
    settings = Settings(data_dir=folder, rate_limits="off", engine_connections=connections)  # type: ignore[arg-type]
    state = AppState.open(settings)
    with state.db.write() as session:
        project = accounts.create_project(session, "Bench")
        user = accounts.create_user(session, "bench@example.com", "Bench", [project.id])
        key, team = accounts.create_personal_api_key(session, user).value, project.id
    state.engine.execute(
        f"INSERT INTO events (uuid, team_id, event, distinct_id, person_id, properties, timestamp) "
        f"SELECT generateUUIDv4(), {team}, '$pageview', toString(number % 20000), generateUUIDv4(), "
        f"concat('{{\"$browser\": \"', ['Chrome','Firefox','Safari'][number % 3 + 1], '\"}}'), "
        f"now64(6) - toIntervalSecond(number % 2500000) FROM numbers(1000000)"
    )
    return state, settings, team, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=3, help="the engine's query connections")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="insightd-bench-coalescing-"))
    state, settings, team, key = setup(folder, args.connections)
    inspector = chdb.connect(str(folder / "events"))
    server = None
    try:
        server, _, port = serve(state, settings)
        base = f"http://127.0.0.1:{port}"
        limits = httpx.Limits(max_connections=CONCURRENCY + 8)
        client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120, limits=limits
        )
        pool = ThreadPoolExecutor(max_workers=CONCURRENCY + 4)

        def insight(c: httpx.Client, project: int, query: dict[str, Any]) -> str:
            created = c.post(f"/api/projects/{project}/insights/", json={"name": "bench", "query": query})
            created.raise_for_status()
            return f"/api/projects/{project}/insights/{created.json()['id']}/"

        # 1. leader first, then 49 followers while its engine query runs
        url = insight(client, team, {"kind": "HogQLQuery", "query": FINITE})
        leader_ms: list[float] = []
        follower_ms: list[float] = []
        staged_execs: list[float] = []
        for _ in range(args.rounds):
            before = metric(client, "insightd_query_executions_total")
            params = {"refresh": "force_blocking"}
            lead = pool.submit(timed_get, client, url, params)
            wait_until(lambda b=before: metric(client, "insightd_query_executions_total") > b)
            followers = [pool.submit(timed_get, client, url, params) for _ in range(CONCURRENCY - 1)]
            leader_ms.append(lead.result(120))
            follower_ms += [f.result(120) for f in followers]
            staged_execs.append(metric(client, "insightd_query_executions_total") - before)

        # 2. 50 at once on a trends insight over 1M events
        url = insight(client, team, TRENDS)
        burst_ms: list[float] = []
        burst_execs: list[float] = []
        for _ in range(args.rounds):
            before = metric(client, "insightd_query_executions_total")
            burst = [
                pool.submit(timed_get, client, url, {"refresh": "force_blocking"}) for _ in range(CONCURRENCY)
            ]
            burst_ms += [f.result(120) for f in burst]
            burst_execs.append(metric(client, "insightd_query_executions_total") - before)
        single_ms = [timed_get(client, url, {"refresh": "force_blocking"}) for _ in range(args.rounds)]

        # 3. cancel-to-stopped
        cancel_ms: list[float] = []
        waiter_ms: list[float] = []
        stopped_ms: list[float] = []
        for _ in range(args.rounds):
            qid = uuid.uuid4().hex
            marker = f"insightd_query_id:{engine_query_id(f'p{team}:{qid}')} */"
            body = {"query": {"kind": "HogQLQuery", "query": ENDLESS}, "client_query_id": qid}
            waiting: Future[httpx.Response] = pool.submit(
                client.post, f"/api/projects/{team}/query/", json=body
            )

            def runs(marker: str = marker, killed_too: bool = False) -> bool:
                out = inspector.query(
                    "SELECT count() FROM system.processes WHERE position(query, {m:String}) > 0 "
                    "AND position(query, 'system.processes') = 0"
                    + ("" if killed_too else " AND NOT is_cancelled"),
                    "CSV",
                    params={"m": marker},
                )
                return int(str(out).strip() or 0) > 0

            wait_until(runs)
            started = time.perf_counter()
            client.post(f"/api/projects/{team}/insights/cancel/", json={"client_query_id": qid})
            cancel_ms.append((time.perf_counter() - started) * 1000)
            assert waiting.result(30).status_code == 400
            waiter_ms.append((time.perf_counter() - started) * 1000)
            wait_until(lambda marker=marker: not runs(marker, killed_too=True))
            stopped_ms.append((time.perf_counter() - started) * 1000)

        # 4. a short query while a long one runs
        def query_ms(sql: str, qid: str | None = None) -> float:
            body: dict[str, Any] = {
                "query": {"kind": "HogQLQuery", "query": sql},
                "refresh": "force_blocking",
            }
            if qid is not None:
                body["client_query_id"] = qid
            started = time.perf_counter()
            client.post(f"/api/projects/{team}/query/", json=body).raise_for_status()
            return (time.perf_counter() - started) * 1000

        long_ms = [query_ms(LONG) for _ in range(2)]
        short_ms = [query_ms(SHORT) for _ in range(args.rounds)]
        beside_ms: list[float] = []
        for _ in range(args.rounds):
            qid = uuid.uuid4().hex
            marker = f"insightd_query_id:{engine_query_id(f'p{team}:{qid}')} */"
            long = pool.submit(query_ms, LONG, qid)
            wait_until(lambda marker=marker: runs(marker))
            beside_ms.append(query_ms(SHORT))
            long.result(120)

        print(f"\n{CONCURRENCY} identical refreshes x {args.rounds} rounds")
        print(f"{'scenario':<44} {'execs/round':>11} {'p50 ms':>8} {'p99 ms':>8}")
        print(
            f"{'SQL insight (~1 s): leader':<44} {statistics.mean(staged_execs):>11.1f} "
            f"{pct(leader_ms, 0.5):>8.0f} {pct(leader_ms, 0.99):>8.0f}"
        )
        print(
            f"{'SQL insight (~1 s): 49 followers':<44} {'':>11} "
            f"{pct(follower_ms, 0.5):>8.0f} {pct(follower_ms, 0.99):>8.0f}"
        )
        print(
            f"{'trends 1M events, 50 at once':<44} {statistics.mean(burst_execs):>11.1f} "
            f"{pct(burst_ms, 0.5):>8.0f} {pct(burst_ms, 0.99):>8.0f}"
        )
        print(
            f"{'trends 1M events, one request alone':<44} {1:>11.1f} "
            f"{pct(single_ms, 0.5):>8.0f} {pct(single_ms, 0.99):>8.0f}"
        )
        print(f"\ncancel (endless query, nobody else waiting) x {args.rounds}")
        print(f"{'':<44} {'p50 ms':>8} {'max ms':>8}")
        for name, values in (
            ("cancel request answered (201)", cancel_ms),
            ("waiting request answered (400 cancelled)", waiter_ms),
            ("engine stopped (left system.processes)", stopped_ms),
        ):
            print(f"{name:<44} {pct(values, 0.5):>8.0f} {max(values):>8.0f}")
        print(f"\nshort query while a long one runs, {args.connections} query connection(s)")
        print(f"{'':<44} {'p50 ms':>8} {'max ms':>8}")
        for name, values in (
            (f"long query alone ({LONG_ROWS}^4 cross join)", long_ms),
            ("short query alone (count of 1M events)", short_ms),
            ("short query while the long one runs", beside_ms),
        ):
            print(f"{name:<44} {pct(values, 0.5):>8.0f} {max(values):>8.0f}")
        client.close()
        pool.shutdown(wait=False)
    finally:
        if server is not None:
            server.should_exit = True
        state.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
