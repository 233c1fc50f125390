"""FunnelsQuery (in progress)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from insightd.errors import QueryError
from insightd.queries.models import FunnelsQuery
from insightd.queries.runner import QueryContext


class FunnelsRunner:
    kind: ClassVar[str] = "FunnelsQuery"

    def __init__(self, query: FunnelsQuery, ctx: QueryContext) -> None:
        self.query, self.ctx = query, ctx

    @property
    def interval(self) -> str | None:
        return None

    def date_to(self) -> datetime | None:
        return None

    def calculate(self) -> dict[str, Any]:
        raise QueryError("FunnelsQuery is not computed yet.")
