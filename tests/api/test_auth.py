"""Personal API keys, scopes and project access, as PostHog answers them (spec §12)."""

from __future__ import annotations

import httpx
import pytest

from tests.support import Tenant, trends_query


def test_no_credentials_is_401_not_authenticated(tenant: Tenant) -> None:
    response = httpx.get(f"{tenant.server.base_url}{tenant.base}/insights/")
    assert response.status_code == 401
    assert response.json() == {
        "type": "authentication_error",
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
        "attr": None,
    }
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("header", "Personal API key found in request Authorization header is invalid."),
        ("query", "Personal API key found in request query string is invalid."),
        ("body", "Personal API key found in request body is invalid."),
    ],
)
def test_invalid_key_names_where_it_was_found(tenant: Tenant, where: str, message: str) -> None:
    url = f"{tenant.server.base_url}{tenant.base}/insights/"
    bogus = "phx_" + "x" * 47
    if where == "header":
        response = httpx.get(url, headers={"Authorization": f"Bearer {bogus}"})
    elif where == "query":
        response = httpx.get(url, params={"personal_api_key": bogus})
    else:
        response = httpx.post(url, json={"personal_api_key": bogus, "name": "x"})
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response.json()["detail"] == message


def test_key_accepted_from_query_string_and_body(tenant: Tenant) -> None:
    url = f"{tenant.server.base_url}{tenant.base}/insights/"
    assert httpx.get(url, params={"personal_api_key": tenant.key}).status_code == 200
    created = httpx.post(url, json={"personal_api_key": tenant.key, "name": "from body"})
    assert created.status_code == 201
    assert created.json()["name"] == "from body"


def test_read_scope_cannot_write(tenant: Tenant) -> None:
    reader = tenant.client(tenant.new_key(scopes=["insight:read"]))
    assert reader.get(f"{tenant.base}/insights/").status_code == 200
    response = reader.post(f"{tenant.base}/insights/", json={"name": "nope"})
    assert response.status_code == 403
    assert response.json() == {
        "type": "authentication_error",
        "code": "permission_denied",
        "detail": "API key missing required scope 'insight:write'",
        "attr": None,
    }


def test_write_scope_implies_read(tenant: Tenant) -> None:
    writer = tenant.client(tenant.new_key(scopes=["insight:write"]))
    created = writer.post(f"{tenant.base}/insights/", json={"name": "w"})
    assert created.status_code == 201
    assert writer.get(f"{tenant.base}/insights/{created.json()['id']}/").status_code == 200


def test_other_scope_objects_do_not_grant_insights(tenant: Tenant) -> None:
    dashboards_only = tenant.client(tenant.new_key(scopes=["dashboard:write"]))
    response = dashboards_only.get(f"{tenant.base}/insights/")
    assert response.status_code == 403
    assert response.json()["detail"] == "API key missing required scope 'insight:read'"
    assert dashboards_only.get(f"{tenant.base}/dashboards/").status_code == 200


def test_key_restricted_to_other_project(tenant: Tenant) -> None:
    restricted = tenant.client(tenant.new_key(projects=[1]))
    response = restricted.get(f"{tenant.base}/insights/")
    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"API key does not have access to the requested project: ID {tenant.project_id}."
    )


def test_key_restricted_to_its_project_works_there(tenant: Tenant) -> None:
    restricted = tenant.client(tenant.new_key(projects=[tenant.project_id]))
    assert restricted.get(f"{tenant.base}/insights/").status_code == 200


def test_unknown_project_is_404(api: httpx.Client) -> None:
    response = api.get("/api/projects/987654321/insights/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_project_of_which_user_is_not_member_is_403(tenant: Tenant, server: object) -> None:
    from tests.support import new_tenant

    stranger = new_tenant(tenant.server)
    try:
        response = stranger.client().get(f"{tenant.base}/insights/")
        assert response.status_code == 403
        assert response.json()["detail"] == "You don't have access to the project."
    finally:
        stranger.close()


def test_projects_are_isolated(tenant: Tenant) -> None:
    from tests.support import new_tenant

    other = new_tenant(tenant.server)
    try:
        mine = tenant.client().post(
            f"{tenant.base}/insights/", json={"name": "mine", "query": trends_query()}
        )
        theirs = other.client()
        assert theirs.get(f"{other.base}/insights/").json()["count"] == 0
        # Even by id, through the other project's URL, the insight is not found.
        assert theirs.get(f"{other.base}/insights/{mine.json()['id']}/").status_code == 404
        assert theirs.get(f"{other.base}/insights/{mine.json()['short_id']}/").status_code == 404
    finally:
        other.close()


def test_member_added_to_project_gets_access(tenant: Tenant) -> None:
    _user_id, email = tenant.add_user()
    colleague = tenant.client(tenant.new_key(email=email))
    assert colleague.get(f"{tenant.base}/insights/").status_code == 200


def test_last_used_at_is_recorded(tenant: Tenant) -> None:
    from sqlalchemy import select

    from insightd.auth.keys import hash_key_value
    from insightd.store.models import PersonalAPIKey

    key = tenant.new_key()
    with tenant.server.state.db.read() as session:
        before = session.scalar(
            select(PersonalAPIKey.last_used_at).where(PersonalAPIKey.secure_value == hash_key_value(key))
        )
    assert before is None
    assert tenant.client(key).get(f"{tenant.base}/insights/").status_code == 200
    with tenant.server.state.db.read() as session:
        stored = session.scalar(
            select(PersonalAPIKey).where(PersonalAPIKey.secure_value == hash_key_value(key))
        )
    assert stored is not None and stored.last_used_at is not None
    assert key not in stored.secure_value and stored.secure_value.startswith("sha256$")
    assert stored.mask_value == f"{key[:4]}...{key[-4:]}"


def test_environments_path_reaches_the_same_insights(tenant: Tenant, api: httpx.Client) -> None:
    created = api.post(f"{tenant.base}/insights/", json={"name": "env"}).json()
    response = api.get(f"/api/environments/{tenant.project_id}/insights/{created['id']}")
    assert response.status_code == 200
    assert response.json()["short_id"] == created["short_id"]


def test_first_uses_of_a_key_at_once_all_succeed(tenant: Tenant) -> None:
    """Recording last_used_at must never fail a request, even when many arrive together."""
    from concurrent.futures import ThreadPoolExecutor

    key = tenant.new_key()
    client = tenant.client(key)
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: client.get(f"{tenant.base}/insights/").status_code, range(32)))
    assert statuses == [200] * 32
