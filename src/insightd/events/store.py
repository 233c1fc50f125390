"""The event store of a running insightd: capture appends to the write-ahead log, a background
thread moves the log into the engine in bounded blocks, the loader writes tables directly.

Only the process that owns the engine's data directory has an ``EventStore``; other processes
(``insightd load``/``demo`` while a server runs) hand their work to it through the admin API.
"""

from __future__ import annotations

import logging
import queue
import secrets
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from insightd.engine.base import Engine
from insightd.events.wal import Checkpoint, WriteAheadLog
from insightd.events.writer import EventWriter, Prepared, WriteResult

logger = logging.getLogger("insightd.events")

MAX_BLOCK_EVENTS = 50_000
MAX_BLOCK_BYTES = 32 * 1024 * 1024
ADMIN_TOKEN_FILE = "admin.token"
LOAD_IDLE_SECONDS = 120.0


def admin_token(data_dir: Path, *, create: bool = False) -> str | None:
    """The secret that local tools present to this data directory's server (file mode 0600)."""
    path = data_dir / ADMIN_TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    if not create:
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    token = "insightd_admin_" + secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token)
    return token


class EventStore:
    def __init__(self, data_dir: Path, engine: Callable[[], Engine], *, fsync: bool = False) -> None:
        self.data_dir = data_dir
        self._engine = engine
        self._fsync = fsync
        self.wal: WriteAheadLog | None = None
        self.writer: EventWriter | None = None
        self._write_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._flushed = threading.Condition()
        self._start_lock = threading.Lock()
        self.admin_token = ""
        self.last_error: str | None = None
        # The pipeline of the remote load (``insightd load`` handing chunks to this server) in progress.
        self._load: tuple[str, BulkWrites] | None = None
        self._ended_loads: OrderedDict[str, str | None] = OrderedDict()  # load id → its failure
        self._load_lock = threading.Lock()

    # --- life cycle ----------------------------------------------------------------------------------
    def start(self) -> EventStore:
        """Open the log and the engine, replay what the log holds, start the background flusher."""
        with self._start_lock:
            if self._thread is not None:
                return self
            self.admin_token = admin_token(self.data_dir, create=True) or ""
            self.wal = WriteAheadLog(self.data_dir / "wal", fsync=self._fsync)
            self.writer = EventWriter.open(self._engine())
            while self._flush_block():  # replay before accepting reads of the store
                pass
            self._thread = threading.Thread(target=self._run, name="insightd-event-flusher", daemon=True)
            self._thread.start()
            return self

    @property
    def started(self) -> bool:
        return self._thread is not None

    def close(self) -> None:
        with self._load_lock:
            if self._load is not None:
                self._end_load()
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join(30)
        self._thread = None
        if self.wal is not None:
            self.wal.close()
            self.wal = None

    # --- capture -------------------------------------------------------------------------------------
    def append(
        self, team_id: int, events: list[dict[str, Any]], now: int, *, historical: bool = False
    ) -> None:
        """Durably accept events: when this returns they survive a crash of the process."""
        wal = self.wal if self.wal is not None else self.start().wal
        assert wal is not None
        wal.append(orjson.dumps({"team_id": team_id, "now": now, "historical": historical, "events": events}))

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything acknowledged so far is in the engine."""
        if self.wal is None:
            return True
        target = self.wal.end
        deadline = time.monotonic() + timeout
        with self._flushed:
            while self.wal is not None and self.wal.checkpoint.committed < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._flushed.wait(min(remaining, 0.1))
        return True

    def _run(self) -> None:
        assert self.wal is not None
        backoff = 0.05
        while True:
            stopping = self._stopping.is_set()
            try:
                if self._flush_block():
                    backoff = 0.05
                    continue
            except Exception as exc:  # keep the log; retry the same block (same dedup token)
                self.last_error = str(exc)
                logger.exception("storing captured events failed; retrying")
                if stopping:
                    return
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if stopping:
                return
            self.wal.wait(self.wal.checkpoint.committed, 0.2)

    def _flush_block(self) -> bool:
        """Move one block from the log into the engine; False when the log had nothing new."""
        wal, writer = self.wal, self.writer
        assert wal is not None and writer is not None
        checkpoint = wal.checkpoint
        start = checkpoint.committed
        stop = checkpoint.pending
        if stop is None and wal.end <= start:
            return False
        records: list[dict[str, Any]] = []
        end = start
        count = 0
        for position_after, payload in wal.read(start, stop=stop, max_bytes=MAX_BLOCK_BYTES):
            record = orjson.loads(payload)
            records.append(record)
            end = position_after
            count += len(record["events"])
            if stop is None and count >= MAX_BLOCK_EVENTS:
                break
        if end == start:
            return False
        if stop is None:
            wal.save_checkpoint(Checkpoint(start, pending=end))
        with self._write_lock:
            writer.write_records(records, token=f"wal:{wal.id}:{start}:{end}")
        wal.save_checkpoint(Checkpoint(end))
        self.last_error = None
        with self._flushed:
            self._flushed.notify_all()
        return True

    # --- bulk ----------------------------------------------------------------------------------------
    def write_table(self, team_id: int, table: Any) -> WriteResult:
        """Store a normalised pyarrow table for one project (the loader's and the demo's path)."""
        if self.writer is None:
            self.start()
        assert self.writer is not None
        with self._write_lock:
            return self.writer.write_table(team_id, table)

    def bulk_writes(self) -> BulkWrites:
        """A pipelined writer for a sequence of tables (``BulkWrites``); ``finish`` it."""
        if self.writer is None:
            self.start()
        assert self.writer is not None
        return BulkWrites(self.writer, self._write_lock)

    def load_session(self, load_id: str) -> BulkWrites | None:
        """The pipeline of remote load ``load_id`` (made on its first chunk), or None while another load
        holds the pipeline (that load's chunks then go one at a time, still correct). A load whose client
        went quiet for ``LOAD_IDLE_SECONDS`` is finished to make room."""
        with self._load_lock:
            if self._load is not None and self._load[0] != load_id:
                if self._load[1].idle_seconds() < LOAD_IDLE_SECONDS:
                    return None
                self._end_load()
            if self._load is None:
                self._load = (load_id, self.bulk_writes())
            self._load[1].touch()
            return self._load[1]

    def finish_load(self, load_id: str) -> None:
        """Wait until remote load ``load_id`` is stored; raise its failure. Unknown ids: nothing to do."""
        with self._load_lock:
            if self._load is not None and self._load[0] == load_id:
                self._end_load()
            error = self._ended_loads.get(load_id)
        if error is not None:
            raise RuntimeError(error)

    def _end_load(self) -> None:
        """Finish the current remote load, remembering how it ended for its client's finish call."""
        assert self._load is not None
        load_id, load = self._load
        self._load = None
        try:
            load.finish()
            self._ended_loads[load_id] = None
        except RuntimeError as exc:
            self._ended_loads[load_id] = str(exc)
        while len(self._ended_loads) > 64:
            self._ended_loads.popitem(last=False)

    def stats(self, team_id: int, uuids: list[str] | None = None) -> dict[str, int]:
        engine = self._engine()
        row = engine.execute(
            "SELECT count(), uniqExact(uuid), uniqExact(person_id) FROM events WHERE team_id = {team:UInt64}",
            {"team": team_id},
        ).rows[0]
        stats = {"events": int(row[1]), "rows": int(row[0]), "persons_on_events": int(row[2])}
        persons = engine.execute(
            "SELECT count() FROM persons FINAL WHERE team_id = {team:UInt64} AND is_deleted = 0",
            {"team": team_id},
        ).rows[0][0]
        stats["persons"] = int(persons)
        if uuids is not None and self.writer is not None:
            stats["found"] = len(self.writer.existing([team_id] * len(uuids), uuids))
        return stats


class BulkWrites:
    """Bulk tables written as a pipeline: table N+1 is deduplicated and its persons resolved (Python,
    in the caller's thread) while table N is inserted (chDB, which releases the GIL) by a thread.

    Results are counted when a table is prepared; ``finish`` waits for the inserts and raises the
    first failure (every later ``write`` raises it too, and nothing after a failure is inserted).
    Anything that reads the stored uuids meanwhile (the next table's dedup probe, the capture
    flusher) first waits for the pending inserts, so a uuid is never stored twice.

    While it runs, the interpreter switches threads every 0.5 ms instead of 5 ms: the insert thread
    takes the GIL briefly and often (chDB reads the Arrow table through Python), and with the default
    interval it queues behind the preparing thread each time (1M Parquet rows: 263–438k rows/s with
    the default, 433–477k with 0.5 ms).
    """

    SWITCH_INTERVAL = 0.0005

    def __init__(self, writer: EventWriter, lock: threading.Lock) -> None:
        self._writer = writer
        self._lock = lock
        self._jobs: queue.Queue[Prepared | None] = queue.Queue(maxsize=1)
        self._idle = threading.Condition()
        self._pending = 0
        self._error: BaseException | None = None
        self._finished = False
        self._last_write = time.monotonic()
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, self.SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._run, name="insightd-bulk-insert", daemon=True)
        self._thread.start()
        writer.settle = self.wait_idle

    def idle_seconds(self) -> float:
        """Seconds since the last ``write`` or ``touch`` (0 while one is pending)."""
        return 0.0 if self._pending else time.monotonic() - self._last_write

    def touch(self) -> None:
        """A write is on its way (the load is not idle)."""
        self._last_write = time.monotonic()

    def write(self, team_id: int, table: Any) -> WriteResult:
        with self._lock:  # tables are queued in the order they are prepared
            if self._finished:
                raise RuntimeError("storing the events failed: this load was already finished")
            self._raise()
            self.touch()
            prepared, result = self._writer.prepare_table(team_id, table)
            with self._idle:
                self._pending += 1
            self._jobs.put(prepared)  # never waits long: the insert thread needs no lock
        return result

    def wait_idle(self) -> None:
        """Until every prepared table has been inserted (or has failed)."""
        with self._idle:
            while self._pending:
                self._idle.wait()

    def finish(self) -> None:
        with self._lock:
            first, self._finished = not self._finished, True
            if first:
                self._jobs.put(None)
        if first:
            self._thread.join()
            self._writer.settle = _nothing
            sys.setswitchinterval(self._switch_interval)
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"storing the events failed: {self._error}") from self._error

    def _run(self) -> None:
        while (prepared := self._jobs.get()) is not None:
            try:
                if self._error is None:
                    self._writer.commit(prepared)
            except BaseException as exc:  # reported by finish() and the next write()
                # The project's remembered uuids may now include some that were not stored: harmless,
                # a remembered uuid is only a candidate, confirmed against the engine after a settle
                # (so no store lock is taken here: a writer holding it may be waiting for this thread).
                # The person rows of this table (and of the tables skipped after it) are not stored:
                # the writer reloads its persons from the engine before its next write.
                self._error = exc
                self._writer.persons_unsaved()
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()


def _nothing() -> None:
    pass
