"""The fast write paths: bulk-created persons, materialised columns filled on insert, loader columns."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import httpx
import pyarrow as pa

from insightd.events.fresh import FreshKeys, uuid_keys
from insightd.events.loader import normalise, to_ipc
from insightd.events.persons import PERSON_NAMESPACE, person_uuid
from insightd.events.schema import MATERIALIZED_PROPERTIES
from tests.events.conftest import Store
from tests.events.test_persons import _person_of


def _load(store: Store, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Hand raw export rows to the server's bulk path (what ``insightd load`` does)."""
    table, skipped = normalise(pa.Table.from_pylist(rows))
    assert not skipped, skipped
    response = store.admin.post(
        "/_admin/events/arrow", params={"project_id": store.project_id}, content=to_ipc(table)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _row(distinct_id: str, day: int, properties: dict[str, Any] | str) -> dict[str, Any]:
    text = properties if isinstance(properties, str) else json.dumps(properties)
    return {"uuid": str(uuid.uuid4()), "event": "$pageview", "distinct_id": distinct_id,
            "properties": text, "timestamp": f"2026-05-{day:02d}T10:00:00Z"}  # fmt: skip


def test_person_uuid_is_uuid5() -> None:
    rng = random.Random(7)
    alphabet = "abcXYZ019 :-_é日本\U0001f600\x00"
    for _ in range(2000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        team = rng.randrange(1, 10**12)
        assert person_uuid(team, name) == str(uuid.uuid5(PERSON_NAMESPACE, f"{team}:{name}"))


def test_bulk_persons_are_created_at_first_event_and_merge_later(
    store: Store, capture: httpx.Client, token: str
) -> None:
    rows = [_row("anon-1", day, {"$browser": "Firefox"}) for day in (9, 3, 6)]
    rows += [_row(f"other-{i}", 1, {}) for i in range(5)]
    assert _load(store, rows)["stored"] == 8
    persons = store.stats()["persons"]
    assert persons == 6
    anon_id, props = _person_of(store, "anon-1")
    assert anon_id == person_uuid(store.project_id, "anon-1") and props == {}
    created = store.rows(
        "SELECT toString(created_at) FROM persons FINAL WHERE team_id = {team:UInt64} AND id = {id:UUID}",
        id=anon_id,
    )
    assert created == [["2026-05-03 10:00:00.000000"]]  # the first of its events, not the chunk's

    # A bulk-created person is a whole person to the capture path: identify merges it, $set applies.
    response = capture.post(
        "/batch/",
        json={"api_key": token, "batch": [
            {"event": "$identify", "distinct_id": "anna@example.com",
             "properties": {"$anon_distinct_id": "anon-1", "$set": {"plan": "pro"}}},
        ]},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    user_id, user_props = _person_of(store, "anna@example.com")
    assert _person_of(store, "anon-1") == (user_id, user_props)
    assert user_props == {"plan": "pro"}
    assert store.stats()["persons"] == persons  # anon-1's person took the new distinct_id

    # Loading the same rows again stores nothing and creates no person.
    again = _load(store, rows)
    assert again == {"stored": 0, "duplicates": 8}
    assert store.stats()["persons"] == persons


def test_materialised_columns_match_their_definition(store: Store, capture: httpx.Client, token: str) -> None:
    values: list[Any] = ["Chrome", 42, 1.5, True, None, {"nested": [1, 2]}, [1, "x"], 'é "quoted" \n', ""]
    keys = list(MATERIALIZED_PROPERTIES)
    captured = [
        {"event": "e", "distinct_id": f"d{i}", "properties": {key: values[(i + k) % len(values)]
                                                              for k, key in enumerate(keys) if (i + k) % 4}}
        for i in range(len(values) * 2)
    ]  # fmt: skip
    response = capture.post("/batch/", json={"api_key": token, "batch": captured})
    assert response.status_code == 200, response.text
    _load(
        store, [_row("bulk", 2, '{"$browser": "Safari", "$os": 7, "utm_source": null}'), _row("b2", 2, "{}")]
    )
    columns = list(MATERIALIZED_PROPERTIES.items())
    definition = "JSONExtract(properties, '{}', 'Nullable(String)')"  # the column's DDL expression
    checks = ", ".join(
        f"countIf(ifNull({col}, '<null>') != ifNull({definition.format(key)}, '<null>'))"
        for key, col in columns
    )
    filled = ", ".join(f"countIf({col} IS NOT NULL)" for _, col in columns)
    rows = store.rows(f"SELECT count(), {checks}, {filled} FROM events WHERE team_id = {{team:UInt64}}")
    total, mismatches, non_empty = rows[0][0], rows[0][1 : 1 + len(columns)], rows[0][1 + len(columns) :]
    assert total == len(captured) + 2
    assert mismatches == [0] * len(columns)
    assert all(count > 0 for count in non_empty)


def test_loader_keeps_property_text_when_there_is_nothing_to_fold_in() -> None:
    text = '{"b": 2,  "a": "x"}'
    table, _ = normalise(pa.Table.from_pylist([_row("d", 1, text) | {"set": None, "set_once": ""}]))
    assert table.column("properties").to_pylist() == [text]
    table, _ = normalise(pa.Table.from_pylist([_row("d", 1, text) | {"set": '{"plan": "pro"}'}]))
    assert json.loads(table.column("properties")[0].as_py()) == {"b": 2, "a": "x", "$set": {"plan": "pro"}}


def test_a_project_loaded_from_empty_still_stores_each_uuid_once(
    store: Store, capture: httpx.Client, token: str
) -> None:
    """The first bulk write finds the project empty and skips the index probe from then on; repeats
    across writes (in any spelling of the uuid), and events captured in between, are still caught."""
    first = [_row(f"u{i}", 1, {}) for i in range(30)]
    assert _load(store, first) == {"stored": 30, "duplicates": 0}
    second = first[:5] + [_row(f"v{i}", 2, {}) for i in range(5)]
    assert _load(store, second) == {"stored": 5, "duplicates": 5}
    respelled = [{**r, "uuid": r["uuid"].upper().replace("-", "")} for r in first[5:10]]
    assert _load(store, respelled + [_row("y", 2, {})]) == {"stored": 1, "duplicates": 5}
    captured = {"event": "$pageview", "distinct_id": "w", "uuid": str(uuid.uuid4())}
    assert capture.post("/batch/", json={"api_key": token, "batch": [captured]}).status_code == 200
    store.flush()
    third = [{**_row("w", 3, {}), "uuid": captured["uuid"]}, first[0], _row("x", 3, {})]
    assert _load(store, third) == {"stored": 1, "duplicates": 2}
    assert store.stats()["events"] == 30 + 5 + 1 + 1 + 1


def test_fresh_keys_find_every_repeat() -> None:
    rng = random.Random(3)
    uuids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(5000)]
    keys = uuid_keys(pa.array(uuids))
    assert keys is not None
    assert keys.tolist() == [int(u.replace("-", "")[-16:], 16) for u in uuids]
    assert uuid_keys(pa.array([u.upper() for u in uuids])).tolist() == keys.tolist()  # type: ignore[union-attr]
    assert uuid_keys(pa.array([uuids[0].replace("-", "")])) is None
    fresh = FreshKeys()
    assert fresh.add(keys[:2500])
    assert fresh.add(keys[2500:4000])
    probe = uuid_keys(pa.chunked_array([pa.array(uuids[3000:])]))
    assert probe is not None
    assert fresh.candidates(probe).tolist() == list(range(1000))
