"""The worked example of the query-semantics spec §7 (now = 2024-01-10 12:00 UTC)."""

from __future__ import annotations

from datetime import datetime

from tests.queries.events import Event, insert_events, merge_person
from tests.support import ServerThread

RANGE = {"date_from": "2024-01-03", "date_to": "2024-01-10"}


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


EVENTS = [
    Event("u1", "$pageview", t("2024-01-08 09:00"), {"$browser": "Chrome"}),
    Event("u1", "$pageview", t("2024-01-08 09:05"), {"$browser": "Chrome"}),
    Event("u1", "signup", t("2024-01-08 09:30")),
    Event("u1", "purchase", t("2024-01-09 10:00"), {"price": 30}),
    Event("u2a", "$pageview", t("2024-01-08 23:30"), {"$browser": "Firefox"}),
    Event("u2b", "$pageview", t("2024-01-09 00:10"), {"$browser": "Firefox"}),
    Event("u2b", "purchase", t("2024-01-09 00:20"), {"price": "abc"}),
    Event("u2a", "signup", t("2024-01-09 01:00")),
    Event("u3", "$pageview", t("2024-01-03 10:00"), {"$browser": "Chrome"}),
    Event("u3", "$pageview", t("2024-01-10 08:00")),
    Event("u3", "signup", t("2024-01-10 08:05")),
]


def load(server: ServerThread, team_id: int) -> None:
    """Insert the example; u2b's own person is merged into u2a's (P2 = {u2a, u2b})."""
    insert_events(server, team_id, EVENTS)
    merge_person(server, team_id, "u2b", "u2a")
