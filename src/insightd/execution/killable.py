"""The engine as one flight sees it: killing the flight stops its running statement and refuses the
next one (a runner may issue several statements), so a cancel between statements is not lost.

Every statement of a flight runs under one engine query id derived from the flight id (a hash:
client ids may hold ``_``, a wildcard in the engine's ``LIKE`` lookup). A KILL that lands before
the statement is registered in the engine finds nothing; it is retried until the statement ends.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from insightd.engine.base import Engine, QueryCancelled, QueryResult

RETRY_SECONDS = 0.01
RETRY_FOR_SECONDS = 10.0


def engine_query_id(flight_id: str) -> str:
    return "insightd-" + hashlib.sha256(flight_id.encode()).hexdigest()[:32]


class KillableEngine:
    def __init__(self, engine: Engine, query_id: str) -> None:
        self._engine, self.query_id = engine, query_id
        self.name = engine.name
        self._lock = threading.Lock()
        self._running = 0
        self._killed = threading.Event()

    @property
    def killed(self) -> bool:
        return self._killed.is_set()

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        query_id: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> QueryResult:
        with self._lock:
            if self._killed.is_set():
                raise QueryCancelled("The query was cancelled.", 394)
            self._running += 1
        try:
            return self._engine.execute(sql, params, query_id=self.query_id, settings=settings)
        finally:
            with self._lock:
                self._running -= 1

    def kill(self) -> None:
        """Stop the flight: KILL its statement now, and keep trying in the background if the engine
        did not know it yet (it was just being submitted)."""
        self._killed.set()
        if self._engine.cancel(self.query_id) or not self._busy():
            return
        threading.Thread(target=self._keep_killing, name="insightd-kill", daemon=True).start()

    def _busy(self) -> bool:
        with self._lock:
            return self._running > 0

    def _keep_killing(self) -> None:
        for _ in range(int(RETRY_FOR_SECONDS / RETRY_SECONDS)):
            if not self._busy() or self._engine.cancel(self.query_id):
                return
            time.sleep(RETRY_SECONDS)

    # The rest of the Engine protocol, unchanged (runners only execute).
    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        return self._engine.insert(table, rows)

    def insert_arrow(self, table: str, data: Any, *, dedup_token: str | None = None) -> int:
        return self._engine.insert_arrow(table, data, dedup_token=dedup_token)

    def cancel(self, query_id: str) -> bool:
        return self._engine.cancel(query_id)

    def close(self) -> None:
        """The shared engine is closed by its owner, never by one flight."""
