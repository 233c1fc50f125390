"""Persons: identify, alias, merges and property updates, as PostHog's ingestion applies them."""

from __future__ import annotations

import json
from typing import Any

import httpx

from insightd.events.persons import person_uuid
from tests.events.conftest import Store


def _send(capture: httpx.Client, token: str, *events: dict[str, Any]) -> None:
    response = capture.post("/batch/", json={"api_key": token, "batch": list(events)})
    assert response.status_code == 200, response.text


def _person_of(store: Store, distinct_id: str) -> tuple[str, dict[str, Any]]:
    rows = store.rows(
        "SELECT toString(d.person_id), p.properties FROM person_distinct_ids AS d FINAL"
        " JOIN persons AS p FINAL ON p.id = d.person_id AND p.team_id = d.team_id"
        " WHERE d.team_id = {team:UInt64} AND d.distinct_id = {did:String} AND p.is_deleted = 0",
        did=distinct_id,
    )
    assert len(rows) == 1, rows
    return rows[0][0], json.loads(rows[0][1])


def _resolved_persons(store: Store) -> set[str]:
    """Unique persons of the project's events, with merges applied through person_overrides."""
    rows = store.rows(
        "SELECT DISTINCT toString(if(o.override_person_id != toUUID('00000000-0000-0000-0000-000000000000'),"
        " o.override_person_id, e.person_id)) FROM events AS e"
        " LEFT JOIN (SELECT old_person_id, override_person_id FROM person_overrides FINAL"
        "  WHERE team_id = {team:UInt64}) AS o ON o.old_person_id = e.person_id"
        " WHERE e.team_id = {team:UInt64}"
    )
    return {r[0] for r in rows}


def test_identify_links_anonymous_events_to_the_user(capture: httpx.Client, token: str, store: Store) -> None:
    _send(
        capture, token, {"event": "$pageview", "distinct_id": "anon-1", "properties": {"$browser": "Safari"}}
    )
    _send(
        capture,
        token,
        {
            "event": "$identify",
            "distinct_id": "alice",
            "properties": {"$anon_distinct_id": "anon-1"},
            "$set": {"email": "alice@example.com"},
        },
        {"event": "purchase", "distinct_id": "alice"},
    )
    anon_person, _ = _person_of(store, "anon-1")
    alice_person, props = _person_of(store, "alice")
    assert anon_person == alice_person
    assert props["email"] == "alice@example.com"
    assert props["$initial_browser"] == "Safari"
    assert _resolved_persons(store) == {alice_person}
    assert store.stats()["persons"] == 1


def test_alias_and_merge_of_two_existing_persons(capture: httpx.Client, token: str, store: Store) -> None:
    _send(capture, token, {"event": "a", "distinct_id": "web-7", "$set": {"plan": "free", "seen": 1}})
    _send(capture, token, {"event": "b", "distinct_id": "backend-7", "$set": {"plan": "pro"}})
    assert len(_resolved_persons(store)) == 2
    # posthog-python alias(previous_id="web-7", distinct_id="backend-7") sends this:
    _send(
        capture,
        token,
        {"event": "$create_alias", "distinct_id": "web-7", "properties": {"alias": "backend-7"}},
    )
    web_person, props = _person_of(store, "web-7")
    assert _person_of(store, "backend-7")[0] == web_person
    assert props["plan"] == "free" and props["seen"] == 1  # the surviving ("into") person's values win
    assert _resolved_persons(store) == {web_person}  # events stored before the merge follow it


def test_identified_persons_merge_only_dangerously(capture: httpx.Client, token: str, store: Store) -> None:
    _send(
        capture,
        token,
        {"event": "$identify", "distinct_id": "bob", "properties": {"$anon_distinct_id": "anon-b"}},
        {"event": "$identify", "distinct_id": "carol", "properties": {"$anon_distinct_id": "anon-c"}},
    )
    _send(capture, token, {"event": "$create_alias", "distinct_id": "bob", "properties": {"alias": "carol"}})
    assert _person_of(store, "bob")[0] != _person_of(store, "carol")[0]  # refused: both identified
    _send(
        capture,
        token,
        {"event": "$merge_dangerously", "distinct_id": "bob", "properties": {"alias": "carol"}},
    )
    assert _person_of(store, "bob")[0] == _person_of(store, "carol")[0] == _person_of(store, "anon-c")[0]


def test_set_set_once_and_unset(capture: httpx.Client, token: str, store: Store) -> None:
    _send(
        capture,
        token,
        {
            "event": "$set",
            "distinct_id": "dana",
            "properties": {"$set": {"plan": "free", "tmp": 1}, "$set_once": {"first": "a"}},
        },
        {
            "event": "$set",
            "distinct_id": "dana",
            "$set": {"plan": "pro"},
            "$set_once": {"first": "b", "second": 2},
        },
        {"event": "x", "distinct_id": "dana", "properties": {"$unset": ["tmp"]}},
    )
    _, props = _person_of(store, "dana")
    assert props == {"plan": "pro", "first": "a", "second": 2}
    last = store.events()[-1]
    assert json.loads(last["person_properties"]) == props  # persons on events: the snapshot at ingestion


def test_personless_events_and_illegal_ids(
    capture: httpx.Client, token: str, store: Store, tenant: Any
) -> None:
    _send(
        capture,
        token,
        {
            "event": "view",
            "distinct_id": "ghost",
            "properties": {"$process_person_profile": False, "$set": {"ignored": True}},
        },
        {"event": "$identify", "distinct_id": "erin", "properties": {"$anon_distinct_id": "null"}},
    )
    events = {e["event"]: e for e in store.events()}
    assert events["view"]["person_id"] == person_uuid(tenant.project_id, "ghost")
    assert events["view"]["person_properties"] == ""
    assert store.rows(
        "SELECT count() FROM person_distinct_ids FINAL"
        " WHERE team_id = {team:UInt64} AND distinct_id IN ('ghost', 'null')"
    ) == [[0]]
