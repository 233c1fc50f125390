"""The ``events`` rows a runner reads: one project's events, each with its resolved person (``pid``).

A person is resolved as the schema contract says: the ``person_overrides`` entry for the event's
``person_id`` when there is one (merges), else ``person_id``. Person properties come from the
latest non-deleted version in ``persons``, joined only when a query needs them.
"""

from __future__ import annotations

from insightd.events.schema import MATERIALIZED_PROPERTIES
from insightd.queries.sql import NULL_UUID

EVENT_COLUMNS = (
    "uuid",
    "event",
    "distinct_id",
    "person_id",
    "properties",
    "timestamp",
    "elements_chain",
    "created_at",
)


def _overrides(team: str) -> str:
    return (
        "(SELECT old_person_id, argMax(override_person_id, version) AS override_person_id "
        f"FROM person_overrides WHERE team_id = {team} GROUP BY old_person_id)"
    )


def _persons(team: str) -> str:
    return (
        "(SELECT id, argMax(properties, version) AS properties FROM persons "
        f"WHERE team_id = {team} GROUP BY id HAVING argMax(is_deleted, version) = 0)"
    )


def events_from(team: str, where: str, *, resolve_persons: bool, person_properties: bool) -> str:
    """A FROM clause: ``events`` (its columns plus ``pid``) filtered by ``where``, maybe ``person``.

    ``resolve_persons`` joins ``person_overrides``; callers skip it when the project has none
    (``QueryContext.has_person_overrides``), as ``pid`` is then ``person_id``.
    """
    columns = ", ".join([*(f"events.{c}" for c in EVENT_COLUMNS), *MATERIALIZED_PROPERTIES.values()])
    if resolve_persons:
        pid = f"if(ov.override_person_id = toUUID('{NULL_UUID}'), events.person_id, ov.override_person_id)"
        inner = (
            f"SELECT {columns}, {pid} AS pid FROM events "
            f"LEFT JOIN {_overrides(team)} AS ov ON ov.old_person_id = events.person_id "
            f"WHERE events.team_id = {team} AND {where}"
        )
    else:
        inner = (
            f"SELECT {columns}, events.person_id AS pid FROM events WHERE events.team_id = {team} AND {where}"
        )
    source = f"({inner}) AS events"
    if person_properties:
        source += f" LEFT JOIN {_persons(team)} AS person ON person.id = events.pid"
    return source
