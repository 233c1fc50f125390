"""Refresh modes, caching and query status on the insight and query endpoints, as PostHog's
``api/query.py``, ``query_runner.py`` and ``InsightSerializer`` give them (spec §10)."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.queries.events import Event, ev, insert_events, trends
from tests.support import ServerThread, Tenant

RANGE = {"date_from": "2024-01-01", "date_to": "2024-01-03"}
VIEWS: dict[str, Any] = {"kind": "InsightVizNode", "source": trends([ev("$pageview")], dateRange=RANGE)}
SQL = {"kind": "HogQLQuery", "query": "select count() from events"}
QUERY_STATUS_KEYS = {
    "complete",
    "dashboard_id",
    "end_time",
    "error",
    "error_message",
    "expiration_time",
    "id",
    "insight_id",
    "labels",
    "pickup_time",
    "query_async",
    "query_progress",
    "results",
    "start_time",
    "task_id",
    "team_id",
}


@pytest.fixture
def loaded(server: ServerThread, tenant: Tenant) -> Tenant:
    when = datetime(2024, 1, 2, 12, 0)
    insert_events(server, tenant.project_id, [Event("a", "$pageview", when), Event("b", "$pageview", when)])
    return tenant


def moment(text: str) -> datetime:
    assert text.endswith("Z"), text  # rendered as created_at is
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def create(api: httpx.Client, tenant: Tenant, query: dict[str, Any], **params: str) -> dict[str, Any]:
    response = api.post(f"{tenant.base}/insights/", params=params, json={"name": "x", "query": query})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def poll(api: httpx.Client, tenant: Tenant, query_id: str) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        response = api.get(f"{tenant.base}/query/{query_id}/")
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        assert response.json()["query_status"]["complete"] is False
        time.sleep(0.05)


def test_query_endpoint_computes_when_asked_for_the_cache_only(api: httpx.Client, loaded: Tenant) -> None:
    """_process_query_request: "in query endpoint we always want to calculate if the cache is stale"."""
    for refresh in ("force_cache", False):
        query = {**VIEWS, "source": {**VIEWS["source"], "filterTestAccounts": refresh is False}}
        response = api.post(f"{loaded.base}/query/", json={"query": query, "refresh": refresh})
        assert response.status_code == 200
        assert response.json()["results"][0]["data"] == [0, 2, 0] and response.json()["is_cached"] is False


def test_query_endpoint_applies_filters_override(api: httpx.Client, loaded: Tenant) -> None:
    url = f"{loaded.base}/query/"
    override = {"date_from": "2024-01-02", "date_to": "2024-01-02"}
    narrowed = api.post(url, json={"query": VIEWS, "filters_override": override, "variables_override": {}})
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["results"][0]["data"] == [2]
    sql = {**SQL, "query": "select count() from events where {filters}"}
    outside = api.post(
        url, json={"query": sql, "filters_override": {"date_from": "2023-01-01", "date_to": "2023-01-02"}}
    )
    assert outside.json()["results"] == [[0]]
    bad = api.post(url, json={"query": VIEWS, "filters_override": [1]})
    assert bad.status_code == 400 and bad.json()["attr"] == "filters_override"
    bad = api.post(url, json={"query": VIEWS, "variables_override": "x"})
    assert bad.status_code == 400 and bad.json()["attr"] == "variables_override"


def test_legacy_async_flag_and_status_codes(api: httpx.Client, loaded: Tenant) -> None:
    query_id = f"legacy-{uuid.uuid4().hex[:8]}"
    started = api.post(
        f"{loaded.base}/query/", json={"query": VIEWS, "async": True, "client_query_id": query_id}
    )
    assert started.status_code == 202, started.text
    assert set(started.json()) == {"cache_key", "query_status"}  # PostHog's CacheMissResponse
    status = started.json()["query_status"]
    assert set(status) == QUERY_STATUS_KEYS and status["id"] == query_id and status["complete"] is False
    assert moment(status["start_time"]) < moment(status["expiration_time"])
    done = poll(api, loaded, query_id)
    assert done.status_code == 200 and done.json()["query_status"]["complete"] is True
    assert done.json()["query_status"]["results"]["results"][0]["data"] == [0, 2, 0]
    moment(done.json()["query_status"]["end_time"])
    # A finished job is left alone by DELETE; an unknown id is "cancelled" all the same (PostHog).
    deleted = api.delete(f"{loaded.base}/query/{query_id}/")
    assert (deleted.status_code, deleted.json()) == (200, {"message": "Query already complete"})
    assert api.get(f"{loaded.base}/query/{query_id}/").status_code == 200
    unknown = api.delete(f"{loaded.base}/query/nothing-{query_id}/")
    assert (unknown.status_code, unknown.json()) == (200, {"message": "Cancelled query on clickhouse"})
    assert api.get(f"{loaded.base}/query/nothing-{query_id}/").status_code == 404


def test_failed_async_query_is_a_400_status(api: httpx.Client, loaded: Tenant) -> None:
    query_id = f"bad-{uuid.uuid4().hex[:8]}"
    body = {
        "query": {**SQL, "query": "select nope from events"},
        "refresh": "async",
        "client_query_id": query_id,
    }
    assert api.post(f"{loaded.base}/query/", json=body).status_code == 202
    failed = poll(api, loaded, query_id)
    assert failed.status_code == 400 and failed.json()["query_status"]["error"] is True
    assert "nope" in failed.json()["query_status"]["error_message"]


def test_force_async_returns_the_status_only(api: httpx.Client, loaded: Tenant) -> None:
    url = f"{loaded.base}/query/"
    assert api.post(url, json={"query": VIEWS}).status_code == 200  # now cached
    forced = api.post(url, json={"query": VIEWS, "refresh": "force_async"})
    assert forced.status_code == 202 and set(forced.json()) == {"query_status"}
    insight = create(api, loaded, VIEWS)
    response = api.get(f"{loaded.base}/insights/{insight['id']}/", params={"refresh": "force_async"}).json()
    assert response["result"] is None and response["is_cached"] is False
    assert response["query_status"]["query_async"] is True and response["last_refresh"] is None


def test_refresh_gaps_and_staleness_follow_posthog(api: httpx.Client, loaded: Tenant) -> None:
    def gaps(query: dict[str, Any]) -> tuple[timedelta, timedelta]:
        body = api.post(f"{loaded.base}/query/", json={"query": query, "refresh": "force_blocking"}).json()
        last = moment(body["last_refresh"])
        return moment(body["next_allowed_client_refresh"]) - last, moment(body["cache_target_age"]) - last

    month = {"date_from": "2024-01-01", "date_to": "2024-01-31"}
    assert gaps(VIEWS) == (timedelta(minutes=3), timedelta(hours=6))  # at most 7 days
    assert gaps(trends([ev("$pageview")], dateRange=month)) == (timedelta(minutes=15), timedelta(hours=6))
    hourly = trends([ev("$pageview")], dateRange=month, interval="hour")
    assert gaps(hourly) == (timedelta(minutes=3), timedelta(hours=1))
    funnel = {"kind": "FunnelsQuery", "series": [ev("$pageview"), ev("$pageview")], "dateRange": month}
    assert gaps(funnel) == (timedelta(minutes=15), timedelta(hours=6))
    # SQL has no date range: PostHog's "minute" thresholds and its 1-minute refresh gap.
    assert gaps(SQL) == (timedelta(minutes=1), timedelta(minutes=5))


def test_create_and_update_return_results_by_refresh(api: httpx.Client, loaded: Tenant) -> None:
    cold = create(api, loaded, {**VIEWS, "source": {**VIEWS["source"], "filterTestAccounts": True}})
    assert cold["result"] is None and cold["is_cached"] is False and cold["timezone"] is None
    api.post(f"{loaded.base}/query/", json={"query": VIEWS})  # the same computation, now cached
    created = create(api, loaded, VIEWS)
    assert created["result"][0]["data"] == [0, 2, 0] and created["is_cached"] is True
    url = f"{loaded.base}/insights/{created['id']}/"
    renamed = api.patch(url, json={"name": "y"}).json()
    assert renamed["name"] == "y" and renamed["is_cached"] is True and renamed["result"] == created["result"]
    forced = api.patch(url, params={"refresh": "force_blocking"}, json={"name": "z"}).json()
    assert forced["is_cached"] is False and forced["result"][0]["data"] == [0, 2, 0]
    by_body = api.patch(url, json={"refresh": "force_blocking"}).json()
    assert by_body["is_cached"] is False and moment(by_body["last_refresh"]) >= moment(forced["last_refresh"])
    assert api.get(url).json()["name"] == "z"  # refresh is not stored
    put = api.put(url, params={"refresh": "blocking"}, json={"name": "w"})
    assert put.status_code == 200 and put.json()["is_cached"] is True


def test_timezone_and_case_of_refresh_on_insights(api: httpx.Client, loaded: Tenant) -> None:
    insight = create(api, loaded, VIEWS)
    url = f"{loaded.base}/insights/{insight['id']}/"
    miss = api.get(url).json()  # NothingInCacheResult: no timezone
    assert miss["result"] is None and miss["timezone"] is None
    assert api.get(url, params={"refresh": "force_cache"}).json()["timezone"] == "UTC"  # a refresh value
    # PostHog's mode names are case-sensitive: BLOCKING is unknown, so the cache is only read.
    upper = api.get(url, params={"refresh": "BLOCKING"}).json()
    assert upper["result"] is None and upper["timezone"] is None
    computed = api.get(url, params={"refresh": "blocking"}).json()
    assert computed["result"][0]["data"] == [0, 2, 0] and computed["timezone"] == "UTC"
    for field in ("last_refresh", "next_allowed_client_refresh", "cache_target_age", "created_at"):
        moment(computed[field])
    bad = api.post(f"{loaded.base}/query/", json={"query": VIEWS, "refresh": "BLOCKING"})
    assert bad.status_code == 400 and bad.json()["attr"] == "refresh"


def test_insight_failures_never_500(
    api: httpx.Client, loaded: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """InsightSerializer.insight_result: an unexpected failure is 200 with result null and a QueryStatus
    carrying the error (its message, as PostHog's ``error_message=str(e)``), on a single insight, in a
    list and on a dashboard tile; a query error (PostHog's exposed errors) stays the request's 400."""
    from insightd.queries import registry

    board = api.post(f"{loaded.base}/dashboards/", json={"name": "D"}).json()
    insight = create(api, loaded, VIEWS)
    api.patch(f"{loaded.base}/insights/{insight['id']}/", json={"dashboards": [board["id"]]})
    real = registry.RUNNERS["TrendsQuery"]

    def crashing(query: Any, ctx: Any) -> Any:
        if ctx.team_id == loaded.project_id:
            raise RuntimeError("the runner broke")
        return real(query, ctx)

    monkeypatch.setitem(registry.RUNNERS, "TrendsQuery", crashing)
    url = f"{loaded.base}/insights/{insight['id']}/"
    response = api.get(url, params={"refresh": "force_blocking", "client_query_id": "q-1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] is None and body["is_cached"] is False and body["timezone"] == "UTC"
    assert body["last_refresh"] is None
    status = body["query_status"]
    assert set(status) == QUERY_STATUS_KEYS and status["error"] is True and status["complete"] is False
    assert status["error_message"] == "the runner broke"
    assert (status["id"], status["team_id"], status["insight_id"]) == (
        "q-1",
        loaded.project_id,
        insight["id"],
    )

    response = api.get(f"{loaded.base}/insights/", params={"refresh": "force_blocking"})
    assert response.status_code == 200, response.text
    (listed,) = response.json()["results"]
    assert listed["result"] is None and set(listed["query_status"]) == QUERY_STATUS_KEYS
    assert listed["query_status"]["error_message"] == "the runner broke"
    assert listed["query_status"]["id"] is None  # a list has no client query id

    response = api.get(f"{loaded.base}/dashboards/{board['id']}/", params={"refresh": "force_blocking"})
    assert response.status_code == 200, response.text
    (tile,) = response.json()["tiles"]
    assert tile["insight"]["result"] is None and tile["insight"]["query_status"]["error"] is True
    monkeypatch.undo()

    broken = create(api, loaded, {"kind": "DataVisualizationNode", "source": {**SQL, "query": "select nope"}})
    listed = api.get(f"{loaded.base}/insights/", params={"refresh": "blocking"}).json()["results"]
    status = next(i for i in listed if i["id"] == broken["id"])["query_status"]
    assert set(status) == QUERY_STATUS_KEYS and status["error"] is True and "nope" in status["error_message"]
    assert status["insight_id"] == broken["id"] and status["team_id"] == loaded.project_id
    single = api.get(f"{loaded.base}/insights/{broken['id']}/", params={"refresh": "blocking"})
    assert single.status_code == 400 and "nope" in single.json()["detail"]
