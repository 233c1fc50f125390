"""The insight list: pagination, filters, search and ordering (spec §11)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from insightd.store.models import Insight
from tests.support import Tenant, trends_query

SQL_QUERY = {"kind": "DataVisualizationNode", "source": {"kind": "HogQLQuery", "query": "select 1"}}
FUNNEL_QUERY = {"kind": "InsightVizNode", "source": {"kind": "FunnelsQuery", "series": []}}


def create(api: httpx.Client, tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = api.post(f"{tenant.base}/insights/", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["results"]]


def backdate(tenant: Tenant, insight_id: int, **fields: datetime) -> None:
    with tenant.server.state.db.write() as session:
        session.execute(update(Insight).where(Insight.id == insight_id).values(**fields))


def test_pagination_envelope_with_absolute_links(api: httpx.Client, tenant: Tenant) -> None:
    for i in range(5):
        create(api, tenant, name=f"i{i}")
    first = api.get(f"{tenant.base}/insights/", params={"limit": 2}).json()
    assert first["count"] == 5 and len(first["results"]) == 2
    assert first["previous"] is None
    assert first["next"].startswith(tenant.server.base_url)
    second = api.get(first["next"]).json()
    assert "offset=2" in first["next"] and len(second["results"]) == 2
    third = api.get(second["next"]).json()
    assert len(third["results"]) == 1 and third["next"] is None
    seen = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert len(set(seen)) == 5
    back = api.get(third["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in second["results"]]


def test_malformed_limit_falls_back_to_default(api: httpx.Client, tenant: Tenant) -> None:
    create(api, tenant, name="one")
    assert api.get(f"{tenant.base}/insights/", params={"limit": "lots"}).json()["count"] == 1


def test_basic_serializer(api: httpx.Client, tenant: Tenant) -> None:
    create(api, tenant, name="b", query=trends_query())
    item = api.get(f"{tenant.base}/insights/", params={"basic": "true"}).json()["results"][0]
    assert "result" not in item and "last_modified_by" not in item
    assert {"id", "short_id", "name", "query", "tags", "last_viewed_at", "dashboards"} <= set(item)


def test_filter_by_insight_kind(api: httpx.Client, tenant: Tenant) -> None:
    create(api, tenant, name="trend", query=trends_query())
    create(api, tenant, name="funnel", query=FUNNEL_QUERY)
    create(api, tenant, name="sql", query=SQL_QUERY)
    create(api, tenant, name="json", query={"kind": "DataTableNode", "source": {"kind": "EventsQuery"}})
    assert names(api.get(f"{tenant.base}/insights/", params={"insight": "TRENDS"})) == ["trend"]
    assert names(api.get(f"{tenant.base}/insights/", params={"insight": "FUNNELS"})) == ["funnel"]
    assert names(api.get(f"{tenant.base}/insights/", params={"insight": "SQL"})) == ["sql"]
    assert names(api.get(f"{tenant.base}/insights/", params={"insight": "JSON"})) == ["json"]
    # As PostHog: an unknown kind filters everything out instead of failing.
    assert names(api.get(f"{tenant.base}/insights/", params={"insight": "PIE"})) == []


def test_filter_by_short_id_favorited_saved_user(api: httpx.Client, tenant: Tenant) -> None:
    mine = create(api, tenant, name="mine", favorited=True)
    create(api, tenant, name="draft", saved=False)
    _uid, email = tenant.add_user()
    create(tenant.client(tenant.new_key(email=email)), tenant, name="theirs")
    base = f"{tenant.base}/insights/"
    assert names(api.get(base, params={"short_id": mine["short_id"]})) == ["mine"]
    assert names(api.get(base, params={"favorited": "false"})) == ["mine"]  # any value, as PostHog
    assert sorted(names(api.get(base, params={"saved": "true"}))) == ["mine", "theirs"]
    assert names(api.get(base, params={"saved": "false"})) == ["draft"]
    assert sorted(names(api.get(base, params={"user": "true"}))) == ["draft", "mine"]


def test_saved_true_includes_unsaved_insight_on_a_dashboard(api: httpx.Client, tenant: Tenant) -> None:
    board = api.post(f"{tenant.base}/dashboards/", json={"name": "B"}).json()
    create(api, tenant, name="pinned draft", saved=False, dashboards=[board["id"]])
    assert names(api.get(f"{tenant.base}/insights/", params={"saved": "true"})) == ["pinned draft"]


def test_filter_by_created_by(api: httpx.Client, tenant: Tenant) -> None:
    create(api, tenant, name="owner's")
    other_id, email = tenant.add_user()
    create(tenant.client(tenant.new_key(email=email)), tenant, name="other's")
    base = f"{tenant.base}/insights/"
    assert names(api.get(base, params={"created_by": json.dumps([other_id])})) == ["other's"]
    assert len(names(api.get(base, params={"created_by": json.dumps([other_id, tenant.user_id])}))) == 2
    bad = api.get(base, params={"created_by": '["x"]'})
    assert bad.status_code == 400 and bad.json()["attr"] == "created_by"


def test_filter_by_tags_is_any(api: httpx.Client, tenant: Tenant) -> None:
    create(api, tenant, name="a", tags=["growth"])
    create(api, tenant, name="b", tags=["revenue"])
    create(api, tenant, name="c", tags=["other"])
    got = names(api.get(f"{tenant.base}/insights/", params={"tags": json.dumps(["Growth", "revenue"])}))
    assert sorted(got) == ["a", "b"]


def test_filter_by_dashboards_is_all(api: httpx.Client, tenant: Tenant) -> None:
    one = api.post(f"{tenant.base}/dashboards/", json={"name": "1"}).json()["id"]
    two = api.post(f"{tenant.base}/dashboards/", json={"name": "2"}).json()["id"]
    create(api, tenant, name="both", dashboards=[one, two])
    create(api, tenant, name="first only", dashboards=[one])
    base = f"{tenant.base}/insights/"
    assert names(api.get(base, params={"dashboards": json.dumps([one, two])})) == ["both"]
    assert sorted(names(api.get(base, params={"dashboards": json.dumps([one])}))) == ["both", "first only"]


def test_date_filters_absolute_and_relative(api: httpx.Client, tenant: Tenant) -> None:
    old = create(api, tenant, name="old")
    create(api, tenant, name="new")
    long_ago = datetime.now(UTC) - timedelta(days=30)
    backdate(tenant, old["id"], last_modified_at=long_ago, created_at=long_ago)
    base = f"{tenant.base}/insights/"
    assert names(api.get(base, params={"date_from": "-7d"})) == ["new"]
    assert names(api.get(base, params={"date_to": "-7d"})) == ["old"]
    assert names(api.get(base, params={"created_date_from": "-2w"})) == ["new"]
    assert names(
        api.get(base, params={"created_date_to": (datetime.now(UTC) - timedelta(days=10)).date().isoformat()})
    ) == ["old"]
    bad = api.get(base, params={"date_from": "last tuesday"})
    assert bad.status_code == 400 and bad.json()["attr"] == "date_from"


def test_last_viewed_filters_and_ordering(api: httpx.Client, tenant: Tenant) -> None:
    from sqlalchemy import update as sql_update

    from insightd.store.models import InsightViewed

    stale = create(api, tenant, name="stale")
    fresh = create(api, tenant, name="fresh")
    never = create(api, tenant, name="never")
    with tenant.server.state.db.write() as session:
        session.execute(
            sql_update(InsightViewed)
            .where(InsightViewed.insight_id == stale["id"])
            .values(last_viewed_at=datetime.now(UTC) - timedelta(days=20))
        )
        session.execute(
            sql_update(InsightViewed)
            .where(InsightViewed.insight_id == never["id"])
            .values(last_viewed_at=datetime(2001, 1, 1, tzinfo=UTC))
        )
    base = f"{tenant.base}/insights/"
    assert names(api.get(base, params={"order": "-last_viewed_at"})) == ["fresh", "stale", "never"]
    assert names(api.get(base, params={"order": "last_viewed_at"})) == ["never", "stale", "fresh"]
    assert names(api.get(base, params={"last_viewed_date_from": "-7d"})) == ["fresh"]
    assert sorted(names(api.get(base, params={"last_viewed_date_to": "-7d"}))) == ["never", "stale"]
    assert fresh["id"]


@pytest.mark.parametrize("order", ["name", "-name", "created_at", "-created_at", "-last_modified_at", "id"])
def test_ordering(api: httpx.Client, tenant: Tenant, order: str) -> None:
    for name in ("banana", "apple", "cherry"):
        create(api, tenant, name=name)
    got = names(api.get(f"{tenant.base}/insights/", params={"order": order}))
    if "name" in order:
        assert got == sorted(got, reverse=order.startswith("-"))
    elif order in ("created_at", "id"):
        assert got == ["banana", "apple", "cherry"]
    else:
        assert got == ["cherry", "apple", "banana"]


def test_unknown_order_field_is_400(api: httpx.Client, tenant: Tenant) -> None:
    response = api.get(f"{tenant.base}/insights/", params={"order": "-password"})
    assert response.status_code == 400
    assert response.json()["attr"] == "order"


def test_default_order_uses_order_column(api: httpx.Client, tenant: Tenant) -> None:
    create(api, tenant, name="second", order=2)
    create(api, tenant, name="unordered")
    create(api, tenant, name="first", order=1)
    assert names(api.get(f"{tenant.base}/insights/")) == ["first", "second", "unordered"]


def test_search_exact_first_then_similar(api: httpx.Client, tenant: Tenant) -> None:
    create(api, tenant, name="Weekly signups")
    create(api, tenant, name="Revenue", description="All signups and purchases")
    create(api, tenant, name="Signup", tags=["onboarding"])
    create(api, tenant, name="Unrelated")
    create(api, tenant, name="Sign up flow")  # similar (shared trigrams), not a substring match
    response = api.get(f"{tenant.base}/insights/", params={"search": "signup"})
    results = response.json()["results"]
    assert results[0]["name"] == "Signup"  # a whole-name match ranks first
    assert {r["name"] for r in results[1:3]} == {"Weekly signups", "Revenue"}
    assert [r["search_match_type"] for r in results[:3]] == ["exact"] * 3
    assert results[-1]["name"] == "Sign up flow" and results[-1]["search_match_type"] == "similar"
    assert "Unrelated" not in [r["name"] for r in results]
    by_tag = api.get(f"{tenant.base}/insights/", params={"search": "onboard"}).json()
    assert [r["name"] for r in by_tag["results"]] == ["Signup"]


def test_search_longer_than_200_characters_is_400(api: httpx.Client, tenant: Tenant) -> None:
    response = api.get(f"{tenant.base}/insights/", params={"search": "x" * 201})
    assert response.status_code == 400
    assert response.json()["detail"] == "Search query must be 200 characters or fewer."
    assert response.json()["attr"] == "search"


def test_search_with_nul_bytes_and_like_wildcards(api: httpx.Client, tenant: Tenant) -> None:
    create(api, tenant, name="100% growth")
    create(api, tenant, name="1000 growth")
    got = names(api.get(f"{tenant.base}/insights/", params={"search": "100%\x00"}))
    assert got[0] == "100% growth"
