"""Dashboard overrides a request may carry (PostHog's ``filters_override``, ``tile_filters_override`` and
``variables_override``): insight retrieve reads them from the query string as JSON text, the query
endpoint from its body. Filters change the query that runs (and, on an insight, the query shown);
SQL variables do not exist in insightd yet, so ``variables_override`` is checked and unused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from insightd.errors import ValidationFailed
from insightd.queries.dashboard_filters import apply_dashboard_filters, dashboard_filter

FILTER_OVERRIDES = ("filters_override", "tile_filters_override")  # the dashboard's, then the tile's
OVERRIDE_PARAMETERS = ("filters_override", "variables_override", "tile_filters_override")


def from_query_string(params: Mapping[str, str]) -> dict[str, Any]:
    """The overrides of a query string; invalid JSON is PostHog's 400 naming the parameter."""
    overrides: dict[str, Any] = {}
    for name in OVERRIDE_PARAMETERS:
        text = params.get(name)
        if text is not None:
            try:
                overrides[name] = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise ValidationFailed(f"Invalid JSON passed in {name} parameter", attr=name) from None
    return overrides


def dashboard_filters(overrides: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The filters to apply, in order, each checked for shape (a 400 before anything runs)."""
    variables = overrides.get("variables_override")
    if variables is not None and not isinstance(variables, dict):
        raise ValidationFailed("variables_override must be a JSON object.", attr="variables_override")
    return [dashboard_filter(overrides[n], n) for n in FILTER_OVERRIDES if overrides.get(n) is not None]


def apply_filters(query: Any, filters: list[dict[str, Any]]) -> Any:
    for each in filters:
        query = apply_dashboard_filters(query, each)
    return query
