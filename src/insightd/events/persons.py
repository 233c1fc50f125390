"""Persons: which distinct_ids are one person, and that person's properties (PostHog's rules).

``$identify`` (with ``$anon_distinct_id``), ``$create_alias`` and ``$merge_dangerously`` (with
``alias``) merge two distinct_ids into one person; ``$set``, ``$set_once`` and ``$unset`` maintain
properties; a fixed list of event properties is lifted into ``$set`` and ``$initial_*`` into
``$set_once``. Events with ``$process_person_profile: false`` are personless. The state lives in
memory in the one process that owns the event store, is loaded from the ``persons`` tables at start,
and every change is written back as a new row version (ReplacingMergeTree keeps the latest).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

PERSON_NAMESPACE = uuid.UUID("932979b4-65c3-4424-8467-0b66ec27bc22")
MERGE_EVENTS = frozenset({"$identify", "$create_alias", "$merge_dangerously"})
NO_PERSON_UPDATE_EVENTS = frozenset({"$groupidentify", "$exception", "$$heatmap"})
LIFTED_PROPERTIES = (
    "$browser", "$browser_version", "$os", "$os_version", "$device_type", "$current_url", "$pathname",
    "$referrer", "$referring_domain", "$app_build", "$app_name", "$app_namespace", "$app_version",
    "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_name", "utm_term",
    "gclid", "gad_source", "gbraid", "wbraid", "fbclid", "msclkid",
)  # fmt: skip
_INITIAL = {key: "$initial_" + key.removeprefix("$") for key in LIFTED_PROPERTIES}
_ILLEGAL_CASELESS = {"anonymous", "guest", "distinctid", "distinct_id", "id", "not_authenticated", "email",
                     "undefined", "true", "false"}  # fmt: skip
_ILLEGAL_EXACT = {"[object Object]", "NaN", "None", "none", "null", "0", "undefined"}


_NAMESPACE_SHA1 = hashlib.sha1(PERSON_NAMESPACE.bytes)
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}  # RFC 4122 variant


def person_uuid(team_id: int, distinct_id: str) -> str:
    """PostHog's deterministic person id: UUIDv5 of ``"<team_id>:<distinct_id>"`` (what
    ``str(uuid.uuid5(PERSON_NAMESPACE, name))`` gives, without building UUID objects)."""
    digest = _NAMESPACE_SHA1.copy()
    digest.update(f"{team_id}:{distinct_id}".encode())
    h = digest.hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def is_illegal_distinct_id(distinct_id: str) -> bool:
    text = distinct_id.strip()
    if not text:
        return True
    for candidate in (
        text,
        text.strip("'\""),
    ):
        if candidate.lower() in _ILLEGAL_CASELESS or candidate in _ILLEGAL_EXACT:
            return True
    return False


@dataclass
class Person:
    id: str
    team_id: int
    properties: dict[str, Any]
    created_at: int
    is_identified: bool = False
    version: int = 0
    distinct_ids: set[str] = field(default_factory=set)
    _json: str | None = None
    # The lifted properties (and $is_server) of the last event that left this person unchanged by
    # anything else: an event with the same ones and no $set/$set_once/$unset changes nothing.
    _lifted: tuple[Any, ...] | None = None

    def json(self) -> str:
        if self._json is None:
            self._json = orjson.dumps(self.properties).decode()
        return self._json

    def changed(self) -> None:
        self._json = None
        self._lifted = None


Created = tuple[list[int], list[str], list[str], list[int]]


@dataclass
class PersonChanges:
    """Rows to write: persons, person_distinct_ids and person_overrides (as column dicts), plus
    ``created``: persons made in bulk, one per new distinct_id, as columns ``(team_ids, distinct_ids,
    person_ids, created_at)`` (each a version-1 person with no properties and its one distinct_id)."""

    persons: list[dict[str, Any]] = field(default_factory=list)
    distinct_ids: list[dict[str, Any]] = field(default_factory=list)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    created: tuple[list[int], list[str], list[str], list[int]] = field(
        default_factory=lambda: ([], [], [], [])
    )

    def __bool__(self) -> bool:
        return bool(self.persons or self.distinct_ids or self.overrides or self.created[0])


class PersonStore:
    def __init__(self) -> None:
        self._by_distinct: dict[tuple[int, str], Person] = {}
        self._persons: dict[str, Person] = {}
        # Persons created in bulk and not touched since: (team, distinct_id) -> (id, created_at).
        # Each is a version-1 person with no properties and that one distinct_id; it becomes a
        # Person object the first time anything looks it up (see ``_known``).
        self._plain: dict[tuple[int, str], tuple[str, int]] = {}
        self._did_versions: dict[tuple[int, str], int] = {}
        self._overrides: dict[tuple[int, str], str] = {}
        self._dirty: dict[str, Person] = {}
        self._deleted: list[Person] = []
        self._dirty_dids: set[tuple[int, str]] = set()
        self._new_overrides: set[tuple[int, str]] = set()
        self._created: Created = ([], [], [], [])

    # --- loading -------------------------------------------------------------------------------------
    def load(
        self,
        persons: Iterable[tuple[str, int, str, int, int, int]],
        distinct_ids: Iterable[tuple[int, str, str, int]],
        overrides: Iterable[tuple[int, str, str]],
    ) -> None:
        """Rows of (id, team, properties, created_at µs, is_identified, version), (team, distinct_id,
        person_id, version) and (team, old, new), as read back from the event store."""
        for pid, team, props, created_at, identified, version in persons:
            self._persons[pid] = Person(
                pid, team, orjson.loads(props or "{}"), created_at, bool(identified), version
            )
        for team, did, pid, version in distinct_ids:
            person = self._persons.get(pid)
            if person is None:
                continue
            person.distinct_ids.add(did)
            self._by_distinct[(team, did)] = person
            self._did_versions[(team, did)] = version
        for team, old, new in overrides:
            self._overrides[(team, old)] = new

    @property
    def person_count(self) -> int:
        return len(self._persons) + len(self._plain)

    def person_of(self, team_id: int, distinct_id: str) -> Person | None:
        return self._known(team_id, distinct_id)

    def _known(self, team_id: int, distinct_id: str) -> Person | None:
        """The person ``distinct_id`` belongs to, if any (a plain bulk-created one is made whole here)."""
        key = (team_id, distinct_id)
        person = self._by_distinct.get(key)
        if person is None and self._plain:
            plain = self._plain.pop(key, None)
            if plain is not None:
                pid, created_at = plain
                person = Person(
                    pid, team_id, {}, created_at, version=1, distinct_ids={distinct_id}, _json="{}"
                )
                self._persons[pid] = person
                self._by_distinct[key] = person
                self._did_versions[key] = 1
        return person

    # --- processing ----------------------------------------------------------------------------------
    def process(self, team_id: int, event: dict[str, Any]) -> tuple[str, str]:
        """Apply one event's person effects; returns (person_id, person properties JSON) for the row."""
        name: str = event["event"]
        props: dict[str, Any] = event["properties"]
        did: str = event["distinct_id"]
        if props.get("$process_person_profile") is False:
            for key in ("$set", "$set_once", "$unset"):
                props.pop(key, None)
            known = self._known(team_id, did)
            return (known.id if known else person_uuid(team_id, did)), ""
        if name in NO_PERSON_UPDATE_EVENTS:
            person = self.ensure(team_id, did, event["timestamp"])
            return person.id, person.json()
        if name in MERGE_EVENTS:
            other = props.get("$anon_distinct_id") if name == "$identify" else props.get("alias")
            if other is not None and other != "":
                other_id = other if isinstance(other, str) else orjson.dumps(other).decode()
                self.merge(team_id, other_id, did, event["timestamp"], dangerous=name == "$merge_dangerously")
        person = self.ensure(team_id, did, event["timestamp"])
        self._update(person, props)
        return person.id, person.json()

    def ensure(self, team_id: int, distinct_id: str, timestamp: int) -> Person:
        """The person of ``distinct_id``, created (with PostHog's deterministic id) if it has none."""
        person = self._known(team_id, distinct_id)
        if person is None:
            pid = person_uuid(team_id, distinct_id)
            person = self._persons.get(pid) or Person(pid, team_id, {}, timestamp)
            self._persons[pid] = person
            self._attach(person, distinct_id)
            self._dirty[pid] = person
        return person

    def ensure_many(
        self, team_id: int, distinct_ids: list[str], created_at: list[int]
    ) -> tuple[list[str], list[str]]:
        """(person ids, person properties JSON) of many distinct_ids, creating the missing persons
        in bulk (``created_at[i]`` for ``distinct_ids[i]``); the bulk loader's path."""
        persons, plain = self._persons, self._plain
        teams, dids, pids, created = self._created
        keys = [(team_id, did) for did in distinct_ids]
        found = list(map(self._by_distinct.get, keys))  # C-speed lookups; Python only for the new ones
        known = list(map(plain.get, keys))
        ids: list[str] = [
            person.id if person is not None else entry[0] if entry is not None else ""
            for person, entry in zip(found, known, strict=True)
        ]
        props: list[str] = [person.json() if person is not None else "{}" for person in found]
        new = [
            i
            for i, (person, entry) in enumerate(zip(found, known, strict=True))
            if person is None and entry is None
        ]
        for i in new:
            did, at = distinct_ids[i], created_at[i]
            pid = person_uuid(team_id, did)
            if pid in persons:  # a person kept that id while this distinct_id moved: the slow path
                person = self.ensure(team_id, did, at)
                ids[i], props[i] = person.id, person.json()
                continue
            plain[(team_id, did)] = (pid, at)
            teams.append(team_id)
            dids.append(did)
            pids.append(pid)
            created.append(at)
            ids[i] = pid
        return ids, props

    def _attach(self, person: Person, distinct_id: str) -> None:
        key = (person.team_id, distinct_id)
        person.distinct_ids.add(distinct_id)
        self._by_distinct[key] = person
        self._did_versions[key] = self._did_versions.get(key, 0) + 1
        self._dirty_dids.add(key)
        personless_id = person_uuid(person.team_id, distinct_id)
        if personless_id != person.id:  # events stored before this link carry the personless id
            self._override(person.team_id, personless_id, person.id)

    def _override(self, team_id: int, old: str, new: str) -> None:
        for key, target in list(self._overrides.items()):
            if target == old and key[0] == team_id:
                self._overrides[key] = new
                self._new_overrides.add(key)
        self._overrides[(team_id, old)] = new
        self._new_overrides.add((team_id, old))

    def merge(self, team_id: int, other: str, into: str, timestamp: int, *, dangerous: bool = False) -> None:
        """Make ``other`` and ``into`` one person (``into``'s person survives)."""
        if other == into or is_illegal_distinct_id(other) or is_illegal_distinct_id(into):
            return
        other_person = self._known(team_id, other)
        into_person = self._known(team_id, into)
        if other_person is None and into_person is None:
            person = self.ensure(team_id, into, timestamp)
            self._attach(person, other)
        elif other_person is None:
            assert into_person is not None
            person = into_person
            self._attach(person, other)
        elif into_person is None:
            person = other_person
            self._attach(person, into)
        elif other_person is into_person:
            person = into_person
        else:
            if other_person.is_identified and not dangerous:
                return  # PostHog refuses to merge two identified persons (cannot_merge_already_identified)
            person = into_person
            person.properties = {**other_person.properties, **into_person.properties}
            person.created_at = min(person.created_at, other_person.created_at)
            person.changed()
            for moved in sorted(other_person.distinct_ids):
                self._attach(person, moved)
            other_person.distinct_ids.clear()
            self._persons.pop(other_person.id, None)
            self._dirty.pop(other_person.id, None)
            self._deleted.append(other_person)
            self._override(team_id, other_person.id, person.id)
        person.is_identified = True
        self._dirty[person.id] = person

    def _update(self, person: Person, props: dict[str, Any]) -> None:
        explicit = "$set" in props or "$set_once" in props or "$unset" in props
        lifted_now = (props.get("$is_server") is True, *map(props.get, LIFTED_PROPERTIES, _MISSINGS))
        if not explicit and lifted_now == person._lifted:
            return  # the same lifted values were applied last time and nothing else changed since
        to_set = props.get("$set") if isinstance(props.get("$set"), dict) else {}
        to_set_once = props.get("$set_once") if isinstance(props.get("$set_once"), dict) else {}
        lifted: dict[str, Any] = {}
        lifted_once: dict[str, Any] = {}
        for key in LIFTED_PROPERTIES:
            if key in props:
                if key.startswith("$os") and props.get("$is_server") is True:
                    continue
                lifted[key] = props[key]
                lifted_once[_INITIAL[key]] = props[key]
        current = person.properties
        changed = False
        for key, value in {**lifted_once, **(to_set_once or {})}.items():
            if key not in current:
                current[key] = value
                changed = True
        for key, value in {**lifted, **(to_set or {})}.items():
            if current.get(key, _MISSING) != value:
                current[key] = value
                changed = True
        unset = props.get("$unset")
        keys = unset.keys() if isinstance(unset, dict) else unset if isinstance(unset, list) else ()
        for key in keys:
            if isinstance(key, str) and key in current:
                del current[key]
                changed = True
        if changed:
            person.changed()
            self._dirty[person.id] = person
        if not explicit:
            person._lifted = lifted_now

    # --- persisting ----------------------------------------------------------------------------------
    def drain(self) -> PersonChanges:
        """Rows for everything changed since the last drain (each with a newer version)."""
        changes = PersonChanges()
        for person in self._dirty.values():
            person.version += 1
            changes.persons.append(_person_row(person, deleted=False))
        for person in self._deleted:
            person.version += 1
            changes.persons.append(_person_row(person, deleted=True))
        for team, did in self._dirty_dids:
            owner = self._by_distinct.get((team, did))
            if owner is not None:
                version = self._did_versions[(team, did)]
                changes.distinct_ids.append(
                    {"team_id": team, "distinct_id": did, "person_id": owner.id, "version": version}
                )
        version = time.time_ns() // 1000  # overrides can be re-pointed: a clock keeps versions rising
        for team, old in self._new_overrides:
            changes.overrides.append(
                {
                    "team_id": team,
                    "old_person_id": old,
                    "override_person_id": self._overrides[(team, old)],
                    "version": version,
                }  # fmt: skip
            )
        changes.created, self._created = self._created, ([], [], [], [])
        self._dirty, self._deleted, self._dirty_dids, self._new_overrides = {}, [], set(), set()
        return changes


_MISSING = object()
_MISSINGS = (_MISSING,) * len(LIFTED_PROPERTIES)


def _person_row(person: Person, *, deleted: bool) -> dict[str, Any]:
    return {
        "id": person.id,
        "team_id": person.team_id,
        "properties": person.json(),
        "created_at": person.created_at,
        "is_deleted": int(deleted),
        "version": person.version,
        "is_identified": int(person.is_identified),
    }
