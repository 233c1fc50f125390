"""PostHog's ``refresh`` values → execution modes, and when a cached result is stale (spec §10)."""

from __future__ import annotations

import math
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
# A result without a date range (SQL) is as fresh as PostHog's runners without query_date_range: "minute".
NO_INTERVAL = "minute"
# Minimum gaps between client refreshes (PostHog's ``_refresh_frequency``): insights 15 min, 3 min when
# hourly or over at most 7 days; every other runner (SQL) 1 min.
BASE_CLIENT_REFRESH_GAP = timedelta(minutes=15)
REDUCED_CLIENT_REFRESH_GAP = timedelta(minutes=3)
QUERY_CLIENT_REFRESH_GAP = timedelta(minutes=1)
INSIGHT_KINDS = ("TrendsQuery", "FunnelsQuery")


def parse_refresh(value: str | bool | None, *, lenient: bool = False) -> ExecutionMode:
    """``refresh`` from a query string or body; absent means ``force_cache`` as in PostHog.

    The legacy booleans (``true``, ``0``, …) are read in any case, a mode only by its exact name
    (PostHog's ``refresh_requested_by_client``: ``BLOCKING`` is not ``blocking``).
    ``lenient`` (insight endpoints): an unknown value reads the cache, as PostHog's insight endpoints
    do; otherwise (the query endpoint's body) it is a 400.
    """
    if value is None:
        return ExecutionMode.FORCE_CACHE
    if isinstance(value, bool):
        return ExecutionMode.FORCE_BLOCKING if value else ExecutionMode.FORCE_CACHE
    if value.lower() in _ALIASES:
        return _ALIASES[value.lower()]
    try:
        return ExecutionMode(value)
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
    return last_refresh + table.get(interval or NO_INTERVAL, table["day"])


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


def client_refresh_gap(
    kind: str, interval: str | None, date_from: datetime | None, date_to: datetime | None
) -> timedelta:
    """How long a client waits after ``last_refresh`` before it may refresh again."""
    if kind not in INSIGHT_KINDS:
        return QUERY_CLIENT_REFRESH_GAP
    days = None
    if date_from is not None and date_to is not None:
        days = math.ceil((date_to - date_from) / timedelta(days=1))
    if interval == "hour" or (days is not None and days <= 7):
        return REDUCED_CLIENT_REFRESH_GAP
    return BASE_CLIENT_REFRESH_GAP


def refresh_requested(value: str | bool | None) -> bool:
    """Whether PostHog's ``refresh_requested_by_client`` reads ``value`` as a refresh request: a true
    boolean or a mode's exact name (``force_cache`` included)."""
    if value is None or value is False:
        return False
    return (
        value == ExecutionMode.FORCE_CACHE
        or parse_refresh(value, lenient=True) is not ExecutionMode.FORCE_CACHE
    )
