"""POST /insights/generate_metadata/ with the offline generator, through the real server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.metadata.queries import breakdown, event, funnel, sql, trends
from tests.support import Tenant

SOURCE = "X-Insightd-Metadata-Source"


def _generate(api: httpx.Client, tenant: Tenant, body: Any) -> httpx.Response:
    return api.post(f"{tenant.base}/insights/generate_metadata/", json=body)


def test_names_a_trend_offline_without_saving(api: httpx.Client, tenant: Tenant) -> None:
    query = trends(event("$pageview"), interval="day", breakdownFilter=breakdown("$browser"))
    response = _generate(api, tenant, {"query": query, "name": "ignored", "tags": ["ignored"]})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "name": "Daily Pageviews by Browser",
        "description": "The number of pageviews per day, broken down by browser.",
    }
    assert response.headers[SOURCE] == "offline"
    assert api.get(f"{tenant.base}/insights/").json()["count"] == 0


@pytest.mark.parametrize(
    ("query", "name"),
    [
        (funnel(event("signed_up"), event("purchase")), "Signup → Purchase Conversion"),
        (
            sql(
                "SELECT toStartOfWeek(timestamp) AS week, count(DISTINCT person_id) FROM events GROUP BY week"
            ),
            "Weekly Unique Users",
        ),
        (
            {"kind": "EventsQuery", "select": ["*"], "event": "$pageview", "after": "-1h"},
            "Pageviews in the Last Hour",
        ),
        (
            {"kind": "HogQLQuery", "query": "select count() from events where event = 'signed_up'"},
            "Total Signup Count",
        ),
    ],
)
def test_supported_kinds(api: httpx.Client, tenant: Tenant, query: dict[str, Any], name: str) -> None:
    response = _generate(api, tenant, {"query": query})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == name


def test_environments_path(api: httpx.Client, tenant: Tenant) -> None:
    response = api.post(
        f"/api/environments/{tenant.project_id}/insights/generate_metadata",
        json={"query": trends(event("signed_up"), interval="week")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Weekly Signups"


@pytest.mark.parametrize("body", [None, {}, {"query": None}, {"query": {}}, {"query": ""}, {"query": []}])
def test_missing_query(api: httpx.Client, tenant: Tenant, body: Any) -> None:
    if body is None:
        response = api.post(f"{tenant.base}/insights/generate_metadata/")
    else:
        response = _generate(api, tenant, body)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "type": "validation_error",
        "code": "invalid_input",
        "detail": "Missing 'query' field in request body",
        "attr": None,
    }


@pytest.mark.parametrize(
    "query",
    [
        {"kind": "TrendsQuery", "series": [event("$pageview")]},  # not wrapped, as in PostHog
        {"kind": "SavedInsightNode", "shortId": "abcdefgh"},
        {"kind": "HogQuery", "code": "return 1"},
        trends("not a series node"),  # type: ignore[arg-type]
    ],
)
def test_invalid_query_format(api: httpx.Client, tenant: Tenant, query: Any) -> None:
    response = _generate(api, tenant, {"query": query})
    assert response.status_code == 400, response.text
    assert response.json() == {
        "type": "validation_error",
        "code": "invalid_input",
        "detail": "Invalid query format",
        "attr": None,
    }


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"kind": "NoSuchQuery"}, "Unknown query kind 'NoSuchQuery'"),
        ({"source": {}}, "Query is missing the 'kind' field"),
        ("SELECT 1", "Query must be a valid JSON object"),
    ],
)
def test_body_parser_rejects_unknown_nodes(
    api: httpx.Client, tenant: Tenant, query: Any, detail: str
) -> None:
    response = _generate(api, tenant, {"query": query})
    assert response.status_code == 400, response.text
    assert response.json() == {
        "type": "invalid_request",
        "code": "parse_error",
        "detail": detail,
        "attr": None,
    }


def test_needs_insight_write(tenant: Tenant) -> None:
    reader = tenant.client(tenant.new_key(scopes=["insight:read"]))
    response = reader.post(
        f"{tenant.base}/insights/generate_metadata/", json={"query": trends(event("$pageview"))}
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "API key missing required scope 'insight:write'"
    writer = tenant.client(tenant.new_key(scopes=["insight:write"]))
    ok = writer.post(f"{tenant.base}/insights/generate_metadata/", json={"query": trends(event("$pageview"))})
    assert ok.status_code == 200


def test_long_names_and_descriptions_are_clipped(api: httpx.Client, tenant: Tenant) -> None:
    long_name = "Visits to the " + "very " * 40 + "long landing page"
    query = trends(
        event("$pageview", custom_name=long_name), properties=[{"key": "x" * 150, "type": "hogql"}]
    )
    body = _generate(api, tenant, {"query": query}).json()
    assert len(body["name"]) == 100 and body["name"].endswith("...")
    assert body["name"].startswith("Daily Visits to the very very")
    assert len(body["description"]) == 200 and body["description"].endswith("...")


def test_derived_name_is_filled_on_create_and_follows_the_query(api: httpx.Client, tenant: Tenant) -> None:
    created = api.post(f"{tenant.base}/insights/", json={"query": trends(event("$pageview"), interval="day")})
    assert created.status_code == 201, created.text
    insight = created.json()
    assert insight["name"] is None
    assert insight["derived_name"] == "Daily Pageviews"
    listed = api.get(f"{tenant.base}/insights/").json()["results"]
    assert [i["derived_name"] for i in listed] == ["Daily Pageviews"]

    changed = api.patch(
        f"{tenant.base}/insights/{insight['id']}/",
        json={"query": funnel(event("signed_up"), event("purchase"))},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["derived_name"] == "Signup → Purchase Conversion"

    renamed = api.patch(
        f"{tenant.base}/insights/{insight['id']}/", json={"derived_name": "Our signup funnel"}
    )
    assert renamed.json()["derived_name"] == "Our signup funnel"
    again = api.patch(f"{tenant.base}/insights/{insight['id']}/", json={"query": trends(event("signed_up"))})
    assert again.json()["derived_name"] == "Our signup funnel"  # a name the client chose is kept


def test_client_derived_name_wins_on_create(api: httpx.Client, tenant: Tenant) -> None:
    body = {"query": trends(event("$pageview")), "derived_name": "Traffic"}
    assert api.post(f"{tenant.base}/insights/", json=body).json()["derived_name"] == "Traffic"
    bare = api.post(f"{tenant.base}/insights/", json={"name": "No query"}).json()
    assert bare["derived_name"] is None
