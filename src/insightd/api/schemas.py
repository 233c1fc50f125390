"""Request bodies, as pydantic models: they validate, and they document the API (OpenAPI)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator
from pydantic_core import PydanticCustomError

from insightd.domain.queries import InvalidQuery, validate_query


class _Body(BaseModel):
    # Unknown fields are ignored, as DRF serializers ignore them.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class InsightWrite(_Body):
    """Fields of an insight that a client may set (POST, PUT and PATCH)."""

    name: str | None = Field(None, max_length=400)
    derived_name: str | None = Field(None, max_length=400)
    description: str | None = Field(None, max_length=400)
    query: dict[str, Any] | None = Field(
        None, description="A PostHog query node, e.g. an InsightVizNode holding a TrendsQuery."
    )
    filters: dict[str, Any] | None = Field(None, description="Legacy filters; prefer `query`.")
    order: StrictInt | None = None
    deleted: bool | None = None
    saved: bool | None = None
    favorited: bool | None = None
    dashboards: list[StrictInt] | None = Field(None, description="Ids of dashboards in the same project.")
    tags: list[str] | None = Field(None, description="Replaces the tag set; normalised to lower case.")
    create_in_folder: str | None = Field(None, alias="_create_in_folder")

    @field_validator("query", mode="before")
    @classmethod
    def _query_is_a_node(cls, value: Any) -> Any:
        if value is None or value == {}:
            return None if value is None else value
        try:
            return validate_query(value)
        except InvalidQuery as exc:
            raise PydanticCustomError("parse_error", "{detail}", {"detail": str(exc)}) from exc

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, by_alias=True)


class DashboardWrite(_Body):
    name: str | None = Field(None, max_length=400)
    description: str | None = None
    pinned: bool | None = None
    deleted: bool | None = None
    tags: list[str] | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class BulkUpdateTags(_Body):
    ids: list[StrictInt] = Field(..., min_length=1, max_length=500)
    action: Literal["add", "remove", "set"]
    tags: list[str] = Field(..., max_length=100)

    @field_validator("tags")
    @classmethod
    def _tag_length(cls, value: list[str]) -> list[str]:
        for index, tag in enumerate(value):
            if len(tag) > 255:
                raise PydanticCustomError(
                    "tag_too_long", "Ensure this field has no more than 255 characters.", {"index": index}
                )
        return value


class InsightsViewed(_Body):
    insight_ids: list[StrictInt] = Field(..., min_length=1, max_length=2500)


class CancelQuery(_Body):
    client_query_id: Any = None
