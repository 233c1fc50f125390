"""Real concurrent requests: no tag is lost and no request fails when clients race."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support import Tenant
from tests.tags_views_support import make_insights, tags_of

ROUNDS = 6


def warm(*clients: httpx.Client, tenant: Tenant) -> None:
    """Use each key once first: a key's first use records ``last_used_at`` (a write of its own)."""
    for client in clients:
        assert client.get(f"{tenant.base}/insights/my_last_viewed/").status_code == 200


def race(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Start every call at the same moment (a barrier), each on its own thread and connection."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def bulk_call(
    client: httpx.Client, tenant: Tenant, ids: list[int], action: str, tags: list[str]
) -> Callable[[], httpx.Response]:
    return lambda: client.post(
        f"{tenant.base}/insights/bulk_update_tags/", json={"ids": ids, "action": action, "tags": tags}
    )


def viewed_call(client: httpx.Client, tenant: Tenant, ids: list[int]) -> Callable[[], httpx.Response]:
    return lambda: client.post(f"{tenant.base}/insights/viewed/", json={"insight_ids": ids})


def test_two_clients_adding_different_tags_both_win(api: httpx.Client, tenant: Tenant) -> None:
    ids = make_insights(api, tenant, 40)
    _, email = tenant.add_user()
    first = tenant.client()
    second = tenant.client(tenant.new_key(email=email))
    warm(first, second, tenant=tenant)
    for round_number in range(ROUNDS):
        responses = race(
            bulk_call(first, tenant, ids, "add", [f"first-{round_number}", "both"]),
            bulk_call(second, tenant, ids[::-1], "add", [f"second-{round_number}", "both"]),
        )
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    expected = sorted(
        ["both", *(f"first-{n}" for n in range(ROUNDS)), *(f"second-{n}" for n in range(ROUNDS))]
    )
    for insight_id in (ids[0], ids[17], ids[-1]):
        assert tags_of(api, tenant, insight_id) == expected
    listing = api.get(f"{tenant.base}/insights/", params={"limit": 100}).json()["results"]
    assert all(sorted(item["tags"]) == expected for item in listing)
    assert api.get(f"{tenant.base}/tags/").json() == expected


def test_concurrent_add_and_remove_of_different_tags(api: httpx.Client, tenant: Tenant) -> None:
    ids = make_insights(api, tenant, 20, tags=["drop-me", "stay"])
    other = tenant.client(tenant.new_key())
    warm(api, other, tenant=tenant)
    responses = race(
        bulk_call(api, tenant, ids, "remove", ["drop-me"]),
        bulk_call(other, tenant, ids, "add", ["new"]),
    )
    assert [r.status_code for r in responses] == [200, 200]
    assert all(tags_of(api, tenant, i) == ["new", "stay"] for i in ids[:3])
    assert api.get(f"{tenant.base}/tags/").json() == ["new", "stay"]


def test_concurrent_views_of_overlapping_insights(api: httpx.Client, tenant: Tenant) -> None:
    ids = make_insights(api, tenant, 30)
    clients = [tenant.client() for _ in range(4)]
    calls = [viewed_call(client, tenant, ids if n % 2 else ids[::-1]) for n, client in enumerate(clients)]
    for _ in range(3):
        assert [r.status_code for r in race(*calls)] == [201] * len(calls)
    assert len(api.get(f"{tenant.base}/insights/my_last_viewed/").json()) == 5
