"""Insight retrieve with ``filters_override`` / ``tile_filters_override``: the dashboard's date range
replaces the insight's, its property filters are AND-ed with the insight's, and the stored insight is
unchanged (PostHog's ``apply_dashboard_filters``)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from tests.queries.events import Event, ev, loaded_tenant, trends
from tests.support import ServerThread, Tenant

START = datetime(2024, 3, 1, 12)


def _tenant(server: ServerThread) -> Tenant:
    events = [
        Event(f"u{i}", "$pageview", START + timedelta(days=day), {"$browser": browser, "plan": plan})
        for i, (day, browser, plan) in enumerate(
            [(0, "Chrome", "free"), (0, "Chrome", "pro"), (1, "Firefox", "pro"), (2, "Chrome", "pro"),
             (9, "Chrome", "pro")]
        )
    ]  # fmt: skip
    return loaded_tenant(server, events)


def _retrieve(tenant: Tenant, insight_id: int, **overrides: Any) -> dict[str, Any]:
    params = {"refresh": "blocking", **{k: json.dumps(v) for k, v in overrides.items()}}
    response = tenant.client().get(f"{tenant.base}/insights/{insight_id}/", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_dashboard_dates_and_properties_apply_to_the_computation(server: ServerThread) -> None:
    tenant = _tenant(server)
    chrome = [{"key": "$browser", "value": "Chrome", "operator": "exact", "type": "event"}]
    source = trends(
        [ev("$pageview")],
        dateRange={"date_from": "2024-03-01", "date_to": "2024-03-15"},
        properties=chrome,
        trendsFilter={"display": "BoldNumber"},
    )
    query = {"kind": "InsightVizNode", "source": source}
    created = tenant.client().post(f"{tenant.base}/insights/", json={"name": "views", "query": query}).json()
    assert _retrieve(tenant, created["id"])["result"][0]["aggregated_value"] == 4  # Chrome views

    pro = [{"key": "plan", "value": "pro", "operator": "exact", "type": "event"}]
    dashboard = {"date_from": "2024-03-01", "date_to": "2024-03-03T23:59:59", "properties": pro}
    body = _retrieve(tenant, created["id"], filters_override=dashboard)
    assert body["result"][0]["aggregated_value"] == 2  # Chrome (the insight's) AND pro, first three days
    effective = body["query"]["source"]
    assert effective["dateRange"]["date_to"] == "2024-03-03T23:59:59"
    assert effective["properties"]["type"] == "AND"

    # A tile's filters apply after the dashboard's.
    tile = {"date_from": "2024-03-01", "date_to": "2024-03-15"}
    assert _retrieve(tenant, created["id"], filters_override=dashboard, tile_filters_override=tile)[
        "result"
    ][0]["aggregated_value"] == 3  # fmt: skip

    stored = _retrieve(tenant, created["id"])
    assert stored["query"] == query  # the saved insight is untouched
    assert stored["result"][0]["aggregated_value"] == 4


def test_bad_filter_overrides_are_400s(server: ServerThread) -> None:
    tenant = _tenant(server)
    query = {"kind": "InsightVizNode", "source": trends([ev("$pageview")])}
    created = tenant.client().post(f"{tenant.base}/insights/", json={"name": "x", "query": query}).json()
    url = f"{tenant.base}/insights/{created['id']}/"
    for params, attr in [
        ({"filters_override": "[1, 2]"}, "filters_override"),
        ({"filters_override": json.dumps({"properties": {"key": "x"}})}, "filters_override"),
        ({"tile_filters_override": json.dumps({"date_from": 7})}, "tile_filters_override"),
    ]:
        response = tenant.client().get(url, params={**params, "refresh": "blocking"})
        assert response.status_code == 400, (params, response.text)
        assert response.json()["attr"] == attr
    bad_filter = json.dumps({"properties": [{"key": "x", "operator": "resembles"}]})
    response = tenant.client().get(url, params={"filters_override": bad_filter, "refresh": "blocking"})
    assert response.status_code == 400 and "operator" in response.json()["detail"]


CHROME = {"key": "$browser", "value": "Chrome", "operator": "exact", "type": "event"}
FIREFOX = {"key": "$browser", "value": "Firefox", "operator": "exact", "type": "event"}
PRO = {"key": "plan", "value": "pro", "operator": "exact", "type": "event"}
MARCH = {"date_from": "2024-03-01", "date_to": "2024-03-15"}


def _chrome_views(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    """A saved BoldNumber of Chrome page views in the first half of March (4 of them)."""
    source = trends(
        [ev("$pageview")], dateRange=MARCH, properties=[CHROME], trendsFilter={"display": "BoldNumber"}
    )
    body = {"name": "views", "query": {"kind": "InsightVizNode", "source": source}, **extra}
    created: dict[str, Any] = tenant.client().post(f"{tenant.base}/insights/", json=body).json()
    return created


def _count(body: dict[str, Any]) -> Any:
    return body["result"][0]["aggregated_value"]


def test_a_dashboard_filter_replaces_a_contradicting_insight_filter(server: ServerThread) -> None:
    """Current PostHog (``remove_query_properties_overridden_by``): the insight's own filter that a dashboard
    filter contradicts on the same property is dropped, instead of AND-ing both into nothing; a compatible
    one (``is set``) stacks with it."""
    tenant = _tenant(server)
    insight = _chrome_views(tenant)
    firefox = _retrieve(tenant, insight["id"], filters_override={"properties": [FIREFOX]})
    assert _count(firefox) == 1  # Firefox views, not Chrome AND Firefox (0)
    assert firefox["query"]["source"]["properties"] == [FIREFOX]

    is_set = {"key": "$browser", "operator": "is_set", "type": "event"}
    stacked = _retrieve(tenant, insight["id"], filters_override={"properties": [is_set, PRO]})
    assert _count(stacked) == 3  # Chrome AND set AND pro
    assert stacked["query"]["source"]["properties"]["values"] == [
        {"type": "AND", "values": [CHROME]},
        {"type": "AND", "values": [is_set, PRO]},
    ]

    # A tile's filter over the dashboard's: its date range replaces the dashboard's as one unit, and its
    # contradicting property replaces the dashboard's (and the insight's).
    both = _retrieve(
        tenant,
        insight["id"],
        filters_override={"properties": [CHROME], "date_from": "2024-03-02", "date_to": "2024-03-02"},
        tile_filters_override={"properties": [FIREFOX], "date_from": "2024-03-01"},
    )
    assert _count(both) == 1 and both["query"]["source"]["properties"] == [FIREFOX]
    assert both["query"]["source"]["dateRange"]["date_to"] is None


def test_from_dashboard_applies_the_dashboards_filters(server: ServerThread) -> None:
    tenant = _tenant(server)
    client = tenant.client()
    filters = {"date_from": "2024-03-01", "date_to": "2024-03-01T23:59:59", "properties": [PRO]}
    board = client.post(f"{tenant.base}/dashboards/", json={"name": "Pro", "filters": filters}).json()
    insight = _chrome_views(tenant, dashboards=[board["id"]])

    plain = _retrieve(tenant, insight["id"])
    assert _count(plain) == 4 and "color" not in plain and "layouts" not in plain
    seen = client.get(
        f"{tenant.base}/insights/{insight['id']}/",
        params={"refresh": "blocking", "from_dashboard": str(board["id"])},
    ).json()
    assert _count(seen) == 1  # Chrome AND pro on March 1st
    assert seen["query"]["source"]["dateRange"]["date_to"] == "2024-03-01T23:59:59"
    assert seen["color"] is None and seen["layouts"] == {}  # the tile's (insightd sets neither yet)
    assert seen["filters_hash"] != plain["filters_hash"]  # the cache key follows the effective query

    # Read back from the cache under the dashboard's filters, not the insight's own result.
    cached = client.get(f"{tenant.base}/insights/{insight['id']}/", params={"from_dashboard": board["id"]})
    assert _count(cached.json()) == 1 and cached.json()["is_cached"] is True

    # filters_override goes over the dashboard's filters key by key.
    params = {"refresh": "blocking", "from_dashboard": board["id"], "filters_override": json.dumps(MARCH)}
    wider = client.get(f"{tenant.base}/insights/{insight['id']}/", params=params).json()
    assert _count(wider) == 3  # Chrome AND pro (still the dashboard's) in the first half of March

    # Basic: the saved query, with the tile's fields.
    basic = client.get(
        f"{tenant.base}/insights/{insight['id']}/", params={"basic": "true", "from_dashboard": board["id"]}
    ).json()
    assert basic["query"]["source"]["dateRange"] == MARCH and basic["layouts"] == {}


def test_from_dashboard_is_ignored_when_the_insight_is_not_on_it(server: ServerThread) -> None:
    """PostHog looks the tile up by dashboard and insight: no tile (another dashboard, another project's,
    a deleted one, not a number) is no dashboard context, not an error."""
    tenant = _tenant(server)
    client = tenant.client()
    narrow = {"date_from": "2024-03-01", "date_to": "2024-03-01T23:59:59", "properties": [PRO]}
    elsewhere = client.post(f"{tenant.base}/dashboards/", json={"name": "E", "filters": narrow}).json()
    own = client.post(f"{tenant.base}/dashboards/", json={"name": "O", "filters": narrow}).json()
    insight = _chrome_views(tenant, dashboards=[own["id"]])
    other = _tenant(server)
    foreign = other.client().post(f"{other.base}/dashboards/", json={"name": "F", "filters": narrow}).json()
    client.patch(f"{tenant.base}/dashboards/{own['id']}/", json={"deleted": True})

    for board_id in (elsewhere["id"], foreign["id"], own["id"], "abc", "-1", "9" * 30):
        params = {"refresh": "blocking", "from_dashboard": str(board_id)}
        body = client.get(f"{tenant.base}/insights/{insight['id']}/", params=params)
        assert body.status_code == 200, (board_id, body.text)
        assert _count(body.json()) == 4 and "color" not in body.json(), board_id


def test_dashboard_retrieve_shows_tiles_under_its_filters(server: ServerThread) -> None:
    tenant = _tenant(server)
    client = tenant.client()
    board = client.post(
        f"{tenant.base}/dashboards/", json={"name": "D", "filters": {"properties": [FIREFOX]}}
    ).json()
    insight = _chrome_views(tenant, dashboards=[board["id"]])
    url = f"{tenant.base}/dashboards/{board['id']}/"

    (tile,) = client.get(url).json()["tiles"]  # by default from the cache only: nothing yet
    assert tile["insight"]["result"] is None and tile["insight"]["query"]["source"]["properties"] == [FIREFOX]
    (tile,) = client.get(url, params={"refresh": "blocking"}).json()["tiles"]
    assert _count(tile["insight"]) == 1 and tile["order"] == 0
    assert tile["last_refresh"] == tile["insight"]["last_refresh"] is not None

    # The same cache entry as the insight seen from the dashboard.
    seen = client.get(f"{tenant.base}/insights/{insight['id']}/", params={"from_dashboard": board["id"]})
    assert seen.json()["is_cached"] is True and _count(seen.json()) == 1

    override = {"properties": [PRO]}
    (tile,) = client.get(
        url, params={"refresh": "blocking", "filters_override": json.dumps(override)}
    ).json()["tiles"]
    assert _count(tile["insight"]) == 3  # the override's properties replace the dashboard's key by key
    assert client.get(f"{tenant.base}/insights/{insight['id']}/").json()["query"]["source"]["properties"] == [
        CHROME
    ]  # the saved insight is untouched


FIRST_DAYS = {"date_from": "2024-03-01", "date_to": "2024-03-03T23:59:59"}
COUNT_SQL = "select count() from events where {filters}"


def _hogql(**filters: Any) -> dict[str, Any]:
    return {"kind": "HogQLQuery", "query": COUNT_SQL, "filters": filters}


def test_malformed_query_fields_take_dashboard_filters_without_a_500(server: ServerThread) -> None:
    """A date range that is not an object is replaced by the dashboard's; a SQL insight's property group
    is AND-ed as a group; property filters that are neither list nor group stay for the query's own
    validation (a 400), never a 500 from applying the filters."""
    tenant = _tenant(server)
    client = tenant.client()
    bold = {"display": "BoldNumber"}

    def run(query: dict[str, Any], filters: dict[str, Any]) -> Any:
        return client.post(f"{tenant.base}/query/", json={"query": query, "filters_override": filters})

    viz = run(trends([ev("$pageview")], dateRange="abc", trendsFilter=bold), FIRST_DAYS)
    assert viz.status_code == 200, viz.text
    assert viz.json()["results"][0]["aggregated_value"] == 4
    for date_range in ([1], "abc", 5):
        sql = run(_hogql(dateRange=date_range), FIRST_DAYS)
        assert sql.status_code == 200 and sql.json()["results"] == [[4]], (date_range, sql.text)
    group = {"type": "AND", "values": [CHROME]}
    sql = run(_hogql(properties=group, dateRange=MARCH), {"properties": [PRO]})
    assert sql.status_code == 200 and sql.json()["results"] == [[3]], sql.text  # Chrome AND pro
    for bad in (5, "x", {"key": 1}):
        for query in (_hogql(properties=bad), trends([ev("$pageview")], properties=bad)):
            response = run(query, {"properties": [PRO], **FIRST_DAYS})
            assert response.status_code == 400, (query, response.text)
            assert "properties" in response.json()["attr"], response.json()

    # A saved insight whose date range is not an object: retrieved and shown on a dashboard under its
    # filters (the dashboard's date range replaces it).
    query = {
        "kind": "InsightVizNode",
        "source": trends([ev("$pageview")], dateRange="abc", trendsFilter=bold),
    }
    board = client.post(f"{tenant.base}/dashboards/", json={"name": "D"}).json()
    created = client.post(
        f"{tenant.base}/insights/", json={"name": "x", "query": query, "dashboards": [board["id"]]}
    )
    assert created.status_code == 201, created.text
    assert _count(_retrieve(tenant, created.json()["id"], filters_override=FIRST_DAYS)) == 4
    url = f"{tenant.base}/dashboards/{board['id']}/"
    patched = client.patch(url, json={"filters": FIRST_DAYS})
    assert patched.status_code == 200, patched.text
    (tile,) = client.get(url, params={"refresh": "blocking"}).json()["tiles"]
    assert _count(tile["insight"]) == 4
    assert tile["insight"]["query"]["source"]["dateRange"] == FIRST_DAYS


def test_one_failing_insight_never_breaks_a_dashboard(server: ServerThread) -> None:
    """Each tile's insight fails alone: its result is null and its query_status carries the error, the
    other tiles have theirs (PostHog's ``InsightSerializer.insight_result``)."""
    tenant = _tenant(server)
    client = tenant.client()
    board = client.post(f"{tenant.base}/dashboards/", json={"name": "D", "filters": {"properties": [PRO]}})
    board_id = board.json()["id"]
    good = _chrome_views(tenant, dashboards=[board_id])
    broken = {"kind": "DataVisualizationNode", "source": _hogql(properties=5)}
    bad = client.post(f"{tenant.base}/insights/", json={"query": broken, "dashboards": [board_id]}).json()

    response = client.get(f"{tenant.base}/dashboards/{board_id}/", params={"refresh": "blocking"})
    assert response.status_code == 200, response.text
    tiles = {tile["insight"]["id"]: tile["insight"] for tile in response.json()["tiles"]}
    assert _count(tiles[good["id"]]) == 3  # Chrome AND pro
    failed = tiles[bad["id"]]
    assert failed["result"] is None and failed["query_status"]["error"] is True
    assert "properties" in failed["query_status"]["error_message"]
    assert failed["query_status"]["insight_id"] == bad["id"]
    # Alone, seen from the dashboard, the insight's error is the request's 400 (PostHog's exposed errors).
    single = client.get(
        f"{tenant.base}/insights/{bad['id']}/", params={"refresh": "blocking", "from_dashboard": board_id}
    )
    assert single.status_code == 400, single.text


def test_no_database_session_is_held_while_tiles_compute(server: ServerThread, monkeypatch: Any) -> None:
    """Dashboard retrieve (and insight retrieve) load and detach what they show, compute with no session
    open, then serialize: on PostgreSQL an open session would sit idle in transaction meanwhile."""
    from insightd.queries import registry

    tenant = _tenant(server)
    client = tenant.client()
    board = client.post(f"{tenant.base}/dashboards/", json={"name": "D", "filters": {"properties": [PRO]}})
    insight = _chrome_views(tenant, dashboards=[board.json()["id"]])
    pool = server.state.db.engine.pool
    held: list[int] = []
    real = registry.RUNNERS["TrendsQuery"]

    def watched(query: Any, ctx: Any) -> Any:
        if ctx.team_id == tenant.project_id:
            held.append(pool.checkedout())  # type: ignore[attr-defined]
        return real(query, ctx)

    monkeypatch.setitem(registry.RUNNERS, "TrendsQuery", watched)
    params = {"refresh": "force_blocking"}
    response = client.get(f"{tenant.base}/dashboards/{board.json()['id']}/", params=params)
    assert response.status_code == 200 and _count(response.json()["tiles"][0]["insight"]) == 3
    assert client.get(f"{tenant.base}/insights/{insight['id']}/", params=params).status_code == 200
    assert held == [0, 0]
