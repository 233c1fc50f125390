"""Behaviours a PostHog client relies on, found by comparing insightd with PostHog's code."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import httpx
import pytest

from tests.support import Tenant, trends_query


def test_current_project_alias(tenant: Tenant, api: httpx.Client) -> None:
    api.post(f"{tenant.base}/insights/", json={"name": "here"})
    response = api.get("/api/projects/@current/insights/")
    assert response.status_code == 200
    assert [r["name"] for r in response.json()["results"]] == ["here"]


def test_non_numeric_project_is_404(api: httpx.Client) -> None:
    response = api.get("/api/projects/abc/insights/")
    assert response.status_code == 404
    assert response.json()["detail"] == "Project not found."


def test_empty_list_filters_are_no_filters(tenant: Tenant, api: httpx.Client) -> None:
    api.post(f"{tenant.base}/insights/", json={"name": "a", "tags": ["x"]})
    for key in ("tags", "created_by", "dashboards"):
        assert api.get(f"{tenant.base}/insights/", params={key: "[]"}).json()["count"] == 1, key


@pytest.mark.parametrize("truthy", ["true", "t", "y", "yes", "on", "1", "TRUE"])
def test_basic_takes_posthog_truthy_values_on_list_and_retrieve(
    tenant: Tenant, api: httpx.Client, truthy: str
) -> None:
    created = api.post(f"{tenant.base}/insights/", json={"name": "b", "query": trends_query()}).json()
    listed = api.get(f"{tenant.base}/insights/", params={"basic": truthy}).json()["results"][0]
    retrieved = api.get(f"{tenant.base}/insights/{created['id']}/", params={"basic": truthy}).json()
    for item in (listed, retrieved):
        assert "result" not in item and "order" not in item and item["id"] == created["id"]
    assert api.get(f"{tenant.base}/insights/", params={"saved": truthy}).json()["count"] == 1


def test_removed_tiles_leave_dashboard_tiles(tenant: Tenant, api: httpx.Client) -> None:
    board = api.post(f"{tenant.base}/dashboards/", json={"name": "B"}).json()
    insight = api.post(f"{tenant.base}/insights/", json={"name": "i", "dashboards": [board["id"]]}).json()
    updated = api.patch(f"{tenant.base}/insights/{insight['id']}/", json={"dashboards": []}).json()
    assert updated["dashboards"] == [] and updated["dashboard_tiles"] == []


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_last_modified_follows_material_fields(tenant: Tenant, api: httpx.Client) -> None:
    insight = api.post(f"{tenant.base}/insights/", json={"name": "same", "query": trends_query()}).json()
    url = f"{tenant.base}/insights/{insight['id']}/"
    after_fav = api.patch(url, json={"favorited": True}).json()
    assert after_fav["last_modified_at"] == insight["last_modified_at"]
    after_same_name = api.patch(url, json={"name": "same"}).json()  # PostHog: sending a material field counts
    assert parse(after_same_name["last_modified_at"]) > parse(insight["last_modified_at"])
    after_query = api.patch(url, json={"query": trends_query("signed_up")}).json()
    assert parse(after_query["last_modified_at"]) > parse(after_same_name["last_modified_at"])


def test_serializer_carries_filters_hash_and_search_match_type(tenant: Tenant, api: httpx.Client) -> None:
    created = api.post(f"{tenant.base}/insights/", json={"name": "h", "query": trends_query()}).json()
    assert created["filters_hash"].startswith("cache_")
    basic = api.get(f"{tenant.base}/insights/", params={"basic": "true"}).json()["results"][0]
    assert "search_match_type" in basic and basic["search_match_type"] is None
    changed = api.patch(f"{tenant.base}/insights/{created['id']}/", json={"query": trends_query("x")}).json()
    assert changed["filters_hash"] != created["filters_hash"]


def test_empty_bodies_are_empty_objects(tenant: Tenant, api: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    created = api.post(f"{tenant.base}/insights/", content=b"", headers=headers)
    assert created.status_code == 201
    assert (
        api.put(f"{tenant.base}/insights/{created.json()['id']}/", content=b"", headers=headers).status_code
        == 200
    )
    assert api.post(f"{tenant.base}/insights/", json={"query": {}}).status_code == 201


def test_length_errors_speak_of_characters(tenant: Tenant, api: httpx.Client) -> None:
    error = api.post(f"{tenant.base}/insights/", json={"name": "x" * 401}).json()
    assert error["detail"] == "Ensure this field has no more than 400 characters."
    tag_error = api.post(f"{tenant.base}/insights/", json={"tags": ["t" * 256]}).json()
    assert (tag_error["attr"], tag_error["code"]) == ("tags__0", "max_length")


def test_undecodable_body_is_a_parse_error(tenant: Tenant, api: httpx.Client) -> None:
    response = api.post(
        f"{tenant.base}/insights/", content=b'{"name": "\xff"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    surrogate = api.post(
        f"{tenant.base}/insights/",
        content=b'{"name": "\\ud800"}',
        headers={"content-type": "application/json"},
    )
    assert surrogate.status_code == 400 and surrogate.json()["attr"] == "name"


def test_activity_entries_have_posthog_shape(tenant: Tenant, api: httpx.Client) -> None:
    insight = api.post(f"{tenant.base}/insights/", json={"name": "act"}).json()
    (entry,) = api.get(f"{tenant.base}/insights/{insight['id']}/activity/").json()["results"]
    uuid.UUID(entry["id"])
    assert entry["detail"]["id"] == str(insight["id"]) and entry["item_id"] == str(insight["id"])
    assert set(entry) == {"id", "user", "activity", "scope", "item_id", "detail", "created_at"}


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "9999-12-31T23:59:59-12:00"},
        {"date_from": "-99999999999d"},
        {"date_from": "-99999y"},
        {"date_from": "0001-01-01T00:00:00+14:00"},
    ],
)
def test_dates_out_of_range_are_400(tenant: Tenant, api: httpx.Client, params: dict[str, str]) -> None:
    response = api.get(f"{tenant.base}/insights/", params=params)
    assert response.status_code == 400 and response.json()["attr"] == "date_from"


def test_huge_paging_values_are_clamped(tenant: Tenant, api: httpx.Client) -> None:
    huge = "9" * 20
    assert api.get(f"{tenant.base}/insights/", params={"limit": huge, "offset": huge}).status_code == 200
    assert (
        api.get(f"{tenant.base}/insights/activity/", params={"limit": huge, "page": huge}).status_code == 200
    )


def test_ids_beyond_32_bits_are_simply_not_found(tenant: Tenant, api: httpx.Client) -> None:
    big = 2**31 + 5
    assert api.get(f"{tenant.base}/insights/{big}/").status_code == 404
    assert api.post(f"{tenant.base}/insights/viewed/", json={"insight_ids": [big]}).status_code == 201
    bulk = api.post(
        f"{tenant.base}/insights/bulk_update_tags/", json={"ids": [big], "action": "add", "tags": ["a"]}
    )
    assert bulk.status_code == 200 and bulk.json()["skipped"][0]["id"] == big
    assert api.get(f"{tenant.base}/insights/", params={"created_by": json.dumps([big])}).json()["count"] == 0
    refused = api.patch(f"{tenant.base}/insights/1/", json={"dashboards": [2**64]})
    assert refused.status_code in (400, 404)
    assert api.get(f"/api/projects/{big}/insights/").status_code == 404


def test_nul_in_bulk_tags_is_refused(tenant: Tenant, api: httpx.Client) -> None:
    insight = api.post(f"{tenant.base}/insights/", json={"name": "n"}).json()
    response = api.post(
        f"{tenant.base}/insights/bulk_update_tags/",
        json={"ids": [insight["id"]], "action": "add", "tags": ["a\x00b"]},
    )
    assert response.status_code == 400 and response.json()["code"] == "null_characters_not_allowed"


def test_csv_booleans_and_empty_values(tenant: Tenant, api: httpx.Client) -> None:
    api.post(f"{tenant.base}/insights/", json={"name": "c"})
    text = api.get(f"{tenant.base}/insights/", params={"format": "csv"}).text
    header, row = text.splitlines()[:2]
    assert "filters" not in header.split(",")  # an empty object adds no column
    assert "True" in row.split(",")  # saved


def test_my_last_viewed_reflects_every_write_at_once(tenant: Tenant, api: httpx.Client) -> None:
    """The rendered answer is cached between writes; any write must show in the next read."""
    first = api.post(f"{tenant.base}/insights/", json={"name": "first"}).json()
    second = api.post(f"{tenant.base}/insights/", json={"name": "second"}).json()
    url = f"{tenant.base}/insights/my_last_viewed/"
    assert [i["name"] for i in api.get(url).json()] == ["second", "first"]
    api.patch(f"{tenant.base}/insights/{first['id']}/", json={"name": "renamed"})
    assert [i["name"] for i in api.get(url).json()] == ["second", "renamed"]
    api.post(f"{tenant.base}/insights/viewed/", json={"insight_ids": [first["id"]]})
    assert [i["name"] for i in api.get(url).json()] == ["renamed", "second"]
    api.patch(f"{tenant.base}/insights/{second['id']}/", json={"deleted": True})
    assert [i["name"] for i in api.get(url).json()] == ["renamed"]


def test_unknown_refresh_on_insights_reads_the_cache(tenant: Tenant, api: httpx.Client) -> None:
    """PostHog's insight endpoints treat a refresh value they do not know as "cache only"."""
    insight = api.post(f"{tenant.base}/insights/", json={"name": "r", "query": trends_query()}).json()
    for url in (f"{tenant.base}/insights/{insight['id']}/", f"{tenant.base}/insights/"):
        response = api.get(url, params={"refresh": "bogus"})
        assert response.status_code == 200
    retrieved = api.get(f"{tenant.base}/insights/{insight['id']}/", params={"refresh": "bogus"}).json()
    assert retrieved["result"] is None and retrieved["is_cached"] is False
    bad_body = api.post(f"{tenant.base}/query/", json={"query": trends_query(), "refresh": "bogus"})
    assert bad_body.status_code == 400 and bad_body.json()["attr"] == "refresh"


def test_override_parameters_must_be_json(tenant: Tenant, api: httpx.Client) -> None:
    insight = api.post(f"{tenant.base}/insights/", json={"name": "o", "query": trends_query()}).json()
    url = f"{tenant.base}/insights/{insight['id']}/"
    for name in ("filters_override", "variables_override"):
        response = api.get(url, params={name: "{not json"})
        assert response.status_code == 400
        assert response.json()["attr"] == name
        assert response.json()["detail"] == f"Invalid JSON passed in {name} parameter"
    assert api.get(url, params={"filters_override": "{}"}).status_code == 200
