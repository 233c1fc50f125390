"""A local admin API for the tools that share this server's data directory (``insightd load``/``demo``).

chDB lets one process own a data directory, so while a server runs, those commands hand their work
to it here. Only loopback clients holding the data directory's admin token (``<data-dir>/admin.token``,
readable only by its owner) are served.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from insightd.api.rendering import JSONResponse
from insightd.state import AppState

router = APIRouter(prefix="/_admin", tags=["admin"], include_in_schema=False)
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_LOAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _refusal(request: Request) -> Response | None:
    state: AppState = request.app.state.insightd
    if request.client is None or request.client.host not in LOOPBACK:
        return JSONResponse({"detail": "the admin API answers only local clients"}, status_code=403)
    expected = state.events.admin_token
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return JSONResponse({"detail": "a valid admin token is required"}, status_code=401)
    return None


def _bad(detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=400)


@router.get("/ping")
async def ping(request: Request) -> Response:
    if (refused := _refusal(request)) is not None:
        return refused
    state: AppState = request.app.state.insightd
    return JSONResponse({"status": "ok", "data_dir": str(state.settings.data_dir.resolve())})


@router.post("/flush")
async def flush(request: Request) -> Response:
    """Wait until every acknowledged event is in the event store."""
    if (refused := _refusal(request)) is not None:
        return refused
    state: AppState = request.app.state.insightd
    done = await run_in_threadpool(state.events.flush, 60.0)
    return JSONResponse({"flushed": done, "error": state.events.last_error}, status_code=200 if done else 503)


async def _json(request: Request) -> dict[str, Any] | None:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


@router.post("/events/stats")
async def stats(request: Request) -> Response:
    """Counts for one project (and how many of the given uuids are stored)."""
    if (refused := _refusal(request)) is not None:
        return refused
    body = await _json(request)
    if body is None or not isinstance(body.get("project_id"), int):
        return _bad("expected a JSON object with an integer project_id")
    uuids = body.get("uuids")
    if uuids is not None and not (isinstance(uuids, list) and all(isinstance(u, str) for u in uuids)):
        return _bad("uuids must be a list of strings")
    state: AppState = request.app.state.insightd
    await run_in_threadpool(state.events.flush, 60.0)
    return JSONResponse(await run_in_threadpool(state.events.stats, body["project_id"], uuids))


@router.post("/events/arrow")
async def load_arrow(request: Request) -> Response:
    """Store an Arrow IPC stream of normalised events (``insightd load``/``demo`` send these).

    With ``load=<id>`` the table joins that load's pipeline: the answer (its counts) comes once the
    table is deduplicated and its persons resolved, and it is inserted while the next one arrives;
    ``POST /_admin/events/arrow/finish?load=<id>`` then waits for the inserts. Without, the answer
    comes once the table is stored."""
    if (refused := _refusal(request)) is not None:
        return refused
    project = request.query_params.get("project_id", "")
    if not project.isdigit():
        return _bad("project_id must be an integer query parameter")
    load_id = request.query_params.get("load")
    if load_id is not None and not _LOAD_ID.match(load_id):
        return _bad("load must be 1 to 64 letters, digits, '-' or '_'")
    body = await request.body()
    state: AppState = request.app.state.insightd

    def store() -> dict[str, int]:
        from insightd.events.loader import read_ipc

        table = read_ipc(body)
        session = state.events.load_session(load_id) if load_id else None
        writer = session.write if session is not None else state.events.write_table
        result = writer(int(project), table)
        return {"stored": result.stored, "duplicates": result.duplicates}

    try:
        return JSONResponse(await run_in_threadpool(store))
    except ValueError as exc:
        return _bad(str(exc))
    except RuntimeError as exc:  # an earlier table of this load could not be stored
        return JSONResponse({"detail": str(exc)}, status_code=503)


@router.post("/events/arrow/finish")
async def finish_load(request: Request) -> Response:
    """Wait until every table of load ``load`` is stored; 503 with the reason if one could not be."""
    if (refused := _refusal(request)) is not None:
        return refused
    load_id = request.query_params.get("load", "")
    if not _LOAD_ID.match(load_id):
        return _bad("load must be 1 to 64 letters, digits, '-' or '_'")
    state: AppState = request.app.state.insightd
    try:
        await run_in_threadpool(state.events.finish_load, load_id)
    except RuntimeError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=503)
    return JSONResponse({"finished": True})
