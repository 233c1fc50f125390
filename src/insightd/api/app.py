"""The application factory: the one place where settings, store and routes come together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from insightd import __version__
from insightd.api.errors import install_error_handlers
from insightd.api.middleware import APIConventions, RequestMetrics
from insightd.api.rendering import ok
from insightd.api.routes import (
    admin,
    capture,
    dashboard_actions,
    dashboards,
    insight_cancel,
    insight_metadata,
    insight_tags_views,
    insights,
    projects,
    query,
    sdk,
    tags,
)
from insightd.metrics import CONTENT_TYPE_LATEST
from insightd.settings import Settings
from insightd.state import AppState

# Collection actions come before the detail routes they would otherwise be taken for (/insights/{lookup}/).
PROJECT_ROUTERS = (
    insight_tags_views.router,
    insight_metadata.router,
    insight_cancel.router,
    insights.router,
    dashboard_actions.router,
    dashboards.router,
    tags.router,
    query.router,
    projects.router,
)


def _unique_id(prefix: str) -> Any:
    def generate(route: APIRoute) -> str:
        method = sorted(route.methods or {"get"})[0].lower()
        tags = "_".join(str(t) for t in route.tags) or "root"
        return f"{prefix}_{tags}_{route.name}_{method}"

    return generate


def create_app(settings: Settings | None = None, *, state: AppState | None = None) -> FastAPI:
    """Build insightd. ``settings`` default to the environment; ``state`` lets tests share a store."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = state is None
        app.state.insightd = state or AppState.open(settings)
        try:
            yield
        finally:
            if owned:
                app.state.insightd.close()

    app = FastAPI(
        title="insightd",
        version=__version__,
        description="A self-hosted server that speaks PostHog's Insights API. "
        "Authenticate with a personal API key: `Authorization: Bearer phx_…`.",
        openapi_url="/api/schema/",
        docs_url="/api/docs/",
        redoc_url=None,
        lifespan=lifespan,
    )
    if state is not None:
        app.state.insightd = state
    install_error_handlers(app)
    for prefix, name in (
        ("/api/projects/{project_id}", "projects"),
        ("/api/environments/{project_id}", "environments"),
    ):
        for router in PROJECT_ROUTERS:
            app.include_router(router, prefix=prefix, generate_unique_id_function=_unique_id(name))
    app.include_router(capture.router)
    app.include_router(sdk.router)
    app.include_router(admin.router)
    app.include_router(_service_router())
    app.add_middleware(APIConventions)
    app.add_middleware(RequestMetrics)
    app.openapi = partial(_openapi_with_auth, app)  # type: ignore[method-assign]
    return app


def _openapi_with_auth(app: FastAPI) -> dict[str, Any]:
    """The generated schema, plus personal API keys as its security scheme (the docs' Authorize button)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {})["securitySchemes"] = {
            "PersonalAPIKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal API key (phx_…).",
            }
        }
        for path, operations in schema["paths"].items():
            if path.startswith("/api/"):
                for operation in operations.values():
                    operation["security"] = [{"PersonalAPIKey": []}]
        app.openapi_schema = schema
    return app.openapi_schema


def _service_router() -> APIRouter:
    router = APIRouter(tags=["service"])

    @router.get("/_health", summary="Liveness check")
    async def health() -> Response:
        return ok({"status": "ok", "version": __version__})

    @router.get("/metrics", summary="Prometheus metrics (counts and durations only, never data)")
    async def metrics(request: Request) -> Response:
        state: AppState = request.app.state.insightd
        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router
