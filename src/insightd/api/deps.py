"""Request dependencies: the app's services and the authorised actor of a request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any

import orjson
from fastapi import Depends, Path, Request

from insightd.auth.keys import hash_key_value
from insightd.auth.ratelimit import retry_after
from insightd.errors import NotAuthenticated, NotFound, Throttled
from insightd.services.access import (
    Principal,
    authenticate_key,
    current_project_id,
    project_for,
    require_scope,
    touch_key,
)
from insightd.services.context import Actor
from insightd.state import AppState
from insightd.store.models import Project

CURRENT = "@current"  # PostHog's alias for the caller's current project


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.insightd
    return state


State = Annotated[AppState, Depends(app_state)]


async def _credential(request: Request) -> tuple[str, str] | None:
    """PostHog's order: Authorization Bearer header, then a body field, then a query parameter."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token and not token.startswith("pha_"):
            return token, "header"
    if request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()
        if body and b"personal_api_key" in body:
            try:
                data: Any = orjson.loads(body)
            except orjson.JSONDecodeError:
                data = None
            if isinstance(data, dict) and isinstance(data.get("personal_api_key"), str):
                return data["personal_api_key"], "body"
    query_token = request.query_params.get("personal_api_key")
    if query_token:
        return query_token, "query"
    return None


def _principal(state: AppState, secure_value: str, source: str) -> Principal:
    with state.db.read() as session:
        principal = authenticate_key(session, secure_value, source)
    if principal.needs_touch:
        touch_key(state.db, principal)
    return principal


def _project(state: AppState, principal: Principal, project_id: str) -> Project:
    with state.db.read() as session:
        wanted = current_project_id(session, principal) if project_id == CURRENT else int(project_id)
        return project_for(session, principal, wanted)


def authorized(scope: str | None, *, throttle: bool = False) -> Callable[..., Awaitable[Actor]]:
    """A dependency that authenticates, checks ``scope`` and project access, and rate-limits."""

    async def dependency(
        request: Request, state: State, project_id: Annotated[str, Path(description="Project id")]
    ) -> Actor:
        credential = await _credential(request)
        if credential is None:
            raise NotAuthenticated()
        if project_id != CURRENT and (not project_id.isdigit() or len(project_id) > 18):
            raise NotFound("Project not found.")
        token, source = credential
        secure_value = hash_key_value(token)
        # PostHog's order of checks: the key (401), its scope (403), then the project (403/404). A burst
        # of requests with one key costs one lookup each: the answers are remembered for a few seconds.
        # Concurrent requests that miss share one lookup (no stampede when an entry expires).
        principal = await state.principals.load(
            secure_value, partial(_principal, state, secure_value, source), flight=(secure_value, source)
        )
        require_scope(principal, scope)
        project = await state.project_access.load(
            (secure_value, project_id), partial(_project, state, principal, project_id)
        )
        if throttle:
            wait = state.rate_limiter.hit(principal.key_hash)
            if wait is not None:
                raise Throttled(retry_after(wait))
        actor = Actor(project=project, user=principal.user)
        request.state.actor = actor
        return actor

    return dependency


def actor_dependency(scope: str | None, *, throttle: bool = False) -> Any:
    return Annotated[Actor, Depends(authorized(scope, throttle=throttle))]


InsightRead = actor_dependency("insight:read", throttle=True)
InsightWrite = actor_dependency("insight:write", throttle=True)
ProjectRead = actor_dependency("project:read", throttle=True)
ProjectWrite = actor_dependency("project:write", throttle=True)
DashboardRead = actor_dependency("dashboard:read")
DashboardWrite = actor_dependency("dashboard:write")
ActivityRead = actor_dependency("activity_log:read", throttle=True)
