"""PostHog's ``refresh`` values → execution modes, and when a cached result is stale (spec §10)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from insightd.errors import ValidationFailed


class ExecutionMode(StrEnum):
    FORCE_CACHE = "force_cache"
    """Cache only; never computes. A miss gives ``result: null``."""
    FORCE_BLOCKING = "force_blocking"
    """Always recompute, synchronously."""
    BLOCKING = "blocking"
    """Serve a fresh cached result, else compute synchronously."""
    ASYNC = "async"
    """Serve a fresh cached result, else compute in the background and report ``query_status``."""
    LAZY_ASYNC = "lazy_async"
    """Like ``async`` with longer staleness thresholds."""
    FORCE_ASYNC = "force_async"
    """Always compute in the background."""
    ASYNC_EXCEPT_ON_CACHE_MISS = "async_except_on_cache_miss"
    """Background refresh when stale, but compute synchronously when nothing is cached."""


_ALIASES = {
    "": ExecutionMode.FORCE_BLOCKING,
    "true": ExecutionMode.FORCE_BLOCKING,
    "1": ExecutionMode.FORCE_BLOCKING,
    "yes": ExecutionMode.FORCE_BLOCKING,
    "false": ExecutionMode.FORCE_CACHE,
    "0": ExecutionMode.FORCE_CACHE,
    "no": ExecutionMode.FORCE_CACHE,
}
THRESHOLDS = {
    "minute": timedelta(minutes=5),
    "hour": timedelta(hours=1),
    "day": timedelta(hours=6),
    "week": timedelta(days=1),
    "month": timedelta(days=1),
}
LAZY_THRESHOLDS = {
    "minute": timedelta(minutes=15),
    "hour": timedelta(hours=2),
    "day": timedelta(hours=12),
    "week": timedelta(days=1),
    "month": timedelta(days=1),
}
CLIENT_REFRESH_GAPS = {"minute": timedelta(minutes=1), "hour": timedelta(minutes=3)}
DEFAULT_CLIENT_REFRESH_GAP = timedelta(minutes=15)


def parse_refresh(value: str | bool | None, *, lenient: bool = False) -> ExecutionMode:
    """``refresh`` from a query string or body; absent means ``force_cache`` as in PostHog.

    ``lenient`` (insight GETs): an unknown value reads the cache, as PostHog's insight endpoints do;
    otherwise (the query endpoint's body) it is a 400.
    """
    if value is None:
        return ExecutionMode.FORCE_CACHE
    if isinstance(value, bool):
        return ExecutionMode.FORCE_BLOCKING if value else ExecutionMode.FORCE_CACHE
    text = value.strip().lower()
    if text in _ALIASES:
        return _ALIASES[text]
    try:
        return ExecutionMode(text)
    except ValueError:
        if lenient:
            return ExecutionMode.FORCE_CACHE
        choices = ", ".join(m.value for m in ExecutionMode)
        raise ValidationFailed(
            f'"{value}" is not a valid choice. Use one of: {choices}, true, false.',
            code="invalid_choice",
            attr="refresh",
        ) from None


def target_age(last_refresh: datetime, interval: str | None, *, lazy: bool = False) -> datetime:
    table = LAZY_THRESHOLDS if lazy else THRESHOLDS
    return last_refresh + table.get(interval or "day", table["day"])


def is_stale(
    last_refresh: datetime,
    interval: str | None,
    date_to: datetime | None,
    now: datetime,
    *,
    lazy: bool = False,
) -> bool:
    if date_to is not None and date_to < last_refresh - timedelta(seconds=10):
        return False  # a range that ended before the computation cannot change
    return now > target_age(last_refresh, interval, lazy=lazy)


def next_allowed_refresh(last_refresh: datetime, interval: str | None) -> datetime:
    return last_refresh + CLIENT_REFRESH_GAPS.get(interval or "day", DEFAULT_CLIENT_REFRESH_GAP)
