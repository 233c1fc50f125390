"""Storing events: deduplicate by uuid, resolve persons, append to the event store in blocks.

Used by the write-ahead-log flusher (captured events, as dicts) and by the bulk loader (pyarrow
tables). Each block is inserted under a deduplication token, so replaying a block after a crash
stores it once; ``event_uuids`` remembers every stored ``(team_id, uuid)``, so a client's retried
batch is recognised and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from insightd.engine.base import Engine
from insightd.events.fresh import FreshKeys, Keys, distinct, uuid_keys
from insightd.events.persons import MERGE_EVENTS, Created, PersonChanges, PersonStore
from insightd.events.schema import materialized_on_insert

_UTC_US = "us"


@dataclass
class WriteResult:
    stored: int = 0
    duplicates: int = 0

    def add(self, other: WriteResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates


def event_schema() -> Any:
    import pyarrow as pa

    ts = pa.timestamp(_UTC_US, tz="UTC")
    return pa.schema(
        [
            ("uuid", pa.string()),
            ("team_id", pa.uint64()),
            ("event", pa.string()),
            ("distinct_id", pa.string()),
            ("person_id", pa.string()),
            ("properties", pa.string()),
            ("person_properties", pa.string()),
            ("timestamp", ts),
            ("created_at", ts),
            ("elements_chain", pa.string()),
        ]
    )


@dataclass
class Prepared:
    """A bulk write ready to insert: the ``events`` rows, their dedup token, the person rows."""

    table: Any
    token: str | None
    changes: PersonChanges


class EventWriter:
    """Not thread-safe: the owner (``EventStore``) serialises calls."""

    def __init__(self, engine: Engine, persons: PersonStore | None = None) -> None:
        self.engine = engine
        self.persons = persons or PersonStore()
        # Projects that had no stored event when a bulk load began, with every uuid stored since:
        # their dedup check is a set lookup instead of a probe of ``event_uuids``.
        self._fresh: dict[int, FreshKeys] = {}
        # Called before every read of the stored uuids: a pipelined bulk load (``EventStore``) waits
        # there for its prepared writes to reach the engine.
        self.settle: Callable[[], None] = _nothing
        self._persons_stale = False

    @classmethod
    def open(cls, engine: Engine) -> EventWriter:
        return cls(engine, load_persons(engine))

    def persons_unsaved(self) -> None:
        """Person rows that were taken from the person store could not be stored: the store is reloaded
        from the engine before the next write (the engine holds what was stored, in-memory state may
        hold more). Safe to call from any thread."""
        self._persons_stale = True

    def _reload_persons_if_unsaved(self) -> None:
        if self._persons_stale:
            self._persons_stale = False
            self.persons = load_persons(self.engine)

    # --- deduplication -------------------------------------------------------------------------------
    def existing(self, team_ids: Any, uuids: Any) -> set[tuple[int, str]]:
        """Which of these (team_id, uuid) pairs are already stored."""
        import pyarrow as pa

        if len(uuids) == 0:
            return set()
        self.settle()
        probe = pa.table({"team_id": _arrow(team_ids, pa.uint64()), "uuid": _arrow(uuids, pa.string())})
        query = getattr(self.engine, "query_arrow", None)
        if query is None:  # engines without bound tables: an explicit list
            found = self.engine.execute(
                "SELECT team_id, toString(uuid) FROM event_uuids WHERE (team_id, uuid) IN "
                "(SELECT tupleElement(p, 1), toUUID(tupleElement(p, 2)) FROM "
                "(SELECT arrayJoin({pairs:Array(Tuple(UInt64, String))}) AS p))",
                {"pairs": list(zip(probe.column(0).to_pylist(), probe.column(1).to_pylist(), strict=True))},
            ).rows
        else:
            found = query(
                "SELECT team_id, toString(uuid) FROM event_uuids WHERE (team_id, uuid) IN "
                "(SELECT team_id, toUUID(uuid) FROM Python(insightd_block))",
                probe,
            )
        return {(int(team), str(u)) for team, u in found}

    # --- captured events -----------------------------------------------------------------------------
    def write_records(self, records: Sequence[dict[str, Any]], token: str | None) -> WriteResult:
        """Store write-ahead-log records ``{team_id, now, events: [...]}`` as one block."""
        import pyarrow as pa

        self._reload_persons_if_unsaved()

        seen: set[tuple[int, str]] = set()
        teams: list[int] = []
        nows: list[int] = []
        events: list[dict[str, Any]] = []
        total = 0
        for record in records:
            team, now, batch = int(record["team_id"]), int(record["now"]), record["events"]
            total += len(batch)
            for event in batch:
                key = (team, event["uuid"])
                if key not in seen:
                    seen.add(key)
                    teams.append(team)
                    nows.append(now)
                    events.append(event)
        for team in set(teams):
            self._fresh.pop(team, None)  # capture writes there too: probe the index again
        stored_before = self.existing(teams, [e["uuid"] for e in events])
        if stored_before:
            keep = [i for i, e in enumerate(events) if (teams[i], e["uuid"]) not in stored_before]
            teams, nows, events = [teams[i] for i in keep], [nows[i] for i in keep], [events[i] for i in keep]
        process = self.persons.process
        resolved = [process(team, event) for team, event in zip(teams, events, strict=True)]
        dumps = orjson.dumps
        ts = pa.timestamp(_UTC_US, tz="UTC")
        table = pa.table(
            [
                pa.array([e["uuid"] for e in events], pa.string()),
                pa.array(teams, pa.uint64()),
                pa.array([e["event"] for e in events], pa.string()),
                pa.array([e["distinct_id"] for e in events], pa.string()),
                pa.array([r[0] for r in resolved], pa.string()),
                pa.array([dumps(e["properties"]) for e in events], pa.string()),
                pa.array([r[1] for r in resolved], pa.string()),
                pa.array([e["timestamp"] for e in events], ts),
                pa.array(nows, ts),
                pa.array([e.get("elements_chain", "") for e in events], pa.string()),
            ],
            schema=event_schema(),
        )
        try:
            self._insert(table, token)
        except BaseException:
            self.persons_unsaved()  # the log keeps the block: it is retried with persons from the engine
            raise
        return WriteResult(stored=table.num_rows, duplicates=total - table.num_rows)

    # --- bulk tables ---------------------------------------------------------------------------------
    def write_table(self, team_id: int, table: Any, token: str | None = None) -> WriteResult:
        """Store a normalised table (``loader.normalise`` columns) for one project."""
        prepared, result = self.prepare_table(team_id, table, token)
        try:
            self.commit(prepared)
        except BaseException:
            self.forget(team_id)
            self.persons_unsaved()
            raise
        return result

    def prepare_table(
        self, team_id: int, table: Any, token: str | None = None
    ) -> tuple[Prepared, WriteResult]:
        """Everything of ``write_table`` but the inserts: deduplicate, resolve persons, build the rows.

        The project's uuids are remembered as stored already: ``commit`` the result (in order, before
        anything else probes the store), or ``forget`` the project if that fails."""
        import pyarrow as pa

        self._reload_persons_if_unsaved()
        total = table.num_rows
        keys = self._fresh_keys(team_id, table.column("uuid"))
        if keys is None or not distinct(keys):  # distinct keys: no uuid repeats within the table
            table = _unique_rows(table)
            if keys is not None and table.num_rows != total:
                keys = uuid_keys(table.column("uuid"))
        team_col = pa.repeat(pa.scalar(team_id, pa.uint64()), table.num_rows)
        mask = self._new_rows(team_id, team_col, table.column("uuid"), keys)
        if mask is not None:
            table = table.filter(mask)
            keys = keys[mask.to_numpy(zero_copy_only=False)] if keys is not None else None
            team_col = team_col.slice(0, table.num_rows)
        person_ids, person_props = self._bulk_persons(team_id, table)
        out = pa.table(
            {
                "uuid": table.column("uuid"),
                "team_id": team_col,
                "event": table.column("event"),
                "distinct_id": table.column("distinct_id"),
                "person_id": person_ids,
                "properties": table.column("properties"),
                "person_properties": person_props,
                "timestamp": table.column("timestamp"),
                "created_at": table.column("created_at"),
                "elements_chain": table.column("elements_chain"),
            },
            schema=event_schema(),
        )
        self._remember(team_id, keys)
        prepared = Prepared(out, token, self.persons.drain())
        return prepared, WriteResult(stored=out.num_rows, duplicates=total - out.num_rows)

    def commit(self, prepared: Prepared) -> None:
        """The inserts of a prepared write. Touches only the engine, so it may run in another thread
        while the next table is prepared."""
        self._insert_events(prepared.table, prepared.token)
        self._write_person_changes(prepared.changes)

    def forget(self, team_id: int) -> None:
        """A prepared write of this project was not stored: probe the index for it from now on."""
        self._fresh.pop(team_id, None)

    def _fresh_keys(self, team_id: int, uuids: Any) -> Keys | None:
        """The uuids' keys when the project started empty (None: probe the index instead)."""
        if team_id not in self._fresh and not self._has_events(team_id):
            self._fresh[team_id] = FreshKeys()
        if team_id not in self._fresh:
            return None
        keys = uuid_keys(uuids)
        if keys is None:
            del self._fresh[team_id]  # uuids not in canonical spelling: probe the index from now on
        return keys

    def _new_rows(self, team_id: int, team_col: Any, uuids: Any, keys: Keys | None) -> Any:
        """A mask of the rows not stored yet, or None when all are new."""
        import pyarrow as pa
        import pyarrow.compute as pc

        probe_teams, probe = team_col, uuids
        if keys is not None:
            maybe = self._fresh[team_id].candidates(keys)  # only these can be repeats: confirm them
            if len(maybe) == 0:
                return None
            probe_teams, probe = team_col.take(pa.array(maybe)), uuids.take(pa.array(maybe))
        known = self.existing(probe_teams, probe)
        if not known:
            return None
        stored = pa.array([u.replace("-", "") for _, u in known])  # any spelling toUUID reads
        return pc.invert(pc.is_in(pc.utf8_lower(pc.replace_substring(uuids, "-", "")), value_set=stored))

    def _remember(self, team_id: int, keys: Keys | None) -> None:
        """After a successful insert: the stored uuids of a project that started empty."""
        fresh = self._fresh.get(team_id)
        if fresh is not None and (keys is None or not fresh.add(keys)):
            del self._fresh[team_id]

    def _has_events(self, team_id: int) -> bool:
        self.settle()
        return bool(
            self.engine.execute(
                "SELECT count() FROM (SELECT 1 FROM event_uuids WHERE team_id = {team:UInt64} LIMIT 1)",
                {"team": team_id},
            ).rows[0][0]
        )

    def _bulk_persons(self, team_id: int, table: Any) -> tuple[Any, Any]:
        """Person ids for a bulk table: events that change persons go through the person rules one
        by one (in file order); every other row takes the current person of its distinct_id, and a
        distinct_id without one gets a new person (created at its first event) in bulk."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if table.num_rows == 0:
            return pa.array([], pa.string()), pa.array([], pa.string())
        events, props, dids = table.column("event"), table.column("properties"), table.column("distinct_id")
        special = pc.or_(
            pc.is_in(events, value_set=pa.array(sorted(MERGE_EVENTS))),
            pc.match_substring_regex(props, r'"\$(set|unset|process_person_profile")'),
        )
        timestamps = pc.cast(table.column("timestamp"), pa.int64())
        for index in pc.indices_nonzero(special).to_pylist():
            event = {
                "event": events[index].as_py(),
                "distinct_id": dids[index].as_py(),
                "properties": orjson.loads(props[index].as_py() or "{}"),
                "timestamp": timestamps[index].as_py(),
            }
            self.persons.process(team_id, event)
        firsts = pa.table({"distinct_id": dids, "ts": timestamps}).group_by("distinct_id", use_threads=False)
        firsts = firsts.aggregate([("ts", "min")])
        unique = firsts.column("distinct_id").combine_chunks()
        pid_of, pprops_of = self.persons.ensure_many(
            team_id, unique.to_pylist(), firsts.column("ts_min").to_pylist()
        )
        positions = pc.index_in(dids, value_set=unique)
        person_ids = pc.take(pa.array(pid_of, pa.string()), positions)
        person_props = pc.take(pa.array(pprops_of, pa.string()), positions)
        given = table.column("person_id") if "person_id" in table.column_names else None
        if given is not None:
            person_ids = pc.coalesce(given, person_ids)
        given_props = table.column("person_properties") if "person_properties" in table.column_names else None
        if given_props is not None:
            person_props = pc.coalesce(given_props, person_props)
        return person_ids, person_props

    # --- the insert ----------------------------------------------------------------------------------
    def _insert(self, table: Any, token: str | None) -> None:
        self._insert_events(table, token)
        self._write_person_changes(self.persons.drain())

    def _insert_events(self, table: Any, token: str | None) -> None:
        import pyarrow as pa

        if table.num_rows:
            uuids = pa.table({"team_id": table.column("team_id"), "uuid": table.column("uuid")})
            if getattr(self.engine, "supports_computed_columns", False):
                # One JSON parse per row for every materialised column; rows are unique by uuid (both
                # writers deduplicate the block first), so no insert-time collapse is needed.
                engine: Any = self.engine
                engine.insert_arrow(
                    "events", table, dedup_token=token, computed=materialized_on_insert(), unique_keys=True
                )
                engine.insert_arrow("event_uuids", uuids, unique_keys=True)
            else:
                self.engine.insert_arrow("events", table, dedup_token=token)
                self.engine.insert_arrow("event_uuids", uuids)

    def _write_person_changes(self, changes: PersonChanges) -> None:
        import pyarrow as pa

        if not changes:
            return
        u64, u8, ts = pa.uint64(), pa.uint8(), pa.timestamp(_UTC_US, tz="UTC")
        for table, rows, types in (
            ("persons", changes.persons,
             {"id": None, "team_id": u64, "properties": None, "created_at": ts, "is_deleted": u8,
              "version": u64, "is_identified": u8}),
            ("person_distinct_ids", changes.distinct_ids,
             {"team_id": u64, "distinct_id": None, "person_id": None, "version": u64}),
            ("person_overrides", changes.overrides,
             {"team_id": u64, "old_person_id": None, "override_person_id": None, "version": u64}),
        ):  # fmt: skip
            if rows:
                columns = {name: pa.array([r[name] for r in rows], kind) for name, kind in types.items()}
                self.engine.insert_arrow(table, pa.table(columns))
        if changes.created[0]:
            persons, distinct_ids = _created_tables(changes.created)
            self.engine.insert_arrow("persons", persons)
            self.engine.insert_arrow("person_distinct_ids", distinct_ids)


def load_persons(engine: Engine) -> PersonStore:
    """The person store as the engine holds it (latest versions, deleted ones left out)."""
    persons = PersonStore()
    persons.load(
        (
            (r[0], int(r[1]), r[2], int(r[3]), int(r[4]), int(r[5]))
            for r in engine.execute(
                "SELECT toString(id), team_id, properties, toUnixTimestamp64Micro(created_at), "
                "is_identified, version FROM persons FINAL WHERE is_deleted = 0"
            ).rows
        ),
        (
            (int(r[0]), r[1], r[2], int(r[3]))
            for r in engine.execute(
                "SELECT team_id, distinct_id, toString(person_id), version "
                "FROM person_distinct_ids FINAL WHERE is_deleted = 0"
            ).rows
        ),
        (
            (int(r[0]), r[1], r[2])
            for r in engine.execute(
                "SELECT team_id, toString(old_person_id), toString(override_person_id) "
                "FROM person_overrides FINAL"
            ).rows
        ),
    )
    return persons


def _nothing() -> None:
    pass


def _arrow(values: Any, kind: Any) -> Any:
    """``values`` (a list or an Arrow array) as an Arrow array of ``kind``."""
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values.cast(kind)
    return pa.array(values, kind)


def _created_tables(created: Created) -> tuple[Any, Any]:
    """``persons`` and ``person_distinct_ids`` rows of persons created in bulk (version 1, no properties)."""
    import pyarrow as pa

    teams, dids, pids, created_at = created
    count = len(teams)
    u64, u8 = pa.uint64(), pa.uint8()
    team_ids, person_ids, one = (
        pa.array(teams, u64),
        pa.array(pids, pa.string()),
        pa.repeat(pa.scalar(1, u64), count),
    )
    persons = pa.table(
        {
            "id": person_ids,
            "team_id": team_ids,
            "properties": pa.repeat(pa.scalar("{}"), count),
            "created_at": pa.array(created_at, pa.timestamp(_UTC_US, tz="UTC")),
            "is_deleted": pa.repeat(pa.scalar(0, u8), count),
            "version": one,
            "is_identified": pa.repeat(pa.scalar(0, u8), count),
        }
    )
    distinct_ids = pa.table(
        {
            "team_id": team_ids,
            "distinct_id": pa.array(dids, pa.string()),
            "person_id": person_ids,
            "version": one,
        }
    )
    return persons, distinct_ids


def _unique_rows(table: Any) -> Any:
    """Keep the first row of each uuid."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return table
    unique = pc.unique(table.column("uuid"))
    if len(unique) == table.num_rows:
        return table
    indexed = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
    firsts = indexed.group_by("uuid", use_threads=False).aggregate([("_row", "min")]).column("_row_min")
    return table.take(pc.take(firsts, pc.sort_indices(firsts)))
