"""Benchmark: bulk_update_tags, viewed, my_last_viewed and trending against one real insightd process.

Seeds a fresh embedded store directly (bulk inserts, no HTTP): one project with 10,000 insights,
50 members, 100,000 view records spread over the last 14 days and ~2 tags per insight. Then starts
``insightd serve`` on 127.0.0.1 (one process, rate limits off), measures, prints a table and stops.

    .venv/bin/python -m bench.tags_views                # the default figures in bench/README.md
    .venv/bin/python -m bench.tags_views --requests 4000 --concurrency 32

Stdlib only. The load generator is a small asyncio HTTP/1.1 client with keep-alive connections,
running in this process (so on a 2-core machine it shares the CPU with the server).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert, select

from insightd.services import accounts
from insightd.settings import Settings
from insightd.state import AppState
from insightd.store.models import Insight, InsightViewed, Tag, TaggedItem

INSIGHTS = 10_000
USERS = 50
VIEWS_PER_USER = 2_000  # 50 × 2,000 = 100,000 view records
TAG_NAMES = 60
GOALS = {
    "bulk_update_tags 500×20": "p50 ≤ 150 ms",
    "viewed 2,500 ids": "p50 ≤ 100 ms",
    "my_last_viewed": "≥ 2,000 req/s, p99 ≤ 25 ms",
}


@dataclass
class Seeded:
    project_id: int
    key: str
    insight_ids: list[int]


def seed(data_dir: Path) -> Seeded:
    state = AppState.open(Settings(data_dir=data_dir, rate_limits="off"))  # type: ignore[arg-type]
    rng = random.Random(7)
    now = datetime.now(UTC)
    try:
        with state.db.write() as session:
            project = accounts.create_project(session, "bench")
            users = [
                accounts.create_user(session, f"bench{n}@example.com", f"User {n}", [project.id])
                for n in range(USERS)
            ]
            key = accounts.create_personal_api_key(session, users[0]).value
            query = {
                "kind": "InsightVizNode",
                "source": {"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "$pageview"}]},
            }
            session.execute(
                insert(Insight),
                [
                    {
                        "project_id": project.id,
                        "short_id": f"b{n:07d}",
                        "name": f"Insight {n}",
                        "query": query,
                        "filters": {},
                        "insight_type": "TRENDS",
                        "created_by_id": users[n % USERS].id,
                        "last_modified_by_id": users[n % USERS].id,
                        "created_at": now - timedelta(days=30),
                        "last_modified_at": now - timedelta(minutes=n),
                        "updated_at": now - timedelta(minutes=n),
                    }
                    for n in range(INSIGHTS)
                ],
            )
            ids = list(session.scalars(select(Insight.id).where(Insight.project_id == project.id)))
            session.execute(
                insert(Tag), [{"project_id": project.id, "name": f"seed-{n}"} for n in range(TAG_NAMES)]
            )
            tag_ids = list(session.scalars(select(Tag.id).where(Tag.project_id == project.id)))
            session.execute(
                insert(TaggedItem),
                [{"tag_id": t, "insight_id": i} for i in ids for t in rng.sample(tag_ids, 2)],
            )
            session.execute(
                insert(InsightViewed),
                [
                    {
                        "project_id": project.id,
                        "user_id": user.id,
                        "insight_id": insight_id,
                        "last_viewed_at": now - timedelta(seconds=rng.randrange(14 * 86_400)),
                    }
                    for user in users
                    for insight_id in rng.sample(ids, VIEWS_PER_USER)
                ],
            )
            return Seeded(project_id=project.id, key=key, insight_ids=ids)
    finally:
        state.close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(data_dir: Path) -> Iterator[int]:
    port = free_port()
    env = dict(os.environ, INSIGHTD_RATE_LIMITS="off", INSIGHTD_LOG_LEVEL="warning")
    command = [sys.executable, "-m", "insightd", "serve", "--data-dir", str(data_dir), "--port", str(port)]
    process = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("insightd did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def raw_request(method: str, path: str, key: str | None, body: Any = None) -> bytes:
    payload = orjson.dumps(body) if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: keep-alive"]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    if payload:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length) if length else b""


async def _load(
    port: int, requests: Sequence[bytes], concurrency: int, expect: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(reversed(requests))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                request = queue.pop()
                started = time.perf_counter()
                status, body = await _exchange(reader, writer, request)
                latencies.append(time.perf_counter() - started)
                if status != expect:
                    raise RuntimeError(f"unexpected {status}: {body[:300]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def load(
    port: int, requests: Sequence[bytes], concurrency: int, expect: int = 200
) -> tuple[float, list[float]]:
    return asyncio.run(_load(port, requests, concurrency, expect))


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def row(name: str, count: int, concurrency: int, elapsed: float, latencies: list[float]) -> list[str]:
    ms = [v * 1000 for v in latencies]
    return [
        name,
        f"{count:,}",
        str(concurrency),
        f"{count / elapsed:,.0f}",
        f"{statistics.median(ms):.1f}",
        f"{percentile(ms, 0.99):.1f}",
        f"{max(ms):.1f}",
        GOALS.get(name, ""),
    ]


def bulk_requests(seeded: Seeded, base: str, count: int) -> list[bytes]:
    """Alternately add and remove 20 fresh tags on 500 insights, so every request changes 500 objects."""
    out = []
    for n in range(count):
        start = (n // 2 * 500) % (INSIGHTS - 500)
        ids = seeded.insight_ids[start : start + 500]
        tags = [f"bench-{n // 2}-{t}" for t in range(20)]
        body = {"ids": ids, "action": "add" if n % 2 == 0 else "remove", "tags": tags}
        out.append(raw_request("POST", f"{base}/insights/bulk_update_tags/", seeded.key, body))
    return out


def viewed_requests(seeded: Seeded, base: str, count: int) -> list[bytes]:
    rng = random.Random(11)
    return [
        raw_request(
            "POST",
            f"{base}/insights/viewed/",
            seeded.key,
            {"insight_ids": rng.sample(seeded.insight_ids, 2_500)},
        )
        for _ in range(count)
    ]


def print_table(rows: list[list[str]]) -> None:
    header = ["endpoint", "requests", "conc.", "req/s", "p50 ms", "p99 ms", "max ms", "goal"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=6_000, help="requests per concurrent GET scenario")
    parser.add_argument("--concurrency", type=int, default=16, help="connections for the GET scenarios")
    parser.add_argument("--writes", type=int, default=40, help="requests per write scenario (sequential)")
    parser.add_argument("--only", default="", help="run only the scenarios whose name contains this text")
    args = parser.parse_args(argv)

    data_dir = Path(tempfile.mkdtemp(prefix="insightd-bench-"))
    try:
        started = time.perf_counter()
        seeded = seed(data_dir)
        print(
            f"seeded {INSIGHTS:,} insights, {USERS * VIEWS_PER_USER:,} views, {INSIGHTS * 2:,} tagged items "
            f"in {time.perf_counter() - started:.1f} s (SQLite store in {data_dir})"
        )
        base = f"/api/projects/{seeded.project_id}"
        key, n, c = seeded.key, args.requests, args.concurrency
        rows: list[list[str]] = []
        with running_server(data_dir) as port:
            mine = raw_request("GET", f"{base}/insights/my_last_viewed/", seeded.key)
            hot = raw_request("GET", f"{base}/insights/trending/", seeded.key)
            scenarios: list[tuple[str, Callable[[], list[bytes]], int, int]] = [
                ("bulk_update_tags 500×20", lambda: bulk_requests(seeded, base, args.writes), 1, 200),
                ("viewed 2,500 ids", lambda: viewed_requests(seeded, base, args.writes), 1, 201),
                ("_health (no auth, floor)", lambda: [raw_request("GET", "/_health", None)] * n, c, 200),
                (
                    "tags list (auth + 1 query)",
                    lambda: [raw_request("GET", f"{base}/tags/", key)] * n,
                    c,
                    200,
                ),
                ("my_last_viewed", lambda: [mine] * n, c, 200),
                ("my_last_viewed, 1 connection", lambda: [mine] * (n // 4), 1, 200),
                ("trending (days=7, limit=10)", lambda: [hot] * (n // 20), c, 200),
                ("trending, 1 connection", lambda: [hot] * (n // 40), 1, 200),
            ]
            for name, make, concurrency, expect in scenarios:
                if args.only not in name:
                    continue
                requests = make()
                load(port, requests[: max(1, len(requests) // 20)], concurrency, expect)  # warm-up
                elapsed, latencies = load(port, requests, concurrency, expect)
                rows.append(row(name, len(requests), concurrency, elapsed, latencies))
        print_table(rows)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
