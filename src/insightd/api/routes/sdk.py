"""What posthog-js calls besides capture: remote config, ``/flags``, ``/decide`` and replay ``/s/``.

Tokens are checked as capture checks them; refusals use capture's JSON error body and CORS.
``/flags`` and ``/decide`` answer 401 for a missing, malformed or unknown token (as PostHog does);
remote config answers 404 for a token it does not know (as PostHog's remote config view does).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from insightd.api.rendering import JSONResponse
from insightd.api.routes.capture import cors_headers, error_response
from insightd.events.capture import check_token_shape, parse_capture
from insightd.events.decode import decode_payload
from insightd.events.errors import CaptureError
from insightd.events.sdk_config import (
    decide_answer,
    flags_answer,
    flags_token,
    remote_config_js,
    remote_config_json,
)
from insightd.events.timestamps import now_us
from insightd.state import AppState

FLAGS_BODY_LIMIT = 1024 * 1024
REPLAY_BODY_LIMIT = 25 * 1024 * 1024
UNKNOWN = "api_key does not resolve to a known project"

router = APIRouter(tags=["capture"])


def _known(request: Request, token: str, *, status: int) -> None:
    state: AppState = request.app.state.insightd
    if state.tokens.resolve(token) is None:
        raise CaptureError(status, "ingest_key_unknown", UNKNOWN)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    body = b"" if declared.isdigit() and int(declared) > limit else await request.body()
    if len(body) > limit or (declared.isdigit() and int(declared) > limit):
        raise CaptureError(413, "payload_too_large", "request body too large")
    return body


async def _flags_or_decide(request: Request, *, decide: bool) -> Response:
    if request.method == "OPTIONS":
        return JSONResponse({"status": 1}, headers=cors_headers(request))
    try:
        body = await _body(request, FLAGS_BODY_LIMIT)
        value = None
        if body or request.query_params.get("data"):
            value = decode_payload(
                body,
                request.query_params,
                content_type=request.headers.get("content-type", ""),
                content_encoding=request.headers.get("content-encoding", ""),
            )
        _known(request, flags_token(value, request.query_params), status=401)
    except CaptureError as error:
        return error_response(request, error)
    answer = decide_answer(request.query_params) if decide else flags_answer(request.query_params)
    return JSONResponse(answer, headers=cors_headers(request))


async def flags(request: Request) -> Response:
    return await _flags_or_decide(request, decide=False)


async def decide(request: Request) -> Response:
    return await _flags_or_decide(request, decide=True)


def _config_token(request: Request, token: str) -> CaptureError | None:
    try:
        check_token_shape(token)
        _known(request, token, status=404)
    except CaptureError as error:
        return CaptureError(404, error.code, UNKNOWN)
    return None


async def _remote_config(request: Request, token: str, render: Callable[[str], Response]) -> Response:
    if request.method == "OPTIONS":
        return JSONResponse({"status": 1}, headers=cors_headers(request))
    error = _config_token(request, token)
    if error is not None:
        return error_response(request, error)
    response = render(token)
    response.headers.update(cors_headers(request))
    return response


async def config(request: Request, token: str) -> Response:
    return await _remote_config(request, token, lambda t: JSONResponse(remote_config_json(t)))


async def config_js(request: Request, token: str) -> Response:
    return await _remote_config(
        request, token, lambda t: Response(remote_config_js(t), media_type="application/javascript")
    )


async def replay(request: Request) -> Response:
    """``/s/``: recordings are off in remote config; a client that sends anyway is acked and ignored."""
    if request.method == "OPTIONS":
        return JSONResponse({"status": 1}, headers=cors_headers(request))
    try:
        body = await _body(request, REPLAY_BODY_LIMIT)
        value = decode_payload(
            body,
            request.query_params,
            content_type=request.headers.get("content-type", ""),
            content_encoding=request.headers.get("content-encoding", ""),
        )
        batch = parse_capture(value, path="/s/", now=now_us())
        _known(request, batch.token, status=401)
    except CaptureError as error:
        return error_response(request, error)
    return JSONResponse({"status": 1}, headers=cors_headers(request))


_ROUTES = (
    ("/flags", flags),
    ("/decide", decide),
    ("/s", replay),
    ("/array/{token}/config", config),
    ("/array/{token}/config.js", config_js),
)

for _path, _endpoint in _ROUTES:
    _paths = (_path,) if _path.startswith("/array/") else (_path, _path + "/")
    for _variant in _paths:
        for _method in ("GET", "POST", "OPTIONS"):  # one route per method: unique OpenAPI operation ids
            _name = _variant.strip("/").replace("/", "_").replace("{token}", "token").replace(".", "_")
            router.add_api_route(
                _variant,
                _endpoint,
                methods=[_method],
                include_in_schema=False,
                name=f"sdk_{_name}{'_slash' if _variant.endswith('/') else ''}_{_method.lower()}",
            )
