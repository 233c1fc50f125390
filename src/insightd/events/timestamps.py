"""When did an event happen? PostHog's rule: the client's timestamp re-anchored on the server clock.

``ts = now + (timestamp - sent_at)`` corrects a client whose clock is wrong; ``offset`` ("this many ms
ago") overrides it; a time more than 23 h in the future becomes ``now``. All values are integer
microseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

FUTURE_LIMIT_US = 23 * 3600 * 1_000_000
# DateTime64(6) holds 1900-01-01 .. 2299-12-31; anything outside is stored as the epoch, like PostHog.
_MIN_US = int(datetime(1900, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
_MAX_US = int(datetime(2299, 12, 31, tzinfo=UTC).timestamp() * 1_000_000)
_SHORT_OFFSET = re.compile(r"([+-]\d{2})$")
_YEAR_2020_MS = 1_577_836_800_000


def to_us(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def now_us() -> int:
    return to_us(datetime.now(UTC))


def parse_timestamp(text: str) -> int | None:
    """Parse an ISO-8601/RFC 3339 string leniently (also epoch seconds or ms as digits, RFC 2822)."""
    value = text.strip()
    if not value:
        return None
    if value.isdigit():
        number = int(value)
        return number * 1000 if len(value) > 11 else number * 1_000_000
    try:  # the common case (RFC 3339 as SDKs send it): Python 3.11 reads 'Z' and '+HH' offsets itself
        return to_us(datetime.fromisoformat(value))
    except ValueError:
        pass
    candidate = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    candidate = _SHORT_OFFSET.sub(r"\1:00", candidate) if "T" in candidate or " " in candidate else candidate
    try:
        return to_us(datetime.fromisoformat(candidate))
    except ValueError:
        pass
    for fmt in ("%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d"):
        try:
            return to_us(datetime.strptime(value, fmt))
        except ValueError:
            continue
    try:
        return to_us(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        return None


def parse_sent_at_ms(text: str | None) -> int | None:
    """The ``_``/``sent_at`` query parameter: integer milliseconds, used only if after 2020."""
    if not text or not text.strip().lstrip("-").isdigit():
        return None
    ms = int(text.strip())
    return ms * 1000 if ms > _YEAR_2020_MS else None


def event_time(
    now: int,
    timestamp: int | None,
    sent_at: int | None,
    offset_ms: int | None,
    *,
    ignore_sent_at: bool = False,
) -> int:
    """The stored timestamp of one event (PostHog capture's ``parse_event_timestamp``)."""
    effective_sent_at = None if ignore_sent_at else sent_at
    ts = now
    if timestamp is not None:
        ts = now + (timestamp - effective_sent_at) if effective_sent_at is not None else timestamp
    if offset_ms is not None:
        ts = now - offset_ms * 1000
    if ts - now > FUTURE_LIMIT_US:
        ts = now
    if ts < _MIN_US or ts > _MAX_US:
        ts = 0
    return ts
