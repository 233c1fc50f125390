"""``insightd load`` and ``insightd demo``, with no server and with a server owning the data directory."""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.events.processes import ServerProcess, cli

ROWS = [
    {"uuid": str(uuid.uuid4()), "event": "$pageview", "distinct_id": f"u{i % 7}",
     "properties": json.dumps({"$browser": "Chrome", "$current_url": f"https://x.example/{i}"}),
     "timestamp": f"2026-05-0{1 + i % 9}T10:00:00.000000Z", "elements_chain": ""}
    for i in range(40)
]  # fmt: skip
BAD = [
    {
        "uuid": "nope",
        "event": "x",
        "distinct_id": "a",
        "properties": "{}",
        "timestamp": "2026-05-01T00:00:00Z",
    },
    {
        "uuid": str(uuid.uuid4()),
        "event": "",
        "distinct_id": "a",
        "properties": "{}",
        "timestamp": "2026-05-01",
    },
    {
        "uuid": str(uuid.uuid4()),
        "event": "x",
        "distinct_id": "a",
        "properties": "{}",
        "timestamp": "yesterday",
    },
]


def _write(path: Path, fmt: str) -> Path:
    rows = ROWS + BAD
    if fmt == "ndjson":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    elif fmt == "csv":
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(ROWS[0]))
            writer.writeheader()
            writer.writerows({k: r.get(k, "") for k in ROWS[0]} for r in rows)
    else:
        pq.write_table(pa.Table.from_pylist([{k: r.get(k, "") for k in ROWS[0]} for r in rows]), path)
    return path


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_load_without_a_server_reports_what_was_skipped(tmp_path: Path, fmt: str) -> None:
    data_dir = tmp_path / "data"
    file = _write(tmp_path / f"events.{fmt}", fmt)
    first = cli(data_dir, "load", str(file))
    assert first.returncode == 0, first.stderr
    assert (
        "events stored" in first.stdout and " 40 " in first.stdout.split("events stored")[1].splitlines()[0]
    )
    assert "invalid uuid" in first.stdout and "missing event name" in first.stdout
    assert "missing or unreadable timestamp" in first.stdout
    again = cli(data_dir, "load", str(file))  # loading the same file twice stores nothing twice
    assert "already stored (same uuid)" in again.stdout
    assert " 40 " in again.stdout.split("already stored (same uuid)")[1].splitlines()[0]


def test_load_and_demo_hand_off_to_a_running_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    file = _write(tmp_path / "events.parquet", "parquet")
    server = ServerProcess(data_dir).start()
    try:
        loaded = cli(data_dir, "load", str(file), "--project", "1")
        assert loaded.returncode == 0, loaded.stderr
        assert "through the running server" in loaded.stderr
        demo = cli(data_dir, "demo", "--events", "3000")
        assert demo.returncode == 0, demo.stderr
        assert "3,000 events stored" in demo.stdout
        with server.admin() as admin:
            stats = admin.post("/_admin/events/stats", json={"project_id": 1}).json()
            assert stats["events"] == 40 + 3000
            assert stats["persons"] > 100
    finally:
        server.stop()


def test_load_refuses_unknown_files_and_projects(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    odd = tmp_path / "events.bin"
    odd.write_bytes(b"\x00\x01binary")
    result = cli(data_dir, "load", str(odd))
    assert result.returncode != 0 and "cannot tell the format" in result.stderr
    assert "Traceback" not in result.stderr
    parquet = _write(tmp_path / "events.parquet", "parquet")
    missing = cli(data_dir, "load", str(parquet), "--project", "999")
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
