"""Tags on insights and dashboards: reading, replacing, and cleaning up orphans.

Writers of a project's tags are serialised: SQLite's write transactions already are
(``BEGIN IMMEDIATE``), and on PostgreSQL a transaction-scoped advisory lock per project keeps
two requests from racing on tag creation and orphan clean-up. Read-modify-write of an object's
tags therefore never loses a concurrent writer's tag.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Literal, cast

from sqlalchemy import Select, Table, and_, bindparam, delete, exists, select
from sqlalchemy import insert as insert_stmt
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from insightd.store.models import Tag, TaggedItem

TaggedKind = Literal["insight", "dashboard"]
_ADVISORY_NAMESPACE = 0x7A6


def _column(kind: TaggedKind):  # type: ignore[no-untyped-def]
    return TaggedItem.insight_id if kind == "insight" else TaggedItem.dashboard_id


def lock_project_tags(session: Session, project_id: int) -> None:
    """Serialise tag writers of one project until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(
            "SELECT pg_advisory_xact_lock(%s, %s)", (_ADVISORY_NAMESPACE, project_id)
        )


@cache
def _tags_statement(kind: TaggedKind) -> Select[int, str]:
    """Built once per kind: tags are read for every serialised object, a hot path."""
    column = _column(kind)
    return (
        select(column, Tag.name)
        .join(Tag, Tag.id == TaggedItem.tag_id)
        .where(column.in_(bindparam("ids", expanding=True)))
    )


def tags_for(session: Session, kind: TaggedKind, object_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each object's tag names, sorted; objects without tags map to ``[]``."""
    ids = list(object_ids)
    result: dict[int, list[str]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = session.execute(_tags_statement(kind), {"ids": ids}).all()
    for object_id, name in rows:
        result[object_id].append(name)
    for names in result.values():
        names.sort()
    return result


def _tag_ids(session: Session, project_id: int, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(Tag)
        .values([{"project_id": project_id, "name": n} for n in sorted(names)])
        .on_conflict_do_nothing(index_elements=["project_id", "name"])
    )
    rows = session.execute(select(Tag.name, Tag.id).where(Tag.project_id == project_id, Tag.name.in_(names)))
    return {key: value for key, value in rows}


def replace_tags(
    session: Session,
    project_id: int,
    kind: TaggedKind,
    desired: Mapping[int, Iterable[str]],
    current: Mapping[int, list[str]] | None = None,
) -> dict[int, tuple[list[str], list[str]]]:
    """Give each object exactly ``desired[object_id]``; return ``{id: (before, after)}`` for changed ones.

    ``current`` may pass the objects' sorted tags when the caller already read them *after*
    ``lock_project_tags`` in this transaction. Tags that no object uses any more are removed
    from the project afterwards.
    """
    if not desired:
        return {}
    lock_project_tags(session, project_id)
    if current is None:
        current = tags_for(session, kind, desired)
    wanted = {oid: sorted(set(names)) for oid, names in desired.items()}
    changed = {oid: (current[oid], wanted[oid]) for oid in wanted if current[oid] != wanted[oid]}
    if not changed:
        return {}
    tag_ids = _tag_ids(session, project_id, {n for _, after in changed.values() for n in after})
    column = _column(kind)
    removals: dict[str, list[int]] = defaultdict(list)
    additions = []
    for oid, (before, after) in changed.items():
        for name in set(before) - set(after):
            removals[name].append(oid)
        for name in set(after) - set(before):
            additions.append({"tag_id": tag_ids[name], column.key: oid})
    if removals:
        old_rows = session.execute(
            select(Tag.name, Tag.id).where(Tag.project_id == project_id, Tag.name.in_(removals))
        )
        old_ids = {tag_name: tag_id for tag_name, tag_id in old_rows}
        for name, oids in removals.items():
            session.execute(delete(TaggedItem).where(TaggedItem.tag_id == old_ids[name], column.in_(oids)))
    if additions:
        # A Core executemany: the ORM's bulk path costs more in Python than the insert itself.
        session.execute(insert_stmt(cast(Table, TaggedItem.__table__)), additions)
    delete_orphan_tags(session, project_id)
    return changed


def delete_orphan_tags(session: Session, project_id: int) -> None:
    session.execute(
        delete(Tag).where(and_(Tag.project_id == project_id, ~exists().where(TaggedItem.tag_id == Tag.id)))
    )


def project_tag_names(session: Session, project_id: int, search: str | None = None) -> list[str]:
    query = select(Tag.name).where(Tag.project_id == project_id).order_by(Tag.name)
    if search:
        query = query.where(Tag.name.ilike(f"%{_escape_like(search)}%", escape="\\"))
    return list(session.scalars(query))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
