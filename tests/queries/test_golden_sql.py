"""Golden files of the SQL each runner generates (the ``hogql`` field: what ran, with placeholders).

Regenerate after an intended change: ``INSIGHTD_UPDATE_GOLDEN=1 pytest tests/queries/test_golden_sql.py``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.queries.events import ev, run, trends
from tests.support import Tenant

GOLDEN = Path(__file__).parent / "golden"
RANGE = {"date_from": "2024-01-03", "date_to": "2024-01-10"}
CASES: dict[str, dict[str, Any]] = {
    "trends_total": trends([ev("$pageview")], dateRange=RANGE),
    "trends_total_breakdowns": trends(
        [ev("$pageview")],
        dateRange=RANGE,
        breakdownFilter={
            "breakdowns": [
                {"property": "$current_url", "type": "event", "normalize_url": True},
                {"property": "plan", "type": "person"},
            ]
        },
    ),
    "trends_dau_breakdown_person_filter": trends(
        [ev("$pageview", math="dau")],
        dateRange=RANGE,
        breakdownFilter={"breakdown": "$browser"},
        properties=[{"key": "email", "value": "x", "operator": "icontains", "type": "person"}],
    ),
    "trends_multiple_breakdowns": trends(
        [ev("$pageview", math="dau")],
        dateRange=RANGE,
        breakdownFilter={
            "breakdowns": [
                {"property": "$browser", "type": "event", "normalize_url": True},
                {"property": "plan", "type": "person"},
            ],
            "breakdown_limit": 5,
        },
    ),
    "trends_weekly_active": trends([ev("$pageview", math="weekly_active")], dateRange=RANGE),
    "trends_p90_property": trends([ev("purchase", math="p90", math_property="price")], dateRange=RANGE),
    "funnel_exclusion_breakdown": {
        "kind": "FunnelsQuery",
        "series": [ev("$pageview"), ev("signup")],
        "dateRange": RANGE,
        "breakdownFilter": {"breakdown": "$browser"},
        "funnelsFilter": {"exclusions": [{**ev("purchase"), "funnelFromStep": 0, "funnelToStep": 1}]},
    },
    "funnel_ordered_sql_walk": {
        "kind": "FunnelsQuery",
        "series": [ev("$pageview"), ev("signup"), ev("purchase")],
        "dateRange": RANGE,
        "breakdownFilter": {"breakdown": "$browser"},
    },
    "hogql_properties": {
        "kind": "HogQLQuery",
        "query": "SELECT properties.$browser AS b, count() FROM events GROUP BY b ORDER BY 2 DESC",
    },
}


def normalize(sql: str, team: int) -> str:
    """The project id is the only per-test value in the SQL text."""
    sql = re.sub(rf"team_id = {team}\b", "team_id = <team>", sql)
    return re.sub(rf"\b{team} AS team_id\b", "<team> AS team_id", sql).strip() + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_sql_matches_golden(tenant: Tenant, name: str) -> None:
    body = run(tenant, CASES[name])
    sql = body.get("clickhouse") or body["hogql"]
    text = normalize(sql, tenant.project_id)
    path = GOLDEN / f"{name}.sql"
    if os.environ.get("INSIGHTD_UPDATE_GOLDEN") or not path.exists():
        path.write_text(text)
    assert text == path.read_text()
