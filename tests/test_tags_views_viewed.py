"""POST /insights/viewed/, GET /insights/my_last_viewed/ and GET /insights/trending/."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from insightd.services.representations import BASIC_FIELDS
from tests.support import Tenant, new_tenant
from tests.tags_views_support import delete_insight, make_insights, view_at

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
FULL_ONLY = {"result", "order", "deleted", "hogql", "is_cached", "query_status", "alerts"}


def is_basic(item: dict[str, object]) -> bool:
    """PostHog's basic serializer: its fields, none of the full serializer's (no results)."""
    return set(BASIC_FIELDS) <= set(item) and not FULL_ONLY & set(item)


def viewed(client: httpx.Client, tenant: Tenant, ids: object) -> httpx.Response:
    return client.post(f"{tenant.base}/insights/viewed/", json={"insight_ids": ids})


def last_viewed(client: httpx.Client, tenant: Tenant) -> list[dict[str, object]]:
    response = client.get(f"{tenant.base}/insights/my_last_viewed/")
    assert response.status_code == 200, response.text
    result: list[dict[str, object]] = response.json()
    return result


def test_viewed_then_my_last_viewed_newest_first(api: httpx.Client, tenant: Tenant) -> None:
    ids = make_insights(api, tenant, 7)
    view_at(tenant, tenant.user_id, ids, LONG_AGO)  # creating an insight counts as viewing it
    for insight_id in [ids[0], ids[3], ids[1], ids[5], ids[2], ids[6]]:
        response = viewed(api, tenant, [insight_id])
        assert response.status_code == 201
        assert response.content == b""

    items = last_viewed(api, tenant)
    assert [item["id"] for item in items] == [ids[6], ids[2], ids[5], ids[1], ids[3]]
    assert is_basic(items[0])
    assert items[0]["name"] == "Insight 6" and items[0]["created_by"]["email"] == tenant.email  # type: ignore[index]
    times = [datetime.fromisoformat(str(item["last_viewed_at"])) for item in items]
    assert times == sorted(times, reverse=True)
    assert datetime.now(UTC) - times[0] < timedelta(minutes=1)


def test_my_last_viewed_is_per_user_and_leaves_deleted_out(api: httpx.Client, tenant: Tenant) -> None:
    first, second, third = make_insights(api, tenant, 3)
    view_at(tenant, tenant.user_id, [first, second, third], LONG_AGO)
    other_id, email = tenant.add_user()
    other = tenant.client(tenant.new_key(email=email))
    assert last_viewed(other, tenant) == []

    viewed(api, tenant, [first])
    viewed(other, tenant, [second])
    viewed(other, tenant, [first])  # later than the owner's view: must not change the owner's time
    mine = last_viewed(api, tenant)
    assert [item["id"] for item in mine[:1]] == [first]
    owner_time = mine[0]["last_viewed_at"]
    assert [item["id"] for item in last_viewed(other, tenant)] == [first, second]
    assert last_viewed(api, tenant)[0]["last_viewed_at"] == owner_time
    assert last_viewed(other, tenant)[0]["last_viewed_at"] != owner_time

    delete_insight(api, tenant, first)
    assert [item["id"] for item in last_viewed(api, tenant)] == [third, second]
    assert [item["id"] for item in last_viewed(other, tenant)] == [second]
    assert other_id != tenant.user_id


def test_viewed_drops_foreign_deleted_and_missing_ids(api: httpx.Client, tenant: Tenant) -> None:
    mine, deleted = make_insights(api, tenant, 2)
    delete_insight(api, tenant, deleted)
    view_at(tenant, tenant.user_id, [mine], LONG_AGO)
    outsider = new_tenant(tenant.server)
    try:
        (foreign,) = make_insights(outsider.client(), outsider, 1)
        response = viewed(api, tenant, [foreign, 404_404_404, deleted, mine, mine])
        assert response.status_code == 201 and response.content == b""
        assert [item["id"] for item in last_viewed(api, tenant)] == [mine]
        assert datetime.fromisoformat(str(last_viewed(api, tenant)[0]["last_viewed_at"])) > LONG_AGO
        only_dropped = viewed(api, tenant, [foreign])
        assert only_dropped.status_code == 201
        theirs = outsider.client().get(f"{outsider.base}/insights/", params={"order": "-last_viewed_at"})
        assert theirs.json()["results"][0]["id"] == foreign
    finally:
        outsider.close()


@pytest.mark.parametrize(
    ("body", "code", "attr", "detail"),
    [
        ({}, "required", "insight_ids", "This field is required."),
        ({"insight_ids": []}, "empty", "insight_ids", "This list may not be empty."),
        ({"insight_ids": None}, "null", "insight_ids", "This field may not be null."),
        ({"insight_ids": ["7"]}, "invalid_input", "insight_ids__0", "A valid integer is required."),
        ({"insight_ids": [1, True]}, "invalid_input", "insight_ids__1", "A valid integer is required."),
        ({"insight_ids": 7}, "not_a_list", "insight_ids", 'Expected a list of items but got type "int".'),
        (
            {"insight_ids": list(range(1, 2502))},
            "max_length",
            "insight_ids",
            "Ensure this field has no more than 2500 elements.",
        ),
    ],
)
def test_viewed_bad_bodies(
    api: httpx.Client, tenant: Tenant, body: dict[str, object], code: str, attr: str, detail: str
) -> None:
    response = api.post(f"{tenant.base}/insights/viewed/", json=body)
    assert response.status_code == 400, response.text
    assert response.json() == {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


def test_viewed_accepts_2500_ids(api: httpx.Client, tenant: Tenant) -> None:
    ids = make_insights(api, tenant, 2)
    view_at(tenant, tenant.user_id, ids, LONG_AGO)
    response = viewed(api, tenant, [*range(10_000_000, 10_002_498), *ids])
    assert response.status_code == 201
    assert {item["id"] for item in last_viewed(api, tenant)} == set(ids)
    assert datetime.fromisoformat(str(last_viewed(api, tenant)[1]["last_viewed_at"])) > LONG_AGO


def test_read_scope_is_enough_and_other_scopes_are_refused(api: httpx.Client, tenant: Tenant) -> None:
    (insight,) = make_insights(api, tenant, 1)
    reader = tenant.client(tenant.new_key(scopes=["insight:read"]))
    assert viewed(reader, tenant, [insight]).status_code == 201
    assert reader.get(f"{tenant.base}/insights/my_last_viewed/").status_code == 200
    assert reader.get(f"{tenant.base}/insights/trending/").status_code == 200
    dashboards_only = tenant.client(tenant.new_key(scopes=["dashboard:read"]))
    for response in (
        viewed(dashboards_only, tenant, [insight]),
        dashboards_only.get(f"{tenant.base}/insights/my_last_viewed/"),
        dashboards_only.get(f"{tenant.base}/insights/trending/"),
    ):
        assert response.status_code == 403
        assert response.json()["detail"] == "API key missing required scope 'insight:read'"


def test_my_last_viewed_csv_has_one_row_per_insight(api: httpx.Client, tenant: Tenant) -> None:
    ids = make_insights(api, tenant, 2, tags=["x"])
    response = api.get(f"{tenant.base}/insights/my_last_viewed/", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(int(row["id"]) for row in rows) == sorted(ids)
    assert {row["tags.0"] for row in rows} == {"x"}
    empty = tenant.client(tenant.new_key(email=tenant.add_user()[1]))
    assert empty.get(f"{tenant.base}/insights/my_last_viewed/", params={"format": "csv"}).text == ""


def test_list_reads_the_same_view_records(api: httpx.Client, tenant: Tenant) -> None:
    old, recent, never = make_insights(api, tenant, 3)
    view_at(tenant, tenant.user_id, [old, recent, never], LONG_AGO)
    view_at(tenant, tenant.user_id, [old], datetime.now(UTC) - timedelta(days=20))
    viewed(api, tenant, [recent])
    base = f"{tenant.base}/insights/"

    ordered = api.get(base, params={"order": "-last_viewed_at"}).json()["results"]
    assert [item["id"] for item in ordered] == [recent, old, never]
    assert ordered[0]["last_viewed_at"] == last_viewed(api, tenant)[0]["last_viewed_at"]
    recently = api.get(base, params={"last_viewed_date_from": "-7d"}).json()["results"]
    assert [item["id"] for item in recently] == [recent]
    earlier = api.get(base, params={"last_viewed_date_to": "-7d", "order": "-last_viewed_at"}).json()[
        "results"
    ]
    assert [item["id"] for item in earlier] == [old, never]
    plain = {item["id"]: item["last_viewed_at"] for item in api.get(base).json()["results"]}
    assert plain[recent] == ordered[0]["last_viewed_at"]


def trending(client: httpx.Client, tenant: Tenant, **params: object) -> httpx.Response:
    return client.get(f"{tenant.base}/insights/trending/", params=params)  # type: ignore[arg-type]


def test_trending_ranks_by_viewers_then_last_modified(api: httpx.Client, tenant: Tenant) -> None:
    popular, modified_later, modified_earlier, stale, deleted, unseen = make_insights(api, tenant, 6)
    view_at(
        tenant, tenant.user_id, [popular, modified_later, modified_earlier, stale, deleted, unseen], LONG_AGO
    )
    users = [tenant.add_user() for _ in range(4)]
    now = datetime.now(UTC)
    for offset, (user_id, _) in enumerate(users):
        view_at(tenant, user_id, [popular], now - timedelta(hours=offset + 1))
    view_at(tenant, users[0][0], [deleted], now)
    view_at(tenant, users[1][0], [deleted], now)
    view_at(tenant, users[0][0], [stale], now - timedelta(days=8))
    for insight_id in (modified_earlier, modified_later):  # modified in this order
        view_at(tenant, users[0][0], [insight_id], now - timedelta(minutes=5))
        assert api.patch(f"{tenant.base}/insights/{insight_id}/", json={"name": "changed"}).status_code == 200
    delete_insight(api, tenant, deleted)

    response = trending(api, tenant)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 3 and body["next"] is None and body["previous"] is None
    results = body["results"]
    assert [item["id"] for item in results] == [popular, modified_later, modified_earlier]
    assert [item["view_count"] for item in results] == [4, 1, 1]
    top = results[0]
    assert is_basic(top) and {"view_count", "viewers", "last_modified_by"} <= set(top)
    assert [viewer["email"] for viewer in top["viewers"]] == [email for _, email in users[:3]]
    assert set(top["viewers"][0]) >= {"id", "uuid", "distinct_id", "first_name", "last_name", "email"}
    assert top["last_modified_by"]["email"] == tenant.email
    assert datetime.fromisoformat(top["last_viewed_at"]) == max(
        datetime.fromisoformat(top["last_viewed_at"]), now - timedelta(hours=1)
    )

    wide = trending(api, tenant, days=30).json()["results"]
    assert [item["id"] for item in wide] == [popular, modified_later, modified_earlier, stale]
    everything = trending(api, tenant, days=100_000).json()["results"]
    assert {item["id"] for item in everything} == {popular, modified_later, modified_earlier, stale, unseen}
    assert [item["id"] for item in trending(api, tenant, limit=1).json()["results"]] == [popular]
    assert trending(api, tenant, limit=0).json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
    }


def test_trending_limit_is_capped_at_100(api: httpx.Client, tenant: Tenant) -> None:
    ids = make_insights(api, tenant, 101)
    response = trending(api, tenant, limit=1000)
    assert response.status_code == 200
    assert response.json()["count"] == 100
    assert len({item["id"] for item in response.json()["results"]}) == 100
    assert {item["id"] for item in response.json()["results"]} <= set(ids)


@pytest.mark.parametrize(
    "params",
    [{"days": "abc"}, {"limit": "1.5"}, {"days": ""}, {"limit": "-1"}, {"days": "7", "limit": "ten"}],
)
def test_trending_bad_parameters(api: httpx.Client, tenant: Tenant, params: dict[str, str]) -> None:
    response = trending(api, tenant, **params)
    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "code": "invalid_input",
        "detail": "days and limit must be valid integers",
        "attr": None,
    }


def test_trending_extreme_days_and_csv(api: httpx.Client, tenant: Tenant) -> None:
    (insight,) = make_insights(api, tenant, 1)
    assert trending(api, tenant, days=10**30).status_code == 200
    assert trending(api, tenant, days=-5).json()["count"] == 0  # a window in the future
    response = trending(api, tenant, format="csv")
    assert response.headers["content-type"].startswith("text/csv")
    (row,) = list(csv.DictReader(io.StringIO(response.text)))
    assert row["id"] == str(insight) and row["view_count"] == "1"
    assert row["viewers.0.email"] == tenant.email


def test_viewed_csv_and_out_of_range_ids(api: httpx.Client, tenant: Tenant) -> None:
    (insight,) = make_insights(api, tenant, 1)
    response = api.post(
        f"{tenant.base}/insights/viewed/", params={"format": "csv"}, json={"insight_ids": [insight]}
    )
    assert response.status_code == 201 and response.content == b""
    assert viewed(api, tenant, [-5, 0]).status_code == 201
    huge = viewed(api, tenant, [insight, 2**63])
    assert huge.status_code == 400
    assert huge.json()["type"] == "validation_error" and huge.json()["attr"] == "insight_ids__1"
