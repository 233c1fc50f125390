"""The ordered funnel walk in ClickHouse SQL, for funnels where it provably equals ``funnel_walk``.

Applies when the funnel is ``ordered``, has no exclusions, every step is a distinct named event (so one
event serves at most one step) and attribution is first/last touch. Then PostHog's walk (spec §5.4)
has a closed form over each actor's events sorted by (time, step), with no fold (chdb-core-lite 26.5
has no ``arrayFold``):

- from each step-1 event (a *start* s) follow the greedy chain: the first step-2 event at or after it,
  then the first step-3 event at or after that, …; the chain's level is how many of its steps lie within
  ``W`` of s. The actor's level is the best chain's (the oracle's definition, which equals the walk's);
- the walk's best path is the first path to reach that level: the chain that completes it earliest,
  and of those the latest start (the walk extends the latest start it holds). Its step times are the
  conversion times.

An actor's events are one sorted ``Array(Int64)`` (time and step packed into one integer, so ClickHouse
sorts plain numbers rather than tuples), and every chain is found with backward fills
(``arrayReverseFill``) that never index one array from inside another's lambda, so an actor costs
O(steps² × events). Timestamps are integer microseconds: window tests and times are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from insightd.queries.models import FunnelsFilter, FunnelsQuery

MAX_SQL_STEPS = 16
# Planning the exclusion walk grows steeply with its depth (one layer per step): ~0.1 s at 3 steps,
# ~1 s at 8, ~2 s at 12; longer funnels with exclusions take the hybrid walk.
MAX_SQL_EXCLUSION_STEPS = 8


def applicable(query: FunnelsQuery, flt: FunnelsFilter, viz: str) -> bool:
    """True when the SQL walk gives exactly the numbers of ``funnel_walk.walk_ordered`` (ordered and
    strict funnels; strict ones with some actors walked in Python) or ``funnel_walk.walk_unordered``,
    with any breakdown attribution (step: ``step_attributed``)."""
    if flt.breakdownAttributionType == "step" and query.breakdownFilter and query.breakdownFilter.breakdown:
        return not flt.exclusions and _shape(query, flt, viz, step=True)
    return not flt.exclusions and _shape(query, flt, viz)


def trends_applicable(query: FunnelsQuery, flt: FunnelsFilter) -> bool:
    """The funnel ``trends`` visualisation of an ordered funnel over distinct named steps, with
    exclusions of other events: each start's level is its greedy chain's (``start_levels``)."""
    ordered = (flt.funnelOrderType or "ordered") == "ordered"
    names = [node.event for node in query.series]
    every = names + [x.event for x in flt.exclusions or []]
    distinct = None not in every and len(set(every)) == len(every) and len(names) <= MAX_SQL_STEPS
    return ordered and distinct and len(exclusion_ranges(flt)) <= MAX_SQL_EXCLUSIONS


def start_levels(events: str, steps: int, window_us: int, ranges: Sequence[tuple[int, int]] = ()) -> str:
    """Rows ``(actor, start, level, mixed)``: every start (step-1 event, shifted µs) of every actor and
    the level of the walk from that start alone (its greedy chain within ``W``), from ``events`` = rows
    of ``a`` and ``actor``. This is what the Python trends walk computes per start.

    ``ranges``: the exclusions' distinct (from, to) steps, whose events carry ``EXCLUSION_CODE`` + their
    index. The walk from one start is excluded (level 0) when an exclusion event comes after its chain
    has done from + 1 steps and before it has done to + 1, within ``W`` of the start: for each range,
    the first exclusion event after the chain's step-(from + 1) event (``_at_chain_step``) decides.
    ``mixed``: with exclusions, two events of different codes at one timestamp (the Python walk's tie
    rules decide for those actors)."""
    layers = walk_layers(steps, window_us)[:3]  # ts/st, the chains' times, the levels
    first = [f"arrayFilter((t, x) -> x = 1, ts, st) AS N{j}" for j in range(len(ranges))]
    for j, (start, _end) in enumerate(ranges):
        code = EXCLUSION_CODE + j
        own = f"arrayMap((t, x) -> if(x = {code}, t, 0), ts, st)"
        nxt = f"arrayReverseFill((v, x) -> x = {code}, {own}, st)"  # the next such event's time
        first[j] = f"{_at_chain_step(start + 1, nxt)} AS N{j}"
    extra = [f"N{j}" for j in range(len(ranges))]
    if ranges:
        layers[1] = (layers[1][0], [*layers[1][1], *first, _MIXED])
        layers[2] = ([*layers[2][0], *extra, "mixed"], layers[2][1])
    sql = events
    for keep, added in layers:
        sql = f"SELECT {', '.join([*keep, 'actor', *added])} FROM ({sql})"
    joined = ["T1 AS start", "L AS level0", *(f"{n} AS {n.lower()}" for n in extra)]
    joined += [f"T{m} AS t{m}" for m in sorted({end + 1 for _start, end in ranges} - {1})]
    excluded = " OR ".join(
        f"(level0 >= {start + 1} AND n{j} > 0 AND n{j} - start <= {window_us} "
        f"AND (level0 < {end + 1} OR n{j} < t{end + 1}))"
        for j, (start, end) in enumerate(ranges)
    )
    level = f"if({excluded}, 0, level0)" if ranges else "level0"
    mixed = "mixed" if ranges else "0"
    return (
        f"SELECT actor, start, toUInt8({level}) AS level, {mixed} AS mixed "
        f"FROM ({sql}) ARRAY JOIN {', '.join(joined)}"
    )


def _at_chain_step(
    k: int,
    values: str,
    matches: Callable[[int], str] = lambda m: f"x = {m}",
    after: Callable[[str], str] = str,
) -> str:
    """Per start (step-1 position), ``values`` at the position of its greedy chain's step-k event (0
    where the chain has none): a backward fill over the step-k positions, then over those of each step
    below (``walk_layers``' ``H(k, m)``). ``matches(m)``: whether an event (``x``) is of step m;
    ``after``: where a chain's search for its next step starts (the walk over masks reads one position on)."""
    if k == 1:
        return f"arrayFilter((t, x) -> {matches(1)}, {values}, st)"
    own = f"arrayMap((t, x) -> if({matches(k)}, t, 0), {values}, st)"
    fill = f"arrayReverseFill((v, x) -> {matches(k)}, {own}, st)"
    for i in range(k - 1, 1, -1):
        fill = (
            f"arrayReverseFill((v, x) -> {matches(i)}, "
            f"arrayMap((h, x) -> if({matches(i)}, h, 0), {after(fill)}, st), st)"
        )
    return f"arrayFilter((h, x) -> {matches(1)}, {after(fill)}, st)"


def hybrid(query: FunnelsQuery, flt: FunnelsFilter, viz: str) -> bool:
    """Ordered funnels with exclusions: actors without an exclusion event walk in SQL (for them the
    walk is the plain ordered one), the others in Python."""
    return (
        bool(flt.exclusions) and (flt.funnelOrderType or "ordered") == "ordered" and _shape(query, flt, viz)
    )


def exclusions_applicable(query: FunnelsQuery, flt: FunnelsFilter, viz: str) -> bool:
    """Ordered and unordered funnels with exclusions whose events all differ by name from each other and
    from the steps, so an event is one step or one exclusion (``exclusion_layers``, ``unordered_layers``);
    actors with two different events at one timestamp (``mixed``) still take the Python walk."""
    exclusions = flt.exclusions or []
    names = [node.event for node in query.series] + [x.event for x in exclusions]
    distinct = None not in names and len(set(names)) == len(names)
    order = flt.funnelOrderType or "ordered"
    return (
        bool(exclusions)
        and order in ("ordered", "unordered")
        and _shape(query, flt, viz)
        and distinct
        and len(exclusion_ranges(flt)) <= MAX_SQL_EXCLUSIONS
        and len(names) - len(exclusions) <= MAX_SQL_EXCLUSION_STEPS
    )


def exclusion_ranges(flt: FunnelsFilter) -> list[tuple[int, int]]:
    """The exclusions' distinct (from, to) steps: exclusion events of range j carry code
    ``EXCLUSION_CODE + j`` (``exclusion_codes``)."""
    ranges = [(x.funnelFromStep, x.funnelToStep) for x in flt.exclusions or []]
    return list(dict.fromkeys(ranges))


def exclusion_codes(flt: FunnelsFilter) -> list[int]:
    """Each exclusion's step code in the SQL walks (``EXCLUSION_CODE`` and up)."""
    ranges = exclusion_ranges(flt)
    return [EXCLUSION_CODE + ranges.index((x.funnelFromStep, x.funnelToStep)) for x in flt.exclusions or []]


def exclusion_marks(flt: FunnelsFilter) -> dict[int, list[int]]:
    """Per level m (paths that completed m steps): the codes of the exclusions that mark such paths."""
    marks: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(exclusion_ranges(flt)):
        for level in range(start + 1, end + 1):
            marks.setdefault(level, []).append(EXCLUSION_CODE + index)
    return marks


def multi_applicable(query: FunnelsQuery, flt: FunnelsFilter, viz: str) -> list[int] | None:
    """The ``step_masks`` table when the SQL walk over step masks applies: ordered funnels without
    exclusions whose steps are not distinct events (one event name in several steps, or an all-events
    step), so an event may match several steps; actors with such an event tied on time with another
    (``mixed``) take the Python walk."""
    names = [node.event for node in query.series]
    distinct = None not in names and len(set(names)) == len(names)
    ordered = (flt.funnelOrderType or "ordered") == "ordered"
    if distinct or not ordered or flt.exclusions or not _shape(query, flt, viz, distinct=False):
        return None
    return step_masks(names)


def _shape(
    query: FunnelsQuery, flt: FunnelsFilter, viz: str, *, step: bool = False, distinct: bool = True
) -> bool:
    if viz not in ("steps", "time_to_convert"):
        return False
    names = [node.event for node in query.series]
    if len(names) > MAX_SQL_STEPS:
        return False
    if distinct and (None in names or len(set(names)) != len(names)):
        return False
    bf = query.breakdownFilter
    if bf and bf.breakdown:
        kinds = ("first_touch", "last_touch", "all_events", *(["step"] if step else []))
        return (flt.breakdownAttributionType or "first_touch") in kinds
    return True


# An event is (µs + EPOCH_SHIFT) * 2**STEP_BITS + step: one Int64 that sorts by (time, step).
STEP_BITS = 5
EPOCH_SHIFT = 2**52  # makes every DateTime64 (1900–2299) positive, so 0 can mean "no event"
# An exclusion event's step: EXCLUSION_CODE + the index of its (from, to) range among the funnel's
# distinct ranges, so events that mark the same paths share a code (as the Python walk sees them).
EXCLUSION_CODE = MAX_SQL_STEPS + 1
MAX_SQL_EXCLUSIONS = 2**STEP_BITS - EXCLUSION_CODE  # distinct exclusion ranges
# The first layer of every walk: the actor's encoded events ``a`` split into times ``ts`` and steps ``st``.
_SPLIT: tuple[list[str], list[str]] = (
    [],
    [
        f"arrayMap(x -> intDiv(x, {2**STEP_BITS}), a) AS ts",
        f"arrayMap(x -> toUInt8(x % {2**STEP_BITS}), a) AS st",
    ],
)
# Bits of an event's code in the walk over masks: 2**53.7 µs (shifted, to 2299) * 2**8 fits an Int64.
MULTI_STEP_BITS = 8


def _multi_split(table: Sequence[int]) -> tuple[list[str], list[str]]:
    """``_SPLIT`` for events coded by ``step_masks``: ``st`` holds each event's step mask."""
    return (
        [],
        [
            f"arrayMap(x -> intDiv(x, {2**MULTI_STEP_BITS}), a) AS ts",
            f"arrayMap(x -> [{', '.join(map(str, table))}][x % {2**MULTI_STEP_BITS} + 1], a) AS st",
        ],
    )


# Whether two events at one timestamp differ in step (such actors take the Python walk's tie rules).
_MIXED = (
    "arrayExists((t, x, pt, px) -> t = pt AND x != px, ts, st, "
    "arrayPushFront(arrayPopBack(ts), -1), arrayPushFront(arrayPopBack(st), 255)) AS mixed"
)
# Above every shifted µs time: a chain's key is level * _KEY_BASE + (_KEY_BASE - 1 - completion).
_KEY_BASE = 2**54


def encoded_event(timestamp: str, step: str, bits: int = STEP_BITS) -> str:
    """The Int64 encoding of one event: sorting these sorts by (time, step); ``bits`` for the step (or
    ``MULTI_STEP_BITS`` for a code of ``step_masks``)."""
    return f"(toUnixTimestamp64Micro({timestamp}) + {EPOCH_SHIFT}) * {2**bits} + {step}"


def step_masks(names: Sequence[str | None]) -> list[int] | None:
    """The step masks (bit k: matches step k) that events can have in a funnel whose steps are these
    event names (None: all events), indexed by the code an event carries in the SQL walk over masks:
    code k is step k alone, so events tied on time sort by step; the codes above are the masks of
    several steps (an event can match steps of its own name and the all-events steps only).
    None when there are more than ``MULTI_STEP_BITS`` can number."""
    anything = [k for k, name in enumerate(names, start=1) if name is None]
    groups = {name: {*anything, *(k for k, n in enumerate(names, start=1) if n == name)} for name in names}
    masks: dict[int, None] = {}
    for group in [anything, *map(sorted, groups.values())]:
        for subset in range(1, 2 ** len(group)):
            mask = sum(2**k for j, k in enumerate(group) if subset >> j & 1)
            if mask & (mask - 1):  # several steps (one step's code is its number)
                masks[mask] = None
    table = [0, *(2**k for k in range(1, len(names) + 1)), *sorted(masks)]
    return table if len(table) <= 2**MULTI_STEP_BITS else None


def multi_step_code(conditions: Sequence[str], table: Sequence[int]) -> str:
    """An event's code in the SQL walk over masks (``step_masks``): the index of the mask of the steps
    whose ``conditions`` it meets (0: none)."""
    mask = " + ".join(f"if({c}, {2**k}, 0)" for k, c in enumerate(conditions, start=1))
    return f"toUInt8(indexOf([{', '.join(map(str, table))}], {mask}) - 1)"


def walk_layers(
    steps: int, window_us: int, *, masks: Sequence[int] | None = None
) -> list[tuple[list[str], list[str]]]:
    """Subquery layers over ``a`` (the actor's sorted encoded events) → ``level``, ``t1..tn``.

    ``level`` is the 1-based furthest step and ``tk`` the best path's step-k time (shifted µs, 0 past
    ``level``). Every array pass is a lambda over whole arrays with no captured column (a captured
    array is copied once per element, which made the walk quadratic per actor):

    - ``H(k, m)[p]``: the step-m time of the greedy chain whose step-k search starts at position p; one
      backward fill per (k, m): ``H(m, m)`` fills the step-m times backwards, ``H(k, m)`` fills the value
      ``H(k + 1, m)`` holds at each step-k position backwards;
    - ``T1`` the starts' times and ``Tm = H(2, m)`` at the starts: every chain's step times;
    - per chain ``key = level * B + (B - 1 - completion)``; the largest key is the best chain (highest
      level, then earliest completion), and its last position is the latest such start.

    Each layer is (columns kept, columns added): ClickHouse inlines aliases, so chained aliases
    inside one SELECT make the analyzer's work grow steeply; a layer boundary stops that.

    ``masks``: ``a``'s events are coded by this ``step_masks`` table, as an event may match several
    steps (one event name in two steps, an all-events step); ``st`` holds their masks. ``walk_ordered``
    takes an event's steps from the highest down, so it never serves two steps of one path: a chain's
    next step is searched strictly after the position of its last one (``H(k + 1, m)`` read one
    position on). Adds
    ``mixed``: two events at one timestamp of which one matches several steps (the Python walk's tie
    rules decide for those actors).
    """

    multi = masks is not None

    def matches(m: int) -> str:
        return f"bitTest(x, {m})" if multi else f"x = {m}"

    def after(fill: str) -> str:  # the value at the next position (the search starts after this one)
        return f"arrayPushBack(arrayPopFront({fill}), 0)" if multi else fill

    chains = [f"{_at_chain_step(m, 'ts', matches, after)} AS T{m}" for m in range(1, steps + 1)]
    mixed = []
    if multi:
        mixed = ["mixed"]
        chains.append(
            "arrayExists((t, x, pt, px) -> t = pt AND (bitCount(x) > 1 OR bitCount(px) > 1), ts, st, "
            "arrayPushFront(arrayPopBack(ts), -1), arrayPushFront(arrayPopBack(st), 0)) AS mixed"
        )
    arrays = [f"T{m}" for m in range(1, steps + 1)]
    names = ", ".join(f"t{m}" for m in range(1, steps + 1))
    within = " + ".join(f"(t{m} > 0 AND t{m} - t1 <= {window_us})" for m in range(2, steps + 1)) or "0"
    completion = "multiIf(" + "".join(f"l = {m}, t{m}, " for m in range(1, steps)) + f"t{steps})"
    times = [f"if(level >= {m}, T{m}[best], 0) AS t{m}" for m in range(1, steps + 1)]
    return [
        _SPLIT if masks is None else _multi_split(masks),
        ([], chains),
        ([*mixed, *arrays], [f"arrayMap(({names}) -> toUInt8(1 + {within}), {', '.join(arrays)}) AS L"]),
        (
            [*mixed, *arrays],
            [
                f"arrayMap((l, {names}) -> l * {_KEY_BASE} + ({_KEY_BASE - 1} - {completion}), "
                f"L, {', '.join(arrays)}) AS K"
            ],
        ),
        (
            [*mixed, *arrays],
            ["arrayMax(K) AS kmax", "length(K) + 1 - indexOf(arrayReverse(K), kmax) AS best"],
        ),
        (mixed, [f"toUInt8(intDiv(kmax, {_KEY_BASE})) AS level", *times]),
    ]


def unordered_layers(
    steps: int, window_us: int, exclusions: bool = False
) -> list[tuple[list[str], list[str]]]:
    """Like ``walk_layers``, for unordered funnels (``walk_unordered``): from each event (a start), the
    first event of every step at or after it (one backward fill per step); a start's level is how many of
    those lie within ``W`` of it; the best start is the first with the highest level, and ``tk`` is the
    k-th of its steps' times in time order.

    With ``exclusions`` (events coded ``EXCLUSION_CODE`` and up, which exclude the whole funnel) a start
    counts for nothing when the first exclusion event at or after it lies within ``W`` of it and before
    its steps are all done (the walk stops there and forgets them), and an exclusion event is no start;
    ``mixed`` as in ``exclusion_layers``."""
    firsts = [
        f"arrayReverseFill((v, x) -> x = {s}, arrayMap((t, x) -> if(x = {s}, t, 0), ts, st), st) AS F{s}"
        for s in range(1, steps + 1)
    ]
    arrays = [f"F{s}" for s in range(1, steps + 1)]
    names = ", ".join(f"f{s}" for s in range(1, steps + 1))
    within = " + ".join(f"(f{s} > 0 AND f{s} - t0 <= {window_us})" for s in range(1, steps + 1))
    level = f"toUInt8({within})"
    carried = ["ts"]
    if exclusions:
        code = EXCLUSION_CODE
        own = f"arrayMap((t, x) -> if(x >= {code}, t, 0), ts, st)"
        firsts += [
            f"arrayReverseFill((v, x) -> x >= {code}, {own}, st) AS X",
            _MIXED,
        ]
        completed = f"({within}) = {steps} AND xx > greatest({names})"  # the walk stops at completion
        excluded = f"x0 >= {code} OR (xx > 0 AND xx - t0 <= {window_us} AND NOT ({completed}))"
        level = f"toUInt8(if({excluded}, 0, {within}))"
        names = f"x0, xx, {names}"
        arrays = ["st", "X", *arrays]
        carried = ["ts", "mixed"]
    best_times = ", ".join(f"F{s}[best]" for s in range(1, steps + 1))
    times = [f"if(level >= {k}, T[{k}], 0) AS t{k}" for k in range(1, steps + 1)]
    kept = carried[1:]
    return [
        _SPLIT,
        (["ts", "st"] if exclusions else ["ts"], firsts),
        ([*carried, *arrays], [f"arrayMap((t0, {names}) -> {level}, ts, {', '.join(arrays)}) AS L"]),
        ([*carried, *arrays], ["arrayMax(L) AS level", "indexOf(L, level) AS best"]),
        ([*kept, "level"], [f"[{best_times}] AS starts_at", "ts[best] AS t_start"]),
        (
            [*kept, "level"],
            [f"arraySort(arrayFilter(x -> x > 0 AND x - t_start <= {window_us}, starts_at)) AS T"],
        ),
        ([*kept, "level"], times),
    ]


def strict_layers(steps: int, window_us: int) -> list[tuple[list[str], list[str]]]:
    """Like ``walk_layers``, for strict funnels (``walk_ordered(strict=True)``) over *all* the actor's
    events (step 0: matches no step), plus ``mixed``: whether two events at one timestamp differ in step.

    Without such ties the strict walk is about runs of equal steps: a step-1 run starts a path at its
    last event; the path goes on only through the runs right after it, with steps 2, 3, … in turn, each
    taken at its first event if that is within ``W`` of the start; any other run ends it. ``level`` is the
    highest step a path reaches and the best path the first to reach it. Actors with mixed ties take the
    Python walk (its rules for them differ; they are rare).
    """
    window = f"(x = 1 OR f - s <= {window_us})"
    times = [f"if(level >= {k}, RF[best - level + {k}], 0) AS t{k}" for k in range(2, steps + 1)]
    return [
        _SPLIT,
        (
            ["ts", "st"],
            [
                "arrayPushFront(arrayPopBack(st), 255) AS pst",
                "arrayPushBack(arrayPopFront(st), 255) AS nst",
                "arrayPushFront(arrayPopBack(ts), -1) AS pts",
            ],
        ),
        (
            [],
            [
                "arrayExists((t, x, pt, px) -> t = pt AND x != px, ts, st, pts, pst) AS mixed",
                "arrayFilter((x, px) -> x != px, st, pst) AS RS",
                "arrayFilter((t, x, px) -> x != px, ts, st, pst) AS RF",
                "arrayFilter((t, x, nx) -> x != nx, ts, st, nst) AS RL",
            ],
        ),
        (
            ["mixed", "RS", "RF"],
            [
                "arrayMap((x, px) -> x = px + 1, RS, arrayPushFront(arrayPopBack(RS), 255)) AS inc",
                "arrayFill(v -> v > 0, arrayMap((x, l) -> if(x = 1, l, 0), RS, RL)) AS S",
            ],
        ),
        (
            ["mixed", "RS", "RF", "S"],
            ["arrayFill(v -> v > 0, arrayMap((i, b) -> if(b, 0, i), arrayEnumerate(RS), inc)) AS LB"],
        ),
        (
            ["mixed", "RF", "S"],
            [
                f"arrayMap((i, lb, x, f, s) -> if(x >= 1 AND i - lb >= x - 1 AND {window}, x, 0), "
                "arrayEnumerate(RS), LB, RS, RF, S) AS LV"
            ],
        ),
        (["mixed", "RF", "S"], ["toUInt8(arrayMax(LV)) AS level", "indexOf(LV, level) AS best"]),
        (["mixed", "level"], ["S[best] AS t1", *times]),
    ]


def exclusion_layers(
    steps: int, window_us: int, marks: dict[int, list[int]]
) -> list[tuple[list[str], list[str]]]:
    """Like ``walk_layers``, for ordered funnels with exclusions (``walk_ordered`` with its marks), plus
    ``mixed`` (as in ``strict_layers``: such actors take the Python walk). ``marks[m]`` are the codes
    of the exclusions that mark a path which completed m steps. ``level`` 0: the actor is excluded.

    Without mixed ties the walk has a closed form, level by level. A path is named by its start (the
    step-1 event it began at; starts are distinct). *Arrivals* at level 1 are the step-1 events; the
    *holder* of level k at an event is the latest arrival at k before it, and its *segment* runs up
    to the next arrival at k. In the segment of holder h (start s) at level k - 1:

    - its first step-k event e, if ``e - s <= W``, is an arrival of h at level k, unless an exclusion
      marking level k - 1 lies between, which makes it an excluded advance (it counts as reaching k);
    - its first marking exclusion x, when before any step-k event and ``x - s <= W``, is a *mark* at
      level k - 1.

    Let M be the highest level reached. The walk's best path is the first arrival r at M with no mark
    at M in ``(r, start(r) + W]``; if there is none the actor is excluded. (The walk keeps the first
    path to reach M, replaces it at the next path to reach M once it is marked excluded, and marks it
    at any mark at M within ``W`` of its start; since reach starts never decrease, a mark that excludes
    the kept path excludes every path reached before it too.) Its step-j time is the arrival at level
    j with its start. Each array pass is a lambda with no captured column (see ``walk_layers``):
    ``S{k}`` holds each level-k arrival's start, ``H`` the holder of the level below, ``G`` and ``XM``
    the segment of the last step-k event and of the last marking exclusion; ``arrayPushFront(
    arrayPopBack(·), 0)`` reads the previous position's value.
    """

    def is_mark(level: int, x: str) -> str | None:
        codes = marks.get(level)
        return f"{x} IN ({', '.join(str(c) for c in codes)})" if codes else None

    layers: list[tuple[list[str], list[str]]] = [
        _SPLIT,
        (
            ["ts", "st"],
            [
                _MIXED,
                "arrayMap((t, x) -> if(x = 1, t, 0), ts, st) AS S1",
            ],
        ),
    ]
    # S{k}: at each level-k arrival its path's start, else 0; M{k}: the highest level reached up to k;
    # C{m}: the position of the first clean arrival at level m. One layer per level: aliases within a
    # layer are inlined (identical expressions are computed once), and few columns are carried.
    carried = ["ts", "st", "mixed", "S1"]
    for k in range(2, steps + 1):
        mark = is_mark(k - 1, "x")
        first = f"x = {k} AND h > 0 AND gp != h AND t - h <= {window_us}"
        gp = "arrayPushFront(arrayPopBack(G), 0)"
        below = f"M{k - 1}" if k > 2 else "1"
        added = [
            f"arrayFill(v -> v > 0, S{k - 1}) AS H",
            f"arrayFill(v -> v > 0, arrayMap((h, x) -> if(x = {k}, h, 0), H, st)) AS G",
            f"toUInt8(if(arrayExists((t, x, h, gp) -> {first}, ts, st, H, {gp}), {k}, {below})) AS M{k}",
        ]
        if mark:
            marked = f"{mark} AND h > 0 AND xp != h AND g != h AND t - h <= {window_us}"
            added += [
                f"arrayFill(v -> v > 0, arrayMap((h, x) -> if({mark}, h, 0), H, st)) AS XM",
                f"arrayMap((t, x, h, gp, xm) -> if({first} AND xm != h, h, 0), ts, st, H, {gp}, XM) AS S{k}",
                f"arrayMap((t, x, h, g, xp) -> if({marked}, t, 0), "
                "ts, st, H, G, arrayPushFront(arrayPopBack(XM), 0)) AS MK",
                f"arrayFirstIndex((s, nm) -> s > 0 AND (nm = 0 OR nm - s > {window_us}), S{k - 1}, "
                f"arrayReverseFill(v -> v > 0, MK)) AS C{k - 1}",
            ]
        else:
            added += [
                f"arrayMap((t, x, h, gp) -> if({first}, h, 0), ts, st, H, {gp}) AS S{k}",
                f"arrayFirstIndex(s -> s > 0, S{k - 1}) AS C{k - 1}",
            ]
        layers.append(([*carried, *([below] if k > 2 else [])], added))
        carried = [*carried, f"S{k}", f"C{k - 1}"]
    # the best path: the first clean arrival at the highest level reached
    starts = ["ts", "mixed", *[f"S{m}" for m in range(1, steps + 1)]]
    pick = "multiIf(" + "".join(f"M{steps} = {m}, C{m}, " for m in range(1, steps))
    pick += f"arrayFirstIndex(s -> s > 0, S{steps}))"
    layers.append((starts, [f"{pick} AS best", f"toUInt8(if(best > 0, M{steps}, 0)) AS level"]))
    start = "multiIf(" + "".join(f"level = {m}, S{m}[best], " for m in range(1, steps)) + f"S{steps}[best])"
    layers.append((starts, ["level", "best", f"{start} AS t1"]))
    times = [
        f"if(level > {j}, ts[indexOf(S{j}, t1)], if(level = {j}, ts[best], 0)) AS t{j}"
        for j in range(2, steps + 1)
    ]
    layers.append((["mixed"], ["level", "t1", *times]))
    return layers


def step_aggregates(steps: int) -> list[str]:
    """Per group: actors reaching each step; per step ≥ 2 the sum, count and median of non-zero times.

    The median interpolates between the two middle values (ClickHouse ``median`` semantics on PostHog's
    side; the lite engine has no ``quantileExactInclusive``), from the sorted times.
    """
    out = [f"countIf(level >= {k}) AS reached{k}" for k in range(1, steps + 1)]
    for k in range(2, steps + 1):
        diff, cond = f"(t{k} - t{k - 1})", f"level >= {k} AND t{k} != t{k - 1}"
        times = f"arraySort(groupArrayIf({diff}, {cond}))"
        middle = (
            "arrayMap(a -> (a[intDiv(length(a) - 1, 2) + 1] + a[intDiv(length(a), 2) + 1]) / 2, "
            f"[{times}])[1]"
        )
        out += [f"sumIf({diff}, {cond}) AS sum{k}", f"countIf({cond}) AS n{k}", f"{middle} AS median{k}"]
    return out


def actor_events(encoded: str, bd: str, attribution: str | None, *, where: str = "") -> list[str]:
    """The per-actor aggregates that ``actor_query`` reads: ``a`` and the attributed ``bd`` (of the
    events meeting ``where``, when given).

    ``encoded`` is an event's ``encoded_event``. First/last touch take the first/last non-empty value
    in (time, step) order; events tied on both are ordered by value, so the answer is deterministic.
    All-events attribution walks each value's events apart: the rows are grouped by actor *and* value
    (``group_key``), and ``bd`` is the value.
    """
    out = [
        f"arraySort(groupArrayIf({encoded}, {where})) AS a"
        if where
        else f"arraySort(groupArray({encoded})) AS a"
    ]
    if attribution is None:
        out.append("'' AS bd")
    elif attribution == "all_events":
        out.append(bd if bd == "bd" else f"{bd} AS bd")
    else:
        pick = "argMinIf" if attribution == "first_touch" else "argMaxIf"
        condition = f"{bd} != ''" + (f" AND {where}" if where else "")
        out.append(f"{pick}({bd}, ({encoded}, {bd}), {condition}) AS bd")
    return out


def step_attributed(encoded: str, bd: str, actor: str, step: int, grouped: str) -> str:
    """Step attribution (``FunnelsRunner._attributed``): one row per actor and value of its step-``step``
    events (``vi``: the value's order of first appearance; events tied on time and step in value order)
    whose ``a`` keeps the other steps' events and the step's events of that value only. ``grouped``:
    the ``FROM … GROUP BY`` of the actor's events."""
    mask = 2**STEP_BITS
    values = f"arrayDistinct(arrayFilter((b, e) -> e % {mask} = {step}, bds, evs))"
    return (
        f"SELECT actor, v AS bd, vi, arrayFilter((e, b) -> e % {mask} != {step} OR b = v, evs, bds) AS a "
        f"FROM (SELECT {actor} AS actor, arraySort(groupArray({encoded})) AS evs, "
        f"arraySort((b, e) -> (e, b), groupArray({bd}), groupArray({encoded})) AS bds {grouped}) "
        f"ARRAY JOIN {values} AS v, arrayEnumerate({values}) AS vi"
    )


def step_pick(walked: str, steps: int, *, mixed: bool = False) -> str:
    """Per actor, of ``step_attributed``'s walked rows: the value whose walk goes furthest, the first
    such value on ties (as the Python walk picks). ``mixed``: the rows carry it (strict funnels), and
    an actor with any mixed row is mixed, with ``actor`` kept (the Python walk attributes it)."""
    names = ["bd", "level", *(f"t{k}" for k in range(1, steps + 1))]
    out = ", ".join(f"tupleElement(best, {i + 1}) AS {name}" for i, name in enumerate(names))
    best = f"argMax(tuple({', '.join(names)}), (level, -vi))"
    kept = "actor, mixed, " if mixed else ""
    grouped = "max(mixed) AS mixed, " if mixed else ""
    return f"SELECT {kept}{out} FROM (SELECT actor, {grouped}{best} AS best FROM ({walked}) GROUP BY actor)"


def group_key(actor: str, attribution: str | None) -> str:
    """What ``actor_events`` rows are grouped by: the actor, and for all-events attribution its value."""
    return f"{actor}, bd" if attribution == "all_events" else actor


def actor_query(
    events: str,
    steps: int,
    window_us: int,
    *,
    order: str = "ordered",
    carry: Sequence[str] = ("bd",),
    marks: dict[int, list[int]] | None = None,
    masks: Sequence[int] | None = None,
) -> str:
    """Per actor: ``level``, ``t1..tn`` and the ``carry`` columns (``bd``), from ``events`` = rows of
    ``actor_events`` columns (plus ``carry``); strict funnels, those with exclusion ``marks`` and ordered
    ones over step ``masks`` add ``mixed`` (see ``strict_layers``, ``exclusion_layers`` and
    ``walk_layers``)."""
    sql = events
    if masks is not None:
        layers = walk_layers(steps, window_us, masks=masks)
    elif marks is not None and order == "unordered":
        layers = unordered_layers(steps, window_us, exclusions=True)
    elif marks is not None:
        layers = exclusion_layers(steps, window_us, marks)
    else:
        layers = {"unordered": unordered_layers, "strict": strict_layers}.get(order, walk_layers)(
            steps, window_us
        )
    for keep, added in layers:
        sql = f"SELECT {', '.join([*keep, *carry, *added])} FROM ({sql})"
    return sql


def parse_steps(row: Sequence[Any], steps: int) -> tuple[list[int], list[float | None], list[float | None]]:
    """One aggregate row (without the group column) → reached counts, mean and median seconds per step."""
    reached = [int(row[k]) for k in range(steps)]
    means: list[float | None] = [None]
    medians: list[float | None] = [None]
    for k in range(steps - 1):
        total, count, median = row[steps + 3 * k : steps + 3 * k + 3]
        means.append(int(total) / 1e6 / int(count) if count else None)
        medians.append(float(median) / 1e6 if count else None)
    return reached, means, medians
