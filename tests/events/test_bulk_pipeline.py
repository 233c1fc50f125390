"""Pipelined bulk writes (``EventStore.bulk_writes``, what ``insightd load`` uses without a server):
table N+1 is prepared while table N is inserted, with the same results as one write at a time."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import httpx
import pyarrow as pa
import pytest

from insightd.events.loader import normalise
from insightd.events.store import admin_token
from tests.events.conftest import Store


def _table(uuids: list[str], **columns: Any) -> Any:
    rows = [
        {"uuid": u, "event": "$pageview", "distinct_id": f"user-{i % 7}", "properties": "{}",
         "timestamp": f"2026-05-{1 + i % 28:02d}T10:00:00Z"}
        for i, u in enumerate(uuids)
    ]  # fmt: skip
    table, skipped = normalise(pa.Table.from_pylist(rows))
    assert not skipped
    for name, values in columns.items():
        table = table.set_column(table.column_names.index(name), name, pa.array(values, pa.string()))
    return table


def _ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def _stored(store: Store) -> list[int]:
    return [
        int(v)
        for v in store.rows("SELECT count(), uniqExact(uuid) FROM events WHERE team_id = {team:UInt64}")[0]
    ]


@pytest.mark.parametrize("start_empty", [True, False])
def test_repeats_across_and_within_pipelined_tables_are_stored_once(
    store: Store, capture: httpx.Client, token: str, start_empty: bool
) -> None:
    before = 0
    if not start_empty:  # a project with events: every table's dedup probes the index
        response = capture.post(
            "/batch/", json={"api_key": token, "batch": [{"event": "e", "distinct_id": "x"}]}
        )
        assert response.status_code == 200
        before = 1
    a, b, c = _ids(300), _ids(200), _ids(100)
    switch_interval = sys.getswitchinterval()
    bulk = store.server.state.events.bulk_writes()
    results = [
        bulk.write(store.project_id, _table(a)),
        bulk.write(store.project_id, _table(a[:150] + b)),  # half of a again, before a is surely stored
        bulk.write(store.project_id, _table(c + c + b[:10])),  # repeats within the table too
    ]
    bulk.finish()
    assert sys.getswitchinterval() == switch_interval  # the process's thread switching is restored
    assert [(r.stored, r.duplicates) for r in results] == [(300, 0), (200, 150), (100, 110)]
    assert _stored(store) == [before + 600, before + 600]


def test_the_stored_uuids_are_read_only_after_pending_inserts(store: Store) -> None:
    """The capture flusher's dedup probe (``existing``) waits for the pipeline, so it sees its rows."""
    ids = _ids(500)
    events = store.server.state.events
    bulk = events.bulk_writes()
    bulk.write(store.project_id, _table(ids[:250]))
    bulk.write(store.project_id, _table(ids[250:]))
    assert events.writer is not None
    found = events.writer.existing([store.project_id] * len(ids), ids)
    bulk.finish()
    assert len(found) == 500


class _FailingInserts:
    """The engine, except that inserting ``events`` fails from the ``fail_from``-th insert on (a disk
    full, say); with ``rows``, only inserts of that many rows count and fail."""

    def __init__(self, engine: Any, fail_from: int, rows: int | None = None) -> None:
        self._engine, self._left, self._rows = engine, fail_from, rows

    def insert_arrow(self, table: str, data: Any, **options: Any) -> int:
        if table == "events" and self._rows in (None, data.num_rows):
            self._left -= 1
            if self._left <= 0:
                raise RuntimeError("Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space")
        return int(self._engine.insert_arrow(table, data, **options))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def test_a_failed_insert_fails_the_load_and_nothing_after_it_is_stored(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad, later = _ids(50), _ids(50), _ids(50)
    events = store.server.state.events
    assert events.writer is not None
    monkeypatch.setattr(events.writer, "engine", _FailingInserts(events.writer.engine, fail_from=2))
    bulk = events.bulk_writes()
    bulk.write(store.project_id, _table(good))
    bulk.write(store.project_id, _table(bad))
    bulk.wait_idle()
    with pytest.raises(RuntimeError, match="storing the events failed: .*not enough space"):
        bulk.write(store.project_id, _table(later))
    with pytest.raises(RuntimeError, match="storing the events failed"):
        bulk.finish()
    monkeypatch.undo()
    assert _stored(store) == [50, 50]
    # The project's uuids are probed again after the failure: a retry of the failed table is stored.
    retry = events.bulk_writes()
    assert retry.write(store.project_id, _table(bad + good)).stored == 50
    retry.finish()
    assert _stored(store) == [100, 100]


def _remote(store: Store) -> Any:
    from insightd.events.bulk import RemoteSink

    token = admin_token(store.server.state.settings.data_dir)
    assert token
    return RemoteSink(store.server.base_url, token)


def test_a_load_handed_to_the_server_is_pipelined_there(store: Store) -> None:
    a, b = _ids(300), _ids(200)
    sink, other = _remote(store), _remote(store)
    try:
        first = sink.write(store.project_id, _table(a))
        # Another load meanwhile: its tables are stored one at a time (the pipeline is taken), correctly.
        assert other.write(store.project_id, _table(a[:100] + b[:100])).stored == 100
        second = sink.write(store.project_id, _table(a[200:] + b))
        sink.finish()
        other.finish()
    finally:
        sink.close()
        other.close()
    assert (first.stored, second.stored, second.duplicates) == (300, 100, 200)
    assert _stored(store) == [500, 500]


def test_a_failed_insert_on_the_server_fails_the_load_at_finish(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = store.server.state.events
    assert events.writer is not None
    monkeypatch.setattr(events.writer, "engine", _FailingInserts(events.writer.engine, fail_from=2))
    sink = _remote(store)
    try:
        sink.write(store.project_id, _table(_ids(40)))
        sink.write(store.project_id, _table(_ids(40)))  # answered once prepared; its insert fails
        with pytest.raises(RuntimeError, match="could not store all the data.*not enough space"):
            sink.finish()
    finally:
        sink.close()
    monkeypatch.undo()
    assert _stored(store) == [40, 40]


def test_a_write_after_finish_is_refused_not_dropped(store: Store) -> None:
    bulk = store.server.state.events.bulk_writes()
    bulk.write(store.project_id, _table(_ids(10)))
    bulk.finish()
    with pytest.raises(RuntimeError, match="already finished"):
        bulk.write(store.project_id, _table(_ids(10)))
    assert _stored(store) == [10, 10]


def _new_people(n: int, tag: str) -> Any:
    rows = [
        {"uuid": str(uuid.uuid4()), "event": "$pageview", "distinct_id": f"{tag}-{i}", "properties": "{}",
         "timestamp": "2026-05-01T10:00:00Z"}
        for i in range(n)
    ]  # fmt: skip
    table, _ = normalise(pa.Table.from_pylist(rows))
    return table


def test_persons_of_a_failed_table_are_stored_when_it_is_retried(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = store.server.state.events
    assert events.writer is not None
    monkeypatch.setattr(events.writer, "engine", _FailingInserts(events.writer.engine, fail_from=1))
    people = _new_people(30, f"p{uuid.uuid4().hex[:6]}")
    bulk = events.bulk_writes()
    bulk.write(store.project_id, people)
    with pytest.raises(RuntimeError):
        bulk.finish()
    monkeypatch.undo()
    retry = events.bulk_writes()
    assert retry.write(store.project_id, people).stored == 30
    retry.finish()
    assert store.stats()["persons"] == 30  # a person row for each new distinct_id, none lost


def test_a_remote_load_ended_for_another_reports_its_failure(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import insightd.events.store as store_module

    events = store.server.state.events
    assert events.writer is not None
    failing = _FailingInserts(events.writer.engine, fail_from=1, rows=13)
    monkeypatch.setattr(events.writer, "engine", failing)
    quiet, other = _remote(store), _remote(store)
    try:
        quiet.write(store.project_id, _table(_ids(13)))  # its insert fails; its client goes quiet
        monkeypatch.setattr(store_module, "LOAD_IDLE_SECONDS", 0.0)
        assert other.write(store.project_id, _table(_ids(20))).stored == 20  # ends the quiet load
        other.finish()
        with pytest.raises(RuntimeError, match="not enough space"):
            quiet.finish()
    finally:
        quiet.close()
        other.close()
    assert _stored(store) == [20, 20]
