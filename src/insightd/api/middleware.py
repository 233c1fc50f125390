"""ASGI middleware: optional trailing slashes and JSON-only request bodies on the API."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from insightd.api.errors import error_response
from insightd.errors import UnsupportedMediaType

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


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
            if path.startswith("/api/") and not path.endswith("/"):
                scope = dict(scope, path=path + "/", raw_path=(path + "/").encode())
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
        await self.app(scope, receive, send)
