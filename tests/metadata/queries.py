"""Builders for realistic PostHog queries, as the PostHog app saves them."""

from __future__ import annotations

from typing import Any


def event(name: str | None, **fields: Any) -> dict[str, Any]:
    return {"kind": "EventsNode", "event": name, "name": name, **fields}


def action(action_id: int, name: str, **fields: Any) -> dict[str, Any]:
    return {"kind": "ActionsNode", "id": action_id, "name": name, **fields}


def viz(source: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "InsightVizNode", "source": source}


def trends(*series: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return viz({"kind": "TrendsQuery", "series": list(series), **fields})


def funnel(*steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return viz({"kind": "FunnelsQuery", "series": list(steps), **fields})


def retention(target: str, returning: str, **fields: Any) -> dict[str, Any]:
    retention_filter = {
        "targetEntity": {"id": target, "name": target, "type": "events"},
        "returningEntity": {"id": returning, "name": returning, "type": "events"},
        **fields,
    }
    return viz({"kind": "RetentionQuery", "retentionFilter": retention_filter})


def sql(text: str) -> dict[str, Any]:
    return {"kind": "DataVisualizationNode", "source": {"kind": "HogQLQuery", "query": text}}


def table(source: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "DataTableNode", "source": source}


def prop(key: str, value: Any, kind: str = "event", operator: str = "exact") -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": kind}


def breakdown(key: str, kind: str = "event") -> dict[str, Any]:
    return {"breakdown": key, "breakdown_type": kind}
