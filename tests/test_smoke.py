from __future__ import annotations

import httpx

from tests.support import Tenant, trends_query


def test_health(tenant: Tenant) -> None:
    response = httpx.get(f"{tenant.server.base_url}/_health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_create_then_list(api: httpx.Client, tenant: Tenant) -> None:
    created = api.post(f"{tenant.base}/insights/", json={"name": "Views", "query": trends_query()})
    assert created.status_code == 201, created.text
    listed = api.get(f"{tenant.base}/insights/").json()
    assert listed["count"] == 1
    assert listed["results"][0]["name"] == "Views"
