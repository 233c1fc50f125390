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
from insightd.queries.dashboard_filters import Overrides, check_storable, dashboard_filter

__all__ = ["Overrides", "checked", "from_query_string"]
OVERRIDE_PARAMETERS = ("filters_override", "variables_override", "tile_filters_override")


def from_query_string(params: Mapping[str, str]) -> dict[str, Any]:
    """The overrides of a query string; invalid JSON is PostHog's 400 naming the parameter."""
    overrides: dict[str, Any] = {}
    for name in OVERRIDE_PARAMETERS:
        text = params.get(name)
        if text:  # an empty value is no override, as PostHog's ``*_requested_by_client``
            try:
                overrides[name] = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise ValidationFailed(f"Invalid JSON passed in {name} parameter", attr=name) from None
    return overrides


def checked(overrides: Mapping[str, Any]) -> Overrides:
    """The overrides, each checked for shape (a 400 before anything runs). Values that JSON writers and
    cache keys do not take (nesting past 64 levels, integers past 64 bits, NaN) are 400s too: a dashboard
    shows its overrides, and the filters become part of a query."""
    for name in OVERRIDE_PARAMETERS:
        check_storable(overrides.get(name), name, text=False)
    variables = overrides.get("variables_override")
    if variables is not None and not isinstance(variables, dict):
        raise ValidationFailed("variables_override must be a JSON object.", attr="variables_override")

    def layer(name: str) -> dict[str, Any] | None:
        value = overrides.get(name)
        return None if value is None else dashboard_filter(value, name)

    return Overrides(layer("filters_override"), layer("tile_filters_override"), variables)
