"""Absolute and relative dates as PostHog's list filters accept them (``-7d``, ``-1mStart``, ISO)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_RELATIVE = re.compile(r"^-?(\d+)([hdwmqyM])(Start|End)?$")


def _start_of(unit: str, moment: datetime) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "h":
        return moment.replace(minute=0, second=0, microsecond=0)
    if unit == "d":
        return day
    if unit == "w":
        return day - timedelta(days=(day.weekday() + 1) % 7)  # weeks start on Sunday, as PostHog
    if unit == "m":
        return day.replace(day=1)
    if unit == "q":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return day.replace(month=1, day=1)


def _minus_months(moment: datetime, months: int) -> datetime:
    total = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=min(moment.day, 28))


def parse_date(value: str, timezone: str = "UTC", now: datetime | None = None) -> datetime | None:
    """Resolve ``value`` in ``timezone``; ``None`` when it is neither relative nor ISO."""
    try:
        return _parse(value, ZoneInfo(timezone), now)
    except (OverflowError, ValueError):  # out of the calendar's range
        return None


def _parse(value: str, tz: ZoneInfo, now: datetime | None) -> datetime | None:
    now = (now or datetime.now(UTC)).astimezone(tz)
    text = value.strip()
    match = _RELATIVE.match(text)
    if match:
        amount, unit, anchor = int(match.group(1)), match.group(2), match.group(3)
        if unit == "M":  # minutes
            moment = now - timedelta(minutes=amount)
        elif unit == "h":
            moment = now - timedelta(hours=amount)
        elif unit == "d":
            moment = now - timedelta(days=amount)
        elif unit == "w":
            moment = now - timedelta(weeks=amount)
        elif unit == "m":
            moment = _minus_months(now, amount)
        elif unit == "q":
            moment = _minus_months(now, 3 * amount)
        else:
            moment = _minus_months(now, 12 * amount)
        if anchor == "Start":
            moment = _start_of(unit if unit != "M" else "h", moment)
        return moment.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)
