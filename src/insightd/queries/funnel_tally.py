"""What a funnel's results need from its walks, per breakdown value: a ``Tally`` that walks in Python and
SQL aggregates both add to, in integer microseconds (so the two agree to the microsecond)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from insightd.queries.funnel_walk import Walk


@dataclass
class Tally:
    """Per step: the actors reaching it and their non-zero µs times from the previous step; and the µs
    conversion times over ``span`` (0-based first and last step, for time to convert)."""

    steps: int
    span: tuple[int, int]
    reached: list[int] = field(default_factory=list)
    gaps: list[list[int]] = field(default_factory=list)
    converts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reached = self.reached or [0] * self.steps
        self.gaps = self.gaps or [[] for _ in range(self.steps)]

    def add_walk(self, walk: Walk) -> None:
        if walk.step < 0:
            return
        stamps = walk.times
        for index in range(walk.step + 1):
            self.reached[index] += 1
            if index and (gap := round((stamps[index] - stamps[index - 1]) * 1_000_000)):
                self.gaps[index].append(gap)
        start, end = self.span
        if walk.step >= end:
            self.converts.append(round((stamps[end] - stamps[start]) * 1_000_000))

    def add(self, other: Tally) -> None:
        for index in range(self.steps):
            self.reached[index] += other.reached[index]
            self.gaps[index].extend(other.gaps[index])
        self.converts.extend(other.converts)

    def summary(self) -> tuple[list[int], list[float | None], list[float | None]]:
        """Per step: actors reaching it, and the mean and median seconds of its non-zero times."""
        means: list[float | None] = [None]
        medians: list[float | None] = [None]
        for gaps in self.gaps[1:]:
            means.append(sum(gaps) / 1e6 / len(gaps) if gaps else None)
            medians.append(float(statistics.median(gaps)) / 1e6 if gaps else None)
        return list(self.reached), means, medians

    def conversion_seconds(self) -> list[float]:
        return [c / 1e6 for c in self.converts]


def merged(tallies: Sequence[Tally]) -> Tally:
    """One tally of several (at least one), as for the "Other" breakdown bucket."""
    out = Tally(tallies[0].steps, tallies[0].span)
    for each in tallies:
        out.add(each)
    return out
