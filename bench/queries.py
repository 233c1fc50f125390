"""Benchmark: insight queries through the API (refresh=force_blocking) vs the same hand-written SQL.

Generates N events (default 10M, 200k users, 30 days) straight into a fresh embedded chDB store with
one ``INSERT … SELECT FROM numbers()``, starts the real insightd app (uvicorn in a thread of this
process, so the hand-written SQL runs on the very same engine), measures, prints a table and stops.

    .venv/bin/python -m bench.queries                    # the figures in bench/README.md
    .venv/bin/python -m bench.queries --events 1000000 --runs 5
    .venv/bin/python -m bench.queries --cache            # reuse bench/out/queries-<N>/ (gitignored)

For each query: p50 of POST /query/ with refresh=force_blocking (HTTP round trip), p50 of the
hand-written ClickHouse query via ``engine.execute`` (the two run alternately) and the ratio; plus a
cached read (force_cache).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from insightd.api.app import create_app
from insightd.services import accounts
from insightd.settings import Settings
from insightd.state import AppState

USERS = 200_000
DAYS = 30
EVENTS = [
    "$pageview",
    "$pageview",
    "$pageview",
    "$autocapture",
    "$autocapture",
    "signup",
    "purchase",
    "$leave",
]
BROWSERS = [
    "Chrome",
    "Firefox",
    "Safari",
    "Edge",
    "Opera",
    "Brave",
    "Vivaldi",
    "Samsung",
    "UC",
    "Yandex",
    "Lynx",
]


def generate(state: AppState, team: int, events: int, now: datetime) -> float:
    started = time.perf_counter()
    names = "[" + ",".join(f"'{e}'" for e in EVENTS) + "]"
    browsers = "[" + ",".join(f"'{b}'" for b in BROWSERS) + "]"
    start = (now - timedelta(days=DAYS)).strftime("%Y-%m-%d %H:%M:%S")
    state.engine.execute(
        f"""
        INSERT INTO events (uuid, team_id, event, distinct_id, person_id, properties, timestamp)
        SELECT generateUUIDv4(number), {team}, {names}[1 + (cityHash64(number, 1) % {len(EVENTS)})],
               concat('u', toString(cityHash64(number, 2) % {USERS})) AS did,
               reinterpretAsUUID(MD5(did)),
               concat('{{"$browser": "', {browsers}[1 + (cityHash64(did) % {len(BROWSERS)})],
                      '", "$session_id": "s', toString(intDiv(number, 20)), '"}}'),
               toDateTime64('{start}', 6, 'UTC') + toIntervalSecond(cityHash64(number, 3) % {DAYS * 86400})
        FROM numbers({events})
        """
    )
    state.engine.execute("OPTIMIZE TABLE events FINAL")
    return time.perf_counter() - started


def queries(team: int, now: datetime) -> list[tuple[str, dict[str, Any], str]]:
    start = (now - timedelta(days=DAYS - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    date_range = {"date_from": f"-{DAYS - 1}d"}
    lo, hi = start.strftime("%Y-%m-%d %H:%M:%S"), now.strftime("%Y-%m-%d 23:59:59.999999")
    where = f"team_id = {team} AND timestamp >= '{lo}' AND timestamp <= '{hi}'"
    pv = {"kind": "EventsNode", "event": "$pageview"}
    funnel_events = "['$pageview', 'signup', 'purchase']"
    return [
        (
            "daily count of $pageview, 30 days",
            {"kind": "TrendsQuery", "series": [pv], "dateRange": date_range},
            f"SELECT toStartOfDay(timestamp) d, count() FROM events WHERE {where} AND event = '$pageview' "
            "GROUP BY d ORDER BY d",
        ),
        (
            "daily unique users (dau)",
            {"kind": "TrendsQuery", "series": [{**pv, "math": "dau"}], "dateRange": date_range},
            f"SELECT toStartOfDay(timestamp) d, uniqExact(person_id) FROM events WHERE {where} "
            "AND event = '$pageview' GROUP BY d ORDER BY d",
        ),
        (
            "breakdown by $browser, top 10",
            {
                "kind": "TrendsQuery",
                "series": [pv],
                "dateRange": date_range,
                "breakdownFilter": {"breakdown": "$browser", "breakdown_limit": 10},
            },
            f"SELECT toStartOfDay(timestamp) d, mat_browser, count() FROM events WHERE {where} "
            "AND event = '$pageview' GROUP BY d, mat_browser ORDER BY d",
        ),
        (
            "3-step funnel, 14-day window",
            {
                "kind": "FunnelsQuery",
                "series": [
                    pv,
                    {"kind": "EventsNode", "event": "signup"},
                    {"kind": "EventsNode", "event": "purchase"},
                ],
                "dateRange": date_range,
                "funnelsFilter": {"funnelWindowInterval": 14, "funnelWindowIntervalUnit": "day"},
            },
            "SELECT countIf(l >= 1), countIf(l >= 2), countIf(l >= 3) FROM (SELECT person_id, "
            "windowFunnel(14 * 86400)(toDateTime(timestamp), event = '$pageview', event = 'signup', "
            f"event = 'purchase') AS l FROM events WHERE {where} AND event IN {funnel_events} "
            "GROUP BY person_id)",
        ),
    ]


def p50_pair(first: Callable[[], Any], second: Callable[[], Any], runs: int) -> tuple[float, float]:
    """The p50 of each of two computations, run alternately: a slower or busier spell of the machine
    (runs here vary by ±30 %) weighs on both, so their ratio is fair."""
    first()
    second()  # warm up
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for fn, out in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            fn()
            out.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def p50(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def serve(state: AppState, settings: Settings) -> tuple[uvicorn.Server, threading.Thread, int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    app = create_app(settings, state=state)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    return server, thread, port


CACHE_HOURS = 12  # a cached data set older than this is generated anew (its 30 days drift from "now")


def open_dataset(events: int, cache: bool) -> tuple[AppState, Settings, Path, int, str]:
    """A store holding ``events`` generated events: fresh in a temp dir, or reused from bench/out/."""
    folder = Path(__file__).parent / "out" / f"queries-{events}"
    meta_path = folder / "bench.json"
    if cache and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if time.time() - meta["generated_at"] < CACHE_HOURS * 3600:
            settings = Settings(data_dir=folder, rate_limits="off")  # type: ignore[arg-type]
            print(f"reusing {events:,} events from {folder}")
            return AppState.open(settings), settings, folder, meta["team"], meta["key"]
    if cache:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="insightd-bench-"))
    settings = Settings(data_dir=folder, rate_limits="off")  # type: ignore[arg-type]
    state = AppState.open(settings)
    with state.db.write() as session:
        project = accounts.create_project(session, "Bench")
        user = accounts.create_user(session, "bench@example.com", "Bench", [project.id])
        key = accounts.create_personal_api_key(session, user).value
        team = project.id
    seconds = generate(state, team, events, datetime.now(UTC))
    print(f"generated {events:,} events for {USERS:,} users over {DAYS} days in {seconds:.1f} s")
    if cache:
        meta_path.write_text(json.dumps({"team": team, "key": key, "generated_at": time.time()}))
    return state, settings, folder, team, key


@contextmanager
def running(events: int, cache: bool) -> Iterator[tuple[httpx.Client, AppState, int]]:
    """The data set served by the real app: an API client (with the key), the state and the team."""
    state, settings, folder, team, key = open_dataset(events, cache)
    server = None
    try:
        server, _thread, port = serve(state, settings)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=300
        ) as client:
            yield client, state, team
    finally:
        if server is not None:
            server.should_exit = True
        state.close()
        if not cache:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cache", action="store_true", help="keep/reuse the data set in bench/out/")
    args = parser.parse_args()
    now = datetime.now(UTC)
    with running(args.events, args.cache) as (client, state, team):
        url = f"/api/projects/{team}/query/"
        rows = []
        for name, query, sql in queries(team, now):

            def api(query: dict[str, Any] = query, refresh: str = "force_blocking") -> None:
                response = client.post(url, json={"query": query, "refresh": refresh})
                response.raise_for_status()

            api_ms, sql_ms = p50_pair(api, lambda sql=sql: state.engine.execute(sql), args.runs)
            cached_ms = p50(lambda query=query: api(query, "force_cache"), args.runs)
            rows.append((name, api_ms, sql_ms, api_ms / sql_ms, cached_ms))
        print(f"\n{'query':<36} {'API p50 ms':>11} {'SQL p50 ms':>11} {'ratio':>6} {'cached ms':>10}")
        for name, api_ms, sql_ms, ratio, cached_ms in rows:
            print(f"{name:<36} {api_ms:>11.1f} {sql_ms:>11.1f} {ratio:>6.2f} {cached_ms:>10.1f}")


if __name__ == "__main__":
    main()
