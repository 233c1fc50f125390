"""The offline generator: a naming summary → a Title Case name and a one-sentence description.

It follows PostHog's naming rules (spec §5.2): humanised event names, ``by X`` only with a
breakdown, funnels with arrows ending in "Conversion", no filler such as "count" or "total
count". Deterministic, no I/O, microseconds per call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from insightd.metadata.sql import Column, SelectFacts, argument_of, bucket_of, measure_kind, read_select
from insightd.metadata.summary import QuerySummary, Series, summarize
from insightd.metadata.words import (
    INTERVAL_ADJECTIVES,
    Label,
    event_label,
    humanise_value,
    join_words,
    lower_words,
    property_label,
    relative_date,
    title_case,
    url_label,
    words_of,
)

MAX_NAME_WORDS = 12
_AGGREGATE_DISPLAYS = {"BoldNumber", "ActionsPie", "ActionsTable", "WorldMap", "ActionsBarValue"}
_PROPERTY_MATHS = {
    "avg": "Average",
    "sum": "Total",
    "min": "Min",
    "max": "Max",
    "median": "Median",
    "p75": "P75",
    "p90": "P90",
    "p95": "P95",
    "p99": "P99",
}
_PER_ACTOR = {"avg": "Average", "min": "Min", "max": "Max", "median": "Median"}
_ALL_ACTIVITY = {None, "$pageview", "$screen"}
_PATH_TYPES = {"$pageview": "Page", "$screen": "Screen", "custom_event": "Event", "hogql": "Custom"}
_GENERIC_ALIASES = {
    "count",
    "c",
    "cnt",
    "n",
    "value",
    "val",
    "total",
    "x",
    "y",
    "num",
    "result",
    "sum",
    "avg",
}
_TABLES = {
    "events": Label("Event", "Events"),
    "persons": Label("Person", "Persons"),
    "sessions": Label("Session", "Sessions"),
    "groups": Label("Group", "Groups"),
}


@dataclass(frozen=True)
class Metadata:
    name: str
    description: str


def _sentence(text: str) -> str:
    text = " ".join(text.split()).strip().rstrip(".")
    return (text[:1].upper() + text[1:] + ".") if text else ""


def _words(name: str) -> int:
    return len([w for w in name.split() if w not in ("→", "&", "-", "–")])


# --- series --------------------------------------------------------------------------------


def _label(series: Series) -> Label:
    if series.custom_name:
        return Label(series.custom_name, series.custom_name)
    if series.event:
        return event_label(series.event)
    if series.name and series.is_action:
        return Label(title_case(series.name), title_case(series.name))
    if series.name:
        return event_label(series.name)
    if series.action_id:
        return Label(f"Action {series.action_id}", f"Action {series.action_id}")
    return Label("Event", "Events")


def _all_activity(series: Series) -> bool:
    return series.custom_name is None and series.event in _ALL_ACTIVITY and not series.is_action


def _series_name(series: Series, interval: str | None) -> str:
    """One series in a name: "Pageviews", "Unique Signups", "Average Revenue per Purchase"."""
    label, math = _label(series), series.math or "total"
    prop = property_label(series.math_property) if series.math_property else None
    adjective = INTERVAL_ADJECTIVES.get(interval or "")
    if math in ("dau", "weekly_active", "monthly_active") and _all_activity(series):
        period = {"weekly_active": "Weekly", "monthly_active": "Monthly"}.get(math) or adjective
        return f"{period} Active Users" if period else "Unique Users"
    if math == "dau":
        return f"Unique {label.plural}"
    if math in ("weekly_active", "monthly_active"):
        return f"{'Weekly' if math == 'weekly_active' else 'Monthly'} Active Users ({label.plural})"
    if math == "unique_session":
        return f"Sessions with {label.plural}"
    if math in ("first_time_for_user", "first_matching_event_for_user"):
        return f"First-Time {label.plural}"
    if math == "unique_group":
        return f"Groups with {label.plural}"
    if math.endswith("_count_per_actor"):
        word = _PER_ACTOR.get(math.split("_")[0], math.split("_")[0].upper())
        return f"{word} {label.plural} per User"
    if math in _PROPERTY_MATHS and prop:
        if math == "sum":
            return f"Total {prop}" + (
                "" if _all_activity(series) and not series.event else f" from {label.plural}"
            )
        suffix = "" if series.event is None and not series.is_action else f" per {label.singular}"
        return f"{_PROPERTY_MATHS[math]} {prop}{suffix}"
    if math == "hogql":
        return f"Custom Metric of {label.plural}"
    return label.plural


def _series_phrase(series: Series) -> str:
    """One series in a description: "pageviews", "unique users who did signups"."""
    label, math = _label(series), series.math or "total"
    noun = label.plural if series.custom_name else label.plural.lower()
    prop = property_label(series.math_property).lower() if series.math_property else "a property"
    phrases = {
        "total": f"the number of {noun}",
        "dau": f"unique users with {noun}",
        "weekly_active": f"weekly active users with {noun}",
        "monthly_active": f"monthly active users with {noun}",
        "unique_session": f"sessions with {noun}",
        "first_time_for_user": f"users doing {noun} for the first time",
        "first_matching_event_for_user": f"users doing {noun} for the first time",
        "unique_group": f"groups with {noun}",
        "hogql": f"a custom expression over {noun}",
    }
    if math in phrases:
        return phrases[math]
    if math.endswith("_count_per_actor"):
        return f"the {math.split('_')[0]} number of {noun} per user"
    if math in _PROPERTY_MATHS:
        word = {"avg": "average", "sum": "total", "min": "minimum", "max": "maximum"}.get(math, math)
        return f"the {word} {prop} of {noun}"
    return f"{noun} ({math})"


def _list_names(names: list[str]) -> str:
    unique = list(dict.fromkeys(names))
    if len(unique) > 6:
        return f"{unique[0]} and Other Key Metrics"
    joined = join_words(unique)
    return joined if _words(joined) <= MAX_NAME_WORDS - 2 else f"{unique[0]} and Other Key Metrics"


# --- qualifiers ----------------------------------------------------------------------------


def _breakdown_words(summary: QuerySummary) -> str:
    if not summary.breakdowns:
        return ""
    if summary.breakdown_type == "cohort":
        return "Cohort"
    labels = []
    for key in summary.breakdowns[:3]:
        if (
            summary.breakdown_type == "hogql"
            and not key.replace(".", "").replace("$", "").replace("_", "").isalnum()
        ):
            labels.append("Custom Expression")
        else:
            labels.append(property_label(key))
    return join_words(list(dict.fromkeys(labels)), oxford=False)


def _by(summary: QuerySummary) -> str:
    words = _breakdown_words(summary)
    return f" by {words}" if words else ""


def _filter_qualifier(summary: QuerySummary) -> str:
    """A short, human qualifier for one or two simple filters: "on Chrome", "from Google"."""
    simple = [f for f in summary.properties if f.type != "hogql"]
    if not simple or len(simple) > 2 or len(summary.properties) != len(simple):
        return ""
    parts = []
    for item in simple:
        if item.type == "cohort":
            parts.append(f"({item.cohort_name or f'Cohort {item.value}'})")
            continue
        value = item.value[0] if isinstance(item.value, list) and len(item.value) == 1 else item.value
        if (
            item.operator not in ("exact", "icontains")
            or value in (None, "")
            or isinstance(value, list | dict)
        ):
            return ""
        text = humanise_value(value)
        text = text.capitalize() if text.isalpha() and text.islower() else text
        key = item.key
        if key in ("$browser", "$os", "$device_type", "$device"):
            parts.append(f"on {text}")
        elif key in ("$current_url", "$pathname"):
            parts.append(f"on {url_label(text)}")
        elif key.startswith("$geoip"):
            parts.append(f"in {text}")
        elif key in ("utm_source", "$referring_domain", "$initial_referring_domain", "$referrer"):
            parts.append(f"from {text}")
        elif key in ("email", "distinct_id"):
            parts.append(f"for {text}")
        else:
            parts.append(f"({property_label(key)}: {text})")
    return " " + " ".join(parts)


def _filter_phrase(summary: QuerySummary) -> str:
    parts = []
    for item in summary.properties[:3]:
        if item.type == "cohort":
            parts.append(f"in the cohort {item.cohort_name or item.value}")
        elif item.type == "hogql":
            parts.append(f"matching {item.key}")
        elif item.value in (None, ""):
            parts.append(f"where {property_label(item.key).lower()} {item.operator.replace('_', ' ')}")
        else:
            op = "is" if item.operator == "exact" else item.operator.replace("_", " ")
            parts.append(f"where {property_label(item.key).lower()} {op} {humanise_value(item.value)}")
    extra = len(summary.properties) - 3
    text = " and ".join(parts) + (f" and {extra} more filters" if extra > 0 else "")
    if summary.test_accounts_filtered:
        text += (", " if text else "") + "excluding test accounts"
    return f" {text}" if text else ""


def _period_phrase(summary: QuerySummary) -> str:
    relative = relative_date(summary.date_from)
    lead = "," if summary.properties or summary.test_accounts_filtered else ""
    if relative == "All Time":
        return f"{lead} across all time"
    if relative:
        return f"{lead} over {relative.lower()}"
    if summary.date_from:
        until = f" to {summary.date_to}" if summary.date_to else ""
        return f" from {summary.date_from[:10]}{until[:14]}"
    return ""


def _breakdown_phrase(summary: QuerySummary) -> str:
    words = _breakdown_words(summary)
    return f", broken down by {lower_words(words)}" if words else ""


# --- insight kinds -------------------------------------------------------------------------


def _trends(summary: QuerySummary) -> Metadata:
    over_time = summary.display not in _AGGREGATE_DISPLAYS
    interval = (summary.interval or "day") if over_time else None
    names = [_series_name(s, interval) for s in summary.series] or ["Events"]
    if summary.formula and len(summary.series) >= 2:
        first, second = (_label(s) for s in summary.series[:2])
        formula = summary.formula.replace(" ", "").upper()
        if formula in ("A/B", "(A/B)"):
            core = f"{first.plural} per {second.singular}"
        elif formula in ("A/B*100", "(A/B)*100", "100*A/B"):
            core = f"{first.plural} as % of {second.plural}"
        else:
            core = f"{_list_names(names)} Formula"
    else:
        core = _list_names(names)
    prefix = ""
    adjective = INTERVAL_ADJECTIVES.get(interval or "")
    if adjective and "Active Users" not in core and len(names) == 1:
        prefix = f"{adjective} "
    if summary.display == "ActionsLineGraphCumulative":
        prefix = "Cumulative "
    if prefix and core.startswith("Total "):
        core = core.removeprefix("Total ")
    relative = relative_date(summary.date_from)
    window = f" in {relative}" if not over_time and relative and relative != "All Time" else ""
    name = f"{prefix}{core}{window}{_filter_qualifier(summary)}{_by(summary)}"
    if summary.series and all((s.math or "total") == "total" for s in summary.series):
        measures = "the number of " + join_words([_label(s).plural.lower() for s in summary.series])
    else:
        measures = join_words([_series_phrase(s) for s in summary.series] or ["the number of events"])
    if summary.formula and len(summary.series) >= 2:
        measures = f"the formula {summary.formula} over {measures}"
    per = f" per {interval}" if interval else ""
    compare = ", compared with the previous period" if summary.compare else ""
    qualifiers = _filter_phrase(summary) + _period_phrase(summary) + _breakdown_phrase(summary)
    description = f"{measures}{per}{qualifiers}{compare}"
    return Metadata(name, _sentence(description))


def _funnel_path(labels: list[str]) -> str:
    steps = labels if len(labels) <= 3 else [labels[0], labels[-1]]
    return " → ".join(steps)


def _funnels(summary: QuerySummary) -> Metadata:
    labels = [_label(s).singular for s in summary.series] or ["Event"]
    path = _funnel_path(labels)
    viz = summary.funnel_viz
    if viz == "time_to_convert":
        name = f"{path} Time to Convert"
    elif viz == "trends":
        adjective = INTERVAL_ADJECTIVES.get(summary.interval or "day", "")
        name = f"{adjective} {path} Conversion".strip()
    else:
        name = f"{path} {'Funnel' if len(labels) < 2 else 'Conversion'}"
    name += _filter_qualifier(summary) + _by(summary)
    steps = " to ".join(lower_words(_label(s).singular) for s in summary.series) or "the first step"
    order = {"strict": " in strict order", "unordered": " in any order"}.get(summary.funnel_order or "", "")
    lead = {
        "time_to_convert": "how long users take to go from",
        "trends": "how the conversion rate changes over time from",
    }.get(viz or "", "the share of users who go from")
    window = f" within {summary.funnel_window}" if summary.funnel_window else ""
    description = f"{lead} {steps}{order}{window}{_filter_phrase(summary)}{_period_phrase(summary)}"
    return Metadata(name, _sentence(description + _breakdown_phrase(summary)))


def _entity(value: str | None) -> Label | None:
    if value is None or value == "event":
        return None
    return event_label(value)


def _retention(summary: QuerySummary) -> Metadata:
    target, returning = _entity(summary.target), _entity(summary.returning)
    period = (summary.period or "Day").capitalize()
    lead = {"Hour": "Hourly", "Week": "Weekly", "Month": "Monthly"}.get(period, "")
    if target and returning and target != returning:
        name = f"Retention: {target.singular} → {returning.singular}"
        name = f"{lead} {name}".strip()
    elif target and (summary.target or "").startswith("$"):
        name = f"{lead or 'Daily'} {target.singular} Retention"
    elif target:
        name = f"{lead} Retention after {target.singular}".strip()
    else:
        name = f"{lead or 'Daily'} User Retention"
    name += _filter_qualifier(summary) + _by(summary)
    first = "for the first time " if summary.first_time_retention else ""
    start = target.plural.lower() if target else "any event"
    back = returning.plural.lower() if returning else "any event"
    description = (
        f"share of users who did {start} {first}and came back to do {back} in each following "
        f"{period.lower()}{_filter_phrase(summary)}{_period_phrase(summary)}"
    )
    return Metadata(name, _sentence(description + _breakdown_phrase(summary)))


def _point(value: str) -> str:
    if "/" in value or value.startswith("http"):
        return url_label(value)
    return event_label(value).singular


def _paths(summary: QuerySummary) -> Metadata:
    types = list(dict.fromkeys(_PATH_TYPES.get(t, "Event") for t in summary.path_types))
    kind = " & ".join(types) if types else "User"
    name = f"{kind} Paths"
    if summary.start_point:
        name += f" from {_point(summary.start_point)}"
    if summary.end_point:
        name += f" to {_point(summary.end_point)}"
    if not summary.start_point and not summary.end_point and types:
        name = f"User {name}"
    steps = join_words([t.lower() + "s" for t in types]) if types else "pages, screens and events"
    description = f"the most common sequences of {steps} users go through"
    if summary.start_point:
        description += f" after {summary.start_point}"
    if summary.end_point:
        description += f" before {summary.end_point}"
    return Metadata(name, _sentence(description + _filter_phrase(summary) + _period_phrase(summary)))


def _stickiness(summary: QuerySummary) -> Metadata:
    labels = list(dict.fromkeys(_label(s).singular for s in summary.series)) or ["Event"]
    name = f"{join_words(labels, oxford=False)} Stickiness{_filter_qualifier(summary)}{_by(summary)}"
    unit = summary.interval or "day"
    events = join_words([_label(s).plural.lower() for s in summary.series]) or "events"
    description = (
        f"how many {unit}s users did {events} in the period{_filter_phrase(summary)}{_period_phrase(summary)}"
    )
    return Metadata(name, _sentence(description))


def _lifecycle(summary: QuerySummary) -> Metadata:
    labels = [_label(s).singular for s in summary.series[:1]] or ["User"]
    name = f"{labels[0]} Lifecycle{_filter_qualifier(summary)}"
    events = _label(summary.series[0]).plural.lower() if summary.series else "events"
    unit = summary.interval or "day"
    description = (
        f"new, returning, resurrecting and dormant users of {events} per {unit}"
        f"{_filter_phrase(summary)}{_period_phrase(summary)}"
    )
    return Metadata(name, _sentence(description))


def _web(summary: QuerySummary) -> Metadata:
    if summary.kind == "WebOverviewQuery":
        return Metadata(
            "Web Analytics Overview", "Visitors, views, sessions, session duration and bounce rate."
        )
    breakdown = title_case(" ".join(words_of(summary.web_breakdown or "Page")))
    plural = breakdown if breakdown.endswith("s") else breakdown + "s"
    name = f"Top {plural}{_filter_qualifier(summary)}"
    return Metadata(name, _sentence(f"visitors and views per {breakdown.lower()}{_period_phrase(summary)}"))


# --- tables: events, actors, groups --------------------------------------------------------


def _window_words(summary: QuerySummary) -> str:
    relative = relative_date(summary.after)
    if relative and relative not in ("All Time", "Today"):
        return f" in {relative}"
    if relative == "Today":
        return " Today"
    if summary.after:
        return f" since {summary.after[:10]}"
    if summary.before:
        return f" before {summary.before[:10]}"
    return ""


def _events_table(summary: QuerySummary) -> Metadata:
    labels = [event_label(e).plural for e in summary.events]
    subject = _list_names(labels) if labels else "Events"
    name = f"{subject}{_window_words(summary)}{_filter_qualifier(summary)}"
    events = join_words([e.lower() for e in labels]) if labels else "all events"
    where = f" matching {', '.join(summary.where)}" if summary.where else ""
    window = _window_words(summary).lower()
    description = f"a list of {events}{window}{_filter_phrase(summary)}{where}"
    return Metadata(name, _sentence(description))


def _actor_noun(actor_type: str | None) -> str:
    if actor_type == "sessions":
        return "Sessions"
    if actor_type and actor_type.startswith("group type"):
        return "Groups"
    return "Persons"


def _actors_table(summary: QuerySummary) -> Metadata:
    inner = summary.actors_of
    noun = _actor_noun(summary.actor_type)
    if inner is None:
        name = noun
        if summary.search:
            name += f' Matching "{summary.search}"'
        name += _filter_qualifier(summary)
        if name == noun:
            name = "All Persons"
        description = f"a list of persons{_filter_phrase(summary)}"
        if summary.search:
            description += f" matching {summary.search!r}"
        return Metadata(name, _sentence(description))
    labels = [_label(s) for s in inner.series] or [Label("Event", "Events")]
    if summary.funnel_step is not None and inner.kind == "FunnelsQuery":
        step = abs(summary.funnel_step)
        verb = "Converted" if summary.funnel_step > 0 else "Dropped Off"
        name = f"{noun} Who {verb} at Step {step}: {_funnel_path([x.singular for x in labels])}"
        funnel = lower_words(_funnel_path([x.singular for x in labels]))
        description = f"{noun.lower()} who {verb.lower()} at step {step} of the {funnel} funnel"
    elif summary.lifecycle_status:
        status = summary.lifecycle_status.capitalize()
        name = f"{status} {noun} on {labels[0].plural}"
        description = f"{noun.lower()} who are {summary.lifecycle_status} users of {labels[0].plural.lower()}"
    elif noun == "Sessions":
        name = f"Sessions with {labels[0].plural}"
        description = f"sessions that include {labels[0].plural.lower()}"
    else:
        name = f"{noun} Who Performed {labels[0].plural}"
        description = f"{noun.lower()} who performed {labels[0].plural.lower()}"
    if summary.stickiness_day is not None:
        name += f" on {summary.stickiness_day} Days"
        description += f" on {summary.stickiness_day} days"
    if summary.breakdown_value is not None:
        value = humanise_value(summary.breakdown_value)
        key = property_label(inner.breakdowns[0]) if inner.breakdowns else "Breakdown"
        name += f" ({key}: {value})"
        description += f" where {key.lower()} is {value}"
    return Metadata(name, _sentence(description + _period_phrase(inner)))


def _groups_table(summary: QuerySummary) -> Metadata:
    name = "Groups"
    if summary.search:
        name += f' Matching "{summary.search}"'
    name += _filter_qualifier(summary)
    kind = "" if summary.group_type_index is None else f" of group type {summary.group_type_index}"
    description = f"a list of groups{kind}{_filter_phrase(summary)}"
    if summary.search:
        description += f" matching {summary.search!r}"
    return Metadata(name, _sentence(description))


# --- SQL -----------------------------------------------------------------------------------


def _alias_words(alias: str | None) -> str | None:
    if not alias or alias.lower() in _GENERIC_ALIASES or len(alias) <= 1:
        return None
    return title_case(" ".join(words_of(alias)))


def _sql_measure(column: Column, kind: str, facts: SelectFacts) -> str:
    generic_users = kind == "users" and (column.alias or "").lower() in ("users", "persons", "people")
    alias = None if generic_users else _alias_words(column.alias)
    if alias:
        return alias
    subject = _sql_subject(facts)
    argument = argument_of(column.expression)
    prop = _property_in(argument)
    if kind == "count":
        inner = " ".join(argument)
        if column.functions[0] == "countif" and "event" in inner:
            found = [e for e in facts.events if f"'{e}'" in inner]
            if found:
                return event_label(found[0]).plural
        return subject.plural if facts.events else f"{subject.singular} Count"
    if kind == "users":
        return f"Unique {subject.plural}" if facts.events else "Unique Users"
    if kind == "sessions":
        return f"Sessions with {subject.plural}" if facts.events else "Sessions"
    if kind == "unique":
        return f"Unique {plural_of(prop)}"
    if kind == "Total" and facts.events:
        return f"Total {prop} from {subject.plural}"
    return f"{kind} {prop}".strip()


def _property_in(tokens: list[str]) -> str:
    """The column or property an aggregate reads: ``toFloat(properties.revenue)`` → "Revenue"."""
    names = [t for i, t in enumerate(tokens) if t[:1].isalpha() or t[:1] == "$"]
    names = [t for t in names if tokens[tokens.index(t) + 1 : tokens.index(t) + 2] != ["("]]
    return property_label(names[-1]) if len(names) == 1 else "Value"


def plural_of(text: str) -> str:
    return text if text.endswith("s") else text + "s"


def _sql_subject(facts: SelectFacts) -> Label:
    if len(facts.events) == 1:
        return event_label(facts.events[0])
    if len(facts.events) > 1:
        joined = join_words([event_label(e).plural for e in facts.events[:3]])
        return Label(joined, joined)
    table = (facts.table or "events").split(".")[-1].lower()
    if table in _TABLES:
        return _TABLES[table]
    noun = title_case(" ".join(words_of(table)))
    return Label(noun, noun)


def _sql(summary: QuerySummary) -> Metadata:
    facts = read_select(summary.sql or "")
    if not facts.parsed:
        return Metadata("Custom SQL Insight", "A custom SQL query.")
    if facts.table is None:
        return Metadata(
            "Custom SQL Query Result", "A SQL query that computes its values without reading a table."
        )
    subject = _sql_subject(facts)
    measures: list[str] = []
    dimensions: list[str] = []
    bucket = None
    for column in facts.columns:
        kind = measure_kind(column)
        if kind is not None:
            measures.append(_sql_measure(column, kind, facts))
            continue
        found = bucket_of(column.expression)
        if found:
            bucket = bucket or found
        elif column.expression != ["*"] and any(column.expression == g for g in facts.group_by):
            plain = " ".join(column.expression)
            dimensions.append(
                _alias_words(column.alias) or ("Event Name" if plain == "event" else property_label(plain))
            )
    for group in facts.group_by:
        found = bucket_of(group)
        if found and not bucket:
            bucket = found
    adjective = INTERVAL_ADJECTIVES.get(bucket or "")
    table_phrase = f" from the {(facts.table or 'events').lower()} table"
    if measures:
        core = _list_names(list(dict.fromkeys(measures)))
        name = f"{adjective + ' ' if adjective else ''}{core}"
        if not adjective and not dimensions and _words(name) < 3:
            # A bare total ("select count() from events") still reads as a name: "Total Event Count".
            counted = [c for c in facts.columns if measure_kind(c) == "count"]
            single_count = counted and len(measures) == 1 and not core.endswith("Count")
            name = f"Total {subject.singular} Count" if single_count else f"Total {core}"
        if dimensions:
            name += " by " + join_words(dimensions[:3], oxford=False)
        description = f"SQL query computing {core.lower()}"
        description += f" per {bucket}" if bucket else ""
        description += f" by {join_words(dimensions[:3]).lower()}" if dimensions else ""
    else:
        latest = "Latest " if facts.ordered_by_time_desc else ""
        name = f"{latest}{subject.plural}"
        if _words(name) < 2:
            name = f"{name} List"
        description = f"SQL query listing {'the latest ' if latest else ''}{subject.plural.lower()}"
        if facts.limit:
            description += f" (up to {facts.limit} rows)"
    events = f" ({'events' if len(facts.events) > 1 else 'event'} {', '.join(facts.events[:3])})"
    return Metadata(name, _sentence(description + table_phrase + (events if facts.events else "")))


# --- entry point ---------------------------------------------------------------------------

_BY_KIND: dict[str, Callable[[QuerySummary], Metadata]] = {
    "TrendsQuery": _trends,
    "FunnelsQuery": _funnels,
    "RetentionQuery": _retention,
    "PathsQuery": _paths,
    "StickinessQuery": _stickiness,
    "LifecycleQuery": _lifecycle,
    "WebOverviewQuery": _web,
    "WebStatsTableQuery": _web,
    "EventsQuery": _events_table,
    "ActorsQuery": _actors_table,
    "GroupsQuery": _groups_table,
    "HogQLQuery": _sql,
}
_OTHER_KINDS = {
    "SessionsQuery": ("Sessions List", "A list of sessions."),
    "PersonsNode": ("All Persons", "A list of persons."),
    "TracesQuery": ("LLM Traces", "A list of LLM traces."),
    "ErrorTrackingQuery": ("Error Tracking Issues", "Exceptions grouped into issues."),
    "RevenueAnalyticsOverviewQuery": ("Revenue Overview", "Revenue, paying customers and average revenue."),
    "MarketingAnalyticsTableQuery": ("Marketing Campaign Performance", "Cost and conversions per campaign."),
    "HogQuery": ("Hog Program Output", "The output of a Hog program."),
    "SavedInsightNode": ("Saved Insight", "A saved insight shown by reference."),
}


def describe(summary: QuerySummary) -> Metadata:
    """A name and a description for a summarised query (never raises on odd input)."""
    handler = _BY_KIND.get(summary.kind)
    if handler is not None:
        return handler(summary)
    name, description = _OTHER_KINDS.get(summary.kind, ("Custom Insight", "A custom insight."))
    return Metadata(name, description)


def offline_metadata(query: dict[str, Any]) -> Metadata:
    return describe(summarize(query))
