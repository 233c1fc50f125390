"""Prometheus metrics of one insightd process, on a registry of its own (no global state).

The names are a contract that dashboards and tests rely on. They expose counts and durations
only, never data.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_QUERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.query_executions = Counter(
            "insightd_query_executions", "Queries executed by the engine.", registry=self.registry
        )
        self.query_coalesced = Counter(
            "insightd_query_coalesced",
            "Requests served by another request's execution (single-flight followers).",
            registry=self.registry,
        )
        self.query_cancellations = Counter(
            "insightd_query_cancellations",
            "Cancellations: requested by a client, and engine queries killed.",
            ["outcome"],
            registry=self.registry,
        )
        self.cache_hits = Counter("insightd_cache_hits", "Result cache hits.", registry=self.registry)
        self.cache_misses = Counter("insightd_cache_misses", "Result cache misses.", registry=self.registry)
        self.query_duration = Histogram(
            "insightd_query_duration_seconds",
            "Engine execution time of a query.",
            buckets=_QUERY_BUCKETS,
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "insightd_http_request_duration_seconds",
            "HTTP request duration by route template, method and status.",
            ["route", "method", "status"],
            buckets=_HTTP_BUCKETS,
            registry=self.registry,
        )
        for outcome in ("requested", "killed"):
            self.query_cancellations.labels(outcome=outcome)

    def render(self) -> bytes:
        return generate_latest(self.registry)
