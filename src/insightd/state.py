"""What a running insightd holds: settings, the metadata store, the event engine, the rate limiter."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from insightd.auth.cache import TTLCache
from insightd.auth.ratelimit import MemoryRateLimiter, RateLimiter
from insightd.coalescing import Coalescer, LocalCoalescer
from insightd.engine.base import Engine
from insightd.events.store import EventStore
from insightd.events.tokens import TokenCache, project_for_token
from insightd.execution.cache import MemoryCache
from insightd.execution.service import QueryService
from insightd.metrics import Metrics
from insightd.services.access import Principal
from insightd.services.accounts import ensure_defaults
from insightd.settings import Settings
from insightd.store.db import Database
from insightd.store.migrate import upgrade
from insightd.store.models import Project

# Threads that run computations (most of them wait: for the engine, or for their project's slot).
FLIGHT_THREADS = 256


@dataclass
class AppState:
    settings: Settings
    db: Database
    rate_limiter: RateLimiter
    metrics: Metrics = field(default_factory=Metrics)
    # Who a key belongs to, and which project it may act on, remembered for settings.auth_cache_seconds.
    principals: TTLCache[str, Principal] = field(init=False, repr=False)
    project_access: TTLCache[tuple[str, str], Project] = field(init=False, repr=False)
    # Rendered read responses keyed by the store's write generation (see Database.generation). Only
    # for the embedded store, where this process makes every write (chDB allows one process anyway).
    responses: TTLCache[tuple[object, ...], bytes] = field(init=False, repr=False)
    coalescer: Coalescer = field(default=None)  # type: ignore[assignment]  # set in __post_init__
    _engine: Engine | None = field(default=None, repr=False)
    owns_engine: bool = True  # False when the engine was handed in (and is closed by its owner)
    _engine_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _events: EventStore | None = field(default=None, repr=False)
    _tokens: TokenCache | None = field(default=None, repr=False)
    _queries: QueryService | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.principals = TTLCache(self.settings.auth_cache_seconds)
        self.project_access = TTLCache(self.settings.auth_cache_seconds)
        self.responses = TTLCache(300 if self.db.is_sqlite else 0, max_entries=20_000)
        if self.coalescer is None:  # a flight waiting for its project's slot holds a thread: many
            self.coalescer = LocalCoalescer(self.metrics, max_workers=FLIGHT_THREADS)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> AppState:
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        if migrate:
            upgrade(db)
            with db.write() as session:
                ensure_defaults(session)
        return cls(settings=settings, db=db, rate_limiter=MemoryRateLimiter(settings.rate_limits))

    def use_engine(self, engine: Engine) -> None:
        """Run on an engine opened elsewhere (chDB allows one data directory per process)."""
        self._engine, self.owns_engine = engine, False

    @property
    def engine(self) -> Engine:
        """The event engine (chDB in ``<data-dir>/events``), opened on first use with its tables."""
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    from insightd.engine.chdb import ChDBEngine
                    from insightd.events import schema

                    engine = ChDBEngine(
                        self.settings.data_dir / "events", connections=self.settings.engine_connections
                    )
                    schema.create(engine)
                    self._engine = engine
        return self._engine

    @property
    def queries(self) -> QueryService:
        """Runs insight queries on the engine with the result cache (created on first use)."""
        if self._queries is None:
            with self._engine_lock:
                if self._queries is None:
                    per_project = self.settings.queries_per_project or max(
                        1, self.settings.engine_connections - 1
                    )
                    self._queries = QueryService(
                        lambda: self.engine,
                        MemoryCache(),
                        coalescer=self.coalescer,
                        metrics=self.metrics,
                        per_project=per_project,
                    )
        return self._queries

    @property
    def events(self) -> EventStore:
        """Capture's write-ahead log and the writer behind it (started by the capture router)."""
        if self._events is None:
            with self._engine_lock:
                if self._events is None:
                    self._events = EventStore(
                        self.settings.data_dir, lambda: self.engine, fsync=self.settings.wal_fsync
                    )
        return self._events

    @property
    def tokens(self) -> TokenCache:
        """Project API token → project id, cached."""
        if self._tokens is None:

            def lookup(token: str) -> int | None:
                with self.db.read() as session:
                    return project_for_token(session, token)

            self._tokens = TokenCache(lookup)
        return self._tokens

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None
        if isinstance(self.coalescer, LocalCoalescer):
            self.coalescer.close()
        if self._queries is not None:
            self._queries.close()
            self._queries = None
        if self._engine is not None:
            if self.owns_engine:
                self._engine.close()
            self._engine = None
        self.db.dispose()
