"""The insight resource: create, retrieve, update, soft delete, tags, dashboards (spec §1, §9)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support import Tenant, trends_query

FULL_FIELDS = {
    "id",
    "short_id",
    "name",
    "derived_name",
    "query",
    "order",
    "deleted",
    "dashboards",
    "dashboard_tiles",
    "description",
    "tags",
    "favorited",
    "created_at",
    "created_by",
    "last_modified_at",
    "last_modified_by",
    "last_viewed_at",
    "saved",
    "user_access_level",
    "result",
    "last_refresh",
    "is_cached",
    "filters",
    "updated_at",
    "timezone",
    "query_status",
    "hogql",
    "resolved_date_range",
}


def create(api: httpx.Client, tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = api.post(f"{tenant.base}/insights/", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def test_create_returns_full_serializer(api: httpx.Client, tenant: Tenant) -> None:
    insight = create(api, tenant, name="Daily views", description="d", query=trends_query())
    assert set(insight) >= FULL_FIELDS
    assert len(insight["short_id"]) == 8 and insight["short_id"].isalnum()
    assert insight["saved"] is True
    assert insight["deleted"] is False
    assert insight["created_by"]["email"] == tenant.email
    assert insight["last_modified_by"]["email"] == tenant.email
    assert insight["query"] == trends_query()
    assert insight["result"] is None and insight["is_cached"] is False
    assert insight["created_at"].endswith("Z")


def test_create_records_a_view_for_the_creator(api: httpx.Client, tenant: Tenant) -> None:
    insight = create(api, tenant, name="Viewed on create")
    assert insight["last_viewed_at"] is not None


def test_retrieve_by_id_and_short_id(api: httpx.Client, tenant: Tenant) -> None:
    insight = create(api, tenant, name="Lookup")
    by_id = api.get(f"{tenant.base}/insights/{insight['id']}/")
    by_short = api.get(f"{tenant.base}/insights/{insight['short_id']}/")
    assert by_id.status_code == by_short.status_code == 200
    assert by_id.json()["id"] == by_short.json()["id"] == insight["id"]


def test_numeric_lookup_prefers_primary_key_over_digit_short_id(api: httpx.Client, tenant: Tenant) -> None:
    from sqlalchemy import update

    from insightd.store.models import Insight

    first = create(api, tenant, name="first")
    second = create(api, tenant, name="second")
    digits = str(first["id"])
    with tenant.server.state.db.write() as session:
        session.execute(update(Insight).where(Insight.id == second["id"]).values(short_id=digits))
    assert api.get(f"{tenant.base}/insights/{digits}/").json()["name"] == "first"


def test_unknown_insight_is_404(api: httpx.Client, tenant: Tenant) -> None:
    for lookup in ("999999999", "nosuchid", "a" * 40):
        response = api.get(f"{tenant.base}/insights/{lookup}/")
        assert response.status_code == 404, lookup
        assert response.json()["type"] == "invalid_request"


def test_patch_changes_only_given_fields(api: httpx.Client, tenant: Tenant) -> None:
    insight = create(api, tenant, name="Before", description="keep me", tags=["one"])
    response = api.patch(f"{tenant.base}/insights/{insight['id']}/", json={"name": "After"})
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "After"
    assert body["description"] == "keep me"
    assert body["tags"] == ["one"]
    assert parse(body["last_modified_at"]) > parse(insight["last_modified_at"])


def test_put_updates(api: httpx.Client, tenant: Tenant) -> None:
    insight = create(api, tenant, name="Put me")
    response = api.put(
        f"{tenant.base}/insights/{insight['short_id']}/", json={"name": "Put", "favorited": True}
    )
    assert response.status_code == 200
    assert response.json()["favorited"] is True
    assert api.get(f"{tenant.base}/insights/{insight['id']}/").json()["name"] == "Put"


def test_favorite_alone_does_not_bump_last_modified(api: httpx.Client, tenant: Tenant) -> None:
    insight = create(api, tenant, name="Fav")
    body = api.patch(f"{tenant.base}/insights/{insight['id']}/", json={"favorited": True}).json()
    assert body["last_modified_at"] == insight["last_modified_at"]


def test_soft_delete_and_restore(api: httpx.Client, tenant: Tenant) -> None:
    insight = create(api, tenant, name="Doomed")
    url = f"{tenant.base}/insights/{insight['id']}/"
    deleted = api.patch(url, json={"deleted": True})
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert api.get(url).status_code == 404
    assert api.get(f"{tenant.base}/insights/").json()["count"] == 0
    # Only a PATCH saying deleted: false can see it again.
    assert api.patch(url, json={"name": "still gone"}).status_code == 404
    restored = api.patch(url, json={"deleted": False})
    assert restored.status_code == 200 and restored.json()["deleted"] is False
    assert api.get(url).status_code == 200


def test_delete_is_405_with_empty_body(api: httpx.Client, tenant: Tenant) -> None:
    insight = create(api, tenant, name="Stay")
    response = api.delete(f"{tenant.base}/insights/{insight['id']}/")
    assert response.status_code == 405
    assert response.content == b""
    assert api.get(f"{tenant.base}/insights/{insight['id']}/").status_code == 200


def test_tags_are_normalised_and_replace_the_set(api: httpx.Client, tenant: Tenant) -> None:
    insight = create(api, tenant, name="Tagged", tags=["  Growth ", "growth", "GROWTH", "", "Key Metrics"])
    assert sorted(insight["tags"]) == ["growth", "key metrics"]
    updated = api.patch(f"{tenant.base}/insights/{insight['id']}/", json={"tags": ["new"]}).json()
    assert updated["tags"] == ["new"]
    # Tags no object uses any more are gone from the project.
    assert api.get(f"{tenant.base}/tags/").json() == ["new"]
    cleared = api.patch(f"{tenant.base}/insights/{insight['id']}/", json={"tags": []}).json()
    assert cleared["tags"] == []
    assert api.get(f"{tenant.base}/tags/").json() == []


def test_tag_used_elsewhere_survives(api: httpx.Client, tenant: Tenant) -> None:
    first = create(api, tenant, name="a", tags=["shared"])
    create(api, tenant, name="b", tags=["shared"])
    api.patch(f"{tenant.base}/insights/{first['id']}/", json={"tags": []})
    assert api.get(f"{tenant.base}/tags/").json() == ["shared"]


def test_query_must_be_a_known_node(api: httpx.Client, tenant: Tenant) -> None:
    for query in (
        {"kind": "NotAQuery"},
        {"source": {}},
        {"kind": "InsightVizNode"},
        {"kind": "InsightVizNode", "source": {"kind": "HogQLQuery", "query": "select 1"}},
    ):
        response = api.post(f"{tenant.base}/insights/", json={"name": "bad", "query": query})
        assert response.status_code == 400, query
        assert response.json()["type"] == "invalid_request"
        assert response.json()["code"] == "parse_error"
    response = api.post(f"{tenant.base}/insights/", json={"query": "SELECT 1"})
    assert response.status_code == 400
    assert api.get(f"{tenant.base}/insights/").json()["count"] == 0


@pytest.mark.parametrize(
    "query",
    [
        {
            "kind": "DataVisualizationNode",
            "source": {"kind": "HogQLQuery", "query": "select count() from events"},
        },
        {"kind": "InsightVizNode", "source": {"kind": "FunnelsQuery", "series": []}},
        {"kind": "InsightVizNode", "source": {"kind": "RetentionQuery", "retentionFilter": {}}},
        {"kind": "DataTableNode", "source": {"kind": "EventsQuery", "select": ["*"]}},
    ],
)
def test_all_insight_kinds_can_be_saved(api: httpx.Client, tenant: Tenant, query: dict[str, Any]) -> None:
    assert create(api, tenant, name="kind", query=query)["query"] == query


def test_dashboards_must_belong_to_the_project(api: httpx.Client, tenant: Tenant) -> None:
    from tests.support import new_tenant

    other = new_tenant(tenant.server)
    try:
        foreign = other.client().post(f"{other.base}/dashboards/", json={"name": "theirs"}).json()
        response = api.post(f"{tenant.base}/insights/", json={"name": "x", "dashboards": [foreign["id"]]})
        assert response.status_code == 400
        assert response.json()["detail"] == "Dashboard not found"
        assert response.json()["attr"] == "dashboards"
    finally:
        other.close()


def test_insight_on_dashboards(api: httpx.Client, tenant: Tenant) -> None:
    one = api.post(f"{tenant.base}/dashboards/", json={"name": "One"}).json()
    two = api.post(f"{tenant.base}/dashboards/", json={"name": "Two"}).json()
    insight = create(api, tenant, name="On boards", dashboards=[one["id"], two["id"]])
    assert sorted(insight["dashboards"]) == sorted([one["id"], two["id"]])
    assert {t["dashboard_id"] for t in insight["dashboard_tiles"]} == {one["id"], two["id"]}
    moved = api.patch(f"{tenant.base}/insights/{insight['id']}/", json={"dashboards": [two["id"]]}).json()
    assert moved["dashboards"] == [two["id"]]
    board = api.get(f"{tenant.base}/dashboards/{two['id']}/").json()
    assert [tile["insight"]["id"] for tile in board["tiles"]] == [insight["id"]]
    assert api.get(f"{tenant.base}/dashboards/{one['id']}/").json()["tiles"] == []


def test_create_in_folder_is_accepted(api: httpx.Client, tenant: Tenant) -> None:
    insight = create(api, tenant, name="Filed", _create_in_folder="Unfiled/Insights")
    from insightd.store.models import Insight

    with tenant.server.state.db.read() as session:
        stored = session.get(Insight, insight["id"])
        assert stored is not None and stored.folder == "Unfiled/Insights"


def test_unknown_fields_are_ignored(api: httpx.Client, tenant: Tenant) -> None:
    insight = create(api, tenant, name="Extra", something_else=123, result=[1, 2])
    assert insight["name"] == "Extra" and insight["result"] is None


@pytest.mark.parametrize(
    ("body", "attr", "code"),
    [
        ({"name": 5}, "name", "invalid_input"),
        ({"tags": "growth"}, "tags", "not_a_list"),
        ({"tags": [1]}, "tags__0", "invalid_input"),
        ({"dashboards": ["1"]}, "dashboards__0", "invalid_input"),
        ({"order": "first"}, "order", "invalid_input"),
        ({"name": "x" * 401}, "name", "max_length"),
        ({"favorited": "maybe"}, "favorited", "invalid_input"),
    ],
)
def test_bad_fields_get_drf_errors(
    api: httpx.Client, tenant: Tenant, body: dict[str, Any], attr: str, code: str
) -> None:
    response = api.post(f"{tenant.base}/insights/", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["type"] == "validation_error"
    assert error["attr"] == attr
    assert error["code"] == code


def test_body_that_is_not_an_object(api: httpx.Client, tenant: Tenant) -> None:
    response = api.post(f"{tenant.base}/insights/", json=[1, 2])
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    broken = api.post(
        f"{tenant.base}/insights/", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "parse_error"


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
