"""generate_metadata and derived_name: one interface over the offline and the LLM generators."""

from __future__ import annotations

import logging
from typing import Any, Literal

from insightd.errors import ValidationFailed
from insightd.metadata.llm import LLMConfig, LLMFailed, request_metadata
from insightd.metadata.offline import Metadata, describe, offline_metadata
from insightd.metadata.summary import summarize
from insightd.settings import Settings

logger = logging.getLogger("insightd.metadata")

Source = Literal["llm", "offline"]
NAME_LIMIT, DESCRIPTION_LIMIT = 100, 200
# PostHog validates ActorsQuery, EventsQuery and GroupsQuery as themselves and anything else as an
# InsightVizNode; insightd also names its other wrappers and bare SQL.
ENDPOINT_KINDS = frozenset(
    {"InsightVizNode", "DataTableNode", "DataVisualizationNode", "EventsQuery", "ActorsQuery", "GroupsQuery"}
    | {"HogQLQuery"}
)
_SERIES_KINDS = frozenset({"EventsNode", "ActionsNode", "DataWarehouseNode", "GroupNode"})


def llm_config(settings: Settings) -> LLMConfig | None:
    """The configured LLM endpoint, or None when ``INSIGHTD_LLM_BASE_URL`` is unset (offline only)."""
    if not settings.llm_base_url:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LLMConfig(settings.llm_base_url, settings.llm_model, key or None, settings.llm_timeout)


def check_query(query: Any) -> dict[str, Any]:
    """The query of a generate_metadata body, or 400 "Missing…" / "Invalid query format"."""
    if not query:
        raise ValidationFailed("Missing 'query' field in request body")
    if not isinstance(query, dict) or query.get("kind") not in ENDPOINT_KINDS:
        raise ValidationFailed("Invalid query format")
    source = query.get("source") if query.get("kind") != "ActorsQuery" else None
    series = source.get("series") if isinstance(source, dict) else None
    if isinstance(series, list) and any(
        not isinstance(item, dict) or item.get("kind") not in _SERIES_KINDS for item in series
    ):
        raise ValidationFailed("Invalid query format")
    return query


def clipped(metadata: Metadata) -> Metadata:
    """PostHog's limits: name ≤ 100 characters (97 + "..."), description ≤ 200 (197 + "...")."""
    name, description = metadata.name, metadata.description
    if len(name) > NAME_LIMIT:
        name = name[: NAME_LIMIT - 3] + "..."
    if len(description) > DESCRIPTION_LIMIT:
        description = description[: DESCRIPTION_LIMIT - 3] + "..."
    return Metadata(name, description)


async def generate_metadata(query: dict[str, Any], llm: LLMConfig | None) -> tuple[Metadata, Source]:
    """Name and describe ``query``: with the LLM when configured, offline otherwise or on any failure."""
    summary = summarize(query)
    if llm is not None:
        try:
            return clipped(await request_metadata(llm, summary.text(), summary.kind)), "llm"
        except LLMFailed as exc:
            logger.warning("LLM metadata generation failed, answering offline: %s", exc)
    return clipped(describe(summary)), "offline"


def derived_name(query: dict[str, Any] | None) -> str | None:
    """The offline name of a stored query (None without a query)."""
    if not query:
        return None
    return clipped(offline_metadata(query)).name


def refreshed_derived_name(
    current: str | None, old_query: dict[str, Any] | None, new_query: dict[str, Any] | None
) -> str | None:
    """After a query change: fill an empty derived_name, or replace the one derived from the old query.

    A derived_name the client chose (anything else) is kept.
    """
    if current and current != derived_name(old_query):
        return current
    return derived_name(new_query) or current
