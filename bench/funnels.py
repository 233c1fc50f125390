"""Benchmark: every funnel shape through the API on the data set of ``bench.queries``.

One ``refresh=force_blocking`` request per run for each shape (steps ``$pageview → signup → purchase``,
14-day window, 30 days of data) and the p50, with which walk computes it:

    .venv/bin/python -m bench.funnels --cache           # reuse bench/out/queries-<N>/ (gitignored)
    .venv/bin/python -m bench.funnels --events 1000000 --runs 3

The figures are in bench/README.md; ``--only TEXT`` runs the shapes whose name contains TEXT.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from bench.queries import DAYS, p50, running


def pageview(browser: str | None) -> dict[str, Any]:
    """A $pageview step, of one browser when given."""
    props = [{"key": "$browser", "value": browser, "operator": "exact", "type": "event"}] if browser else []
    return {"kind": "EventsNode", "event": "$pageview", "properties": props}


LEAVE = {"kind": "EventsNode", "event": "$leave", "funnelFromStep": 0, "funnelToStep": 1}
SHAPES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # (name, funnelsFilter, other query fields)
    ("ordered", {}, {}),
    ("ordered, breakdown by $browser", {}, {"breakdownFilter": {"breakdown": "$browser"}}),
    ("unordered", {"funnelOrderType": "unordered"}, {}),
    ("strict", {"funnelOrderType": "strict"}, {}),
    ("ordered + exclusion ($leave, steps 1-2)", {"exclusions": [LEAVE]}, {}),
    ("exclusion + breakdown by $browser", {"exclusions": [LEAVE]},
     {"breakdownFilter": {"breakdown": "$browser"}}),
    ("unordered + exclusion ($leave, whole funnel)", {"funnelOrderType": "unordered",
     "exclusions": [{**LEAVE, "funnelToStep": 2}]}, {}),
    ("time to convert", {"funnelVizType": "time_to_convert"}, {}),
    ("trends (conversion by day)", {"funnelVizType": "trends"}, {}),
    ("all_events attribution, breakdown by $browser", {"breakdownAttributionType": "all_events"},
     {"breakdownFilter": {"breakdown": "$browser"}}),
    ("step attribution (step 2), breakdown by $browser",
     {"breakdownAttributionType": "step", "breakdownAttributionValue": 1},
     {"breakdownFilter": {"breakdown": "$browser"}}),
    ("trends + exclusion", {"funnelVizType": "trends", "exclusions": [LEAVE]}, {}),
    ("strict, step attribution (step 2), breakdown by $browser",
     {"funnelOrderType": "strict", "breakdownAttributionType": "step", "breakdownAttributionValue": 1},
     {"breakdownFilter": {"breakdown": "$browser"}}),
    ("breakdown by $browser, limit 3 (Other)", {},
     {"breakdownFilter": {"breakdown": "$browser", "breakdown_limit": 3}}),
    ("one event twice, other filters ($pageview Chrome → Safari → purchase)", {},
     {"series": [pageview("Chrome"), pageview("Safari"), {"kind": "EventsNode", "event": "purchase"}]}),
    ("one event twice ($pageview → $pageview → purchase)", {},
     {"series": [pageview(None), pageview(None), {"kind": "EventsNode", "event": "purchase"}]}),
]  # fmt: skip


def query(flt: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "FunnelsQuery",
        "series": [{"kind": "EventsNode", "event": e} for e in ("$pageview", "signup", "purchase")],
        "dateRange": {"date_from": f"-{DAYS - 1}d"},
        "funnelsFilter": {"funnelWindowInterval": 14, "funnelWindowIntervalUnit": "day", **flt},
        **extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", action="store_true", help="keep/reuse the data set in bench/out/")
    parser.add_argument("--only", default="", help="only the shapes whose name contains this")
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.events:,} events, p50 of {args.runs} runs")
    with running(args.events, args.cache) as (client, _state, team):
        print(f"\n{'funnel':<46} {'API p50 ms':>11}")
        for name, flt, extra in SHAPES:
            if args.only not in name:
                continue
            body = {"query": query(flt, extra), "refresh": "force_blocking"}

            def call(body: dict[str, Any] = body, name: str = name) -> None:
                response = client.post(f"/api/projects/{team}/query/", json=body)
                if response.is_error:
                    raise SystemExit(f"{name}: {response.status_code} {response.text}")

            print(f"{name:<46} {p50(call, args.runs):>11.0f}", flush=True)


if __name__ == "__main__":
    main()
