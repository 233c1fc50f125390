"""Every error leaves the server as PostHog's body ``{"type", "code", "detail", "attr"}``.

This module is the one place where domain errors, validation errors and framework errors
become HTTP responses.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from insightd.api.rendering import JSONResponse
from insightd.errors import (
    InsightdError,
    MethodNotAllowed,
    NotFound,
    ParseError,
    ValidationFailed,
)

logger = logging.getLogger("insightd.api")

_TYPE_NAMES = {
    "list": "list",
    "dict": "dict",
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "NoneType": "NoneType",
}


def error_response(error: InsightdError) -> Response:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers())


def _attr(loc: tuple[Any, ...]) -> str | None:
    parts = (
        [str(p) for p in loc[1:]]
        if loc and loc[0] in ("body", "query", "path", "header")
        else [str(p) for p in loc]
    )
    parts = [p for p in parts if not p.startswith("function-")]
    return "__".join(parts) or None


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value).__name__, type(value).__name__)


def translate_validation_error(error: dict[str, Any]) -> InsightdError:
    """One pydantic error → the DRF error PostHog would give for the same input."""
    kind = error.get("type", "")
    loc = tuple(error.get("loc", ()))
    attr = _attr(loc)
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if loc and loc[0] == "path":
        return NotFound()
    if kind == "json_invalid":
        return ParseError(f"JSON parse error - {ctx.get('error', 'invalid JSON')}")
    if kind == "parse_error":
        return ParseError(str(ctx.get("detail") or error.get("msg")))
    if kind == "missing":
        return ValidationFailed("This field is required.", code="required", attr=attr)
    if value is None and (
        kind.endswith("_type") or kind.endswith("_parsing") or kind in ("literal_error", "enum")
    ):
        return ValidationFailed("This field may not be null.", code="null", attr=attr)
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return ValidationFailed("A valid integer is required.", attr=attr)
    if kind in ("bool_type", "bool_parsing"):
        return ValidationFailed("Must be a valid boolean.", attr=attr)
    if kind == "string_type":
        return ValidationFailed("Not a valid string.", attr=attr)
    if kind == "list_type":
        return ValidationFailed(
            f'Expected a list of items but got type "{_type_name(value)}".', code="not_a_list", attr=attr
        )
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return ValidationFailed(
            f"Invalid data. Expected a dictionary, but got {_type_name(value)}.", attr=attr
        )
    if kind == "too_short" and ctx.get("min_length") == 1:
        return ValidationFailed("This list may not be empty.", code="empty", attr=attr)
    if kind == "too_short":
        return ValidationFailed(
            f"Ensure this field has at least {ctx.get('min_length')} elements.", code="min_length", attr=attr
        )
    if kind == "too_long" and isinstance(value, str):
        return ValidationFailed(
            f"Ensure this field has no more than {ctx.get('max_length')} characters.",
            code="max_length",
            attr=attr,
        )
    if kind == "too_long":
        return ValidationFailed(
            f"Ensure this field has no more than {ctx.get('max_length')} elements.",
            code="max_length",
            attr=attr,
        )
    if kind == "string_too_long":
        return ValidationFailed(
            f"Ensure this field has no more than {ctx.get('max_length')} characters.",
            code="max_length",
            attr=attr,
        )
    if kind == "string_too_short":
        return ValidationFailed("This field may not be blank.", code="blank", attr=attr)
    if kind in ("literal_error", "enum"):
        shown = value if isinstance(value, str) else repr(value)
        code = "blank" if value == "" else "invalid_choice"
        detail = "This field may not be blank." if value == "" else f'"{shown}" is not a valid choice.'
        return ValidationFailed(detail, code=code, attr=attr)
    if kind in ("less_than_equal", "less_than"):
        return ValidationFailed(
            f"Ensure this value is less than or equal to {ctx.get('le', ctx.get('lt'))}.",
            code="max_value",
            attr=attr,
        )
    if kind in ("greater_than_equal", "greater_than"):
        return ValidationFailed(
            f"Ensure this value is greater than or equal to {ctx.get('ge', ctx.get('gt'))}.",
            code="min_value",
            attr=attr,
        )
    if kind == "invalid_unicode":
        return ValidationFailed(str(error.get("msg")), attr=attr)
    if kind == "null_characters_not_allowed":
        return ValidationFailed("Null characters are not allowed.", code=kind, attr=attr)
    if kind == "tag_too_long":
        return ValidationFailed(str(error.get("msg")), code="max_length", attr=f"{attr}__{ctx.get('index')}")
    if kind == "value_error":
        message = str(ctx.get("error") or error.get("msg", "Invalid input."))
        return ValidationFailed(message, attr=attr)
    return ValidationFailed(str(error.get("msg", "Invalid input.")), attr=attr)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InsightdError)
    async def _domain(_request: Request, exc: InsightdError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        error = translate_validation_error(dict(errors[0])) if errors else ValidationFailed()
        return error_response(error)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(NotFound())
        if exc.status_code == 405:
            return error_response(MethodNotAllowed(request.method))
        if exc.status_code == 400 and request.method in ("POST", "PUT", "PATCH"):
            # FastAPI could not decode the body (bad UTF-8, nesting too deep, …).
            return error_response(ParseError(f"JSON parse error - {exc.detail}"))
        error = InsightdError(str(exc.detail))
        error.status = exc.status_code
        error.type = "invalid_request" if exc.status_code < 500 else "server_error"
        return error_response(error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(InsightdError("A server error occurred."))
