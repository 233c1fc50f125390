"""Ingestion benchmark: sustained /batch/ capture and the Parquet loader, against a real server.

Starts ``insightd serve`` on 127.0.0.1 with a fresh data directory, sends batches of 100 events from
4 concurrent clients for a bounded number of requests, waits until everything is stored, then loads a
generated Parquet file with ``insightd load`` (handed to the running server) and once more with no
server. Prints a table. Usage: ``python bench/ingest.py [--requests 1200] [--parquet-rows 1000000]``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.events.processes import ServerProcess, cli, project_token


def _batch(token: str, n: int, seq: int) -> bytes:
    events = [
        {"event": "$pageview", "distinct_id": f"user-{(seq * n + i) % 5000}", "uuid": str(uuid.uuid4()),
         "timestamp": "2026-06-01T12:00:00Z",
         "properties": {"$browser": "Chrome", "$os": "Mac OS X", "$current_url": "https://x.example/p",
                        "$pathname": "/p", "$session_id": "s", "plan": "pro"}}
        for i in range(n)
    ]  # fmt: skip
    return orjson.dumps({"api_key": token, "batch": events, "sent_at": "2026-06-01T12:00:01Z"})


def _client(base_url: str, bodies: list[bytes], latencies: list[float], lock: threading.Lock) -> None:
    """One keep-alive connection posting pre-encoded bodies: as little client CPU as possible."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Content-Type": "application/json"}
    mine = []
    for body in bodies:
        t0 = time.perf_counter()
        conn.request("POST", "/batch/", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        mine.append(time.perf_counter() - t0)
        assert response.status == 200, payload
    conn.close()
    with lock:
        latencies.extend(mine)


def capture_bench(
    server: ServerProcess, token: str, requests: int, clients: int, size: int
) -> dict[str, float]:
    warm_up = [_batch(token, size, -1 - i) for i in range(50)]
    _client(server.base_url, warm_up, [], threading.Lock())  # first requests: token lookup, engine start
    bodies = [_batch(token, size, i) for i in range(requests)]
    latencies: list[float] = []
    lock = threading.Lock()
    threads = [
        threading.Thread(target=_client, args=(server.base_url, bodies[i::clients], latencies, lock))
        for i in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    acked = time.perf_counter() - started
    with server.admin() as admin:
        assert admin.post("/_admin/flush").status_code == 200
    stored = time.perf_counter() - started
    latencies.sort()
    return {
        "events": requests * size,
        "ack_rate": requests * size / acked,
        "stored_rate": requests * size / stored,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def parquet_file(path: Path, rows: int) -> Path:
    import random

    rng = random.Random(1)
    browsers = ["Chrome", "Safari", "Firefox", "Edge"]
    table = pa.table(
        {
            "uuid": [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(rows)],
            "event": [rng.choice(["$pageview", "$autocapture", "signed_up"]) for _ in range(rows)],
            "distinct_id": [f"user-{rng.randrange(100_000)}" for _ in range(rows)],
            "properties": [
                orjson.dumps(
                    {
                        "$browser": rng.choice(browsers),
                        "$pathname": f"/p/{i % 500}",
                        "$current_url": f"https://x.example/p/{i % 500}",
                    }
                ).decode()
                for i in range(rows)
            ],  # fmt: skip
            "timestamp": pa.array(
                [1_780_000_000_000_000 + i * 1_000_000 for i in range(rows)], pa.timestamp("us", tz="UTC")
            ),  # fmt: skip
            "elements_chain": [""] * rows,
        }
    )
    pq.write_table(table, path, compression="zstd")
    return path


def load_rate(data_dir: Path, file: Path) -> float:
    result = cli(data_dir, "load", str(file), timeout=900)
    assert result.returncode == 0, result.stderr
    match = re.search(r"\(([\d,]+) rows/s\)", result.stdout)
    assert match, result.stdout
    return float(match.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--parquet-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        file = parquet_file(Path(tmp) / "events.parquet", args.parquet_rows)
        server = ServerProcess(data_dir).start()
        try:
            token = project_token(data_dir)
            capture = capture_bench(server, token, args.requests, args.clients, args.batch)
            served_load = load_rate(data_dir, file)
        finally:
            server.stop()
        local_load = load_rate(Path(tmp) / "fresh", file)
    print(f"\ninsightd ingest benchmark ({os.cpu_count()} CPUs)\n")
    print("| measure | value | goal |")
    print("| --- | --- | --- |")
    print(f"| /batch/ events acknowledged per s ({args.clients} clients × {args.batch}/batch, "
          f"{capture['events']:,.0f} events) | {capture['ack_rate']:,.0f} | ≥ 30,000 |")  # fmt: skip
    print(f"| /batch/ events stored per s (until all flushed to chDB) | {capture['stored_rate']:,.0f} | |")
    latency = f"{capture['p50_ms']:.1f} ms / {capture['p99_ms']:.1f} ms"
    print(f"| /batch/ ack latency p50 / p99 | {latency} | p99 ≤ 100 ms |")
    rows = f"{args.parquet_rows:,}"
    print(f"| insightd load, Parquet {rows} rows, no server | {local_load:,.0f} rows/s | ≥ 300,000 |")
    print(f"| insightd load, Parquet, handed to the running server | {served_load:,.0f} rows/s | |")


if __name__ == "__main__":
    main()
