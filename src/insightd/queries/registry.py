"""Query kinds → runners (a dict, not an if-chain), and parsing a raw query into its model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from insightd.domain.queries import MAX_QUERY_DEPTH, unstorable
from insightd.errors import QueryError
from insightd.queries.funnels import FunnelsRunner
from insightd.queries.hogql import HogQLRunner
from insightd.queries.models import FunnelsQuery, HogQLQuery, TrendsQuery
from insightd.queries.runner import QueryContext, Runner
from insightd.queries.trends import TrendsRunner

MODELS: dict[str, type[BaseModel]] = {
    "TrendsQuery": TrendsQuery,
    "FunnelsQuery": FunnelsQuery,
    "HogQLQuery": HogQLQuery,
}
RUNNERS: dict[str, Callable[[Any, QueryContext], Runner]] = {
    "TrendsQuery": TrendsRunner,
    "FunnelsQuery": FunnelsRunner,
    "HogQLQuery": HogQLRunner,
}
WRAPPERS = ("InsightVizNode", "DataTableNode", "DataVisualizationNode")


def _attr(loc: tuple[Any, ...]) -> str:
    return "__".join(str(part) for part in loc)


def parse_query(raw: Any) -> BaseModel:
    """The computable source node of ``raw`` (wrappers unwrapped), or a 400 saying what is wrong."""
    if not isinstance(raw, dict):
        raise QueryError("Query must be a JSON object with a 'kind'.", attr="query")
    node: Any = raw
    prefix = "query"
    if raw.get("kind") in WRAPPERS:
        node, prefix = raw.get("source"), "query__source"
        if not isinstance(node, dict):
            raise QueryError(f"{raw['kind']} requires a 'source' query object.", attr="query__source")
    kind = node.get("kind")
    if not isinstance(kind, str) or not kind:
        raise QueryError("Query is missing the 'kind' field.", attr=f"{prefix}__kind")
    model = MODELS.get(kind)
    if model is None:
        raise QueryError(
            f"Query kind '{kind}' is not supported by insightd yet; supported kinds: "
            f"{', '.join(sorted(MODELS))}.",
            code="unsupported_query_kind",
            attr=f"{prefix}__kind",
        )
    if (found := unstorable(node)) is not None:
        problem, where = found
        if problem == "too_deep":  # orjson and the cache key stop at 255 levels
            raise QueryError(
                f"Invalid {kind}: nested more than {MAX_QUERY_DEPTH} levels deep.", attr=f"{prefix}__{where}"
            )
        what = (  # ClickHouse, orjson and the cache key stop at 64 bits; NaN would share null's cache key
            "integer out of range"
            if problem == "huge_integer"
            else "NaN and infinite numbers are not allowed"
        )
        raise QueryError(
            f"Invalid {kind}: {what} (at {where or kind}).", attr=f"{prefix}__{where}" if where else prefix
        )
    try:
        return model.model_validate(node)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _attr(tuple(first.get("loc", ())))
        message = first.get("msg", "invalid value")
        if first.get("type") == "extra_forbidden":
            message = f"Unknown field '{where.rsplit('__', 1)[-1]}'"
        raise QueryError(
            f"Invalid {kind}: {message} (at {where or kind}).", attr=f"{prefix}__{where}" if where else prefix
        ) from exc


def runner_for(query: BaseModel, ctx: QueryContext) -> Runner:
    kind = str(getattr(query, "kind"))  # noqa: B009 - every model has a literal kind
    return RUNNERS[kind](query, ctx)
