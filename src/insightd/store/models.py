"""SQLAlchemy models of the metadata store, portable across SQLite and PostgreSQL.

Names follow PostHog where it helps readers: a *project* is PostHog's team, and the
insight, dashboard, tag and view tables mirror PostHog's models.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from insightd.store.types import JSONType, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Ids are 64-bit on PostgreSQL (any id a client can send is in range); SQLite's INTEGER already is,
    # and must stay INTEGER for its primary keys to be rowid aliases.
    type_annotation_map = {
        int: BigInteger().with_variant(Integer(), "sqlite"),
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


def _uuid() -> str:
    return str(uuid.uuid4())


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), default=_uuid, unique=True)
    name: Mapped[str] = mapped_column(String(64))
    is_ai_data_processing_approved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Project(Base):
    """PostHog's *team*: the unit that owns insights, events and API tokens."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    api_token: Mapped[str] = mapped_column(String(64), unique=True)
    timezone: Mapped[str] = mapped_column(String(240), default="UTC")
    # 0: weeks start on Sunday (PostHog's default), 1: on Monday.
    week_start_day: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    # Property filters AND-ed into queries with ``filterTestAccounts`` (PostHog's team setting).
    test_account_filters: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), default=_uuid, unique=True)
    distinct_id: Mapped[str] = mapped_column(String(200), default=_uuid, unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(150), default="")
    last_name: Mapped[str] = mapped_column(String(150), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_email_verified: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(16), default="member")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PersonalAPIKey(Base):
    __tablename__ = "personal_api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_uuid)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(40), default="")
    secure_value: Mapped[str] = mapped_column(String(300), unique=True)
    mask_value: Mapped[str] = mapped_column(String(11))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    scoped_teams: Mapped[list[Any] | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Insight(Base):
    __tablename__ = "insights"
    __table_args__ = (
        UniqueConstraint("project_id", "short_id"),
        Index("ix_insights_project_deleted_order", "project_id", "deleted", "order"),
        Index("ix_insights_project_modified", "project_id", "last_modified_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    short_id: Mapped[str] = mapped_column(String(12))
    name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    derived_name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    description: Mapped[str | None] = mapped_column(String(400), nullable=True)
    query: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    insight_type: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    order: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    saved: Mapped[bool] = mapped_column(Boolean, default=True)
    favorited: Mapped[bool] = mapped_column(Boolean, default=False)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    folder: Mapped[str | None] = mapped_column(String(400), nullable=True)
    refreshing: Mapped[bool] = mapped_column(Boolean, default=False)
    last_refresh: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_modified_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_modified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Dashboard(Base):
    __tablename__ = "dashboards"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    creation_mode: Mapped[str] = mapped_column(String(16), default="default")
    # PostHog's dashboard filters (date range, properties, breakdown, interval, test accounts), applied to
    # every insight seen through the dashboard, and its SQL variable values (stored, not used yet).
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    variables: Mapped[dict[str, Any] | None] = mapped_column(nullable=True, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_modified_at: Mapped[datetime] = mapped_column(default=utcnow)


class DashboardTile(Base):
    __tablename__ = "dashboard_tiles"
    __table_args__ = (UniqueConstraint("dashboard_id", "insight_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dashboard_id: Mapped[int] = mapped_column(ForeignKey("dashboards.id", ondelete="CASCADE"))
    insight_id: Mapped[int] = mapped_column(ForeignKey("insights.id", ondelete="CASCADE"), index=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    layouts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    color: Mapped[str | None] = mapped_column(String(400), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))


class TaggedItem(Base):
    __tablename__ = "tagged_items"
    __table_args__ = (
        UniqueConstraint("tag_id", "insight_id"),
        UniqueConstraint("tag_id", "dashboard_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))
    insight_id: Mapped[int | None] = mapped_column(
        ForeignKey("insights.id", ondelete="CASCADE"), nullable=True, index=True
    )
    dashboard_id: Mapped[int | None] = mapped_column(
        ForeignKey("dashboards.id", ondelete="CASCADE"), nullable=True, index=True
    )


class InsightViewed(Base):
    __tablename__ = "insight_views"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id", "insight_id"),
        Index("ix_insight_views_user_recent", "project_id", "user_id", "last_viewed_at"),
        Index("ix_insight_views_insight_recent", "insight_id", "last_viewed_at"),
        # Covering for trending: the window's views per insight come from the index alone.
        Index("ix_insight_views_project_recent", "project_id", "last_viewed_at", "insight_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    insight_id: Mapped[int] = mapped_column(ForeignKey("insights.id", ondelete="CASCADE"))
    last_viewed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ActivityLog(Base):
    __tablename__ = "activity_log"
    __table_args__ = (Index("ix_activity_log_item", "project_id", "scope", "item_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)  # orders entries; clients see ``uuid`` as the id
    uuid: Mapped[str] = mapped_column(String(36), default=_uuid, unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    scope: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(String(72))
    activity: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
