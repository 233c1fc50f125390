"""Dates as PostHog's list filters accept them: ISO, or a whole relative date (``-7d``, ``-1mStart``).

The arithmetic is PostHog's ``relative_date_parse``, shared with the query runners
(``insightd.queries.dates.parse_date``); this adapter only insists that the whole value is a date,
so a typo is a clear 400 rather than "now".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from insightd.errors import QueryError
from insightd.queries.dates import parse_date as parse_posthog_date

_WHOLE_RELATIVE = re.compile(r"-?\d*[hdwmqyMs](Start|End)?")


def parse_date(value: str, timezone: str = "UTC", now: datetime | None = None) -> datetime | None:
    """``value`` resolved in ``timezone``, as UTC; ``None`` when it is not a date or out of range."""
    tz = ZoneInfo(timezone)
    text = value.strip()
    try:
        local_now = (now or datetime.now(UTC)).astimezone(tz)
        if not _WHOLE_RELATIVE.fullmatch(text) and not text[:1].isdigit():
            return None
        parsed = parse_posthog_date(text, local_now, tz)
        moment = parsed.moment
        if text.endswith("Start") and parsed.relative_kind not in ("h", "M", "s"):
            moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)  # "since the start of …"
        return moment.astimezone(UTC)
    except (QueryError, OverflowError, ValueError):
        return None
