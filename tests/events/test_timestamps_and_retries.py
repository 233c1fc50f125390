"""When events happened (clock-skew correction) and that retries never double count."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from insightd.events.timestamps import event_time, parse_timestamp, to_us
from tests.events.conftest import Store


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def test_worked_example_of_the_capture_spec() -> None:
    now = to_us(datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC))
    sent_at = parse_timestamp("2026-01-01T12:00:05Z")
    timestamp = parse_timestamp("2026-01-01T11:59:55+00")
    assert event_time(now, timestamp, sent_at, None) == to_us(datetime(2026, 1, 1, 11, 59, 50, tzinfo=UTC))
    assert event_time(now, timestamp, sent_at, None, ignore_sent_at=True) == timestamp
    assert event_time(now, timestamp, sent_at, 3000) == now - 3_000_000  # offset wins
    assert event_time(now, now + 24 * 3600 * 1_000_000, None, None) == now  # future clamp


def test_client_clock_skew_is_corrected(capture: httpx.Client, token: str, store: Store) -> None:
    skew = timedelta(hours=5)  # the client's clock is 5 hours fast
    client_now = datetime.now(UTC) + skew
    batch = [{"event": "skewed", "distinct_id": "d", "timestamp": _iso(client_now - timedelta(minutes=10))}]
    before = datetime.now(UTC)
    response = capture.post("/batch/", json={"api_key": token, "batch": batch, "sent_at": _iso(client_now)})
    assert response.status_code == 200
    stored = datetime.fromtimestamp(store.events()[0]["ts"] / 1e6, UTC)
    assert abs(stored - (before - timedelta(minutes=10))) < timedelta(seconds=30)


def test_offset_and_query_sent_at(capture: httpx.Client, token: str, store: Store) -> None:
    sent_ms = int(time.time() * 1000) + 3600_000  # an hour fast, in the `_` parameter (posthog-js)
    client_ts = datetime.fromtimestamp((sent_ms - 60_000) / 1000, UTC)
    events = [
        {"event": "offset", "distinct_id": "d", "offset": 120_000, "properties": {"token": token}},
        {"event": "skew", "distinct_id": "d", "timestamp": _iso(client_ts), "properties": {"token": token}},
    ]
    before = datetime.now(UTC)
    assert capture.post(f"/e/?_={sent_ms}", json=events).status_code == 200
    by_name = {e["event"]: datetime.fromtimestamp(e["ts"] / 1e6, UTC) for e in store.events()}
    assert abs(by_name["offset"] - (before - timedelta(minutes=2))) < timedelta(seconds=30)
    assert abs(by_name["skew"] - (before - timedelta(minutes=1))) < timedelta(seconds=30)


def test_historical_migration_keeps_old_timestamps(capture: httpx.Client, token: str, store: Store) -> None:
    batch = [{"event": "imported", "distinct_id": "d", "timestamp": "2021-03-04T05:06:07.123456Z"}]
    body = {"api_key": token, "batch": batch, "historical_migration": True}
    assert capture.post("/batch/", json=body).status_code == 200
    assert store.events()[0]["ts"] == to_us(datetime(2021, 3, 4, 5, 6, 7, 123456, tzinfo=UTC))


def test_retried_batch_is_not_double_counted(capture: httpx.Client, token: str, store: Store) -> None:
    batch = [{"event": "buy", "distinct_id": f"u{i}", "uuid": str(uuid.uuid4())} for i in range(50)]
    for _ in range(3):  # the SDK's retries after a lost response (clock moved on: new timestamps)
        assert capture.post("/batch/", json={"api_key": token, "batch": batch}).status_code == 200
        store.flush()
    duplicate_inside = [batch[0], batch[0]]
    assert capture.post("/batch/", json={"api_key": token, "batch": duplicate_inside}).status_code == 200
    stats = store.stats([e["uuid"] for e in batch])
    assert stats["rows"] == 50
    assert stats["found"] == 50
