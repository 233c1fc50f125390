"""ClickHouse DDL of the event store: the contract between ingestion and the query runners.

``events`` is modelled on PostHog's: one row per event, JSON ``properties`` plus materialised
columns for hot properties, ordered for per-project time-range scans. ``person_id`` is resolved
at ingestion (PostHog's "persons on events"); ``person_overrides`` remaps ids after merges, and
``persons`` holds person properties (latest ``version`` wins).

Query runners resolve an event's person as: the override for ``person_id`` if
``person_overrides`` has one, else ``person_id``.

``event_uuids`` is ingestion's own index of every stored ``(team_id, uuid)``: a retried batch is
recognised there and not stored twice. ``events`` keeps a window of insert tokens
(``non_replicated_deduplication_window``) so a block replayed from the write-ahead log after a crash
is not stored twice either.
"""

from __future__ import annotations

from typing import Any, Protocol

MATERIALIZED_PROPERTIES = {
    "$browser": "mat_browser",
    "$os": "mat_os",
    "$current_url": "mat_current_url",
    "$pathname": "mat_pathname",
    "$device_type": "mat_device_type",
    "$geoip_country_code": "mat_country_code",
    "$session_id": "mat_session_id",
    "$referring_domain": "mat_referring_domain",
    "utm_source": "mat_utm_source",
}


def _property(key: str) -> str:
    """An event property as PostHog reads it: the string's text, any other JSON value's text, NULL for a
    missing key or a JSON null. Query runners use a materialised column exactly as this expression."""
    return f"JSONExtract(properties, '{key}', 'Nullable(String)')"


# Set on a materialised column once its values follow ``_property`` (new tables are born with it).
MATERIALIZED_VERSION = "insightd:property-view:2"

_MATERIALIZED_COLUMNS = ",\n".join(
    f"    {column} Nullable(String) MATERIALIZED {_property(key)} COMMENT '{MATERIALIZED_VERSION}'"
    for key, column in MATERIALIZED_PROPERTIES.items()
)

_PROPERTIES_TUPLE = "Tuple(" + ", ".join(f"`{key}` Nullable(String)" for key in MATERIALIZED_PROPERTIES) + ")"


def materialized_on_insert() -> dict[str, str]:
    """The materialised columns as expressions that ingestion inserts explicitly (with
    ``insert_allow_materialized_columns``): one JSON parse of ``properties`` for all of them instead of
    one per column. Each equals its column's DDL expression (a test checks it); ClickHouse computes the
    shared ``JSONExtract`` once."""
    return {
        column: f"tupleElement(JSONExtract(properties, '{_PROPERTIES_TUPLE}'), {index})"
        for index, column in enumerate(MATERIALIZED_PROPERTIES.values(), start=1)
    }


EVENTS_DDL = f"""
CREATE TABLE IF NOT EXISTS events (
    uuid UUID,
    team_id UInt64,
    event String,
    distinct_id String,
    person_id UUID,
    properties String,
    person_properties String DEFAULT '',
    timestamp DateTime64(6, 'UTC'),
    created_at DateTime64(6, 'UTC') DEFAULT now64(6),
    elements_chain String DEFAULT '',
    inserted_at DateTime64(6, 'UTC') DEFAULT now64(6),
{_MATERIALIZED_COLUMNS}
) ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (team_id, toDate(timestamp), event, cityHash64(distinct_id), uuid)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000
"""

PERSONS_DDL = """
CREATE TABLE IF NOT EXISTS persons (
    id UUID,
    team_id UInt64,
    properties String,
    created_at DateTime64(6, 'UTC'),
    is_deleted UInt8 DEFAULT 0,
    version UInt64,
    is_identified UInt8 DEFAULT 0
) ENGINE = ReplacingMergeTree(version)
ORDER BY (team_id, id)
"""

PERSON_DISTINCT_IDS_DDL = """
CREATE TABLE IF NOT EXISTS person_distinct_ids (
    team_id UInt64,
    distinct_id String,
    person_id UUID,
    is_deleted UInt8 DEFAULT 0,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (team_id, distinct_id)
"""

PERSON_OVERRIDES_DDL = """
CREATE TABLE IF NOT EXISTS person_overrides (
    team_id UInt64,
    old_person_id UUID,
    override_person_id UUID,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (team_id, old_person_id)
"""

EVENT_UUIDS_DDL = """
CREATE TABLE IF NOT EXISTS event_uuids (
    team_id UInt64,
    uuid UUID
) ENGINE = ReplacingMergeTree
ORDER BY (team_id, uuid)
"""

# Bring data directories created by earlier versions up to this DDL (each statement is idempotent).
UPGRADES = (
    "ALTER TABLE persons ADD COLUMN IF NOT EXISTS is_identified UInt8 DEFAULT 0",
    "ALTER TABLE events MODIFY SETTING non_replicated_deduplication_window = 1000",
)

ALL_DDL = (
    EVENTS_DDL,
    PERSONS_DDL,
    PERSON_DISTINCT_IDS_DDL,
    PERSON_OVERRIDES_DDL,
    EVENT_UUIDS_DDL,
    *UPGRADES,
)


class _Executes(Protocol):
    def execute(self, sql: str) -> Any: ...


def create(engine: _Executes) -> None:
    """Create the tables, or bring an existing data directory up to this DDL."""
    for ddl in ALL_DDL:
        engine.execute(ddl)
    _upgrade_materialized(engine)


def _upgrade_materialized(engine: _Executes) -> None:
    """Materialised columns of data directories from before they were Nullable (they held
    ``JSONExtractString``: '' for numbers, null and missing): redefine them, recompute every stored
    value, then mark them with ``MATERIALIZED_VERSION``. The mark comes last, so a process stopped
    half-way redoes the step on its next start."""
    rows = engine.execute(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'events' "
        f"AND startsWith(name, 'mat_') AND comment != '{MATERIALIZED_VERSION}'"
    ).rows
    stale = {str(row[0]) for row in rows}
    for key, column in MATERIALIZED_PROPERTIES.items():
        if column in stale:
            definition = f"Nullable(String) MATERIALIZED {_property(key)}"
            engine.execute(f"ALTER TABLE events MODIFY COLUMN {column} {definition}")
            engine.execute(f"ALTER TABLE events MATERIALIZE COLUMN {column} SETTINGS mutations_sync = 2")
            engine.execute(f"ALTER TABLE events COMMENT COLUMN {column} '{MATERIALIZED_VERSION}'")
