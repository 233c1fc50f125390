"""What posthog-js asks for besides capture: remote config and feature flags (spec §6.4).

insightd has no feature flags, no session recording and no surveys, so every answer says so;
autocapture stays on and heatmaps off, as for a fresh PostHog project. Pure functions, no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from insightd.events.capture import check_token_shape
from insightd.events.errors import CaptureError

SUPPORTED_COMPRESSION = ["gzip", "gzip-js"]


def remote_config(token: str) -> dict[str, Any]:
    """The ``config`` object of ``/array/<token>/config`` (PostHog's defaults for a new project)."""
    return {
        "token": token,
        "supportedCompression": SUPPORTED_COMPRESSION,
        "hasFeatureFlags": False,
        "captureDeadClicks": False,
        "capturePerformance": False,
        "autocapture_opt_out": False,
        "autocaptureExceptions": False,
        "analytics": {"endpoint": "/i/v0/e/"},
        "elementsChainAsString": True,
        "sessionRecording": False,
        "heatmaps": False,
        "surveys": False,
        "defaultIdentifiedOnly": True,
    }


def remote_config_json(token: str) -> dict[str, Any]:
    return {**remote_config(token), "siteApps": []}


def remote_config_js(token: str) -> str:
    """``/array/<token>/config.js``: the script that hands posthog-js its config without a fetch."""
    key = orjson.dumps(token).decode()
    config = orjson.dumps(remote_config(token)).decode()
    return (
        "(function() {\n"
        "    window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};\n"
        f"    window._POSTHOG_REMOTE_CONFIG[{key}] = {{config: {config}, siteApps: []}};\n"
        "})();\n"
    )


def flags_token(body: Any, query: Mapping[str, str]) -> str:
    """The project token of a ``/flags`` or ``/decide`` request: body ``token``/``api_key``, then query."""
    token: object = None
    if isinstance(body, dict):
        token = next((body[k] for k in ("token", "api_key", "$token") if body.get(k) is not None), None)
    if token is None:
        token = query.get("token") or query.get("api_key")
    if token is None:
        raise CaptureError(401, "ingest_key_required", "request submitted without an api_key")
    check_token_shape(str(token))
    return str(token)


def _version(query: Mapping[str, str], default: int) -> int:
    raw = query.get("v", "")
    return int(raw) if raw.isdigit() else default


def _config_fields() -> dict[str, Any]:
    config = remote_config("")
    del config["token"], config["hasFeatureFlags"]
    return {
        **config,
        "config": {"enable_collect_everything": True},
        "toolbarParams": {},
        "isAuthenticated": False,
        "siteApps": [],
    }


def flags_answer(query: Mapping[str, str]) -> dict[str, Any]:
    """``/flags/?v=2[&config=true]``: no flags (v2 shape ``flags``; v1 the legacy ``featureFlags``)."""
    answer: dict[str, Any] = {"errorsWhileComputingFlags": False, "quotaLimited": []}
    if _version(query, 1) >= 2:
        answer["flags"] = {}
    else:
        answer |= {"featureFlags": {}, "featureFlagPayloads": {}}
    answer["requestId"] = str(uuid.uuid4())
    if query.get("config", "").lower() == "true":
        answer |= _config_fields()
    return answer


def decide_answer(query: Mapping[str, str]) -> dict[str, Any]:
    """``/decide/?v=1..4``: no flags, in each version's shape, with the config fields decide carries."""
    version = _version(query, 1)
    answer: dict[str, Any] = {"errorsWhileComputingFlags": False, "quotaLimited": []}
    if version >= 4:
        answer |= {"flags": {}, "requestId": str(uuid.uuid4())}
    else:
        answer["featureFlags"] = [] if version == 1 else {}
        if version >= 3:
            answer["featureFlagPayloads"] = {}
    return answer | _config_fields()
