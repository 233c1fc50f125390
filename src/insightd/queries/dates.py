"""Date ranges, buckets and labels, as PostHog's ``QueryDateRange`` resolves them (spec §1).

Everything happens in the project's timezone: relative strings move "now" (wall time there),
absolute strings without an offset are wall time there, and buckets start at local midnights.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from insightd.errors import QueryError

_RELATIVE = re.compile(r"-?(?P<number>[0-9]+)?(?P<kind>[hdwmqyHDWQYMs])(?P<position>Start|End)?")
DEFAULT_DAYS = 7
EARLIEST_FALLBACK = datetime(2015, 1, 1)
MAX_BUCKETS = 10_000


@dataclass(frozen=True)
class Parsed:
    moment: datetime
    relative_kind: str | None  # None: absolute


@contextmanager
def dates_in_range() -> Iterator[None]:
    """Date arithmetic that leaves the calendar (year 1 … 9999) is a 400, not a crash."""
    try:
        yield
    except OverflowError as exc:
        raise QueryError("The date range is out of range: use dates between the years 1 and 9999.") from exc


def _end_of_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _shift_months(moment: datetime, months: int) -> datetime:
    total = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(total, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _parse_absolute(text: str, tz: ZoneInfo) -> datetime | None:
    candidate = text.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", candidate)
        if not match:
            return None
        try:
            parsed = datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=tz)
    return parsed.astimezone(tz)


def parse_date(text: str, now: datetime, tz: ZoneInfo) -> Parsed:
    """An ISO date or datetime, else PostHog's relative syntax applied to ``now`` (a date out of the
    calendar's range, such as ``-99999999d``, is a :class:`QueryError`)."""
    try:
        return _parse_date(text, now.astimezone(tz), tz)
    except (OverflowError, ValueError) as exc:
        raise QueryError(f"Invalid date: {text!r} is out of range.") from exc


def _parse_date(text: str, now: datetime, tz: ZoneInfo) -> Parsed:
    absolute = _parse_absolute(text, tz)
    if absolute is not None:
        return Parsed(absolute, None)
    match = _RELATIVE.search(text)
    if match is None:
        if text.strip() in ("all", "") or text.strip().startswith("all"):
            return Parsed(now, "")
        raise QueryError(f"Invalid date: {text!r}. Use ISO 8601 or a relative date such as -7d.")
    number = int(match.group("number") or 0)
    kind, position = match.group("kind"), match.group("position")
    moment = now
    if kind == "h":
        if position == "Start":
            moment = moment.replace(minute=0, second=0, microsecond=0)
        elif position == "End":
            moment = moment.replace(minute=59, second=59, microsecond=999999)
        moment -= timedelta(hours=number)
    elif kind == "d":
        if position == "Start":
            moment = datetime.combine(moment.date(), time(), moment.tzinfo)
        elif position == "End":
            moment = datetime.combine(moment.date(), time(23, 59, 59, 999999), moment.tzinfo)
        moment -= timedelta(days=number)
    elif kind == "w":
        moment -= timedelta(weeks=number)
    elif kind == "q":
        moment -= timedelta(weeks=13 * number)
    elif kind == "m":
        if position == "Start":
            moment = moment.replace(day=1)
        moment = _shift_months(moment, number)
        if position == "End":
            moment = moment.replace(day=_end_of_month(moment.date()))
    elif kind == "y":
        if position == "Start":
            moment = moment.replace(month=1, day=1)
        moment = (
            moment.replace(year=moment.year - number)
            if not (moment.month == 2 and moment.day == 29)
            else moment.replace(year=moment.year - number, day=28)
        )
        if position == "End":
            moment = moment.replace(day=31) if moment.month != 2 else moment
    elif kind == "M":
        moment -= timedelta(minutes=number)
    elif kind == "s":
        moment -= timedelta(seconds=number)
    # Uppercase H/D/W/Q/Y match but move nothing (PostHog's mapping has no entry for them).
    return Parsed(_normalize(moment, now.tzinfo), kind)


def _normalize(moment: datetime, tz: object) -> datetime:
    """Re-attach the zone after arithmetic on wall time (DST-safe: wall time is what moves)."""
    assert isinstance(tz, ZoneInfo)
    return moment.replace(tzinfo=None).replace(tzinfo=tz)


def start_of(moment: datetime, interval: str, week_start: int = 0) -> datetime:
    if interval == "minute":
        return moment.replace(second=0, microsecond=0)
    if interval == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "week":
        # Python: Monday=0 … Sunday=6. Sunday-start weeks go back (weekday+1)%7 days.
        back = (day.weekday() + 1) % 7 if week_start == 0 else day.weekday()
        return _normalize(day.replace(tzinfo=None) - timedelta(days=back), day.tzinfo)
    if interval == "month":
        return day.replace(day=1)
    return day


def step(moment: datetime, interval: str) -> datetime:
    naive = moment.replace(tzinfo=None)
    if interval == "minute":
        naive += timedelta(minutes=1)
    elif interval == "hour":
        naive += timedelta(hours=1)
    elif interval == "day":
        naive += timedelta(days=1)
    elif interval == "week":
        naive += timedelta(weeks=1)
    else:
        naive = _shift_months(naive, -1)
    return naive.replace(tzinfo=moment.tzinfo)


def _short(day: date, with_year: bool) -> str:
    text = f"{day.day}-{day.strftime('%b')}"
    return f"{text}-{day.year}" if with_year else text


def week_label(start: date, end: date) -> str:
    if start == end:
        return _short(start, True)
    if start.year != end.year:
        return f"{_short(start, True)} – {_short(end, True)}"
    if start.month != end.month:
        return f"{_short(start, False)} – {_short(end, False)}"
    return f"{start.day}–{end.day} {start.strftime('%b')}"


@dataclass(frozen=True)
class ResolvedRange:
    date_from: datetime  # as resolved (used for WHERE of funnels, for labels)
    date_to: datetime
    where_from: datetime  # lower bound of the trends WHERE clause
    interval: str
    week_start: int
    relative_from: str | None  # the relative kind of date_from ('d', 'h', …), None if absolute
    explicit: bool
    raw_to: datetime  # date_to before the end-of-interval extension (compare periods start from it)

    def buckets(self) -> list[datetime]:
        current = start_of(self.date_from, self.interval, self.week_start)
        out = []
        while current <= self.date_to:
            out.append(current)
            if len(out) > MAX_BUCKETS:
                raise QueryError(
                    f"The date range has more than {MAX_BUCKETS} {self.interval}s; use a larger interval."
                )
            current = step(current, self.interval)
        return out

    def slots(self) -> Callable[[object], int | None]:
        """Bucket text as the engine prints it (``toString`` of a bucket start) → the bucket's position."""
        width = 19 if self.interval in ("hour", "minute") else 10
        index = {b.strftime("%Y-%m-%d %H:%M:%S")[:width]: i for i, b in enumerate(self.buckets())}
        return lambda text: index.get(str(text)[:width])

    def day_strings(self) -> list[str]:
        fmt = "%Y-%m-%d %H:%M:%S" if self.interval in ("hour", "minute") else "%Y-%m-%d"
        return [b.strftime(fmt) for b in self.buckets()]

    def labels(self) -> list[str]:
        out = []
        for bucket in self.buckets():
            if self.interval in ("hour", "minute"):
                out.append(f"{bucket.day}-{bucket.strftime('%b %H:%M')}")
            elif self.interval == "month":
                out.append(bucket.strftime("%b %Y"))
            elif self.interval == "week":
                first = max(bucket.date(), self.date_from.date())
                last = min(bucket.date() + timedelta(days=6), self.date_to.date())
                out.append(week_label(first, last))
            else:
                out.append(_short(bucket.date(), True))
        return out

    def as_json(self) -> dict[str, str]:
        return {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat()}


@dates_in_range()
def resolve(
    date_from: str | None,
    date_to: str | None,
    interval: str,
    tz: ZoneInfo,
    now: datetime,
    *,
    explicit: bool = False,
    exact: bool = False,
    earliest: datetime | None = None,
    week_start: int = 0,
) -> ResolvedRange:
    """``explicit`` (``dateRange.explicitDate``): both bounds exactly as parsed. ``exact`` (PostHog's
    ``exact_timerange``, BoldNumber): ``date_from`` is not truncated and a missing ``date_to`` is now,
    but a given ``date_to`` is still extended to the end of its day unless ``explicit``."""
    now = now.astimezone(tz)
    relative_kind: str | None = None
    if date_from is None or date_from.strip() == "":
        start = datetime.combine(now.date(), time(), tz) - timedelta(days=DEFAULT_DAYS)
        start = _normalize(start, tz)
        relative_kind = "d"
    elif date_from.strip() == "all":
        start = (earliest or EARLIEST_FALLBACK.replace(tzinfo=tz)).astimezone(tz)
        relative_kind = "all"
    else:
        parsed = parse_date(date_from, now, tz)
        start = parsed.moment
        relative_kind = parsed.relative_kind
        if relative_kind is not None and interval != "minute" and not (explicit or exact):
            start = start_of(start, "hour" if relative_kind == "h" else "day")
    no_end = date_to is None or date_to.strip() == ""
    if date_to is None or no_end:
        end, end_relative = now, True
    else:
        parsed_to = parse_date(date_to, now, tz)
        end, end_relative = parsed_to.moment, parsed_to.relative_kind is not None
    raw_to = end
    if not explicit and not (exact and no_end):
        end = extend_end(end, interval, end_relative)
    exact_from = (
        explicit or exact or interval in ("hour", "minute") or (relative_kind == "h" and interval == "day")
    )
    where_from = start if exact_from else start_of(start, "month" if interval == "month" else "day")
    if start > end:
        raise QueryError("The date range starts after it ends: date_from must be before date_to.")
    return ResolvedRange(
        date_from=start,
        date_to=end,
        where_from=where_from,
        interval=interval,
        week_start=week_start,
        relative_from=relative_kind,
        explicit=explicit or exact,
        raw_to=raw_to,
    )


def extend_end(end: datetime, interval: str, relative: bool) -> datetime:
    if interval in ("day", "week", "month"):
        return end.replace(hour=23, minute=59, second=59, microsecond=999999)
    if interval == "hour" and relative:
        return end.replace(minute=59, second=59, microsecond=999999)
    if interval == "minute" and relative:
        return end.replace(second=59, microsecond=999999)
    return end


@dates_in_range()
def previous_period(current: ResolvedRange, date_from: str | None, date_to: str | None) -> ResolvedRange:
    """PostHog's ``get_compare_period_dates`` (spec §2.7), including the -Nd (N % 7 == 0) kludge."""
    tz = current.date_from.tzinfo
    assert isinstance(tz, ZoneInfo)
    start, raw_to = current.date_from.replace(tzinfo=None), current.raw_to.replace(tzinfo=None)
    diff = raw_to - start
    prev_from = start - diff
    if current.interval == "hour":
        prev_from = prev_from.replace(hour=start.hour, minute=start.minute, second=start.second)
        prev_to = (prev_from + diff).replace(
            minute=raw_to.minute, second=raw_to.second, microsecond=raw_to.microsecond
        )
    else:
        prev_from = datetime.combine(prev_from.date(), start.time())
        match = re.fullmatch(r"-(\d+)d", (date_from or "-7d").strip())
        if current.interval == "day" and match and int(match.group(1)) % 7 == 0 and not date_to:
            prev_from += timedelta(days=1)
        prev_to = datetime.combine((prev_from + diff).date(), raw_to.time())
    aware_from, aware_to = prev_from.replace(tzinfo=tz), prev_to.replace(tzinfo=tz)
    end = aware_to if current.explicit else extend_end(aware_to, current.interval, True)
    exact = current.where_from == current.date_from
    return ResolvedRange(
        date_from=aware_from,
        date_to=end,
        where_from=aware_from
        if exact
        else start_of(aware_from, "month" if current.interval == "month" else "day"),
        interval=current.interval,
        week_start=current.week_start,
        relative_from=current.relative_from,
        explicit=current.explicit,
        raw_to=aware_to,
    )


@dates_in_range()
def compare_to_period(current: ResolvedRange, compare_to: str) -> ResolvedRange:
    """PostHog's ``QueryCompareToDateRange`` (spec §2.7): ``compare_to`` (e.g. ``-1w``) applied to the
    current ``date_from`` gives the previous start; the previous end keeps the current length."""
    tz = current.date_from.tzinfo
    assert isinstance(tz, ZoneInfo)
    start = parse_date(compare_to, current.date_from, tz).moment
    length = current.date_to.replace(tzinfo=None) - current.date_from.replace(tzinfo=None)
    end = _normalize(start.replace(tzinfo=None) + length, tz)
    exact = current.where_from == current.date_from
    where_from = start if exact else start_of(start, "month" if current.interval == "month" else "day")
    return ResolvedRange(
        date_from=start,
        date_to=end,
        where_from=where_from,
        interval=current.interval,
        week_start=current.week_start,
        relative_from=current.relative_from,
        explicit=current.explicit,
        raw_to=end,
    )
