"""POST /insights/bulk_update_tags/ and /dashboards/bulk_update_tags/ through the real server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from insightd.store.models import ActivityLog
from tests.support import Tenant, new_tenant
from tests.tags_views_support import delete_insight, make_insights, tags_of

SKIPPED = "Not found or no edit access"


def bulk(api: httpx.Client, tenant: Tenant, body: Any, resource: str = "insights") -> httpx.Response:
    return api.post(f"{tenant.base}/{resource}/bulk_update_tags/", json=body)


def test_add_remove_set_algebra_with_normalised_sorted_tags(api: httpx.Client, tenant: Tenant) -> None:
    first, second = make_insights(api, tenant, 2)
    assert api.patch(f"{tenant.base}/insights/{first}/", json={"tags": ["keep"]}).status_code == 200

    added = bulk(
        api, tenant, {"ids": [first, second], "action": "add", "tags": ["  Zeta ", "ALPHA", "alpha", " "]}
    )
    assert added.status_code == 200, added.text
    assert added.json() == {
        "updated": [
            {"id": first, "tags": ["alpha", "keep", "zeta"]},
            {"id": second, "tags": ["alpha", "zeta"]},
        ],
        "skipped": [],
    }

    removed = bulk(api, tenant, {"ids": [second, first], "action": "remove", "tags": ["ZETA", "not-there"]})
    assert removed.json()["updated"] == [
        {"id": second, "tags": ["alpha"]},
        {"id": first, "tags": ["alpha", "keep"]},
    ]

    replaced = bulk(api, tenant, {"ids": [first], "action": "set", "tags": ["Mixed Case", "b"]})
    assert replaced.json()["updated"] == [{"id": first, "tags": ["b", "mixed case"]}]
    assert tags_of(api, tenant, first) == ["b", "mixed case"]
    assert tags_of(api, tenant, second) == ["alpha"]

    cleared = bulk(api, tenant, {"ids": [first, second], "action": "set", "tags": []})
    assert cleared.json()["updated"] == [{"id": first, "tags": []}, {"id": second, "tags": []}]
    assert tags_of(api, tenant, first) == [] and tags_of(api, tenant, second) == []


def test_missing_deleted_and_foreign_ids_are_skipped_and_left_untouched(
    api: httpx.Client, tenant: Tenant
) -> None:
    mine, deleted = make_insights(api, tenant, 2)
    assert api.patch(f"{tenant.base}/insights/{deleted}/", json={"tags": ["old"]}).status_code == 200
    delete_insight(api, tenant, deleted)
    other = new_tenant(tenant.server)
    try:
        other_api = other.client()
        (foreign,) = make_insights(other_api, other, 1, tags=["theirs"])

        response = bulk(
            api, tenant, {"ids": [999_999_999, foreign, mine, deleted, mine], "action": "add", "tags": ["x"]}
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "updated": [{"id": mine, "tags": ["x"]}],
            "skipped": [
                {"id": 999_999_999, "reason": SKIPPED},
                {"id": foreign, "reason": SKIPPED},
                {"id": deleted, "reason": SKIPPED},
            ],
        }
        assert tags_of(other_api, other, foreign) == ["theirs"]
        assert other_api.get(f"{other.base}/tags/").json() == ["theirs"]
        restored = api.patch(f"{tenant.base}/insights/{deleted}/", json={"deleted": False}).json()
        assert restored["tags"] == ["old"]
    finally:
        other.close()


def test_all_skipped_is_still_200(api: httpx.Client, tenant: Tenant) -> None:
    response = bulk(api, tenant, {"ids": [123_456_789], "action": "set", "tags": []})
    assert response.status_code == 200
    assert response.json() == {"updated": [], "skipped": [{"id": 123_456_789, "reason": SKIPPED}]}


def test_orphan_tags_leave_the_project_but_shared_ones_stay(api: httpx.Client, tenant: Tenant) -> None:
    first, second = make_insights(api, tenant, 2)
    dashboard = api.post(f"{tenant.base}/dashboards/", json={"name": "D", "tags": ["shared"]}).json()["id"]
    bulk(api, tenant, {"ids": [first, second], "action": "add", "tags": ["shared", "lonely", "pair"]})
    assert api.get(f"{tenant.base}/tags/").json() == ["lonely", "pair", "shared"]

    bulk(api, tenant, {"ids": [first], "action": "remove", "tags": ["lonely", "pair"]})
    assert api.get(f"{tenant.base}/tags/").json() == ["lonely", "pair", "shared"]  # second still has them

    bulk(api, tenant, {"ids": [second], "action": "set", "tags": []})
    bulk(api, tenant, {"ids": [first], "action": "set", "tags": []})
    assert api.get(f"{tenant.base}/tags/").json() == ["shared"]  # the dashboard still uses it
    assert api.get(f"{tenant.base}/tags/", params={"search": "SHA"}).json()["results"] == ["shared"]

    bulk(api, tenant, {"ids": [dashboard], "action": "remove", "tags": ["shared"]}, resource="dashboards")
    assert api.get(f"{tenant.base}/tags/").json() == []


def test_activity_log_records_before_and_after_only_for_changed_insights(
    api: httpx.Client, tenant: Tenant
) -> None:
    changed, unchanged = make_insights(api, tenant, 2)
    bulk(api, tenant, {"ids": [unchanged], "action": "add", "tags": ["a"]})
    before = api.get(f"{tenant.base}/insights/{unchanged}/activity/").json()["total_count"]

    bulk(api, tenant, {"ids": [changed, unchanged], "action": "add", "tags": ["a"]})

    entries = api.get(f"{tenant.base}/insights/{changed}/activity/").json()["results"]
    latest = entries[0]
    assert latest["activity"] == "updated"
    assert latest["user"]["email"] == tenant.email
    assert latest["detail"]["name"] == "Insight 0"
    assert latest["detail"]["changes"] == [
        {"type": "Insight", "action": "changed", "field": "tags", "before": [], "after": ["a"]}
    ]
    assert api.get(f"{tenant.base}/insights/{unchanged}/activity/").json()["total_count"] == before


def test_dashboards_bulk_update_tags(api: httpx.Client, tenant: Tenant) -> None:
    made = [api.post(f"{tenant.base}/dashboards/", json={"name": f"D{i}"}).json()["id"] for i in range(2)]
    response = bulk(
        api, tenant, {"ids": [*made, 987_654_321], "action": "add", "tags": ["Ops"]}, "dashboards"
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "updated": [{"id": made[0], "tags": ["ops"]}, {"id": made[1], "tags": ["ops"]}],
        "skipped": [{"id": 987_654_321, "reason": SKIPPED}],
    }
    assert api.get(f"{tenant.base}/dashboards/{made[0]}/").json()["tags"] == ["ops"]
    with tenant.server.state.db.read() as session:
        logged = session.scalars(
            select(ActivityLog).where(
                ActivityLog.project_id == tenant.project_id,
                ActivityLog.scope == "Dashboard",
                ActivityLog.activity == "updated",
            )
        ).all()
    assert sorted(int(entry.item_id) for entry in logged) == sorted(made)
    assert logged[0].detail["changes"][0]["after"] == ["ops"]


def test_scopes(tenant: Tenant, api: httpx.Client) -> None:
    (insight,) = make_insights(api, tenant, 1)
    dashboard = api.post(f"{tenant.base}/dashboards/", json={"name": "D"}).json()["id"]
    body = {"ids": [insight], "action": "add", "tags": ["t"]}

    reader = tenant.client(tenant.new_key(scopes=["insight:read", "dashboard:write"]))
    refused = reader.post(f"{tenant.base}/insights/bulk_update_tags/", json=body)
    assert refused.status_code == 403
    assert refused.json() == {
        "type": "authentication_error",
        "code": "permission_denied",
        "detail": "API key missing required scope 'insight:write'",
        "attr": None,
    }
    writer = tenant.client(tenant.new_key(scopes=["insight:write"]))
    assert writer.post(f"{tenant.base}/insights/bulk_update_tags/", json=body).status_code == 200
    dashboard_body = {"ids": [dashboard], "action": "add", "tags": ["t"]}
    refused = writer.post(f"{tenant.base}/dashboards/bulk_update_tags/", json=dashboard_body)
    assert refused.json()["detail"] == "API key missing required scope 'dashboard:write'"
    assert reader.post(f"{tenant.base}/dashboards/bulk_update_tags/", json=dashboard_body).status_code == 200
    assert (
        httpx.post(f"{tenant.server.base_url}{tenant.base}/insights/bulk_update_tags/", json=body).status_code
        == 401
    )


def test_another_member_may_edit_but_a_non_member_may_not(tenant: Tenant, api: httpx.Client) -> None:
    (insight,) = make_insights(api, tenant, 1)
    _, email = tenant.add_user()
    member = tenant.client(tenant.new_key(email=email))
    body = {"ids": [insight], "action": "add", "tags": ["by-member"]}
    assert member.post(f"{tenant.base}/insights/bulk_update_tags/", json=body).json()["updated"] == [
        {"id": insight, "tags": ["by-member"]}
    ]
    outsider = new_tenant(tenant.server)
    try:
        response = outsider.client().post(f"{tenant.base}/insights/bulk_update_tags/", json=body)
        assert response.status_code == 403
        assert response.json()["detail"] == "You don't have access to the project."
    finally:
        outsider.close()


def test_environments_path_and_csv(api: httpx.Client, tenant: Tenant) -> None:
    (insight,) = make_insights(api, tenant, 1)
    path = f"/api/environments/{tenant.project_id}/insights/bulk_update_tags"  # no trailing slash
    response = api.post(
        path, params={"format": "csv"}, json={"ids": [insight, 5], "action": "add", "tags": ["b", "a"]}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    header, row = response.text.strip().splitlines()
    assert header.split(",") == [
        "skipped.0.id",
        "skipped.0.reason",
        "updated.0.id",
        "updated.0.tags.0",
        "updated.0.tags.1",
    ]
    assert row.split(",") == ["5", SKIPPED, str(insight), "a", "b"]


TOO_MANY_IDS = list(range(1, 502))


@pytest.mark.parametrize(
    ("body", "code", "attr", "detail"),
    [
        ({"action": "add", "tags": ["a"]}, "required", "ids", "This field is required."),
        ({"ids": [], "action": "add", "tags": ["a"]}, "empty", "ids", "This list may not be empty."),
        (
            {"ids": ["12"], "action": "add", "tags": ["a"]},
            "invalid_input",
            "ids__0",
            "A valid integer is required.",
        ),
        (
            {"ids": [1, 2.5], "action": "add", "tags": ["a"]},
            "invalid_input",
            "ids__1",
            "A valid integer is required.",
        ),
        (
            {"ids": 3, "action": "add", "tags": ["a"]},
            "not_a_list",
            "ids",
            'Expected a list of items but got type "int".',
        ),
        (
            {"ids": TOO_MANY_IDS, "action": "set", "tags": []},
            "max_length",
            "ids",
            "Ensure this field has no more than 500 elements.",
        ),
        ({"ids": [1], "tags": ["a"]}, "required", "action", "This field is required."),
        (
            {"ids": [1], "action": "merge", "tags": ["a"]},
            "invalid_choice",
            "action",
            '"merge" is not a valid choice.',
        ),
        ({"ids": [1], "action": None, "tags": ["a"]}, "null", "action", "This field may not be null."),
        ({"ids": [1], "action": "", "tags": ["a"]}, "blank", "action", "This field may not be blank."),
        ({"ids": [1], "action": "add"}, "required", "tags", "This field is required."),
        (
            {"ids": [1], "action": "add", "tags": "a"},
            "not_a_list",
            "tags",
            'Expected a list of items but got type "str".',
        ),
        (
            {"ids": [1], "action": "set", "tags": [f"t{i}" for i in range(101)]},
            "max_length",
            "tags",
            "Ensure this field has no more than 100 elements.",
        ),
        (
            {"ids": [1], "action": "add", "tags": ["ok", "x" * 256]},
            "max_length",
            "tags__1",
            "Ensure this field has no more than 255 characters.",
        ),
        (
            {"ids": [1], "action": "add", "tags": []},
            "invalid_input",
            "tags",
            "tags must not be empty for action 'add'.",
        ),
        (
            {"ids": [1], "action": "remove", "tags": ["  "]},
            "invalid_input",
            "tags",
            "tags must not be empty for action 'remove'.",
        ),
        (
            {"ids": list(range(1, 501)), "action": "add", "tags": [f"t{i}" for i in range(21)]},
            "invalid_input",
            "tags",
            "Too many changes in one request: ids × distinct tags must not exceed 10000.",
        ),
    ],
)
def test_bad_bodies_get_posthog_errors(
    api: httpx.Client, tenant: Tenant, body: dict[str, Any], code: str, attr: str, detail: str
) -> None:
    response = bulk(api, tenant, body)
    assert response.status_code == 400, response.text
    assert response.json() == {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


def test_limits_are_inclusive(api: httpx.Client, tenant: Tenant) -> None:
    """500 ids × 20 distinct tags is exactly 10,000 operations: allowed (and duplicates do not count)."""
    tags = [f"t{i}" for i in range(20)] + ["T0", " t1 "]
    response = bulk(api, tenant, {"ids": list(range(1, 501)), "action": "add", "tags": tags})
    assert response.status_code == 200, response.text
    assert len(response.json()["skipped"]) == 500


def test_non_json_and_malformed_bodies(api: httpx.Client, tenant: Tenant) -> None:
    url = f"{tenant.base}/insights/bulk_update_tags/"
    form = api.post(url, data={"ids": "1"})
    assert form.status_code == 415
    broken = api.post(url, content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["code"] == "parse_error"
    as_list = api.post(url, json=[1, 2])
    assert as_list.status_code == 400
    assert as_list.json()["detail"] == "Invalid data. Expected a dictionary, but got list."


def test_out_of_range_and_negative_ids(api: httpx.Client, tenant: Tenant) -> None:
    negative = bulk(api, tenant, {"ids": [-1, 0], "action": "add", "tags": ["a"]})
    assert negative.status_code == 200
    assert negative.json()["skipped"] == [{"id": -1, "reason": SKIPPED}, {"id": 0, "reason": SKIPPED}]
    huge = bulk(api, tenant, {"ids": [2**64], "action": "add", "tags": ["a"]})
    assert huge.status_code == 400
    assert huge.json()["type"] == "validation_error" and huge.json()["attr"] == "ids__0"
