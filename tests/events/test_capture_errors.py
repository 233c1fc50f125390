"""Bad capture requests get PostHog capture's status, code and a message saying what is wrong."""

from __future__ import annotations

import gzip
import uuid
from typing import Any

import httpx
import orjson
import pytest

from tests.events.conftest import Store

GOOD = {"event": "e", "distinct_id": "d"}


def _refused(response: httpx.Response, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert message in body["error"]
    assert body["detail"] == body["error"]


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"batch": [GOOD]}, 401, "ingest_key_required", "event submitted without an api_key"),
        ({"api_key": "phc_unknown_project", "batch": [GOOD]}, 401, "ingest_key_unknown", "does not resolve"),
        ({"api_key": "phx_personal", "batch": [GOOD]}, 401, "ingest_key_unknown", "personal_api_key"),
        ({"api_key": "", "batch": [GOOD]}, 401, "ingest_key_unknown", "API key is not valid: empty"),
        ({"api_key": "x" * 65, "batch": [GOOD]}, 401, "ingest_key_unknown", "too_long"),
        ([{**GOOD, "token": "phc_a"}, {**GOOD, "token": "phc_b"}], 400, "unroutable_events", "inconsistent"),
    ],
)
def test_token_problems(capture: httpx.Client, body: Any, status: int, code: str, message: str) -> None:
    _refused(capture.post("/batch/", json=body), status, code, message)


@pytest.mark.parametrize(
    ("event", "status", "code", "message"),
    [
        ({"event": "", "distinct_id": "d"}, 400, "missing_event_name", "empty event name"),
        ({"distinct_id": "d"}, 400, "request_parsing_error", "missing field `event`"),
        ({"event": 3, "distinct_id": "d"}, 400, "request_parsing_error", "`event`"),
        ({"event": "e"}, 400, "missing_distinct_id", "without a distinct_id"),
        ({"event": "e", "distinct_id": ""}, 400, "missing_distinct_id", "without a distinct_id"),
        ({**GOOD, "uuid": "not-a-uuid"}, 400, "request_parsing_error", "invalid uuid"),
        ({**GOOD, "properties": [1, 2]}, 400, "request_parsing_error", "`properties`"),
        ({**GOOD, "timestamp": 1700000000}, 400, "request_parsing_error", "`timestamp`"),
        ({**GOOD, "properties": {"$cookieless_mode": "yes"}}, 400, "invalid_cookieless_mode", "cookieless"),
    ],
)
def test_invalid_events_fail_the_whole_batch(
    capture: httpx.Client,
    token: str,
    store: Store,
    event: dict[str, Any],
    status: int,
    code: str,
    message: str,
) -> None:
    valid = {**GOOD, "uuid": str(uuid.uuid4())}
    _refused(capture.post("/batch/", json={"api_key": token, "batch": [valid, event]}), status, code, message)
    assert store.stats()["events"] == 0  # no partial acceptance


@pytest.mark.parametrize(
    ("content", "headers", "status", "code", "message"),
    [
        (b"", {}, 400, "empty_payload", "request missing data payload"),
        (
            b"{not json",
            {"Content-Type": "application/json"},
            400,
            "request_parsing_error",
            "failed to parse request",
        ),
        (b"\x1f\x8b\x08garbage", {}, 400, "request_decoding_error", "invalid gzip data"),
        (
            b"hello=1",
            {"Content-Type": "application/x-www-form-urlencoded"},
            400,
            "request_decoding_error",
            "expected form data",
        ),
        (
            b"data=x&junk",
            {"Content-Type": "application/x-www-form-urlencoded"},
            400,
            "request_decoding_error",
            "invalid urlencoded form data",
        ),
        (b"[]", {}, 400, "empty_batch", "request holds no event"),
        (b'{"api_key": "phc_x", "batch": []}', {}, 400, "empty_batch", "request holds no event"),
        (b'"just a string"', {}, 400, "request_parsing_error", "expected an event"),
        (b'{"no_event": true}', {}, 400, "request_hydration_error", "missing event name attribute"),
        (b"\xff\xfe\xfa", {}, 400, "request_decoding_error", "invalid UTF8"),
    ],
)
def test_undecodable_bodies(
    capture: httpx.Client, content: bytes, headers: dict[str, str], status: int, code: str, message: str
) -> None:
    _refused(capture.post("/i/v0/e/", content=content, headers=headers), status, code, message)


def test_bad_lz64_and_bad_base64(capture: httpx.Client) -> None:
    _refused(
        capture.post("/e/", data={"data": "!!!!", "compression": "lz64"}),
        400,
        "request_decoding_error",
        "decompress_lz64",
    )
    _refused(
        capture.post("/e/", data={"data": "abc", "compression": "base64"}),
        400,
        "request_decoding_error",
        "invalid base64",
    )


def test_oversized_bodies_get_413(capture: httpx.Client, token: str) -> None:
    big = orjson.dumps([{**GOOD, "api_key": token, "properties": {"x": "y" * (2 * 1024 * 1024)}}])
    _refused(capture.post("/e/", content=big), 413, "payload_too_large", "too large")
    bomb = gzip.compress(b"[" + b" " * (101 * 1024 * 1024) + b"]")
    _refused(capture.post("/batch/", content=bomb), 413, "payload_too_large", "maximum event size exceeded")
