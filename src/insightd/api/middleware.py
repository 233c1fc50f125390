"""ASGI middleware: optional trailing slashes and JSON-only request bodies on the API."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from insightd.api.errors import error_response
from insightd.errors import InsightdError, NotAcceptable, UnsupportedMediaType

logger = logging.getLogger("insightd.api")

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# PostHog's capture paths, served with and without the trailing slash (never subject to the 415 rule).
CAPTURE_PATHS = frozenset({"/batch", "/e", "/i/v0/e", "/capture", "/track", "/engage"})
PROJECT_PREFIXES = ("/api/projects/{project_id}", "/api/environments/{project_id}")
# What the API renders (JSON, and CSV on request): an Accept header that allows none of these is a 406.
RENDERED = ("application/json", "text/csv")


def acceptable(accept: str) -> bool:
    """Whether an ``Accept`` header allows JSON or CSV (ranges with ``q=0`` allow nothing)."""
    if not accept.strip():
        return True
    for item in accept.split(","):
        media, *params = (part.strip().lower() for part in item.split(";"))
        if any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
            continue
        if media in ("*/*", "*", "application/*", "text/*") or media in RENDERED or media.endswith("+json"):
            return True
    return False


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", "application/json") or media.endswith("+json")


class APIConventions:
    """Adds the trailing slash PostHog's router makes optional, and answers 415 to API writes
    whose body is not JSON (PostHog's insight viewset has only a JSON parser)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if (path.startswith("/api/") and not path.endswith("/")) or path in CAPTURE_PATHS:
                scope = dict(scope, path=path + "/", raw_path=(path + "/").encode())
            if path.startswith("/api/") and scope["method"] == "HEAD":
                # As Django: a HEAD is the GET without its body (same status and headers).
                scope = dict(scope, method="GET")
                send = _without_body(send)
            if path.startswith("/api/") and not _format_given(scope):
                accept = ", ".join(v.decode("latin-1") for k, v in scope["headers"] if k == b"accept")
                if not acceptable(accept):
                    await error_response(NotAcceptable())(scope, receive, send)
                    return
            if path.startswith("/api/") and scope["method"] in BODY_METHODS:
                content_type = ""
                for name, value in scope["headers"]:
                    if name == b"content-type":
                        content_type = value.decode("latin-1")
                        break
                if not _is_json(content_type):
                    media = content_type.split(";", 1)[0].strip()
                    await error_response(UnsupportedMediaType(media))(scope, receive, send)
                    return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            # Answer a clean 500 in PostHog's shape (and keep the connection usable) instead of
            # letting the server tear the connection down; the traceback goes to the log only.
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            if started or scope["type"] != "http":
                raise
            await error_response(InsightdError())(scope, receive, send)


def _format_given(scope: Scope) -> bool:
    """``?format=`` picks the renderer whatever the Accept header says (DRF's URL format override)."""
    return b"format=" in scope.get("query_string", b"")


def _without_body(send: Send) -> Send:
    async def send_headers_only(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body"):
                return  # the rest of a streamed body: dropped, the last part ends the response
            message = {**message, "body": b""}
        await send(message)

    return send_headers_only


class RequestMetrics:
    """Records each HTTP request's duration by route template, method and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            for prefix in PROJECT_PREFIXES:  # included routers report their path without the prefix
                if template != "unmatched" and scope["path"].startswith(prefix[: prefix.index("{")]):
                    template = prefix + template
            state = getattr(scope.get("app"), "state", None)
            insightd = getattr(state, "insightd", None)
            if insightd is not None:
                insightd.metrics.http_duration.labels(template, scope["method"], str(status)).observe(
                    time.perf_counter() - started
                )
