"""HTTP details PostHog's API (Django REST framework) has: HEAD answers like GET without a body, and an
``Accept`` header that allows neither JSON nor CSV is a 406."""

from __future__ import annotations

import httpx

from tests.support import Tenant, trends_query


def test_head_is_get_without_a_body(tenant: Tenant, api: httpx.Client) -> None:
    api.post(f"{tenant.base}/insights/", json={"name": "h", "query": trends_query()})
    got = api.get(f"{tenant.base}/insights/")
    head = api.head(f"{tenant.base}/insights/")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert api.head(f"{tenant.base}/insights/999999999/").status_code == 404
    assert (
        api.head(f"{tenant.base}/insights/", headers={"Authorization": "Bearer phx_nope"}).status_code == 401
    )
    assert api.get(f"{tenant.base}/insights/").json()["count"] == 1  # still usable after HEADs


def test_unacceptable_accept_header_is_406(tenant: Tenant, api: httpx.Client) -> None:
    url = f"{tenant.base}/insights/"
    for accept in ("application/xml", "text/html", "application/json;q=0, text/plain"):
        response = api.get(url, headers={"Accept": accept})
        assert response.status_code == 406, accept
        assert response.json() == {
            "type": "invalid_request",
            "code": "not_acceptable",
            "detail": "Could not satisfy the request Accept header.",
            "attr": None,
        }
    for accept in ("", "*/*", "application/json", "text/csv", "text/html,application/xhtml+xml,*/*;q=0.8"):
        assert api.get(url, headers={"Accept": accept}).status_code == 200, accept
    assert api.get(url, params={"format": "csv"}, headers={"Accept": "application/xml"}).status_code == 200
