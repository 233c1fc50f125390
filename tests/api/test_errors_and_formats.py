"""One error body everywhere, CSV on every endpoint, optional trailing slashes, the OpenAPI schema."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import Tenant, trends_query

ERROR_KEYS = {"type", "code", "detail", "attr"}


def test_unknown_route_is_404_in_posthog_shape(api: httpx.Client) -> None:
    response = api.get("/api/projects/1/nothing-here/")
    assert response.status_code == 404
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["code"] == "not_found"


def test_wrong_method_is_405_in_posthog_shape(api: httpx.Client, tenant: Tenant) -> None:
    response = api.put(f"{tenant.base}/insights/", json={})
    assert response.status_code == 405
    assert response.json() == {
        "type": "invalid_request",
        "code": "method_not_allowed",
        "detail": 'Method "PUT" not allowed.',
        "attr": None,
    }


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]
)
def test_non_json_body_is_415(api: httpx.Client, tenant: Tenant, content_type: str) -> None:
    response = api.post(f"{tenant.base}/insights/", content=b"name=x", headers={"content-type": content_type})
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert response.json()["type"] == "invalid_request"


def test_trailing_slash_is_optional(api: httpx.Client, tenant: Tenant) -> None:
    created = api.post(f"{tenant.base}/insights", json={"name": "no slash"})
    assert created.status_code == 201
    assert api.get(f"{tenant.base}/insights/{created.json()['id']}").status_code == 200
    assert api.get(f"{tenant.base}/insights").json()["count"] == 1


def test_list_as_csv_gives_one_row_per_insight(api: httpx.Client, tenant: Tenant) -> None:
    api.post(f"{tenant.base}/insights/", json={"name": "Alpha", "tags": ["x", "y"], "query": trends_query()})
    api.post(f"{tenant.base}/insights/", json={"name": "Beta, with comma"})
    response = api.get(f"{tenant.base}/insights/", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["name"] for r in rows) == ["Alpha", "Beta, with comma"]
    alpha = next(r for r in rows if r["name"] == "Alpha")
    assert alpha["tags.0"] == "x" and alpha["tags.1"] == "y"
    assert alpha["created_by.email"] == tenant.email
    assert alpha["query.source.kind"] == "TrendsQuery"


def test_accept_header_selects_csv(api: httpx.Client, tenant: Tenant) -> None:
    created = api.post(f"{tenant.base}/insights/", json={"name": "One"}).json()
    response = api.get(f"{tenant.base}/insights/{created['id']}/", headers={"Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    (row,) = list(csv.DictReader(io.StringIO(response.text)))
    assert row["id"] == str(created["id"]) and row["name"] == "One"


def test_csv_on_other_endpoints(api: httpx.Client, tenant: Tenant) -> None:
    api.post(f"{tenant.base}/insights/", json={"name": "t", "tags": ["b", "a"]})
    tags = api.get(f"{tenant.base}/tags/", params={"format": "csv"})
    assert tags.status_code == 200 and tags.text.split() == ["value", "a", "b"]
    boards = api.get(f"{tenant.base}/dashboards/", params={"format": "csv"})
    assert boards.status_code == 200


def test_unknown_format_is_404(api: httpx.Client, tenant: Tenant) -> None:
    response = api.get(f"{tenant.base}/insights/", params={"format": "xml"})
    assert response.status_code == 404
    assert set(response.json()) == ERROR_KEYS


def test_explicit_json_format(api: httpx.Client, tenant: Tenant) -> None:
    response = api.get(f"{tenant.base}/insights/", params={"format": "json"})
    assert response.headers["content-type"].startswith("application/json")


def test_openapi_schema_and_docs(tenant: Tenant) -> None:
    schema = httpx.get(f"{tenant.server.base_url}/api/schema/").json()
    paths = schema["paths"]
    for path in (
        "/api/projects/{project_id}/insights/",
        "/api/projects/{project_id}/insights/{lookup}/",
        "/api/projects/{project_id}/dashboards/",
        "/api/environments/{project_id}/insights/",
    ):
        assert path in paths, path
    create = paths["/api/projects/{project_id}/insights/"]["post"]
    assert "requestBody" in create
    assert schema["components"]["securitySchemes"]["PersonalAPIKey"]["scheme"] == "bearer"
    assert create["security"] == [{"PersonalAPIKey": []}]
    docs = httpx.get(f"{tenant.server.base_url}/api/docs/")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
insight_fields = st.sampled_from(
    [
        "name",
        "description",
        "query",
        "filters",
        "order",
        "deleted",
        "saved",
        "favorited",
        "dashboards",
        "tags",
        "derived_name",
        "_create_in_folder",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(insight_fields, json_values, max_size=4) | json_values)
def test_arbitrary_bodies_never_cause_a_server_error(api: httpx.Client, tenant: Tenant, body: object) -> None:
    for method in ("POST", "PATCH"):
        url = f"{tenant.base}/insights/" if method == "POST" else f"{tenant.base}/insights/1/"
        response = api.request(method, url, json=body)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert set(response.json()) == ERROR_KEYS


def test_metrics_endpoint_counts_requests_by_route_and_status(api: httpx.Client, tenant: Tenant) -> None:
    api.get(f"{tenant.base}/insights/")
    api.get(f"{tenant.base}/insights/nope/")
    text = httpx.get(f"{tenant.server.base_url}/metrics").text
    assert 'route="/api/projects/{project_id}/insights/",status="200"' in text
    assert 'route="/api/projects/{project_id}/insights/{lookup}/",status="404"' in text
    for name in (
        "insightd_query_executions_total",
        "insightd_query_coalesced_total",
        "insightd_cache_hits_total",
        "insightd_cache_misses_total",
        'insightd_query_cancellations_total{outcome="killed"}',
    ):
        assert name in text
    assert tenant.key not in text
