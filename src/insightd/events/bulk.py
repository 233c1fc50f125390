"""Bulk writes from the command line, whether or not a server owns the data directory.

chDB lets one process open a data directory. A running ``insightd serve`` announces itself in
``<data-dir>/server.json``; ``insightd load``/``demo`` then send their tables to it over the local
admin API (:class:`RemoteSink`); otherwise they open the event store themselves (:class:`LocalSink`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson

from insightd.events.loader import Chunk, detect_format, read_chunks, to_ipc, total_size
from insightd.events.store import BulkWrites, EventStore, admin_token
from insightd.events.writer import WriteResult

SERVER_FILE = "server.json"
SEND_ROWS = 250_000  # one loader chunk per request: fewer, larger insert blocks


class Sink(Protocol):
    where: str

    def write(self, team_id: int, table: Any) -> WriteResult: ...

    def finish(self) -> None:
        """Wait until everything written is stored; raise if some of it could not be."""


class LocalSink:
    """Writes into the event store of this process, pipelined (``EventStore.bulk_writes``)."""

    where = "the data directory"

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._bulk: BulkWrites | None = None

    def write(self, team_id: int, table: Any) -> WriteResult:
        if self._bulk is None:
            self._bulk = self.store.bulk_writes()
        return self._bulk.write(team_id, table)

    def finish(self) -> None:
        bulk, self._bulk = self._bulk, None
        if bulk is not None:
            bulk.finish()


class RemoteSink:
    """Hands tables to the server that owns the data directory (Arrow IPC over loopback HTTP)."""

    def __init__(self, url: str, token: str) -> None:
        self.where = f"the running server at {url}"
        self.client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600)
        self.load_id = uuid.uuid4().hex  # the server pipelines this load's tables (see ``finish``)

    def write(self, team_id: int, table: Any) -> WriteResult:
        result = WriteResult()
        for start in range(0, max(table.num_rows, 1), SEND_ROWS):
            part = table.slice(start, SEND_ROWS)
            response = self.client.post(
                "/_admin/events/arrow",
                params={"project_id": team_id, "load": self.load_id},
                content=to_ipc(part),
            )
            if response.status_code != 200:
                raise RuntimeError(f"the server refused the data: {response.text}")
            body = response.json()
            result.add(WriteResult(stored=int(body["stored"]), duplicates=int(body["duplicates"])))
        return result

    def finish(self) -> None:
        """Wait until the server has stored every table of this load."""
        response = self.client.post("/_admin/events/arrow/finish", params={"load": self.load_id})
        if response.status_code != 200:
            raise RuntimeError(f"the server could not store all the data: {response.text}")

    def close(self) -> None:
        self.client.close()


def announce(data_dir: Path, url: str) -> None:
    """Tell local tools that this process serves ``data_dir`` at ``url``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / SERVER_FILE).write_bytes(orjson.dumps({"url": url, "pid": os.getpid()}))


def withdraw(data_dir: Path) -> None:
    path = data_dir / SERVER_FILE
    try:
        if orjson.loads(path.read_bytes()).get("pid") == os.getpid():
            path.unlink()
    except (FileNotFoundError, orjson.JSONDecodeError):
        pass


def find_server(data_dir: Path, *, wait: float = 0.0) -> RemoteSink | None:
    """The running server that owns ``data_dir``, if one answers (waiting up to ``wait`` seconds)."""
    try:
        info = orjson.loads((data_dir / SERVER_FILE).read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    token = admin_token(data_dir)
    if not token or not isinstance(info.get("url"), str):
        return None
    deadline = time.monotonic() + wait
    while True:
        try:
            response = httpx.get(
                f"{info['url']}/_admin/ping", headers={"Authorization": f"Bearer {token}"}, timeout=5
            )
            same_dir = response.status_code == 200 and response.json().get("data_dir") == str(
                data_dir.resolve()
            )
            return RemoteSink(info["url"], token) if same_dir else None
        except httpx.TransportError:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.2)


def prefetched(chunks: Iterator[Chunk], depth: int = 1) -> Iterator[Chunk]:
    """``chunks``, read ahead by a thread: the file is decoded while the previous chunk is stored."""
    ahead: queue.Queue[Chunk | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        ahead.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            ahead.put(exc)

    reader = threading.Thread(target=produce, name="insightd-load-reader", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(5)


@dataclass
class LoadSummary:
    rows_read: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0


def load_file(path: Path, fmt: str | None, team_id: int, sink: Sink, *, progress: Any = None) -> LoadSummary:
    """Read ``path`` chunk by chunk into ``sink``; ``progress`` is a rich Progress (optional)."""
    fmt = fmt or detect_format(path)
    summary = LoadSummary()
    started = time.perf_counter()
    task = progress.add_task(f"Loading {path.name}", total=total_size(path, fmt)) if progress else None
    try:
        for chunk in prefetched(read_chunks(path, fmt)):
            summary.rows_read += chunk.table.num_rows + sum(chunk.skipped.values())
            summary.skipped.update(chunk.skipped)
            result = sink.write(team_id, chunk.table)
            summary.stored += result.stored
            summary.duplicates += result.duplicates
            if progress is not None:
                progress.update(task, completed=chunk.progress)
    except BaseException:
        with contextlib.suppress(Exception):  # the first error is the one to report
            sink.finish()
        raise
    sink.finish()
    summary.seconds = time.perf_counter() - started
    return summary
