"""Dashboards (enough to hold insights) and the activity log."""

from __future__ import annotations

import httpx

from tests.support import Tenant, trends_query


def test_dashboard_lifecycle(api: httpx.Client, tenant: Tenant) -> None:
    created = api.post(
        f"{tenant.base}/dashboards/", json={"name": "Growth", "description": "KPIs", "tags": ["Team A"]}
    )
    assert created.status_code == 201
    board = created.json()
    assert board["name"] == "Growth" and board["tags"] == ["team a"] and board["tiles"] == []
    listed = api.get(f"{tenant.base}/dashboards/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == board["id"]
    renamed = api.patch(f"{tenant.base}/dashboards/{board['id']}/", json={"name": "Growth v2"}).json()
    assert renamed["name"] == "Growth v2"
    assert api.patch(f"{tenant.base}/dashboards/{board['id']}/", json={"deleted": True}).status_code == 200
    assert api.get(f"{tenant.base}/dashboards/{board['id']}/").status_code == 404
    assert api.get(f"{tenant.base}/dashboards/").json()["count"] == 0
    assert api.patch(f"{tenant.base}/dashboards/{board['id']}/", json={"deleted": False}).status_code == 200
    assert api.delete(f"{tenant.base}/dashboards/{board['id']}/").status_code == 405


def test_deleted_dashboard_leaves_insight_lists(api: httpx.Client, tenant: Tenant) -> None:
    board = api.post(f"{tenant.base}/dashboards/", json={"name": "B"}).json()
    insight = api.post(f"{tenant.base}/insights/", json={"name": "i", "dashboards": [board["id"]]}).json()
    api.patch(f"{tenant.base}/dashboards/{board['id']}/", json={"deleted": True})
    assert api.get(f"{tenant.base}/insights/{insight['id']}/").json()["dashboards"] == []


def test_soft_deleted_insight_leaves_its_dashboards(api: httpx.Client, tenant: Tenant) -> None:
    board = api.post(f"{tenant.base}/dashboards/", json={"name": "B"}).json()
    insight = api.post(f"{tenant.base}/insights/", json={"name": "i", "dashboards": [board["id"]]}).json()
    api.patch(f"{tenant.base}/insights/{insight['id']}/", json={"deleted": True})
    assert api.get(f"{tenant.base}/dashboards/{board['id']}/").json()["tiles"] == []


def test_dashboard_scopes(tenant: Tenant) -> None:
    reader = tenant.client(tenant.new_key(scopes=["dashboard:read"]))
    assert reader.get(f"{tenant.base}/dashboards/").status_code == 200
    denied = reader.post(f"{tenant.base}/dashboards/", json={"name": "x"})
    assert denied.status_code == 403
    assert denied.json()["detail"] == "API key missing required scope 'dashboard:write'"


def test_activity_log_records_the_life_of_an_insight(api: httpx.Client, tenant: Tenant) -> None:
    insight = api.post(f"{tenant.base}/insights/", json={"name": "Tracked", "query": trends_query()}).json()
    url = f"{tenant.base}/insights/{insight['id']}/"
    api.patch(url, json={"name": "Tracked v2", "tags": ["a"]})
    api.patch(url, json={"deleted": True})
    api.patch(url, json={"deleted": False})
    log = api.get(f"{tenant.base}/insights/{insight['short_id']}/activity/").json()
    assert [entry["activity"] for entry in log["results"]] == ["restored", "deleted", "updated", "created"]
    updated = log["results"][2]
    changes = {c["field"]: (c["before"], c["after"]) for c in updated["detail"]["changes"]}
    assert changes["name"] == ("Tracked", "Tracked v2")
    assert changes["tags"] == ([], ["a"])
    assert updated["user"]["email"] == tenant.email
    assert updated["scope"] == "Insight" and updated["item_id"] == str(insight["id"])
    assert log["total_count"] == 4


def test_project_activity_is_newest_first_and_paged(api: httpx.Client, tenant: Tenant) -> None:
    for i in range(12):
        api.post(f"{tenant.base}/insights/", json={"name": f"n{i}"})
    first = api.get(f"{tenant.base}/insights/activity/").json()
    assert len(first["results"]) == 10 and first["total_count"] == 12
    assert first["results"][0]["detail"]["name"] == "n11"
    second = api.get(first["next"]).json()
    assert [e["detail"]["name"] for e in second["results"]] == ["n1", "n0"]
    assert second["next"] is None and second["previous"] is not None


def test_activity_needs_its_scope(tenant: Tenant) -> None:
    reader = tenant.client(tenant.new_key(scopes=["insight:read"]))
    response = reader.get(f"{tenant.base}/insights/activity/")
    assert response.status_code == 403
    assert "activity_log:read" in response.json()["detail"]
