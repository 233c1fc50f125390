"""From a decoded capture payload to normalised events (PostHog capture's validation rules).

Accepts the four body shapes (array of events, batch object, single event, ``/engage`` object),
finds the project token, and checks every event; the whole request fails on the first bad one.
"""

from __future__ import annotations

import os
import re
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from insightd.events.errors import CaptureError, parsing_error
from insightd.events.timestamps import event_time, parse_timestamp

MAX_NAME = 200
DROPPED_EVENTS = frozenset({"$performance_event"})


@dataclass
class CaptureBatch:
    """What one request carries: its token, its events (already normalised) and batch flags."""

    token: str
    events: list[dict[str, Any]]
    historical_migration: bool = False
    sent_at: int | None = None
    dropped: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def uuid7() -> str:
    """A time-ordered UUIDv7, as capture generates for events sent without a uuid."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuidlib.UUID(int=value))


def _shapes(value: Any, path: str) -> tuple[list[Any], dict[str, Any]]:
    """(raw events, batch-level fields) for the four body shapes of PostHog's capture."""
    if isinstance(value, list):
        return value, {}
    if not isinstance(value, dict):
        raise parsing_error("expected an event, a list of events or a batch object")
    if "batch" in value:
        batch = value["batch"]
        if not isinstance(batch, list):
            raise parsing_error("'batch' must be a list of events")
        return batch, value
    if "event" in value:
        return [value], {}
    if path.startswith("/engage"):
        return [{**value, "event": "$identify"}], {}
    raise CaptureError(
        400,
        "request_hydration_error",
        "failed to hydrate events from request: non-engage request missing event name attribute",
    )


def _token_of(event: dict[str, Any]) -> str | None:
    for key in ("token", "$token", "api_key"):
        if isinstance(event.get(key), str):
            return str(event[key])
    properties = event.get("properties")
    if isinstance(properties, dict) and isinstance(properties.get("token"), str):
        return str(properties["token"])
    return None


def check_token_shape(token: str) -> None:
    reason = None
    if not token:
        reason = "empty"
    elif len(token) > 64:
        reason = "too_long"
    elif not token.isascii():
        reason = "not_ascii"
    elif token.startswith("phx_"):
        reason = "personal_api_key"
    elif "\x00" in token:
        reason = "null_byte"
    if reason:
        raise CaptureError(401, "ingest_key_unknown", f"API key is not valid: {reason}")


def _find_token(events: list[dict[str, Any]], batch: dict[str, Any]) -> str:
    for key in ("api_key", "token"):
        if isinstance(batch.get(key), str):
            token = str(batch[key])
            check_token_shape(token)
            return token
    tokens = {t for t in (_token_of(e) for e in events) if t is not None}
    if not tokens:
        raise CaptureError(401, "ingest_key_required", "event submitted without an api_key")
    if len(tokens) > 1:
        raise CaptureError(400, "unroutable_events", "batch submitted with inconsistent api_key values")
    token = tokens.pop()
    check_token_shape(token)
    return token


def _distinct_id(event: dict[str, Any], properties: dict[str, Any]) -> str:
    value = event.get("distinct_id")
    if value is None:
        value = event.get("$distinct_id")
    if value is None:
        value = properties.get("distinct_id")
    if value is None:
        raise CaptureError(400, "missing_distinct_id", "event submitted without a distinct_id")
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    if len(text) > MAX_NAME or "\x00" in text:
        text = text.replace("\x00", "\ufffd")[:MAX_NAME]
    if not text:
        raise CaptureError(400, "missing_distinct_id", "event submitted without a distinct_id")
    return text


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _uuid(event: dict[str, Any]) -> str:
    value = event.get("uuid")
    if value is None or value == "":
        return uuid7()
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return value  # already what str(UUID(value)) gives
    if not isinstance(value, str):
        raise parsing_error("invalid type for field `uuid`: expected a UUID string")
    try:
        return str(uuidlib.UUID(value))
    except ValueError as exc:
        raise parsing_error(f"invalid uuid {value[:64]!r}") from exc


def _merge_set(event: dict[str, Any], properties: dict[str, Any]) -> None:
    """Top-level ``$set``/``$set_once`` join ``properties.$set``/``$set_once``; top level wins per key."""
    for key in ("$set", "$set_once"):
        top = event.get(key)
        if top is None:
            continue
        if not isinstance(top, dict):
            raise parsing_error(f"invalid type for field `{key}`: expected an object")
        inner = properties.get(key)
        properties[key] = {**inner, **top} if isinstance(inner, dict) else dict(top)


def normalise_event(
    event: Any, *, now: int, sent_at: int | None, client_ip: str | None = None
) -> dict[str, Any]:
    """One raw event → ``{uuid, event, distinct_id, properties, timestamp, elements_chain}``."""
    if not isinstance(event, dict):
        raise parsing_error("every event must be a JSON object")
    name = event.get("event")
    if name is None:
        raise parsing_error("missing field `event`")
    if not isinstance(name, str):
        raise parsing_error("invalid type for field `event`: expected a string")
    if not name:
        raise CaptureError(400, "missing_event_name", "event submitted with an empty event name")
    raw_properties = event.get("properties")
    if raw_properties is None:
        properties: dict[str, Any] = {}
    elif isinstance(raw_properties, dict):
        properties = dict(raw_properties)
    else:
        raise parsing_error("invalid type for field `properties`: expected an object")
    distinct_id = _distinct_id(event, properties)
    cookieless = properties.get("$cookieless_mode")
    if cookieless is not None and not isinstance(cookieless, bool):
        raise CaptureError(400, "invalid_cookieless_mode", "event submitted with invalid cookieless mode")
    _merge_set(event, properties)
    raw_ts = event.get("timestamp")
    if raw_ts is not None and not isinstance(raw_ts, str):
        raise parsing_error("invalid type for field `timestamp`: expected an ISO-8601 string")
    raw_offset = event.get("offset")
    if raw_offset is not None and (isinstance(raw_offset, bool) or not isinstance(raw_offset, int | float)):
        raise parsing_error("invalid type for field `offset`: expected milliseconds as a number")
    timestamp = event_time(
        now,
        parse_timestamp(raw_ts) if raw_ts else None,
        sent_at,
        int(raw_offset) if raw_offset is not None else None,
        ignore_sent_at=properties.get("$ignore_sent_at") is True,
    )
    if client_ip and "$ip" not in properties:
        properties["$ip"] = client_ip
    chain = properties.get("$elements_chain")
    return {
        "uuid": _uuid(event),
        "event": name[:MAX_NAME],
        "distinct_id": distinct_id,
        "properties": properties,
        "timestamp": timestamp,
        "elements_chain": chain if isinstance(chain, str) else "",
    }


def parse_capture(
    value: Any, *, path: str, now: int, query_sent_at: int | None = None, client_ip: str | None = None
) -> CaptureBatch:
    """Validate a decoded payload; raises :class:`CaptureError` on the first problem."""
    raw_events, batch = _shapes(value, path)
    if not raw_events:
        raise CaptureError(400, "empty_batch", "request holds no event")
    if any(not isinstance(e, dict) for e in raw_events):
        raise parsing_error("every event must be a JSON object")
    token = _find_token(raw_events, batch)
    sent_at = query_sent_at
    if isinstance(batch.get("sent_at"), str):
        sent_at = parse_timestamp(batch["sent_at"]) or sent_at
    kept = [e for e in raw_events if e.get("event") not in DROPPED_EVENTS]
    events = [normalise_event(e, now=now, sent_at=sent_at, client_ip=client_ip) for e in kept]
    return CaptureBatch(
        token=token,
        events=events,
        historical_migration=batch.get("historical_migration") is True,
        sent_at=sent_at,
        dropped=len(raw_events) - len(kept),
    )
