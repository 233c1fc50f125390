"""A deterministic demo product: "Hedgebox", a file-sharing web app, over the last 60 days.

Visitors arrive from UTM sources with a browser, OS, device and country; they view pages, some sign up
(``$identify`` links their anonymous visits), upload and share files, and some buy a plan; many come
back on later days. The same seed and end date always give the same events (uuids included, so
running the demo twice stores nothing twice).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from insightd.events.timestamps import to_us

DAYS = 60
BROWSERS = (("Chrome", 62), ("Safari", 20), ("Firefox", 8), ("Microsoft Edge", 7), ("Opera", 3))
DESKTOP_OS = (("Windows", 55), ("Mac OS X", 38), ("Linux", 7))
MOBILE_OS = (("iOS", 55), ("Android", 45))
COUNTRIES = (
    ("US", 34),
    ("GB", 10),
    ("DE", 8),
    ("IN", 9),
    ("FR", 6),
    ("BR", 6),
    ("CA", 5),
    ("NL", 4),
    ("PL", 4),
    ("JP", 3),
    ("AU", 3),
    ("ES", 3),
    ("SE", 2),
    ("MX", 3),
)
SOURCES = (
    ("google", 34),
    (None, 25),
    ("twitter", 8),
    ("newsletter", 7),
    ("linkedin", 6),
    ("producthunt", 5),
    ("bing", 4),
    ("reddit", 6),
    ("youtube", 5),
)
MARKETING_PAGES = ("/", "/features", "/pricing", "/blog/secure-sharing", "/blog/team-folders", "/about")
APP_PAGES = ("/app", "/app/files", "/app/shared", "/app/settings", "/app/files/upload")
PLANS = (("standard", 10, 60), ("pro", 25, 30), ("business", 60, 10))
HOST = "https://hedgebox.example"


def _pick(rng: random.Random, choices: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([c[0] for c in choices], weights=[c[1] for c in choices])[0]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class _Generator:
    def __init__(self, seed: int, end: datetime) -> None:
        self.rng = random.Random(seed)
        self.start = end - timedelta(days=DAYS)
        self.rows: list[tuple[str, str, str, dict[str, Any], int]] = []

    def emit(self, event: str, distinct_id: str, at: datetime, props: dict[str, Any]) -> None:
        self.rows.append((_uuid(self.rng), event, distinct_id, props, to_us(at)))

    def visitor(self, index: int) -> None:
        rng = self.rng
        mobile = rng.random() < 0.35
        base = {
            "$browser": _pick(rng, MOBILE_OS and BROWSERS)
            if not mobile
            else rng.choice(("Safari", "Chrome")),
            "$os": _pick(rng, MOBILE_OS if mobile else DESKTOP_OS),
            "$device_type": "Mobile" if mobile else "Desktop",
            "$geoip_country_code": _pick(rng, COUNTRIES),
            "$lib": "web",
        }
        source = _pick(rng, SOURCES)
        first_day = int(DAYS * (1 - rng.random() ** 1.6))  # growth: more new visitors recently
        anon = f"anon-{index:07d}"
        user_id: str | None = None
        day = first_day
        session = 0
        plan_bought = False
        while day < DAYS:
            at = self.start + timedelta(days=day, seconds=rng.randint(6 * 3600, 23 * 3600))
            session_id = _uuid(rng)
            distinct = user_id or anon
            props = {**base, "$session_id": session_id}
            if session == 0 and source:
                props.update(
                    {"utm_source": source, "utm_medium": "cpc" if source in ("google", "bing") else "social"}
                )
                props["$referring_domain"] = f"{source}.com" if source != "newsletter" else "mail.example"
            pages = (
                list(MARKETING_PAGES[:1])
                if session == 0
                else [rng.choice(APP_PAGES if user_id else MARKETING_PAGES)]
            )
            if session == 0 and rng.random() < 0.55:
                pages.append("/pricing")
            pages += [rng.choice(APP_PAGES if user_id else MARKETING_PAGES) for _ in range(rng.randint(0, 4))]
            for page in pages:
                at += timedelta(seconds=rng.randint(5, 120))
                page_props = {**props, "$current_url": HOST + page, "$pathname": page}
                self.emit("$pageview", distinct, at, page_props)
                if rng.random() < 0.3:
                    chain = (
                        f'button.btn:text="{rng.choice(("Get started", "Upload", "Share", "Learn more"))}"'
                    )
                    self.emit(
                        "$autocapture",
                        distinct,
                        at + timedelta(seconds=3),
                        {**page_props, "$event_type": "click", "$elements_chain": chain},
                    )
            if user_id is None and "/pricing" in pages and rng.random() < 0.32:
                user_id = f"user-{index:07d}@hedgebox.example"
                at += timedelta(seconds=rng.randint(20, 200))
                self.emit(
                    "$identify",
                    user_id,
                    at,
                    {**props, "$anon_distinct_id": anon, "$set": {"email": user_id, "name": f"User {index}"}},
                )
                self.emit(
                    "signed_up",
                    user_id,
                    at + timedelta(seconds=1),
                    {**props, "signup_source": source or "direct"},
                )
                distinct = user_id
            if user_id is not None:
                for _ in range(rng.choice((0, 1, 1, 2, 3))):
                    at += timedelta(seconds=rng.randint(10, 300))
                    size = int(rng.lognormvariate(13, 1.2))
                    self.emit(
                        "uploaded_file",
                        distinct,
                        at,
                        {
                            **props,
                            "file_size_b": size,
                            "file_type": rng.choice(
                                ("image/png", "application/pdf", "video/mp4", "text/plain")
                            ),
                        },
                    )
                    if rng.random() < 0.4:
                        self.emit("shared_file", distinct, at + timedelta(seconds=30), props)
                if not plan_bought and rng.random() < 0.2:
                    plan, price, _ = PLANS[rng.choices((0, 1, 2), weights=[p[2] for p in PLANS])[0]]
                    plan_bought = True
                    self.emit(
                        "purchase",
                        distinct,
                        at + timedelta(seconds=40),
                        {**props, "plan": plan, "amount": price, "$set": {"plan": plan}},
                    )
            session += 1
            returning = 0.62 if user_id else 0.25
            if rng.random() > returning:
                break
            day += max(1, int(rng.expovariate(1 / (3 if user_id else 7))))


def demo_tables(
    events: int, *, seed: int = 42, end: datetime | None = None, chunk: int = 200_000
) -> Iterator[Any]:
    """Normalised tables (``loader.normalised_schema``) holding about ``events`` demo events."""
    import pyarrow as pa

    from insightd.events.loader import normalised_schema

    end = end or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    generator = _Generator(seed, end)
    index = 0
    produced = 0
    schema = normalised_schema()
    created_at = to_us(end)
    while produced < events:
        generator.visitor(index)
        index += 1
        if len(generator.rows) >= min(chunk, events - produced) or produced + len(generator.rows) >= events:
            rows = generator.rows[: events - produced]
            generator.rows = []
            rows.sort(key=lambda r: r[4])
            produced += len(rows)
            yield pa.table(
                {
                    "uuid": [r[0] for r in rows],
                    "event": [r[1] for r in rows],
                    "distinct_id": [r[2] for r in rows],
                    "properties": [orjson.dumps(r[3]).decode() for r in rows],
                    "timestamp": pa.array([r[4] for r in rows], pa.timestamp("us", tz="UTC")),
                    "created_at": pa.array([created_at] * len(rows), pa.timestamp("us", tz="UTC")),
                    "elements_chain": [str(r[3].get("$elements_chain", "")) for r in rows],
                    "person_id": pa.nulls(len(rows), pa.string()),
                    "person_properties": pa.nulls(len(rows), pa.string()),
                },
                schema=schema,
            )


def _trend(event: str, **source: Any) -> dict[str, Any]:
    series: dict[str, Any] = {"kind": "EventsNode", "event": event, "name": event}
    if "math" in source:
        series["math"] = source.pop("math")
    if "math_property" in source:
        series["math_property"] = source.pop("math_property")
    query = {
        "kind": "TrendsQuery",
        "series": [series],
        "dateRange": {"date_from": source.pop("date_from", "-30d")},
        "interval": source.pop("interval", "day"),
        **source,
    }
    return {"kind": "InsightVizNode", "source": query}


DEMO_DASHBOARD = "Hedgebox (demo) overview"


def demo_insights() -> list[dict[str, Any]]:
    """The saved insights of the demo dashboard, as PostHog insight bodies."""
    funnel = {
        "kind": "InsightVizNode",
        "source": {
            "kind": "FunnelsQuery",
            "series": [
                {"kind": "EventsNode", "event": "$pageview", "name": "$pageview"},
                {"kind": "EventsNode", "event": "signed_up", "name": "signed_up"},
                {"kind": "EventsNode", "event": "purchase", "name": "purchase"},
            ],
            "dateRange": {"date_from": "-30d"},
            "funnelsFilter": {"funnelWindowInterval": 14, "funnelWindowIntervalUnit": "day"},
        },
    }
    return [
        {"name": "Daily pageviews", "query": _trend("$pageview")},
        {
            "name": "Weekly active users",
            "query": _trend("$pageview", math="dau", interval="week", date_from="-60d"),
        },
        {"name": "Sign-up to purchase funnel", "query": funnel},
        {
            "name": "Pageviews by browser",
            "query": _trend(
                "$pageview", breakdownFilter={"breakdown": "$browser", "breakdown_type": "event"}
            ),
        },
        {
            "name": "Sign-ups by UTM source",
            "query": _trend(
                "signed_up", breakdownFilter={"breakdown": "utm_source", "breakdown_type": "event"}
            ),
        },
        {
            "name": "Revenue",
            "query": _trend(
                "purchase", math="sum", math_property="amount", interval="week", date_from="-60d"
            ),
        },
    ]
