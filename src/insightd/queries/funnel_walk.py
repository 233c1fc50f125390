"""The funnel walk for one actor: PostHog's ``aggregate_funnel`` semantics, in plain Python (spec §5.4–5.6).

Input: the actor's events sorted by time, each ``(timestamp_seconds, steps, breakdown)`` where
``steps`` lists the 1-based funnel steps the event matches and ``-s`` for an exclusion that marks
paths which completed ``s - 1`` steps. Output: the furthest step reached (0-based, -1 = dropped)
and the times of the best path's steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby

Event = tuple[float, Sequence[int], str]


@dataclass
class Entered:
    timestamp: float = 0.0
    excluded: bool = False
    times: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Walk:
    step: int  # 0-based furthest step; -1 when the actor is excluded
    times: tuple[float, ...]  # timestamps of the best path's steps

    @property
    def timings(self) -> list[float]:
        return [b - a for a, b in zip(self.times, self.times[1:], strict=False)]


class _State:
    def __init__(self, steps: int) -> None:
        self.entered = [Entered() for _ in range(steps + 1)]
        self.max_step = 0
        self.max_path = Entered()


def _process(state: _State, t: float, steps: Sequence[int], window: float, strict: bool) -> None:
    """One event: its matched steps from the highest down, so it never serves two steps of a path."""
    entered = state.entered
    for raw in reversed(steps):
        exclusion, step = raw < 0, abs(raw)
        previous = entered[step - 1]
        in_window = previous.timestamp != 0.0 and t - previous.timestamp <= window
        already = entered[step].timestamp == previous.timestamp and entered[step].timestamp != 0.0
        if not in_window or already:
            continue
        if exclusion:
            if not previous.excluded:
                previous.excluded = True
                if state.max_step == step - 1 and t - state.max_path.timestamp <= window:
                    state.max_path.excluded = True
            continue
        _advance(state, step, t)
    if strict:
        for index in range(1, len(entered)):
            if index not in steps:
                entered[index] = Entered()


def _advance(state: _State, step: int, t: float) -> Entered:
    previous = state.entered[step - 1]
    new = Entered(previous.timestamp, previous.excluded, [*previous.times, t])
    if not previous.excluded:
        state.entered[step] = new
    if step > state.max_step or (step == state.max_step and state.max_path.excluded):
        state.max_step, state.max_path = step, new
    return new


def walk_ordered(events: Sequence[Event], steps: int, window: float, *, strict: bool = False) -> Walk:
    state = _State(steps)
    for t, group_iter in groupby(events, key=lambda e: e[0]):
        group = list(group_iter)
        state.entered[0] = Entered(t, False, [])
        if len(group) == 1 or all(tuple(g[1]) == tuple(group[0][1]) for g in group):
            for event in group:
                _process(state, t, event[1], window, strict)
        else:
            used: set[tuple[int, int]] = set()
            expanded = sorted(
                ((s, index) for index, event in enumerate(group) for s in event[1] if s > 0),
                key=lambda pair: pair[0],
            )
            for s, index in expanded:
                _process_multi(state, t, s, window, used, index)
        if state.entered[steps].timestamp > 0.0:
            break
    if state.max_step == 0:
        return Walk(-1, ())
    if state.max_path.excluded:
        return Walk(-1, ())
    return Walk(state.max_step - 1, tuple(state.max_path.times))


def _process_multi(
    state: _State, t: float, step: int, window: float, used: set[tuple[int, int]], index: int
) -> None:
    """Different events at one timestamp: each event serves at most one step of a path."""
    previous = state.entered[step - 1]
    in_window = previous.timestamp != 0.0 and t - previous.timestamp <= window
    already = state.entered[step].timestamp == previous.timestamp and state.entered[step].timestamp != 0.0
    if not in_window or already or (step - 1, index) in used:
        return
    if not previous.excluded:
        used.add((step, index))
    _advance(state, step, t)


def walk_unordered(events: Sequence[Event], steps: int, window: float) -> Walk:
    """Most distinct steps done inside one window of ``window`` seconds starting at an event."""
    best = Walk(-1, ())
    for start, (t0, first_steps, _) in enumerate(events):
        if not any(s > 0 for s in first_steps):
            continue
        done: dict[int, float] = {}
        for t, matched, _bd in events[start:]:
            if t - t0 > window:
                break
            if any(s < 0 for s in matched):
                if len(done) < steps:
                    done = {}
                break
            free = [s for s in matched if s > 0 and s not in done]
            if free:
                done[min(free)] = t
            if len(done) == steps:
                break
        if len(done) - 1 > best.step:
            best = Walk(len(done) - 1, tuple(sorted(done.values())))
    return best
