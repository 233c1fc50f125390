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


def test_falsy_filters_and_variables_change_nothing(api: httpx.Client, tenant: Tenant) -> None:
    """PostHog's dashboard serializer reads ``filters`` and ``variables`` from the request in ``create`` /
    ``update`` and sets them only when truthy (both are read-only method fields, so its
    ``validate_filters`` / ``validate_variables`` never run): every falsy JSON value is a no-op."""
    filters, variables = {"date_from": "-7d"}, {"abc": {"code_name": "x", "value": 3}}
    board = api.post(f"{tenant.base}/dashboards/", json={"name": "B", "filters": filters}).json()
    url = f"{tenant.base}/dashboards/{board['id']}/"
    assert api.patch(url, json={"variables": variables}).status_code == 200
    for empty in ({}, None, "", 0, False, []):
        response = api.patch(url, json={"filters": empty, "variables": empty})
        assert response.status_code == 200, (empty, response.text)
        assert (response.json()["filters"], response.json()["variables"]) == (filters, variables), empty
        created = api.post(f"{tenant.base}/dashboards/", json={"name": "C", "filters": empty})
        assert created.status_code == 201 and created.json()["filters"] == {}, empty
    for value in (0.5, True, "x", [None]):
        response = api.patch(url, json={"variables": value})
        assert response.status_code == 400 and response.json()["detail"] == "Filters must be a dictionary"


UNSTORABLE: list[tuple[str, str, str, str]] = [
    # (field, JSON text of the value, error code, words of the detail)
    ("filters", '{"x": 18446744073709551616}', "max_value", "Integer out of range at 'x'"),
    ("filters", '{"properties": [{"key": "a", "value": -9223372036854775809}]}', "max_value", "out of range"),
    ("filters", '{"x": NaN}', "invalid", "NaN and Infinity"),
    ("filters", '{"x": [-Infinity]}', "invalid", "at 'x__0'"),
    ("filters", '{"date_from": "\\u0000"}', "null_characters_not_allowed", "Null characters"),
    ("filters", '{"a\\u0000": 1}', "null_characters_not_allowed", "Null characters"),
    ("filters", '{"date_from": "\\ud800"}', "invalid_unicode", "surrogates"),
    ("filters", '{"x": ' + "[" * 80 + "]" * 80 + "}", "too_deep", "levels deep"),
    ("variables", '{"a": {"value": 18446744073709551616}}', "max_value", "at 'a__value'"),
    ("variables", '{"a\\u0000": 1}', "null_characters_not_allowed", "Null characters"),
    ("variables", '{"a": {"value": Infinity}}', "invalid", "NaN and Infinity"),
]


def test_unstorable_filters_and_variables_are_400s_before_anything_changes(
    api: httpx.Client, tenant: Tenant
) -> None:
    """Integers past 64 bits, NaN / Infinity, NUL characters (PostgreSQL stores none in JSON) and nesting
    past 64 levels are refused with the rest of the request: nothing is stored, on either database."""
    board = api.post(f"{tenant.base}/dashboards/", json={"name": "B", "filters": {"date_from": "-7d"}}).json()
    url = f"{tenant.base}/dashboards/{board['id']}/"
    headers = {"Content-Type": "application/json"}
    for field, value, code, words in UNSTORABLE:
        for method, target in (("PATCH", url), ("PUT", url), ("POST", f"{tenant.base}/dashboards/")):
            if method == "POST" and field == "variables":
                continue  # PostHog's create ignores variables (they are only copied when duplicating)
            body = f'{{"name": "renamed", "{field}": {value}}}'
            response = api.request(method, target, content=body.encode(), headers=headers)
            assert response.status_code == 400, (method, value, response.text)
            error = response.json()
            assert (error["type"], error["code"], error["attr"]) == ("validation_error", code, field), error
            assert words in error["detail"], (value, error)
    got = api.get(url).json()
    assert (got["name"], got["filters"], got["variables"]) == ("B", {"date_from": "-7d"}, {})
    listed = api.get(f"{tenant.base}/dashboards/").json()
    assert [d["name"] for d in listed["results"]] == ["B"]  # no POST created anything
    # Variables of a create are ignored, whatever they hold (PostHog's create does not read them).
    ignored = api.post(
        f"{tenant.base}/dashboards/", content=b'{"name": "V", "variables": {"a": NaN}}', headers=headers
    )
    assert ignored.status_code == 201 and ignored.json()["variables"] == {}


def test_overrides_json_writers_cannot_take_are_400s(api: httpx.Client, tenant: Tenant) -> None:
    """A dashboard shows its overrides and a query carries them: nesting past 64 levels, NaN / Infinity
    and integers past 64 bits are the request's 400, naming the parameter (not a 500 writing the
    response, nor a NaN silently in a cache key)."""
    board = api.post(f"{tenant.base}/dashboards/", json={"name": "B"}).json()
    deep = "[" * 80 + "]" * 80
    for name in ("filters_override", "variables_override", "tile_filters_override"):
        response = api.get(f"{tenant.base}/dashboards/{board['id']}/", params={name: f'{{"x": {deep}}}'})
        assert response.status_code == 400, (name, response.text)
        assert (response.json()["attr"], response.json()["code"]) == (name, "too_deep")
    query = '{"kind": "HogQLQuery", "query": "select 1"}'
    for name, value, code in [
        ("filters_override", '{"properties": [{"key": "a", "value": NaN}]}', "invalid"),
        ("filters_override", '{"properties": [{"key": "a", "value": 18446744073709551616}]}', "max_value"),
        ("variables_override", f'{{"x": {deep}}}', "too_deep"),
    ]:
        body = f'{{"query": {query}, "{name}": {value}}}'.encode()
        response = api.post(
            f"{tenant.base}/query/", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (name, value, response.text)
        assert (response.json()["attr"], response.json()["code"]) == (name, code)
