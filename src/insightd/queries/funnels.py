"""FunnelsQuery: SQL gathers each actor's sorted step events; the walk (funnel_walk) decides (spec §5)."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, ClassVar

from insightd.errors import QueryError
from insightd.queries import funnel_sql
from insightd.queries.dates import ResolvedRange, start_of
from insightd.queries.funnel_tally import Tally, merged
from insightd.queries.funnel_walk import Event, Walk, walk_ordered, walk_unordered
from insightd.queries.models import EventsNode, FunnelsFilter, FunnelsQuery
from insightd.queries.project import week_mode
from insightd.queries.properties import FilterBuilder, uses_person
from insightd.queries.runner import QueryContext
from insightd.queries.source import events_from
from insightd.queries.sql import Params, event_property, person_property
from insightd.queries.trends import BUCKET_FUNCTIONS

CHECK_EVERY = 500  # actors walked in Python between checks for cancel and the time limit
PYTHON_WALK_IDS = 5_000  # up to this many actors for the Python walk are fetched by id
ENCODED = funnel_sql.encoded_event("events.timestamp", "steps")  # an event in the SQL walks' arrays

UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800, "month": 31 * 86400}
MAX_STEPS = 32


class FunnelsRunner:
    kind: ClassVar[str] = "FunnelsQuery"

    def __init__(self, query: FunnelsQuery, ctx: QueryContext) -> None:
        self.query, self.ctx = query, ctx
        self.filter = query.funnelsFilter or FunnelsFilter()
        self.steps = len(query.series)
        self.order = self.filter.funnelOrderType or "ordered"
        self.viz = self.filter.funnelVizType or "steps"
        bf = query.breakdownFilter
        self.breakdown = bf if bf and bf.breakdown else None
        self._validate()

    @property
    def interval(self) -> str:
        return self.query.interval or "day"

    def date_to(self) -> datetime | None:
        return self._range().date_to

    @property
    def window(self) -> float:
        amount = self.filter.funnelWindowInterval or 14
        return float(amount * UNIT_SECONDS[self.filter.funnelWindowIntervalUnit or "day"])

    def _validate(self) -> None:
        if self.steps < 2:
            raise QueryError("Funnels require at least two steps.")
        if self.steps > MAX_STEPS:
            raise QueryError(f"Funnels support up to {MAX_STEPS} steps.")
        for exclusion in self.filter.exclusions or []:
            if exclusion.funnelFromStep >= exclusion.funnelToStep:
                raise QueryError(
                    "Exclusion event range is invalid. End of range should be greater than start."
                )
            if exclusion.funnelFromStep >= self.steps - 1:
                raise QueryError(
                    "Exclusion event range is invalid. Start of range is greater than number of steps."
                )
            if exclusion.funnelToStep > self.steps - 1:
                raise QueryError(
                    "Exclusion event range is invalid. End of range is greater than number of steps."
                )
            for step in self.query.series[exclusion.funnelFromStep : exclusion.funnelToStep + 1]:
                if step.event == exclusion.event and not exclusion.properties:
                    raise QueryError("Exclusion steps cannot contain an event that's part of funnel steps.")
            whole = exclusion.funnelFromStep == 0 and exclusion.funnelToStep == self.steps - 1
            if self.order == "unordered" and not whole:
                raise QueryError("Partial Exclusions not allowed in unordered funnels")
        start, end = self.filter.funnelFromStep, self.filter.funnelToStep
        if start is not None and not 0 <= start <= self.steps - 2:
            raise QueryError(f"funnelFromStep is out of bounds. It must be between 0 and {self.steps - 2}.")
        if end is not None and not 1 <= end <= self.steps - 1:
            raise QueryError(f"funnelToStep is out of bounds. It must be between 1 and {self.steps - 1}.")
        step_attribution = self.filter.breakdownAttributionType == "step"
        if step_attribution and self.order == "unordered" and (self.filter.breakdownAttributionValue or 0):
            raise QueryError("Only the first step can be used for breakdown attribution in unordered funnels")

    def _range(self) -> ResolvedRange:
        return self.ctx.resolve_range(self.query.dateRange, self.interval)

    # -- SQL ---------------------------------------------------------------------------------------
    def _node_condition(self, node: EventsNode, builder: FilterBuilder, params: Params) -> str:
        parts = []
        if node.event is not None:
            parts.append(f"events.event = {params.string(node.event)}")
        where = builder.where(node.properties)
        if where != "1":
            parts.append(where)
        return " AND ".join(parts) or "1"

    def _breakdown_expr(self, params: Params) -> str:
        if self.breakdown is None:
            return "''"
        key = self.breakdown.breakdown
        assert key is not None
        raw = (
            person_property(key, params)
            if self.breakdown.breakdown_type == "person"
            else event_property(key, params)
        )
        return f"ifNull(toString({raw}), '')"

    def _events(
        self, rng: ResolvedRange, params: Params, steps: str, *, names: Sequence[str] | None = None
    ) -> str:
        """The step-matched events subquery (``steps`` computed per event, plus ``bd``)."""
        builder = FilterBuilder(params, self.ctx.tz, self.ctx.now)
        team = params.add(self.ctx.team_id, "UInt64")
        tz = self.ctx.timezone
        shared = self.ctx.project.with_test_filters(self.query.properties, self.query.filterTestAccounts)
        global_filter = builder.where(shared)
        person = uses_person(shared) or any(
            uses_person(n.properties) for n in [*self.query.series, *(self.filter.exclusions or [])]
        )
        if self.breakdown is not None and self.breakdown.breakdown_type == "person":
            person = True
        where = (
            f"events.timestamp >= {params.moment(rng.date_from, tz)} "
            f"AND events.timestamp <= {params.moment(rng.date_to, tz)}"
        )
        if names is not None:  # only events of these names can match
            where = f"events.event IN {params.strings(sorted(set(names)))} AND {where}"
        overrides = self.ctx.has_person_overrides()
        source = events_from(team, where, resolve_persons=overrides, person_properties=person)
        return (
            f"(SELECT *, {steps} AS steps, {self._breakdown_expr(params)} AS bd FROM {source} "
            f"WHERE {global_filter}) AS events"
        )

    def _step_names(self) -> list[str]:
        return [str(node.event) for node in self.query.series]

    @property
    def window_us(self) -> int:
        return round(self.window * 1_000_000)

    def _step(self, params: Params, *, exclusions: bool = False) -> str:
        """An event's step for the SQL walks: the first step it matches (steps are distinct events), or 0;
        with ``exclusions``, an exclusion event's code is ``funnel_sql.exclusion_codes``."""
        pairs = [(c, i + 1) for i, c in enumerate(self._conditions(params))]
        if exclusions:
            builder = FilterBuilder(params, self.ctx.tz, self.ctx.now)
            codes = funnel_sql.exclusion_codes(self.filter)
            pairs += [
                (self._node_condition(x, builder, params), code)
                for x, code in zip(self.filter.exclusions or [], codes, strict=True)
            ]
        return "toUInt8(multiIf(" + ", ".join(f"{c}, {code}" for c, code in pairs) + ", 0))"

    def _entered(self, matched: str | None = None) -> str:
        """An event that lets an actor into the funnel: a step-1 event; in unordered funnels any step's
        (as PostHog's unordered walk starts anywhere). ``matched``: the event's list of matched steps
        (the Python walk's fetch), else its SQL step code."""
        if matched is not None:
            first = f"has({matched}, 1)"
            return f"arrayExists(s -> s > 0, {matched})" if self.order == "unordered" else first
        if self.order == "unordered":
            return f"steps BETWEEN 1 AND {self.steps}"
        return "steps = 1"

    def _sql_attribution(self) -> str | None:
        """The breakdown attribution type (None: no breakdown): first or last touch, all events or step."""
        if self.breakdown is None:
            return None
        return self.filter.breakdownAttributionType or "first_touch"

    def _conditions(self, params: Params) -> list[str]:
        builder = FilterBuilder(params, self.ctx.tz, self.ctx.now)
        return [self._node_condition(node, builder, params) for node in self.query.series]

    def fetch(
        self, rng: ResolvedRange, only: str | None = None, actors: list[str] | None = None
    ) -> list[tuple[str, list[Event]]]:
        """Each actor's events in the range, sorted, with matched steps (and exclusions as -s). Only some
        actors, for the Python walk of those the SQL walk leaves out (``_sql_walks``): ``actors`` (by id),
        or by ``only``: "excluded" (with an exclusion event), "tied" (two events of different steps at
        one timestamp) or "several" (an event of several steps tied on time with another)."""
        params = Params()
        builder = FilterBuilder(params, self.ctx.tz, self.ctx.now)
        matches = [f"if({cond}, [{i + 1}], [])" for i, cond in enumerate(self._conditions(params))]
        for exclusion in self.filter.exclusions or []:
            marks = ", ".join(
                str(-s) for s in range(exclusion.funnelFromStep + 2, exclusion.funnelToStep + 2)
            )
            matches.append(f"if({self._node_condition(exclusion, builder, params)}, [{marks}], [])")
        events = self._events(rng, params, f"arrayConcat({', '.join(matches)})")
        keep = "1" if self.order == "strict" else "length(steps) > 0"
        sql = (
            "SELECT toString(events.pid) AS actor, "
            # ties on time and first step: by value, as in SQL, then by all the steps (the walk's tie rules
            # depend on the order; this makes it the same on every run)
            "arraySort(x -> (x.1, x.2[1], x.3, x.2), "
            "groupArray((toFloat64(toUnixTimestamp64Micro(events.timestamp)) "
            f"/ 1000000, steps, bd))) AS evs FROM {events} "
            f"WHERE {keep} GROUP BY actor HAVING countIf({self._entered('steps')}) > 0"
        )
        if actors is not None:
            sql += f" AND actor IN {params.strings(actors)}"
        elif only == "excluded":
            sql += " AND countIf(arrayExists(s -> s < 0, steps)) > 0"
        elif only == "tied":
            sql += (
                " AND arrayExists((x, y) -> x.1 = y.1 AND x.2 != y.2, arrayPopFront(evs), arrayPopBack(evs))"
            )
        elif only == "several":
            sql += (
                " AND arrayExists((x, y) -> x.1 = y.1 AND (length(x.2) > 1 OR length(y.2) > 1), "
                "arrayPopFront(evs), arrayPopBack(evs))"
            )
        result = self.ctx.execute(sql, params.values)
        return [(str(row[0]), [(float(e[0]), list(e[1]), str(e[2])) for e in row[1]]) for row in result.rows]

    def _sql_actors(self, rng: ResolvedRange, params: Params) -> str:
        """Per actor (SQL walk): level, t1..tn (µs) and the attributed breakdown value ``bd``."""
        events = self._events(rng, params, self._step(params), names=self._step_names())
        if self._sql_attribution() == "step":
            grouped = f"FROM {events} WHERE steps > 0 GROUP BY events.pid HAVING countIf(steps = 1) > 0"
            return self._step_attributed_actors(grouped)
        columns = ", ".join(funnel_sql.actor_events(ENCODED, "bd", self._sql_attribution()))
        evs = (
            f"SELECT {columns} FROM {events} WHERE steps > 0 "
            f"GROUP BY {funnel_sql.group_key('events.pid', self._sql_attribution())} "
            f"HAVING countIf({self._entered()}) > 0"
        )
        return funnel_sql.actor_query(evs, self.steps, self.window_us, order=self.order)

    def _step_attributed_actors(self, grouped: str) -> str:
        """Step attribution in SQL: a walk per actor and value of the step's events (``grouped``: the
        ``FROM … GROUP BY`` of the actor's events), then per actor the value that goes furthest; strict
        walks carry ``mixed`` and ``actor`` for the Python walk."""
        step = (self.filter.breakdownAttributionValue or 0) + 1
        rows = funnel_sql.step_attributed(ENCODED, "bd", "toString(events.pid)", step, grouped)
        walked = funnel_sql.actor_query(
            rows, self.steps, self.window_us, order=self.order, carry=("bd", "actor", "vi")
        )
        return funnel_sql.step_pick(walked, self.steps, mixed=self.order == "strict")

    def _sql_tallies(self, rng: ResolvedRange) -> dict[str, Tally]:
        """Per breakdown value, the tally of every actor's walk: in SQL, except for actors the SQL form
        does not cover, who take the Python walk: for strict funnels and funnels with exclusions of
        their own events, those with different events at one timestamp (``strict_layers``,
        ``exclusion_layers``); for other funnels with exclusions those with an exclusion event (without
        one, the walk is the plain ordered walk, ``walk_layers``)."""
        params = Params()
        attribution = self._sql_attribution()
        marks = None
        masks = funnel_sql.multi_applicable(self.query, self.filter, self.viz)
        entered = self._entered()
        if masks is not None:  # an event may match several steps: its code stands for their mask
            code = funnel_sql.multi_step_code(self._conditions(params), masks)
            names = self._step_names() if None not in [n.event for n in self.query.series] else None
            events = self._events(rng, params, code, names=names)
            encoded = funnel_sql.encoded_event("events.timestamp", "steps", funnel_sql.MULTI_STEP_BITS)
            columns = funnel_sql.actor_events(encoded, "bd", attribution, where="steps > 0")
            carry: tuple[str, ...] = ("bd", "actor")
            entered = f"has({[c for c, mask in enumerate(masks) if mask & 2]}, steps)"
        elif self.order == "strict":
            events = self._events(rng, params, self._step(params))  # every event: others break a path
            columns = funnel_sql.actor_events(ENCODED, "bd", attribution)
            carry = ("bd", "actor")
        elif funnel_sql.exclusions_applicable(self.query, self.filter, self.viz):
            own = self._step_names() + [str(x.event) for x in self.filter.exclusions or []]
            events = self._events(rng, params, self._step(params, exclusions=True), names=own)
            columns = funnel_sql.actor_events(ENCODED, "bd", attribution, where="steps > 0")
            carry = ("bd", "actor")
            marks = funnel_sql.exclusion_marks(self.filter)
        else:
            builder = FilterBuilder(params, self.ctx.tz, self.ctx.now)
            exclusions = self.filter.exclusions or []
            excluded = " OR ".join(f"({self._node_condition(x, builder, params)})" for x in exclusions)
            named = [str(x.event) for x in exclusions if x.event is not None]
            names = self._step_names() + named if len(named) == len(exclusions) else None
            events = self._events(rng, params, self._step(params), names=names)
            columns = [
                *funnel_sql.actor_events(ENCODED, "bd", attribution, where="steps > 0"),
                f"countIf({excluded}) > 0 AS mixed",
            ]
            carry = ("bd", "actor", "mixed")
        group = funnel_sql.group_key("events.pid", attribution)
        having = f"HAVING countIf({entered}) > 0"
        if self.order == "strict" and attribution == "step":  # a walk per value of the step's events
            actors = self._step_attributed_actors(f"FROM {events} GROUP BY events.pid {having}")
        else:
            columns.append("toString(events.pid) AS actor")
            evs = f"SELECT {', '.join(columns)} FROM {events} GROUP BY {group} {having}"
            actors = funnel_sql.actor_query(
                evs, self.steps, self.window_us, order=self.order, carry=carry, marks=marks, masks=masks
            )
        start, end = self._span()
        if self.viz == "time_to_convert":
            arrays = f"[], groupArrayIf(t{end + 1} - t{start + 1}, NOT mixed AND level >= {end + 1})"
        else:
            gaps = ", ".join(
                f"groupArrayIf(t{k} - t{k - 1}, NOT mixed AND level >= {k} AND t{k} != t{k - 1})"
                for k in range(2, self.steps + 1)
            )
            arrays = f"[[], {gaps}], []"
        reached = ", ".join(f"countIf(NOT mixed AND level >= {k})" for k in range(1, self.steps + 1))
        sql = f"SELECT bd, groupArrayIf(actor, mixed), [{reached}], {arrays} FROM ({actors}) GROUP BY bd"
        tallies: dict[str, Tally] = {}
        python: dict[str, set[str]] = {}  # actor → the values whose walk is Python's (all-events: some)
        for value, mixed, reached_, gaps_, converts in self.ctx.execute(sql, params.values).rows:
            for actor in mixed:
                python.setdefault(str(actor), set()).add(str(value))
            if int(reached_[0]):
                tallies[str(value)] = Tally(
                    self.steps,
                    (start, end),
                    [int(n) for n in reached_],
                    [[int(g) for g in gs] for gs in gaps_] if gaps_ else [],
                    [int(c) for c in converts],
                )
        if python:
            condition = (
                "several"
                if masks is not None
                else "tied"
                if self.order == "strict" or marks is not None
                else "excluded"
            )
            per_value = attribution == "all_events"  # else the Python walk attributes the actor
            for number, (actor, events_of) in enumerate(self._fetch_left_out(rng, python, condition)):
                if number % CHECK_EVERY == 0:
                    self.ctx.check()
                for value, walk in self._attributed(events_of):
                    if walk.step >= 0 and (not per_value or value in python[actor]):
                        tallies.setdefault(value, Tally(self.steps, (start, end))).add_walk(walk)
        return tallies

    def _fetch_left_out(
        self, rng: ResolvedRange, actors: Collection[str], condition: str
    ) -> list[tuple[str, list[Event]]]:
        """The events of the ``actors`` the SQL walk left out, for the Python walk: by id when few, else
        by ``condition`` (a superset, as a long id list is slow to send), keeping only those actors."""
        if len(actors) <= PYTHON_WALK_IDS:
            return self.fetch(rng, actors=sorted(actors))
        return [(actor, events) for actor, events in self.fetch(rng, only=condition) if actor in actors]

    def _sql_steps(self, rng: ResolvedRange) -> list[Any]:
        params = Params()
        actors = self._sql_actors(rng, params)
        aggregates = ", ".join(funnel_sql.step_aggregates(self.steps))
        if self.breakdown is None:
            rows = self.ctx.execute(f"SELECT {aggregates} FROM ({actors})", params.values).rows
            return self._steps(*funnel_sql.parse_steps(rows[0], self.steps))
        sql = f"SELECT bd, {aggregates} FROM ({actors}) GROUP BY bd"
        groups = {str(r[0]): r[1:] for r in self.ctx.execute(sql, params.values).rows}
        ranked = sorted(groups, key=lambda v: ([-int(groups[v][i]) for i in reversed(range(self.steps))], v))
        limit = self.breakdown.breakdown_limit or 25
        out = [(v, self._steps(*funnel_sql.parse_steps(groups[v], self.steps))) for v in ranked[:limit]]
        if len(ranked) > limit:
            params = Params()
            actors = self._sql_actors(rng, params)
            top = params.strings(ranked[:limit])
            rest = self.ctx.execute(
                f"SELECT {aggregates} FROM ({actors}) WHERE bd NOT IN {top}", params.values
            ).rows[0]
            out.append(("Other", self._steps(*funnel_sql.parse_steps(rest, self.steps))))
        return [self._label(value, steps) for value, steps in out]

    def _sql_time_to_convert(self, rng: ResolvedRange) -> dict[str, Any]:
        params = Params()
        start = (self.filter.funnelFromStep or 0) + 1
        end = (self.filter.funnelToStep if self.filter.funnelToStep is not None else self.steps - 1) + 1
        sql = (
            f"SELECT groupArray(t{end} - t{start}) FROM ({self._sql_actors(rng, params)}) "
            f"WHERE level >= {end}"
        )
        (row,) = self.ctx.execute(sql, params.values).rows
        return self._time_to_convert([int(t) / 1e6 for t in row[0]])

    # -- the walk ------------------------------------------------------------------------------------
    def _walk(self, events: Sequence[Event]) -> Walk:
        if self.order == "unordered":
            return walk_unordered(events, self.steps, self.window)
        return walk_ordered(events, self.steps, self.window, strict=self.order == "strict")

    def _attributed(self, events: list[Event]) -> list[tuple[str, Walk]]:
        """(breakdown value, walk) pairs for one actor under the attribution type."""
        if self.breakdown is None:
            return [("", self._walk(events))]
        attribution = self.filter.breakdownAttributionType or "first_touch"
        if attribution == "all_events":
            values = list(dict.fromkeys(e[2] for e in events))
            return [(v, self._walk([e for e in events if e[2] == v])) for v in values]
        if attribution == "step":
            step = (self.filter.breakdownAttributionValue or 0) + 1
            values = list(dict.fromkeys(e[2] for e in events if step in e[1]))
            best: tuple[str, Walk] | None = None
            for value in values:
                filtered = [e for e in events if step not in e[1] or e[2] == value]
                walk = self._walk(filtered)
                if best is None or walk.step > best[1].step:
                    best = (value, walk)
            return [best] if best else []
        ordered = events if attribution == "first_touch" else list(reversed(events))
        value = next((e[2] for e in ordered if e[2] != ""), "")
        return [(value, self._walk(events))]

    # -- results -------------------------------------------------------------------------------------
    def calculate(self) -> dict[str, Any]:
        rng = self._range()
        results: Any
        applicable = funnel_sql.applicable(self.query, self.filter, self.viz)
        hybrid = (
            funnel_sql.hybrid(self.query, self.filter, self.viz)
            or funnel_sql.exclusions_applicable(self.query, self.filter, self.viz)
            or funnel_sql.multi_applicable(self.query, self.filter, self.viz) is not None
        )
        if applicable and self.order != "strict":
            if self.viz == "time_to_convert":
                results = self._sql_time_to_convert(rng)
            else:
                results = self._sql_steps(rng)
            return {"results": results, "resolved_date_range": rng.as_json(), "timezone": self.ctx.timezone}
        if applicable or hybrid:  # strict funnels, those with exclusions or with events of several steps
            tallies = self._sql_tallies(rng)
        elif self.viz == "trends":
            sql_trends = funnel_sql.trends_applicable(self.query, self.filter)
            return {
                "results": self._sql_trends(rng) if sql_trends else self._trends(self.fetch(rng), rng),
                "resolved_date_range": rng.as_json(),
                "timezone": self.ctx.timezone,
            }
        else:
            tallies = {}  # the exact walk of PostHog's aggregate_funnel, in Python
            for number, (_actor, events) in enumerate(self.fetch(rng)):
                if number % CHECK_EVERY == 0:
                    self.ctx.check()
                for value, walk in self._attributed(events):
                    if walk.step >= 0:
                        tallies.setdefault(value, Tally(self.steps, self._span())).add_walk(walk)
        if self.viz == "time_to_convert":
            results = self._time_to_convert([c for t in tallies.values() for c in t.conversion_seconds()])
        else:
            results = self._steps_results(tallies)
        return {"results": results, "resolved_date_range": rng.as_json(), "timezone": self.ctx.timezone}

    def _steps(
        self, reached: list[int], means: list[float | None], medians: list[float | None]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for index, node in enumerate(self.query.series):
            unordered = self.order == "unordered"
            name = (
                f"Completed {index + 1} step{'s' if index else ''}"
                if unordered
                else (node.event or "All events")
            )
            out.append(
                {
                    "action_id": None if unordered else node.event,
                    "name": name,
                    "custom_name": node.custom_name,
                    "order": index,
                    "people": [],
                    "count": reached[index],
                    "type": "events",
                    "average_conversion_time": means[index],
                    "median_conversion_time": medians[index],
                }
            )
        return out

    @staticmethod
    def _label(value: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for step in steps:
            step["breakdown"] = [value]
            step["breakdown_value"] = [value]
        return steps

    def _span(self) -> tuple[int, int]:
        """The 0-based first and last step of time to convert."""
        end = self.filter.funnelToStep if self.filter.funnelToStep is not None else self.steps - 1
        return self.filter.funnelFromStep or 0, end

    def _steps_results(self, tallies: dict[str, Tally]) -> list[Any]:
        if self.breakdown is None:
            return self._steps(*tallies.get("", Tally(self.steps, self._span())).summary())
        ranked = sorted(tallies, key=lambda v: ([-n for n in reversed(tallies[v].reached)], v))
        limit = self.breakdown.breakdown_limit or 25
        groups = [(value, tallies[value]) for value in ranked[:limit]]
        if len(ranked) > limit:
            groups.append(("Other", merged([tallies[v] for v in ranked[limit:]])))
        return [self._label(value, self._steps(*each.summary())) for value, each in groups]

    def _time_to_convert(self, times: Sequence[float]) -> dict[str, Any]:
        if not times:
            return {"bins": [], "average_conversion_time": None}
        count = self.filter.binCount
        bins = max(1, min(90, count)) if count else max(1, min(60, math.ceil(len(times) ** (1 / 3))))
        low, high = math.floor(min(times)), math.ceil(max(times))
        width = math.ceil((high - low) / bins) or 60
        counts = [0] * (bins + 1)
        for t in times:
            counts[min(bins, int((t - low) // width))] += 1
        return {
            "bins": [[low + n * width, counts[n]] for n in range(bins + 1)],
            "average_conversion_time": sum(times) / len(times),
        }

    def _sql_trends(self, rng: ResolvedRange) -> list[dict[str, Any]]:
        """``_trends`` in SQL: per actor and bucket the best level of the starts in that bucket. With
        exclusions, actors with different events at one timestamp (``mixed``) take the Python walk."""
        params = Params()
        exclusions = self.filter.exclusions or []
        names = self._step_names() + [str(x.event) for x in exclusions]
        events = self._events(rng, params, self._step(params, exclusions=bool(exclusions)), names=names)
        evs = (
            f"SELECT arraySort(groupArray({ENCODED})) AS a, events.pid AS actor FROM {events} "
            "WHERE steps > 0 GROUP BY events.pid HAVING countIf(steps = 1) > 0"
        )
        ranges = funnel_sql.exclusion_ranges(self.filter)
        starts = funnel_sql.start_levels(evs, self.steps, self.window_us, ranges)
        utc = f"fromUnixTimestamp64Micro(start - {funnel_sql.EPOCH_SHIFT}, 'UTC')"
        moment = f"toTimeZone({utc}, '{self.ctx.timezone}')"
        bucket = BUCKET_FUNCTIONS[rng.interval].format(t=moment, week_mode=week_mode(rng.week_start))
        from_step, to_step = self._trend_steps()
        counts = f"countIf(lv >= {from_step} AND NOT mx), countIf(lv >= {to_step} AND NOT mx)"
        sql = (
            f"SELECT toString(b), {counts}, groupArrayIf(toString(actor), mx) FROM ("
            f"SELECT actor, {bucket} AS b, max(level) AS lv, max(mixed) AS mx FROM ({starts}) "
            "GROUP BY actor, b) GROUP BY b"
        )
        slot_of, size = rng.slots(), len(rng.buckets())
        entered, converted = [0] * size, [0] * size
        mixed: set[str] = set()
        for bucket_text, entering, converting, tied in self.ctx.execute(sql, params.values).rows:
            mixed.update(str(actor) for actor in tied)
            slot = slot_of(bucket_text)
            if slot is not None:
                entered[slot], converted[slot] = int(entering), int(converting)
        if mixed:
            more = self._trend_counts(self._fetch_left_out(rng, mixed, "tied"), rng)
            entered = [a + b for a, b in zip(entered, more[0], strict=True)]
            converted = [a + b for a, b in zip(converted, more[1], strict=True)]
        return self._trend_series(entered, converted, rng)

    def _trend_steps(self) -> tuple[int, int]:
        """The 1-based steps a trend counts from (entered) and to (converted)."""
        from_step = (self.filter.funnelFromStep or 0) + 1
        to_step = (self.filter.funnelToStep if self.filter.funnelToStep is not None else self.steps - 1) + 1
        return from_step, to_step

    def _trend_series(
        self, entered: list[int], converted: list[int], rng: ResolvedRange
    ) -> list[dict[str, Any]]:
        data = [round(c / e * 100, 2) if e else 0 for c, e in zip(converted, entered, strict=True)]
        return [{"count": len(entered), "data": data, "days": rng.day_strings(), "labels": rng.labels()}]

    def _trends(self, actors: list[tuple[str, list[Event]]], rng: ResolvedRange) -> list[dict[str, Any]]:
        return self._trend_series(*self._trend_counts(actors, rng), rng)

    def _trend_counts(
        self, actors: list[tuple[str, list[Event]]], rng: ResolvedRange
    ) -> tuple[list[int], list[int]]:
        """Per bucket, the actors entering (a start in it reaching ``funnelFromStep``) and converting."""
        buckets = rng.buckets()
        index = {b: i for i, b in enumerate(buckets)}
        from_step, to_step = self._trend_steps()
        entered, converted = [0] * len(buckets), [0] * len(buckets)
        tz = self.ctx.tz
        for number, (_actor, events) in enumerate(actors):
            if number % CHECK_EVERY == 0:
                self.ctx.check()
            periods: dict[int, int] = {}
            for position, (t, steps, _bd) in enumerate(events):
                if 1 not in steps:
                    continue
                bucket = start_of(datetime.fromtimestamp(t, tz), rng.interval, rng.week_start)
                slot = index.get(bucket)
                if slot is None:
                    continue
                later = [events[position]] + [e for e in events[position + 1 :] if 1 not in e[1]]
                walk = self._walk(later)
                periods[slot] = max(periods.get(slot, -1), walk.step)
            for slot, step in periods.items():
                if step + 1 >= from_step:
                    entered[slot] += 1
                    if step + 1 >= to_step:
                        converted[slot] += 1
        return entered, converted
