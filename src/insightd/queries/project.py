"""The project settings that change a query's numbers (PostHog's team fields)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from insightd.queries.models import Properties, PropertyFilter, PropertyGroup


def week_mode(week_start_day: int) -> int:
    """ClickHouse's ``toStartOfWeek`` mode: 0 for Sunday-start weeks, 3 (ISO) for Monday-start."""
    return 3 if week_start_day == 1 else 0


@dataclass(frozen=True)
class ProjectSettings:
    """``timezone``: dates and buckets; ``week_start_day``: 0 Sunday, 1 Monday; ``test_account_filters``:
    the property filters a query with ``filterTestAccounts`` adds (each AND-ed in)."""

    timezone: str = "UTC"
    week_start_day: int = 0
    test_account_filters: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, project: Any) -> ProjectSettings:
        """From a stored project."""
        return cls(
            timezone=project.timezone,
            week_start_day=int(project.week_start_day or 0),
            test_account_filters=list(project.test_account_filters or []),
        )

    def cache_fields(self, query: Any) -> dict[str, Any]:
        """What a cached result depends on besides the query (the filters only when the query uses them)."""
        out: dict[str, Any] = {"timezone": self.timezone, "week_start_day": self.week_start_day}
        hogql_filters = getattr(query, "filters", None)  # a SQL insight's {filters}
        uses = getattr(query, "filterTestAccounts", False) or getattr(
            hogql_filters, "filterTestAccounts", False
        )
        if uses and self.test_account_filters:
            out["test_account_filters"] = self.test_account_filters
        return out

    def with_test_filters(self, properties: Properties, enabled: bool | None) -> Properties:
        """``properties``, AND the test account filters when ``enabled`` (PostHog: every filter AND-ed)."""
        if not enabled or not self.test_account_filters:
            return properties
        extra: list[PropertyFilter | PropertyGroup] = [
            PropertyFilter.model_validate(item) for item in self.test_account_filters
        ]
        if properties is None:
            return extra
        if isinstance(properties, PropertyGroup):
            return PropertyGroup(type="AND", values=[*extra, properties])
        return [*extra, *properties]
