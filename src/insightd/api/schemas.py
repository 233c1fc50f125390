"""Request bodies, as pydantic models: they validate, and they document the API (OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, field_validator
from pydantic_core import PydanticCustomError

from insightd.domain.queries import MAX_QUERY_DEPTH, InvalidQuery, unstorable, validate_query
from insightd.queries.dashboard_filters import _UNSTORABLE


def _storable(value: Any) -> Any:
    """JSON that every store and writer takes: nested at most MAX_QUERY_DEPTH deep, integers in 64 bits
    (checked without recursion, before the recursive checks)."""
    found = unstorable(value)
    if found is None:
        return value
    problem, where = found
    if problem == "too_deep":
        raise PydanticCustomError(
            "too_deep",
            "Nested more than {depth} levels deep at '{where}'.",
            {"depth": MAX_QUERY_DEPTH, "where": where},
        )
    if problem == "huge_integer":
        raise PydanticCustomError("max_value", "Integer out of range at '{where}'.", {"where": where})
    raise PydanticCustomError(
        "invalid", "NaN and infinite numbers are not allowed at '{where}'.", {"where": where}
    )


def _no_nul(value: Any) -> Any:
    """DRF refuses NUL characters in text (PostgreSQL cannot store them), and no database stores a lone
    UTF-16 surrogate; so we refuse both, anywhere in a value."""
    if isinstance(value, str):
        bad = _UNSTORABLE.search(value)
        if bad and bad.group() == "\x00":
            raise PydanticCustomError("null_characters_not_allowed", "Null characters are not allowed.")
        if bad:
            raise PydanticCustomError("invalid_unicode", "Text must be valid Unicode (no lone surrogates).")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
# Values stored in 32-bit columns, and ids (only ever compared) kept within 64 bits.
Int32 = Annotated[StrictInt, Field(ge=-(2**31), le=2**31 - 1)]
Id = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]


class _Body(BaseModel):
    # Unknown fields are ignored, as DRF serializers ignore them.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class InsightWrite(_Body):
    """Fields of an insight that a client may set (POST, PUT and PATCH)."""

    name: Text | None = Field(None, max_length=400)
    derived_name: Text | None = Field(None, max_length=400)
    description: Text | None = Field(None, max_length=400)
    query: Annotated[dict[str, Any], AfterValidator(_no_nul)] | None = Field(
        None, description="A PostHog query node, e.g. an InsightVizNode holding a TrendsQuery."
    )
    filters: Annotated[dict[str, Any], AfterValidator(_storable), AfterValidator(_no_nul)] | None = Field(
        None, description="Legacy filters; prefer `query`."
    )
    order: Int32 | None = None
    deleted: bool | None = None
    saved: bool | None = None
    favorited: bool | None = None
    dashboards: list[Id] | None = Field(None, description="Ids of dashboards in the same project.")
    tags: list[Annotated[Text, Field(max_length=255)]] | None = Field(
        None, description="Replaces the tag set; normalised to lower case."
    )
    create_in_folder: Text | None = Field(None, alias="_create_in_folder", max_length=400)
    refresh: Any = Field(
        None,
        description="How the response's result is read or computed (as the `refresh` query parameter); "
        "not stored.",
    )

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
        return self.model_dump(exclude_unset=True, by_alias=True, exclude={"refresh"})


class DashboardWrite(_Body):
    name: Text | None = Field(None, max_length=400)
    description: Text | None = None
    pinned: bool | None = None
    deleted: bool | None = None
    tags: list[Text] | None = None
    filters: Any = Field(
        None,
        description="Filters applied to every insight on the dashboard: date_from, date_to, explicitDate, "
        "properties, breakdown_filter, interval, filterTestAccounts. An empty value leaves them as they are.",
    )
    variables: Any = Field(None, description="SQL variable values by variable id (stored; unused so far).")

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class BulkUpdateTags(_Body):
    ids: list[Id] = Field(..., min_length=1, max_length=500)
    action: Literal["add", "remove", "set"]
    tags: list[Text] = Field(..., max_length=100)

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
    insight_ids: list[Id] = Field(..., min_length=1, max_length=2500)


class CancelQuery(_Body):
    client_query_id: Any = None


class GenerateMetadata(_Body):
    """``generate_metadata``: only ``query`` is read (a truthy one must be a known node)."""

    query: Any = Field(None, description="The insight's query node, e.g. an InsightVizNode.")

    @field_validator("query", mode="before")
    @classmethod
    def _known_node(cls, value: Any) -> Any:
        if not value:
            return value
        try:
            return validate_query(value)
        except InvalidQuery as exc:
            raise PydanticCustomError("parse_error", "{detail}", {"detail": str(exc)}) from exc


class ProjectWrite(_Body):
    """Project settings a client may change (PostHog's team fields that insightd uses)."""

    name: Text | None = Field(None, min_length=1, max_length=200)
    timezone: Text | None = Field(None, max_length=240)
    week_start_day: Literal[0, 1] | None = None
    test_account_filters: list[dict[str, Any]] | None = Field(None, max_length=100)

    @field_validator("test_account_filters", mode="after")
    @classmethod
    def _filters(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if value is None:
            return None
        from insightd.queries.models import PropertyFilter  # the query models validate the filters

        out = []
        for index, item in enumerate(value):
            try:
                out.append(PropertyFilter.model_validate(item).model_dump(exclude_none=True))
            except ValueError as exc:
                raise PydanticCustomError(
                    "invalid_filter",
                    "Filter {index} is not an event or person property filter: {error}",
                    {"index": index, "error": str(exc).splitlines()[-1].strip()},
                ) from exc
        return out

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)
