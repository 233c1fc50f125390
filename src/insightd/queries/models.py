"""Pydantic models of PostHog's query nodes that insightd computes.

Unknown fields are refused (PostHog's schema is ``additionalProperties: false``) so a typo in a
query is a clear 400 instead of a silently ignored setting.  Cosmetic and UI-only fields that
PostHog accepts are declared (and ignored by the runners) so that real saved insights validate.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

IntervalType = Literal["minute", "hour", "day", "week", "month"]
PROPERTY_MATHS = ("sum", "avg", "min", "max", "median", "p75", "p90", "p95", "p99")
BASE_MATHS = (
    "total",
    "dau",
    "weekly_active",
    "monthly_active",
    "unique_session",
    "first_time_for_user",
)
MathType = Literal[
    "total",
    "dau",
    "weekly_active",
    "monthly_active",
    "unique_session",
    "first_time_for_user",
    "sum",
    "avg",
    "min",
    "max",
    "median",
    "p75",
    "p90",
    "p95",
    "p99",
]
Operator = Literal[
    "exact",
    "is_not",
    "icontains",
    "not_icontains",
    "regex",
    "not_regex",
    "gt",
    "gte",
    "lt",
    "lte",
    "min",
    "max",
    "is_set",
    "is_not_set",
    "is_date_exact",
    "is_date_before",
    "is_date_after",
    "in",
    "not_in",
]
TOTAL_VALUE_DISPLAYS = frozenset(
    {"BoldNumber", "ActionsPie", "ActionsBarValue", "ActionsTable", "WorldMap", "CalendarHeatmap"}
)
Scalar = str | int | float | bool


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PropertyFilter(Node):
    key: str
    value: Scalar | list[Scalar] | None = None
    operator: Operator = "exact"
    type: Literal["event", "person"] = "event"
    label: str | None = None


class PropertyGroup(Node):
    type: Literal["AND", "OR"] = "AND"
    values: list[PropertyGroup | PropertyFilter] = Field(default_factory=list)


Properties = list[PropertyFilter | PropertyGroup] | PropertyGroup | None


class DateRange(Node):
    date_from: str | None = None
    date_to: str | None = None
    explicitDate: bool | None = None


class EventsNode(Node):
    kind: Literal["EventsNode"] = "EventsNode"
    event: str | None = None
    name: str | None = None
    custom_name: str | None = None
    math: MathType | None = None
    math_property: str | None = None
    math_property_type: str | None = None
    math_group_type_index: int | None = None
    properties: list[PropertyFilter | PropertyGroup] | None = None
    fixedProperties: list[PropertyFilter | PropertyGroup] | None = None
    response: dict[str, Any] | None = None
    optionalInFunnel: bool | None = None
    version: float | None = None

    @model_validator(mode="after")
    def _check_math(self) -> EventsNode:
        if self.math in PROPERTY_MATHS and not self.math_property:
            raise ValueError(f"math '{self.math}' requires math_property")
        return self


class ExclusionNode(EventsNode):
    funnelFromStep: int
    funnelToStep: int


class Breakdown(Node):
    """One of several breakdowns (``breakdownFilter.breakdowns``, spec §3.3)."""

    property: str | int
    type: Literal["event", "person"] | None = "event"
    normalize_url: bool | None = None
    histogram_bin_count: int | None = None
    group_type_index: int | None = None

    @model_validator(mode="after")
    def _check_supported(self) -> Breakdown:
        if self.histogram_bin_count is not None:
            raise ValueError("histogram_bin_count is not supported in multiple breakdowns yet")
        return self


class BreakdownFilter(Node):
    breakdown: str | None = None
    breakdowns: list[Breakdown] | None = Field(default=None, max_length=3)
    breakdown_type: Literal["event", "person"] | None = "event"
    breakdown_limit: int | None = Field(default=None, ge=1, le=10000)
    breakdown_hide_other_aggregation: bool | None = None
    breakdown_normalize_url: bool | None = None
    breakdown_histogram_bin_count: int | None = None
    breakdown_group_type_index: int | None = None


class CompareFilter(Node):
    compare: bool | None = None
    compare_to: str | None = None


ChartDisplayType = Literal[
    "ActionsLineGraph",
    "ActionsBar",
    "ActionsUnstackedBar",
    "ActionsStackedBar",
    "ActionsAreaGraph",
    "ActionsLineGraphCumulative",
    "BoldNumber",
    "ActionsPie",
    "ActionsBarValue",
    "ActionsTable",
    "WorldMap",
    "CalendarHeatmap",
]


class TrendsFormulaNode(Node):
    formula: str
    custom_name: str | None = None


class TrendsFilter(Node):
    """PostHog's ``TrendsFilter`` (``additionalProperties: false``): every field its schema has, old and
    new, is accepted; only ``display``, the formulas and ``smoothingIntervals`` change numbers."""

    display: ChartDisplayType | None = None
    formula: str | None = None
    formulas: list[str] | None = None
    formulaNodes: list[TrendsFormulaNode] | None = None
    smoothingIntervals: int | None = None
    # Display settings PostHog's schema has (and ignores when computing):
    aggregationAxisFormat: str | None = None
    aggregationAxisPostfix: str | None = None
    aggregationAxisPrefix: str | None = None
    breakdown_histogram_bin_count: float | None = None
    compare: bool | None = None
    confidenceLevel: float | None = None
    decimalPlaces: float | None = None
    detailedResultsAggregationType: str | None = None
    goalLines: list[Any] | None = None
    hiddenLegendIndexes: list[int] | None = None
    hidden_legend_indexes: list[float] | None = None
    minDecimalPlaces: float | None = None
    movingAverageIntervals: float | None = None
    resultCustomizationBy: str | None = None
    resultCustomizations: dict[str, Any] | None = None
    showAlertThresholdLines: bool | None = None
    showConfidenceIntervals: bool | None = None
    showLabelsOnSeries: bool | None = None
    showLegend: bool | None = None
    showMovingAverage: bool | None = None
    showMultipleYAxes: bool | None = None
    showPercentStackView: bool | None = None
    showTrendLines: bool | None = None
    showValuesOnSeries: bool | None = None
    yAxisScaleType: str | None = None


class InsightQuery(Node):
    """Fields every insight query shares."""

    series: list[EventsNode] = Field(min_length=1)
    dateRange: DateRange | None = None
    properties: Properties = None
    filterTestAccounts: bool | None = None
    breakdownFilter: BreakdownFilter | None = None
    aggregation_group_type_index: int | None = None
    samplingFactor: float | None = None
    modifiers: dict[str, Any] | None = None
    tags: dict[str, Any] | None = None
    version: float | None = None
    dataColorTheme: float | None = None
    response: dict[str, Any] | None = None


class TrendsQuery(InsightQuery):
    kind: Literal["TrendsQuery"] = "TrendsQuery"
    interval: IntervalType | None = "day"
    compareFilter: CompareFilter | None = None
    trendsFilter: TrendsFilter | None = None
    conversionGoal: Any = None


class FunnelsFilter(Node):
    funnelWindowInterval: int | None = Field(default=14, ge=1)
    funnelWindowIntervalUnit: Literal["second", "minute", "hour", "day", "week", "month"] | None = "day"
    funnelOrderType: Literal["ordered", "strict", "unordered"] | None = "ordered"
    funnelVizType: Literal["steps", "time_to_convert", "trends"] | None = "steps"
    funnelStepReference: Literal["total", "previous"] | None = "total"
    exclusions: list[ExclusionNode] | None = None
    breakdownAttributionType: Literal["first_touch", "last_touch", "all_events", "step"] | None = (
        "first_touch"
    )
    breakdownAttributionValue: int | None = None
    funnelFromStep: int | None = None
    funnelToStep: int | None = None
    binCount: int | None = None
    layout: str | None = None
    hiddenLegendBreakdowns: list[str] | None = None
    showValuesOnSeries: bool | None = None
    goalLines: list[Any] | None = None
    resultCustomizations: dict[str, Any] | None = None
    useUdf: bool | None = None
    hideIncompleteConversionWindowPeriods: bool | None = None


class FunnelsQuery(InsightQuery):
    kind: Literal["FunnelsQuery"] = "FunnelsQuery"
    interval: IntervalType | None = None
    funnelsFilter: FunnelsFilter | None = None

    @model_validator(mode="after")
    def _check_breakdowns(self) -> FunnelsQuery:
        if self.breakdownFilter and self.breakdownFilter.breakdowns:
            raise ValueError("Multiple breakdowns (breakdownFilter.breakdowns) are only supported in trends")
        return self


class HogQLFilters(Node):
    dateRange: DateRange | None = None
    properties: list[PropertyFilter | PropertyGroup] | None = None
    filterTestAccounts: bool | None = None


class HogQLQuery(Node):
    kind: Literal["HogQLQuery"] = "HogQLQuery"
    query: str = Field(min_length=1)
    filters: HogQLFilters | None = None
    values: dict[str, Any] | None = None
    variables: dict[str, Any] | None = None
    modifiers: dict[str, Any] | None = None
    explain: bool | None = None
    name: str | None = None
    tags: dict[str, Any] | None = None
    version: float | None = None
    response: dict[str, Any] | None = None


SourceQuery = Annotated[TrendsQuery | FunnelsQuery | HogQLQuery, Field(discriminator="kind")]
