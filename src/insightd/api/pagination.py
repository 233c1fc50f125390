"""PostHog's limit/offset pagination: ``{count, next, previous, results}`` with absolute URLs."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

DEFAULT_LIMIT = 100
MAX_PAGE = 10_000  # no page holds more rows than this
MAX_OFFSET = 2**62


def _non_negative(value: str | None, default: int) -> int:
    """DRF's rule: a missing or malformed value falls back to the default."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if number >= 0 else default


def positive_int(value: str | None, default: int) -> int:
    return _non_negative(value, default) or default


def limit_offset(request: Request, default_limit: int = DEFAULT_LIMIT) -> tuple[int, int]:
    limit = min(MAX_PAGE, positive_int(request.query_params.get("limit"), default_limit))
    offset = min(MAX_OFFSET, _non_negative(request.query_params.get("offset"), 0))
    return limit, offset


def page(request: Request, count: int, results: list[Any], limit: int, offset: int) -> dict[str, Any]:
    def link(new_offset: int) -> str:
        url = request.url.include_query_params(limit=limit)
        url = (
            url.remove_query_params("offset")
            if new_offset <= 0
            else url.include_query_params(offset=new_offset)
        )
        return str(url)

    return {
        "count": count,
        "next": link(offset + limit) if offset + limit < count else None,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "results": results,
    }
