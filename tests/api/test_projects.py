"""``/api/projects/{id}/``: the project settings that change query results, read and changed."""

from __future__ import annotations

from tests.support import Tenant

HOST_FILTER = {
    "key": "$host",
    "value": "^(localhost|127\\.0\\.0\\.1)($|:)",
    "operator": "not_regex",
    "type": "event",
}


def test_retrieve_shows_the_settings(tenant: Tenant) -> None:
    response = tenant.client().get(f"{tenant.base}/")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == tenant.project_id
    assert (body["timezone"], body["week_start_day"], body["test_account_filters"]) == ("UTC", 0, [])
    assert body["api_token"].startswith("phc_")
    assert tenant.client().get("/api/projects/@current/").json()["id"] == tenant.project_id


def test_patch_changes_settings_and_the_next_request_sees_them(tenant: Tenant) -> None:
    client = tenant.client()
    response = client.patch(
        f"{tenant.base}/",
        json={"week_start_day": 1, "timezone": "Europe/Berlin", "test_account_filters": [HOST_FILTER]},
    )
    assert response.status_code == 200, response.text
    again = client.get(f"{tenant.base}/").json()  # not a project remembered by the auth cache
    assert again["week_start_day"] == 1 and again["timezone"] == "Europe/Berlin"
    assert again["test_account_filters"] == [HOST_FILTER]
    assert client.patch(f"{tenant.base}/", json={"name": "Renamed"}).json()["week_start_day"] == 1


def test_bad_settings_are_refused_with_the_field_named(tenant: Tenant) -> None:
    client = tenant.client()
    cases = [
        ({"week_start_day": 2}, "week_start_day"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"test_account_filters": [{"key": "x", "type": "cohort", "value": 3}]}, "test_account_filters"),
        ({"test_account_filters": [{"value": "no key"}]}, "test_account_filters"),
        ({"test_account_filters": {"key": "x"}}, "test_account_filters"),
        ({"name": ""}, "name"),
    ]
    for body, attr in cases:
        response = client.patch(f"{tenant.base}/", json=body)
        assert response.status_code == 400, (body, response.text)
        error = response.json()
        assert error["type"] == "validation_error" and error["attr"] == attr, (body, error)
    settings = client.get(f"{tenant.base}/").json()
    assert (settings["week_start_day"], settings["timezone"], settings["test_account_filters"]) == (
        0,
        "UTC",
        [],
    )


def test_project_scopes(tenant: Tenant) -> None:
    insights_only = tenant.client(tenant.new_key(scopes=["insight:read"]))
    assert insights_only.get(f"{tenant.base}/").status_code == 403
    reader = tenant.client(tenant.new_key(scopes=["project:read"]))
    assert reader.get(f"{tenant.base}/").status_code == 200
    assert reader.patch(f"{tenant.base}/", json={"week_start_day": 1}).status_code == 403
    writer = tenant.client(tenant.new_key(scopes=["project:write"]))
    assert writer.patch(f"{tenant.base}/", json={"week_start_day": 1}).status_code == 200
