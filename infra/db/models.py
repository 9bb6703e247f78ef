"""The database schema: SQLAlchemy 2 declarative models. Alembic migrations must match it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .types import BigIntId, UTCDateTime, str_enum

# Named constraints, so that migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every beautynet table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class RequestSource(enum.StrEnum):
    """Where a request came from."""

    MESSAGE = "message"
    SLASH = "slash"
    CONTEXT_MENU = "context_menu"
    CLI = "cli"
    HTTP = "http"


class InstallContext(enum.StrEnum):
    """Which install of the app a request came through (Discord's installation context)."""

    GUILD = "guild"  # the server added the bot: its settings apply
    USER = "user"  # the person added the app to their account


class ChannelKind(enum.StrEnum):
    """The kind of channel a request came from."""

    GUILD_TEXT = "guild_text"  # a server's text or announcement channel
    GUILD_THREAD = "guild_thread"
    GUILD_VOICE = "guild_voice"  # the text chat of a voice or stage channel
    BOT_DM = "bot_dm"  # the person's DM with the bot
    DM = "dm"  # a DM between the person and someone else
    GROUP_DM = "group_dm"


class RequestKind(enum.StrEnum):
    """What was sent: a still image or a clip."""

    IMAGE = "image"
    CLIP = "clip"


class RequestStatus(enum.StrEnum):
    """Life cycle of a request; done, failed and cancelled are final."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_REQUEST_STATUSES = (RequestStatus.DONE, RequestStatus.FAILED, RequestStatus.CANCELLED)


class TrainingStatus(enum.StrEnum):
    """Life cycle of a training run: running, then how it ended."""

    RUNNING = "running"
    FINISHED = "finished"  # a model version was registered
    CANCELLED = "cancelled"  # stopped early; nothing was registered
    FAILED = "failed"


class GuildSettings(Base):
    """Per-guild configuration chosen by the guild's admins."""

    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    default_model: Mapped[str | None] = mapped_column(String(100))
    max_image_bytes: Mapped[int | None] = mapped_column(BigInteger)
    max_clip_seconds: Mapped[float | None] = mapped_column(Float)
    requests_per_user_per_hour: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime | None]

    watched_channels: Mapped[list[WatchedChannel]] = relationship(
        back_populates="guild", cascade="all, delete-orphan", lazy="selectin"
    )


class WatchedChannel(Base):
    """A channel whose plain-message attachments the bot answers."""

    __tablename__ = "watched_channels"

    guild_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("guild_settings.guild_id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    added_at: Mapped[datetime | None]

    guild: Mapped[GuildSettings] = relationship(back_populates="watched_channels")


class UserPreferences(Base):
    """A user's own choices, the same in every guild."""

    __tablename__ = "user_preferences"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    default_model: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime | None]


class Request(Base):
    """One image or clip someone asked the network to interpret."""

    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_user_id_queued_at", "user_id", "queued_at"),
        Index("ix_requests_guild_id_queued_at", "guild_id", "queued_at"),
        Index("ix_requests_status", "status"),
        Index("ix_requests_finished_at", "finished_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    install: Mapped[InstallContext | None] = mapped_column(str_enum(InstallContext))
    channel_kind: Mapped[ChannelKind | None] = mapped_column(str_enum(ChannelKind))
    source: Mapped[RequestSource] = mapped_column(str_enum(RequestSource))
    kind: Mapped[RequestKind] = mapped_column(str_enum(RequestKind))
    model: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[int | None] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    input_hash: Mapped[str | None] = mapped_column(String(64))
    input_bytes: Mapped[int | None] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    status: Mapped[RequestStatus] = mapped_column(
        str_enum(RequestStatus), default=RequestStatus.QUEUED
    )
    reason: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    output_bytes: Mapped[int | None] = mapped_column(BigInteger)
    segmenter: Mapped[str | None] = mapped_column(String(100))  # as run: "clusters k=9"
    result_message_id: Mapped[int | None] = mapped_column(BigInteger)  # where it was posted

    stages: Mapped[list[RequestStage]] = relationship(
        back_populates="request", cascade="all, delete-orphan", passive_deletes=True
    )


class RequestStage(Base):
    """How long one stage of a request took (the bot records `total`: from start to result)."""

    __tablename__ = "request_stages"
    __table_args__ = (UniqueConstraint("request_id", "stage"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(32))
    seconds: Mapped[float] = mapped_column(Float)

    request: Mapped[Request] = relationship(back_populates="stages")


class RequestJob(Base):
    """A request waiting or running: what to run and where to answer it.

    Written with its request, deleted in the transaction that finishes it: the interaction
    token an answer may hold lives only as long as the request. Waiting jobs are served by
    (turn, request id): a user's n-th job waits behind everyone's earlier turns.
    """

    __tablename__ = "request_jobs"
    __table_args__ = (Index("ix_request_jobs_turn", "turn", "request_id"),)

    request_id: Mapped[int] = mapped_column(
        BigIntId,
        ForeignKey("requests.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    turn: Mapped[int] = mapped_column(Integer)
    task: Mapped[dict[str, Any]]  # what to run: operation, parameters, media, limits
    answer: Mapped[dict[str, Any]]  # where to answer (may hold an interaction token)


# Tables of the job-queue library on PostgreSQL (pgqueuer), created by revision 0005: not
# beautynet's models, so schema comparisons leave them out.
PGQUEUER_TABLES = frozenset(
    {"pgqueuer", "pgqueuer_log", "pgqueuer_schedules", "pgqueuer_statistics"}
)


class TrainingRun(Base):
    """One training started from Discord or the command line: who, on what, and how it ended."""

    __tablename__ = "training_runs"
    __table_args__ = (Index("ix_training_runs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[int | None] = mapped_column(Integer)  # registered when finished
    dataset: Mapped[str] = mapped_column(String(100))
    segmenter: Mapped[str] = mapped_column(String(100))  # as trained: "clusters k=7"
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[TrainingStatus] = mapped_column(
        str_enum(TrainingStatus), default=TrainingStatus.RUNNING
    )
    reason: Mapped[str | None] = mapped_column(Text)  # why it failed
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)  # held-out L1, PSNR, SSIM
    # Who started it: a Discord user (in a guild), or a login on the command line.
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    cli_user: Mapped[str | None] = mapped_column(String(100))
    worker: Mapped[str | None] = mapped_column(String(100))  # the bot process that runs it
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class AuditLog(Base):
    """An admin action: who did what to which target, and when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_guild_id_at", "guild_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    at: Mapped[datetime]
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)  # a Discord user
    cli_user: Mapped[str | None] = mapped_column(String(100))  # or a command-line login
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
