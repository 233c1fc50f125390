"""A local append-only log: an event is written here before its capture request is acknowledged.

Records are ``<length:u32><crc32:u32><payload>`` in numbered segment files. A position is
``segment << 40 | byte offset``. The checkpoint file holds the position up to which records are
safely in the event store (``committed``) and, while a block is being stored, where that block ends
(``pending``) so that a crash mid-insert replays exactly the same block. A write() that returned
survives the process being killed (the data is in the kernel's page cache); set ``fsync`` to also
survive a power cut, at the cost of a disk flush per request.
"""

from __future__ import annotations

import os
import secrets
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

HEADER = struct.Struct("<II")
SEGMENT_SHIFT = 40
OFFSET_MASK = (1 << SEGMENT_SHIFT) - 1
MAX_RECORD = 512 * 1024 * 1024


def position(segment: int, offset: int) -> int:
    return segment << SEGMENT_SHIFT | offset


def split(pos: int) -> tuple[int, int]:
    return pos >> SEGMENT_SHIFT, pos & OFFSET_MASK


@dataclass
class Checkpoint:
    committed: int
    pending: int | None = None


class WriteAheadLog:
    def __init__(
        self, directory: Path, *, segment_bytes: int = 64 * 1024 * 1024, fsync: bool = False
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.appended = threading.Condition(self._lock)
        self._checkpoint_path = directory / "checkpoint.json"
        self.id = self._identity(directory / "id")
        self.checkpoint = self._read_checkpoint()
        segments = self.segments()
        self._segment = segments[-1] if segments else max(1, split(self.checkpoint.committed)[0])
        self._file = open(self._path(self._segment), "ab")  # noqa: SIM115 - held open for appends
        self._end = position(self._segment, self._recover(self._segment))

    @staticmethod
    def _identity(path: Path) -> str:
        """A random name for this log, so its block tokens never collide with another log's."""
        if path.exists():
            return path.read_text().strip()
        identity = secrets.token_hex(8)
        path.write_text(identity)
        return identity

    # --- files -------------------------------------------------------------------------------------
    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:010d}.wal"

    def segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob("*.wal") if p.stem.isdigit())

    def _recover(self, segment: int) -> int:
        """The end of the last whole record; a torn tail (never acknowledged) is cut off."""
        path = self._path(segment)
        valid = 0
        with open(path, "rb") as handle:
            for _, end, _payload in self._records(handle, 0):
                valid = end
        if path.stat().st_size != valid:
            os.truncate(path, valid)
        return valid

    @staticmethod
    def _records(handle: object, offset: int, limit: int | None = None) -> Iterator[tuple[int, int, bytes]]:
        read = handle.read  # type: ignore[attr-defined]
        handle.seek(offset)  # type: ignore[attr-defined]
        while limit is None or offset < limit:
            header = read(HEADER.size)
            if len(header) < HEADER.size:
                return
            length, crc = HEADER.unpack(header)
            if length > MAX_RECORD:
                return
            payload = read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return
            end = offset + HEADER.size + length
            yield offset, end, payload
            offset = end

    def _read_checkpoint(self) -> Checkpoint:
        try:
            data = orjson.loads(self._checkpoint_path.read_bytes())
            return Checkpoint(int(data["committed"]), data.get("pending"))
        except (FileNotFoundError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            first = self.segments()
            return Checkpoint(position(first[0] if first else 1, 0))

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        tmp = self._checkpoint_path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"committed": checkpoint.committed, "pending": checkpoint.pending}))
        os.replace(tmp, self._checkpoint_path)
        self.checkpoint = checkpoint
        committed_segment = split(checkpoint.committed)[0]
        for segment in self.segments():
            if segment < committed_segment:
                self._path(segment).unlink(missing_ok=True)

    # --- appending ---------------------------------------------------------------------------------
    @property
    def end(self) -> int:
        return self._end

    def append(self, payload: bytes) -> int:
        """Write one record; when this returns, the record survives a crash of this process."""
        record = HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            if split(self._end)[1] >= self.segment_bytes:
                self._file.close()
                self._segment += 1
                self._file = open(self._path(self._segment), "ab")  # noqa: SIM115
                self._end = position(self._segment, 0)
            self._file.write(record)
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
            self._end += len(record)
            self.appended.notify_all()
            return self._end

    def wait(self, after: int, timeout: float) -> bool:
        """Wait until records exist past ``after``; True if there are some."""
        with self._lock:
            if self._end > after:
                return True
            self.appended.wait(timeout)
            return self._end > after

    # --- reading -----------------------------------------------------------------------------------
    def read(
        self, start: int, *, stop: int | None = None, max_bytes: int = 32 * 1024 * 1024
    ) -> Iterator[tuple[int, bytes]]:
        """Records from ``start`` (up to ``stop`` or the current end), as (position after, payload)."""
        limit = self._end if stop is None else stop
        segment, offset = split(start)
        budget = max_bytes
        while position(segment, offset) < limit and budget > 0:
            path = self._path(segment)
            if not path.exists():
                return
            end_in_segment = split(limit)[1] if split(limit)[0] == segment else None
            with open(path, "rb") as handle:
                for _, end, payload in self._records(handle, offset, end_in_segment):
                    budget -= len(payload)
                    yield position(segment, end), payload
                    offset = end
                    if budget <= 0:
                        return
            if split(limit)[0] == segment:
                return
            segment, offset = segment + 1, 0

    def close(self) -> None:
        with self._lock:
            self._file.close()
