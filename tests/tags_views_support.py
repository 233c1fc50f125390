"""Helpers shared by the tags-and-views tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from insightd.services.context import Actor
from insightd.services.views import record_views
from insightd.store.models import Project, User
from tests.support import Tenant, trends_query


def make_insights(api: httpx.Client, tenant: Tenant, count: int, **fields: Any) -> list[int]:
    ids = []
    for index in range(count):
        body = {"name": f"Insight {index}", "query": trends_query(), **fields}
        response = api.post(f"{tenant.base}/insights/", json=body)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def tags_of(api: httpx.Client, tenant: Tenant, insight_id: int) -> list[str]:
    response = api.get(f"{tenant.base}/insights/{insight_id}/")
    assert response.status_code == 200, response.text
    return sorted(response.json()["tags"])


def view_at(tenant: Tenant, user_id: int, insight_ids: list[int], when: datetime) -> None:
    """Seed views at a chosen moment (HTTP ``viewed`` always records *now*)."""
    with tenant.server.state.db.write() as session:
        actor = Actor(
            project=session.get_one(Project, tenant.project_id), user=session.get_one(User, user_id)
        )
        record_views(session, actor, insight_ids, when=when)


def delete_insight(api: httpx.Client, tenant: Tenant, insight_id: int) -> None:
    response = api.patch(f"{tenant.base}/insights/{insight_id}/", json={"deleted": True})
    assert response.status_code == 200, response.text
