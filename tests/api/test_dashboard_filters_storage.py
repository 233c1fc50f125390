"""Dashboard ``filters`` and ``variables``: stored and returned as PostHog's dashboard serializer does
(``persisted_*`` the stored ones, ``filters`` with the request's ``filters_override`` over them); set by
create, PATCH and PUT; an empty value changes nothing; a bad one is a 400."""

from __future__ import annotations

import json

import httpx

from tests.support import Tenant

PRO = [{"key": "plan", "value": "pro", "operator": "exact", "type": "event"}]


def test_filters_and_variables_are_stored_and_returned(api: httpx.Client, tenant: Tenant) -> None:
    filters = {"date_from": "-7d", "properties": PRO, "breakdown_filter": {"breakdown": "$browser"}}
    board = api.post(f"{tenant.base}/dashboards/", json={"name": "B", "filters": filters}).json()
    assert board["filters"] == filters and board["persisted_filters"] == filters
    assert board["variables"] == {} and board["persisted_variables"] is None
    url = f"{tenant.base}/dashboards/{board['id']}/"

    patched = api.patch(url, json={"filters": {"date_from": "-30d", "interval": "week"}}).json()
    assert patched["filters"] == {"date_from": "-30d", "interval": "week"}  # replaced, not merged
    assert api.put(url, json={"variables": {"abc": {"code_name": "x", "value": 3}}}).status_code == 200
    got = api.get(url).json()
    assert got["filters"] == {"date_from": "-30d", "interval": "week"}
    assert got["variables"] == got["persisted_variables"] == {"abc": {"code_name": "x", "value": 3}}

    # An empty value leaves them as they are (PostHog's serializer sets them only when truthy).
    for empty in ({}, None, ""):
        assert api.patch(url, json={"filters": empty}).json()["filters"]["date_from"] == "-30d"

    # filters_override shows over the stored filters; what is stored stays as it is.
    over = api.get(url, params={"filters_override": json.dumps({"date_from": "-1d"})}).json()
    assert over["filters"] == {"date_from": "-1d", "interval": "week"}
    assert over["persisted_filters"] == {"date_from": "-30d", "interval": "week"}

    assert "filters" not in api.get(f"{tenant.base}/dashboards/").json()["results"][0]  # basic serializer


def test_bad_filters_are_400s(api: httpx.Client, tenant: Tenant) -> None:
    board = api.post(f"{tenant.base}/dashboards/", json={"name": "B"}).json()
    url = f"{tenant.base}/dashboards/{board['id']}/"
    for body, attr, words in [
        ({"filters": [1]}, None, "Filters must be a dictionary"),
        ({"filters": "x"}, None, "Filters must be a dictionary"),
        ({"variables": [1]}, None, "Filters must be a dictionary"),  # PostHog's message, verbatim
        ({"filters": {"date_from": 7}}, "filters", "date string"),
        ({"filters": {"interval": "fortnight"}}, "filters", "not a valid choice"),
        ({"filters": {"explicitDate": "yes"}}, "filters", "boolean"),
        ({"filters": {"properties": {"type": "OR", "values": PRO}}}, "filters", "Only AND"),
        ({"filters": {"properties": ["plan"]}}, "filters", "expected dict"),
    ]:
        response = api.patch(url, json=body)
        assert response.status_code == 400, (body, response.text)
        error = response.json()
        assert error["type"] == "validation_error" and error["attr"] == attr and words in error["detail"], (
            body
        )
    assert api.post(f"{tenant.base}/dashboards/", json={"name": "C", "filters": [1]}).status_code == 400
    assert api.get(url).json()["filters"] == {}  # nothing was stored

    # A property group of AND groups is stored as the flat list PostHog's dashboard filters hold.
    grouped = {"type": "AND", "values": [{"type": "AND", "values": PRO}]}
    assert api.patch(url, json={"filters": {"properties": grouped}}).json()["filters"] == {"properties": PRO}


def test_invalid_override_json_on_dashboard_retrieve(api: httpx.Client, tenant: Tenant) -> None:
    board = api.post(f"{tenant.base}/dashboards/", json={"name": "B"}).json()
    response = api.get(f"{tenant.base}/dashboards/{board['id']}/", params={"filters_override": "{"})
    assert response.status_code == 400 and response.json()["attr"] == "filters_override"
