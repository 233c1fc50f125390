"""Inputs that databases refuse (huge integers, NUL characters) get a 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import Tenant


@pytest.mark.parametrize(
    ("body", "attr", "code"),
    [
        ({"order": 2**40}, "order", "max_value"),
        ({"order": -(2**40)}, "order", "min_value"),
        ({"dashboards": [2**70]}, "dashboards__0", "max_value"),
        ({"name": "a\x00b"}, "name", "null_characters_not_allowed"),
        ({"tags": ["ok", "a\x00b"]}, "tags__1", "null_characters_not_allowed"),
        ({"query": {"kind": "HogQuery", "code": "x\x00"}}, "query", "null_characters_not_allowed"),
        ({"description": "é" * 401}, "description", "max_length"),
    ],
)
def test_refused_values(
    api: httpx.Client, tenant: Tenant, body: dict[str, Any], attr: str, code: str
) -> None:
    response = api.post(f"{tenant.base}/insights/", json=body)
    assert response.status_code == 400, response.text
    assert (response.json()["attr"], response.json()["code"]) == (attr, code)


def test_big_ids_in_filters_and_paths_are_not_found(api: httpx.Client, tenant: Tenant) -> None:
    huge = "9" * 25
    assert api.get(f"{tenant.base}/insights/{huge}/").status_code == 404
    assert api.get(f"{tenant.base}/insights/ab%00cd/").status_code == 404
    assert api.get(f"/api/projects/{huge}/insights/").status_code == 404
    assert api.get(f"{tenant.base}/dashboards/{huge}/").status_code == 404
    for key in ("created_by", "dashboards"):
        response = api.get(f"{tenant.base}/insights/", params={key: f"[{huge}]"})
        assert response.status_code == 200 and response.json()["count"] == 0


def test_nul_in_query_parameters(api: httpx.Client, tenant: Tenant) -> None:
    api.post(f"{tenant.base}/insights/", json={"name": "abc", "tags": ["t"]})
    for params in (
        {"search": "a\x00"},
        {"short_id": "x\x00"},
        {"tags": '["t\\u0000"]'},
        {"order": "name\x00"},
    ):
        response = api.get(f"{tenant.base}/insights/", params=params)
        assert response.status_code in (200, 400), (params, response.text)


@pytest.mark.parametrize(
    ("query", "attr"),
    [
        ({"kind": "HogQLQuery", "query": "SELECT {v}", "values": {"v": 10**30}}, "query__values__v"),
        (
            {
                "kind": "DataTableNode",
                "source": {"kind": "HogQLQuery", "query": "SELECT 1", "tags": {"n": [-(2**64)]}},
            },
            "query__source__tags__n__0",
        ),
    ],
)
def test_integers_past_64_bits_in_a_query_are_refused(
    api: httpx.Client, tenant: Tenant, query: dict[str, Any], attr: str
) -> None:
    response = api.post(f"{tenant.base}/query/", json={"query": query, "refresh": "force_blocking"})
    assert response.status_code == 400, response.text
    assert response.json()["attr"] == attr and "integer out of range" in response.json()["detail"]
    insight = api.post(f"{tenant.base}/insights/", json={"query": query})
    assert insight.status_code == 400, insight.text


def test_a_float_past_64_bits_in_legacy_filters_comes_back(api: httpx.Client, tenant: Tenant) -> None:
    """PostgreSQL hands 1.8e19 back as an integer past 64 bits; it is read back as the float it was."""
    created = api.post(f"{tenant.base}/insights/", json={"filters": {"": 1.8446744073709552e19, "n": 3}})
    assert created.status_code == 201, created.text
    shown = api.get(f"{tenant.base}/insights/{created.json()['id']}/")
    assert shown.status_code == 200, shown.text
    assert shown.json()["filters"][""] == 1.8446744073709552e19


def _post(api: httpx.Client, url: str, body: str) -> httpx.Response:
    """JSON written by hand: the client's own encoder stops at its recursion limit."""
    return api.post(url, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("depth", [70, 300, 5000])
def test_deeply_nested_queries_and_filters_are_refused_and_never_stored(
    api: httpx.Client, tenant: Tenant, depth: int
) -> None:
    """Past 64 levels a query or legacy filters are a 400 (JSON writers stop at 255 levels: such an insight
    would be stored and then break every list that shows it); far deeper JSON too."""
    nested = "[" * depth + "1" + "]" * depth
    query = '{"kind": "HogQLQuery", "query": "SELECT 1", "values": {"a": ' + nested + "}}"
    ran = _post(api, f"{tenant.base}/query/", '{"query": ' + query + ', "refresh": "force_blocking"}')
    assert ran.status_code == 400, ran.text
    for body in (
        '{"name": "deep", "query": ' + query + "}",
        '{"name": "deep", "filters": {"x": ' + nested + "}}",
    ):
        created = _post(api, f"{tenant.base}/insights/", body)
        assert created.status_code == 400, created.text
    listed = api.get(f"{tenant.base}/insights/")
    assert listed.status_code == 200 and listed.json()["count"] == 0


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_queries_and_filters_are_refused(
    api: httpx.Client, tenant: Tenant, number: str
) -> None:
    """NaN would reach the cache key as null (sharing null's results) and PostgreSQL refuses it."""
    query = '{"kind": "HogQLQuery", "query": "SELECT {a}", "values": {"a": ' + number + "}}"
    ran = _post(api, f"{tenant.base}/query/", '{"query": ' + query + ', "refresh": "force_blocking"}')
    assert ran.status_code == 400 and "NaN" in ran.json()["detail"], ran.text
    for body in ('{"name": "n", "query": ' + query + "}", '{"name": "n", "filters": {"x": ' + number + "}}"):
        created = _post(api, f"{tenant.base}/insights/", body)
        assert created.status_code == 400 and "NaN" in created.json()["detail"], created.text
    assert api.get(f"{tenant.base}/insights/").json()["count"] == 0
