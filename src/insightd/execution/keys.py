"""Cache keys: a sha256 of a canonical, versioned payload (kind, project and its settings, query, engine)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import BaseModel

CACHE_VERSION = 1
COSMETIC_FIELDS = {"tags", "response", "name"}


def cache_payload(query: BaseModel, team_id: int, project: dict[str, Any], engine: str) -> dict[str, Any]:
    """``project``: the project settings the result depends on (``ProjectSettings.cache_fields``)."""
    body = query.model_dump(mode="json", exclude_none=True, exclude=COSMETIC_FIELDS)
    return {
        "version": CACHE_VERSION,
        "kind": body.get("kind"),
        "team_id": team_id,
        "project": project,
        "engine": engine,
        "query": body,
    }


def cache_key(payload: dict[str, Any]) -> str:
    canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return "cache_" + hashlib.sha256(canonical).hexdigest()
