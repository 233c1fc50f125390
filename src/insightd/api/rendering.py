"""Responses: fast JSON, and CSV on request (``?format=csv`` or ``Accept: text/csv``).

CSV flattens nested objects into dotted columns as PostHog's CSV renderer does, but a list
(or a paginated list's ``results``) becomes one row per item instead of one wide row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from insightd.errors import NotFound

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, default=_default, option=JSON_OPTIONS)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def ok(data: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status_code, headers=headers)


def empty(status_code: int) -> Response:
    return Response(status_code=status_code)


def requested_format(request: Request) -> str:
    fmt = request.query_params.get("format")
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in ("json", "csv", "api"):
            raise NotFound()
        return "json" if fmt == "api" else fmt
    accept = request.headers.get("accept", "")
    if "text/csv" in accept:
        csv_at = accept.index("text/csv")
        json_at = accept.find("application/json")
        if json_at == -1 or csv_at < json_at:
            return "csv"
    return "json"


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """Dotted keys for nested values; empty objects and lists add no column (as DRF's CSV renderer)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}.{index}" if prefix else str(index), out)
    else:
        out[prefix or "value"] = "" if value is None else value


def rows_of(data: Any) -> list[Any]:
    """The items a CSV shows one row each: a list's items, a page's results, else the object."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("results"), list) and "count" in data:
        return list(data["results"])
    return [data] if data not in (None, "", {}) else []


def to_csv(data: Any) -> str:
    flat_rows = []
    for item in rows_of(data):
        row: dict[str, Any] = {}
        _flatten(item, "", row)
        flat_rows.append(row)
    if not flat_rows:
        return ""
    header = sorted({key for row in flat_rows for key in row})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, restval="", lineterminator="\r\n")
    writer.writeheader()
    for row in flat_rows:
        writer.writerow(row)  # booleans as True/False, as DRF's CSV renderer writes them
    return buffer.getvalue()


class NegotiatedRoute(APIRoute):
    """Renders a route's JSON response as CSV when the client asks for CSV."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            fmt = requested_format(request)
            response = await original(request)
            if fmt != "csv" or not (response.media_type or "").startswith("application/json"):
                return response
            body = bytes(response.body) if response.body else b""
            text = to_csv(orjson.loads(body)) if body else ""
            headers = {
                k: v
                for k, v in response.headers.items()
                if k.lower() not in ("content-length", "content-type")
            }
            return Response(
                text, status_code=response.status_code, media_type="text/csv; charset=utf-8", headers=headers
            )

        return handler
