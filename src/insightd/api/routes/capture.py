"""PostHog's capture API (``/batch/``, ``/e/``, ``/i/v0/e/``, ``/capture/``, ``/track/``) for the SDKs.

Success is 200 ``{"status": 1}`` (204 with ``beacon=1``) once the events are in the local
write-ahead log; refusals are capture's JSON ``{"status", "code", "error"}`` plus ``detail``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from insightd.api.rendering import JSONResponse
from insightd.events.capture import parse_capture
from insightd.events.decode import decode_payload
from insightd.events.errors import CaptureError
from insightd.events.timestamps import now_us, parse_sent_at_ms
from insightd.state import AppState

EVENT_PATHS = ("/e/", "/i/v0/e/", "/capture/", "/track/", "/engage/")
BATCH_PATH = "/batch/"
CAPTURE_PATHS = (BATCH_PATH, *EVENT_PATHS)
BODY_LIMIT = 2 * 1024 * 1024
BATCH_BODY_LIMIT = 20 * 1024 * 1024


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Replay the capture log into the event store before serving, so nothing acked waits."""
    state: AppState = app.state.insightd
    await run_in_threadpool(state.events.start)
    yield


router = APIRouter(tags=["capture"], lifespan=lifespan)


def cors_headers(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    if not origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": request.headers.get("access-control-request-headers", "*"),
        "Vary": "Origin",
    }


def error_response(request: Request, error: CaptureError) -> Response:
    return JSONResponse(error.body(), status_code=error.status, headers=cors_headers(request))


async def capture(request: Request) -> Response:
    if request.method == "OPTIONS":
        return JSONResponse({"status": 1}, headers=cors_headers(request))
    state: AppState = request.app.state.insightd
    limit = BATCH_BODY_LIMIT if request.url.path == BATCH_PATH else BODY_LIMIT
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return error_response(request, CaptureError(413, "payload_too_large", "request body too large"))
    body = await request.body()
    if len(body) > limit:
        return error_response(request, CaptureError(413, "payload_too_large", "request body too large"))
    query = request.query_params
    now = now_us()
    try:
        value = decode_payload(
            body,
            query,
            content_type=request.headers.get("content-type", ""),
            content_encoding=request.headers.get("content-encoding", ""),
        )
        batch = parse_capture(
            value,
            path=request.url.path,
            now=now,
            query_sent_at=parse_sent_at_ms(query.get("_") or query.get("sent_at")),
            client_ip=request.client.host if request.client else None,
        )
        project_id = state.tokens.resolve(batch.token)
        if project_id is None:
            raise CaptureError(401, "ingest_key_unknown", "api_key does not resolve to a known project")
        if batch.events:
            state.events.append(project_id, batch.events, now, historical=batch.historical_migration)
    except CaptureError as error:
        return error_response(request, error)
    if query.get("beacon") == "1":
        return Response(status_code=204, headers=cors_headers(request))
    return JSONResponse({"status": 1}, headers=cors_headers(request))


for _path in CAPTURE_PATHS:
    for _method in ("GET", "POST", "OPTIONS"):  # one route per method: unique OpenAPI operation ids
        router.add_api_route(
            _path,
            capture,
            methods=[_method],
            include_in_schema=_path in (BATCH_PATH, "/i/v0/e/") and _method == "POST",
            summary="Capture events (PostHog's capture API)",
            name=f"capture_{_path.strip('/').replace('/', '_')}_{_method.lower()}",
        )
