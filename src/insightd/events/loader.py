"""Bulk loading: NDJSON, CSV and Parquet files with PostHog's export columns, into normalised
pyarrow tables that :class:`~insightd.events.writer.EventWriter` stores.

Columns read (others are ignored): ``uuid``, ``event``, ``distinct_id``, ``properties`` (JSON text
or object), ``timestamp``, ``created_at``, ``elements_chain``/``elements``, ``person_id``,
``person_properties``, ``set``/``people_set`` and ``set_once``/``people_set_once``. Rows that cannot be
stored are skipped and counted by reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from insightd.events.capture import uuid7
from insightd.events.timestamps import now_us, parse_timestamp

FORMATS = ("ndjson", "csv", "parquet")
BATCH_ROWS = 250_000
_UUID = r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
_SUFFIXES = {".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson", ".csv": "csv", ".parquet": "parquet"}
_ALIASES = {"elements": "elements_chain", "people_set": "set", "people_set_once": "set_once"}


@dataclass
class Chunk:
    """A normalised table, how far through the file it reaches, and what was skipped."""

    table: Any
    progress: int
    skipped: Counter[str] = field(default_factory=Counter)


def detect_format(path: Path) -> str:
    for suffix in reversed(path.suffixes):
        if suffix.lower() in _SUFFIXES:
            return _SUFFIXES[suffix.lower()]
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head == b"PAR1":
        return "parquet"
    if head.lstrip()[:1] in (b"{", b"["):
        return "ndjson"
    raise ValueError(f"cannot tell the format of {path.name}: use --format ndjson, csv or parquet")


def total_size(path: Path, fmt: str) -> int:
    """The unit of progress: rows for Parquet, bytes otherwise."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    return path.stat().st_size


def read_chunks(path: Path, fmt: str, *, batch_rows: int = BATCH_ROWS) -> Iterator[Chunk]:
    if fmt == "parquet":
        yield from _parquet(path, batch_rows)
    elif fmt == "csv":
        yield from _csv(path, batch_rows)
    elif fmt == "ndjson":
        yield from _ndjson(path, batch_rows)
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _parquet(path: Path, batch_rows: int) -> Iterator[Chunk]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{path.name} is not a readable Parquet file: {exc}") from exc
    wanted = [n for n in handle.schema_arrow.names if n in _COLUMNS or n in _ALIASES]
    done = 0
    for batch in handle.iter_batches(batch_size=batch_rows, columns=wanted):
        done += batch.num_rows
        table, skipped = normalise(pa.Table.from_batches([batch]))
        yield Chunk(table, done, skipped)


def _csv(path: Path, batch_rows: int) -> Iterator[Chunk]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    with open(path, "rb") as handle:
        header = handle.readline().decode("utf-8", "replace").strip().split(",")
    names = [h.strip().strip('"') for h in header]
    options = pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False)
    try:
        reader = pcsv.open_csv(
            path, read_options=pcsv.ReadOptions(block_size=32 << 20), convert_options=options
        )
    except pa.ArrowInvalid as exc:
        raise ValueError(f"{path.name} is not a readable CSV file: {exc}") from exc
    with open(path, "rb") as sizer:
        size = sizer.seek(0, 2)
    read = 0
    for batch in reader:
        read += batch.nbytes
        table, skipped = normalise(pa.Table.from_batches([batch]))
        yield Chunk(table, min(read, size), skipped)
    del batch_rows


def _ndjson(path: Path, batch_rows: int) -> Iterator[Chunk]:
    import pyarrow as pa

    rows: list[dict[str, Any]] = []
    bad = 0
    done = 0
    with open(path, "rb") as handle:
        for line in handle:
            done += len(line)
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                bad += 1
                continue
            if not isinstance(value, dict):
                bad += 1
                continue
            rows.append(value)
            if len(rows) >= batch_rows:
                yield _ndjson_chunk(pa, rows, done, bad)
                rows, bad = [], 0
    if rows or bad:
        yield _ndjson_chunk(pa, rows, done, bad)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _ndjson_chunk(pa: Any, rows: list[dict[str, Any]], done: int, bad: int) -> Chunk:
    columns: dict[str, list[str | None]] = {}
    for name in _COLUMNS:
        values = [_text(r.get(name)) for r in rows]
        if any(v is not None for v in values):
            columns[name] = values
    for alias, name in _ALIASES.items():
        if name not in columns and any(alias in r for r in rows):
            columns[name] = [_text(r.get(alias)) for r in rows]
    table = pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}) if rows else pa.table({})
    normalised, skipped = normalise(table, num_rows=len(rows))
    if bad:
        skipped["line is not a JSON object"] += bad
    return Chunk(normalised, done, skipped)


_COLUMNS = (
    "uuid", "event", "distinct_id", "properties", "timestamp", "created_at", "elements_chain",
    "person_id", "person_properties", "set", "set_once",
)  # fmt: skip


def normalised_schema() -> Any:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    return pa.schema(
        [
            ("uuid", pa.string()),
            ("event", pa.string()),
            ("distinct_id", pa.string()),
            ("properties", pa.string()),
            ("timestamp", ts),
            ("created_at", ts),
            ("elements_chain", pa.string()),
            ("person_id", pa.string()),
            ("person_properties", pa.string()),
        ]
    )


def _as_string(pa: Any, pc: Any, column: Any) -> Any:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return pc.cast(column, pa.string())
    if pa.types.is_struct(column.type) or pa.types.is_map(column.type) or pa.types.is_list(column.type):
        return pa.array([_text(v) for v in column.to_pylist()], pa.string())
    return pc.cast(column, pa.string())


def _timestamps(pa: Any, pc: Any, column: Any) -> Any:
    ts = pa.timestamp("us", tz="UTC")
    if pa.types.is_timestamp(column.type):
        return pc.cast(column if column.type.tz else pc.assume_timezone(column, "UTC"), ts)
    if pa.types.is_integer(column.type):  # epoch: seconds, ms or µs by magnitude
        values = [None if v is None else v * 1_000_000 if v < 10**11 else v * 1000 if v < 10**14 else v
                  for v in column.to_pylist()]  # fmt: skip
        return pa.array(values, ts)
    text = _as_string(pa, pc, column)
    try:
        return pc.cast(text, ts)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else parse_timestamp(v) for v in text.to_pylist()], ts)


def normalise(raw: Any, *, num_rows: int | None = None) -> tuple[Any, Counter[str]]:
    """Export columns → the normalised schema; rows that cannot be stored are dropped and counted."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for alias, name in _ALIASES.items():
        if alias in raw.column_names and name not in raw.column_names:
            raw = raw.rename_columns([_ALIASES.get(n, n) if n == alias else n for n in raw.column_names])
    rows = raw.num_rows if raw.num_columns else (num_rows or 0)
    skipped: Counter[str] = Counter()

    def column(name: str) -> Any:
        if name in raw.column_names:
            return raw.column(name).combine_chunks()
        return pa.nulls(rows, pa.string())

    event = _as_string(pa, pc, column("event"))
    distinct_id = _as_string(pa, pc, column("distinct_id"))
    properties = _as_string(pa, pc, column("properties"))
    properties = pc.if_else(pc.is_null(properties), "{}", properties)
    uuid = _as_string(pa, pc, column("uuid"))
    missing_uuid = pc.or_(pc.is_null(uuid), pc.equal(uuid, ""))
    if pc.any(missing_uuid).as_py():
        fresh = pa.array([uuid7() if m else None for m in missing_uuid.to_pylist()], pa.string())
        uuid = pc.if_else(missing_uuid, fresh, uuid)
    timestamp = (
        _timestamps(pa, pc, column("timestamp"))
        if "timestamp" in raw.column_names
        else pa.nulls(rows, pa.timestamp("us", tz="UTC"))
    )
    now = pa.scalar(now_us(), pa.timestamp("us", tz="UTC"))
    created_at = _timestamps(pa, pc, column("created_at")) if "created_at" in raw.column_names else None
    created_at = (
        pc.if_else(pc.is_null(created_at), now, created_at)
        if created_at is not None
        else pa.repeat(now, rows)
    )
    elements = _as_string(pa, pc, column("elements_chain"))
    elements = pc.if_else(pc.is_null(elements), "", elements)
    person_id = _as_string(pa, pc, column("person_id"))
    person_id = pc.if_else(
        pc.match_substring_regex(person_id, _UUID), person_id, pa.scalar(None, pa.string())
    )
    person_properties = _as_string(pa, pc, column("person_properties"))
    checks = (
        ("missing event name", pc.or_(pc.is_null(event), pc.equal(event, ""))),
        ("missing distinct_id", pc.or_(pc.is_null(distinct_id), pc.equal(distinct_id, ""))),
        ("missing or unreadable timestamp", pc.is_null(timestamp)),
        ("invalid uuid", pc.invert(pc.match_substring_regex(uuid, _UUID))),
        (
            "properties is not a JSON object",
            pc.invert(pc.starts_with(pc.utf8_ltrim_whitespace(properties), "{")),
        ),
    )
    keep = pa.array([True] * rows, pa.bool_())
    for reason, bad in checks:
        bad = pc.and_(keep, pc.fill_null(bad, True))
        count = pc.sum(bad).as_py() or 0
        if count:
            skipped[reason] += count
            keep = pc.and_(keep, pc.invert(bad))
    properties = _merge_set_columns(pa, pc, properties, column("set"), column("set_once"))
    table = pa.table(
        [uuid, event, distinct_id, properties, timestamp, created_at, elements, person_id, person_properties],
        schema=normalised_schema(),
    )
    if skipped:
        table = table.filter(keep)
    return table, skipped


def _merge_set_columns(pa: Any, pc: Any, properties: Any, set_: Any, set_once: Any) -> Any:
    """Export rows keep ``$set``/``$set_once`` in separate columns; fold them into the properties."""
    set_text, once_text = _as_string(pa, pc, set_), _as_string(pa, pc, set_once)
    empty = pa.array(["", "{}"])
    has = pc.or_(  # a null is no $set (is_in says False for it, so test nulls first)
        pc.and_(pc.is_valid(set_text), pc.invert(pc.is_in(set_text, value_set=empty))),
        pc.and_(pc.is_valid(once_text), pc.invert(pc.is_in(once_text, value_set=empty))),
    )
    indices = pc.indices_nonzero(has).to_pylist()
    if not indices:
        return properties
    values = properties.to_pylist()
    for i in indices:
        try:
            merged = orjson.loads(values[i] or "{}")
            for key, text in (("$set", set_text[i].as_py()), ("$set_once", once_text[i].as_py())):
                extra = orjson.loads(text) if text else None
                if isinstance(extra, dict) and extra and isinstance(merged, dict):
                    merged[key] = {**merged.get(key, {}), **extra}
            values[i] = orjson.dumps(merged).decode()
        except orjson.JSONDecodeError:
            continue
    return pa.array(values, pa.string())


def to_ipc(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def read_ipc(data: bytes) -> Any:
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"the body is not an Arrow IPC stream: {exc}") from exc
    expected = normalised_schema()
    if table.schema.names != expected.names:
        raise ValueError(f"expected columns {', '.join(expected.names)}")
    return table.cast(expected)
