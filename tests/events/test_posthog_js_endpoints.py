"""What posthog-js asks for besides capture (remote config, /flags, /decide, /s/), through real HTTP."""

from __future__ import annotations

import base64
import gzip
import json
import re
import uuid
from typing import Any

import httpx
import orjson
import pytest

from tests.events.conftest import Store

ORIGIN = {"Origin": "https://app.example"}


def _cors(response: httpx.Response) -> None:
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert response.headers["access-control-allow-credentials"] == "true"


def _refused(response: httpx.Response, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert message in body["error"]
    _cors(response)


def _quiet_config(config: dict[str, Any], token: str) -> None:
    assert config["token"] == token
    assert config["hasFeatureFlags"] is False
    assert config["sessionRecording"] is False
    assert config["surveys"] is False
    assert config["heatmaps"] is False
    assert config["autocapture_opt_out"] is False
    assert config["supportedCompression"] == ["gzip", "gzip-js"]
    assert config["analytics"] == {"endpoint": "/i/v0/e/"}


def test_remote_config_json(capture: httpx.Client, token: str) -> None:
    response = capture.get(f"/array/{token}/config", headers=ORIGIN)
    assert response.status_code == 200, response.text
    _cors(response)
    body = response.json()
    _quiet_config(body, token)
    assert body["siteApps"] == []


def test_remote_config_script_sets_the_global_posthog_js_reads(capture: httpx.Client, token: str) -> None:
    response = capture.get(f"/array/{token}/config.js", headers=ORIGIN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/javascript")
    _cors(response)
    script = response.text
    assert "window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};" in script
    match = re.search(
        r"_POSTHOG_REMOTE_CONFIG\[(\"[^\"]+\")\] = \{config: (\{.*\}), siteApps: \[\]\};", script
    )
    assert match is not None, script
    assert json.loads(match.group(1)) == token
    _quiet_config(json.loads(match.group(2)), token)


@pytest.mark.parametrize("suffix", ["config", "config.js"])
@pytest.mark.parametrize("bad", ["phc_unknown_project", "phx_personal", "x" * 65])
def test_remote_config_unknown_token_is_404(capture: httpx.Client, suffix: str, bad: str) -> None:
    response = capture.get(f"/array/{bad}/{suffix}", headers=ORIGIN)
    _refused(response, 404, "ingest_key_unknown", "does not resolve")


def _flags_body(token: str) -> dict[str, Any]:
    return {
        "token": token,
        "distinct_id": "0192-anon",
        "$anon_distinct_id": "0192-anon",
        "groups": {},
        "person_properties": {"$initial_referrer": "$direct"},
        "group_properties": {},
        "timezone": "Europe/Berlin",
    }


@pytest.mark.parametrize("path", ["/flags/?v=2", "/flags?v=2"])
def test_flags_v2_has_no_flags(capture: httpx.Client, token: str, path: str) -> None:
    response = capture.post(path, json=_flags_body(token), headers=ORIGIN)
    assert response.status_code == 200, response.text
    _cors(response)
    body = response.json()
    assert body["flags"] == {}
    assert body["errorsWhileComputingFlags"] is False
    assert body["quotaLimited"] == []
    uuid.UUID(body["requestId"])
    assert "sessionRecording" not in body


def test_flags_with_config_carries_remote_config(capture: httpx.Client, token: str) -> None:
    response = capture.post("/flags/?v=2&config=true", json=_flags_body(token))
    body = response.json()
    assert body["flags"] == {}
    assert body["sessionRecording"] is False
    assert body["surveys"] is False
    assert body["supportedCompression"] == ["gzip", "gzip-js"]


def test_flags_v1_uses_the_legacy_shape(capture: httpx.Client, token: str) -> None:
    body = capture.post("/flags/", json=_flags_body(token)).json()
    assert body["featureFlags"] == {}
    assert body["featureFlagPayloads"] == {}
    assert "flags" not in body


def test_flags_base64_form_body_as_older_posthog_js_sends(capture: httpx.Client, token: str) -> None:
    data = base64.b64encode(orjson.dumps(_flags_body(token))).decode()
    response = capture.post(
        "/flags/?v=2",
        content=f"data={data}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["flags"] == {}


def test_flags_gzip_body(capture: httpx.Client, token: str) -> None:
    response = capture.post(
        "/flags/?v=2&compression=gzip-js",
        content=gzip.compress(orjson.dumps(_flags_body(token))),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("version", "flags_key", "empty"),
    [("1", "featureFlags", []), ("2", "featureFlags", {}), ("3", "featureFlags", {}), ("4", "flags", {})],
)
def test_decide_each_version(
    capture: httpx.Client, token: str, version: str, flags_key: str, empty: object
) -> None:
    response = capture.post(f"/decide/?v={version}", json=_flags_body(token), headers=ORIGIN)
    assert response.status_code == 200, response.text
    _cors(response)
    body = response.json()
    assert body[flags_key] == empty
    assert body["sessionRecording"] is False
    assert body["surveys"] is False
    assert body["config"] == {"enable_collect_everything": True}
    assert body["supportedCompression"] == ["gzip", "gzip-js"]
    assert ("featureFlagPayloads" in body) == (version == "3")


@pytest.mark.parametrize("path", ["/flags/?v=2", "/decide/?v=3"])
@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"distinct_id": "d"}, "ingest_key_required", "without an api_key"),
        (None, "ingest_key_required", "without an api_key"),
        ({"token": "phc_unknown_project", "distinct_id": "d"}, "ingest_key_unknown", "does not resolve"),
        ({"token": "phx_personal", "distinct_id": "d"}, "ingest_key_unknown", "personal_api_key"),
    ],
)
def test_flags_and_decide_refuse_bad_tokens_with_401(
    capture: httpx.Client, path: str, body: Any, code: str, message: str
) -> None:
    response = capture.post(path, content=b"" if body is None else orjson.dumps(body), headers=ORIGIN)
    _refused(response, 401, code, message)


@pytest.mark.parametrize("path", ["/flags/", "/decide/", "/s/", "/array/phc_x/config"])
def test_preflight_mirrors_origin(capture: httpx.Client, path: str) -> None:
    response = capture.options(
        path,
        headers={
            **ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 200
    _cors(response)
    assert response.headers["access-control-allow-headers"] == "content-type"


def test_replay_is_acknowledged_and_not_stored(capture: httpx.Client, token: str, store: Store) -> None:
    snapshot = {
        "event": "$snapshot",
        "distinct_id": "d",
        "uuid": str(uuid.uuid4()),
        "properties": {"token": token, "$session_id": "s1", "$window_id": "w1", "$snapshot_data": []},
    }
    response = capture.post("/s/?compression=gzip-js", content=gzip.compress(orjson.dumps([snapshot])))
    assert response.status_code == 200, response.text
    assert store.stats()["events"] == 0
    refused = capture.post(
        "/s/", json=[{**snapshot, "properties": {"token": "phc_unknown_project"}}], headers=ORIGIN
    )
    _refused(refused, 401, "ingest_key_unknown", "does not resolve")
