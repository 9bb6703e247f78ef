"""The database schema: SQLAlchemy 2 declarative models. Alembic migrations must match it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column, relationship

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


class ModelStatus(enum.StrEnum):
    """Life cycle of a trained model."""

    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"


class TrainingStatus(enum.StrEnum):
    """Life cycle of a training run."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class GuildSettings(Base):
    """Per-guild configuration chosen by the guild's admins."""

    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    default_model: Mapped[str | None] = mapped_column(String(100))
    max_image_bytes: Mapped[int | None] = mapped_column(BigInteger)
    max_clip_seconds: Mapped[float | None] = mapped_column(Float)
    requests_per_user_per_hour: Mapped[int | None] = mapped_column(Integer)
    store_image_content: Mapped[bool] = mapped_column(Boolean, default=False)
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
    # Stored only when both the operator and the guild allow it (off by default).
    input_content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    output_content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))

    stages: Mapped[list[RequestStage]] = relationship(
        back_populates="request", cascade="all, delete-orphan", passive_deletes=True
    )


class RequestStage(Base):
    """How long one stage (decode, segment, translate, compose, upload...) of a request took."""

    __tablename__ = "request_stages"
    __table_args__ = (UniqueConstraint("request_id", "stage"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(32))
    seconds: Mapped[float] = mapped_column(Float)

    request: Mapped[Request] = relationship(back_populates="stages")


class Dataset(Base):
    """A set of training images and where they came from."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    path: Mapped[str | None] = mapped_column(String(500))
    image_count: Mapped[int] = mapped_column(Integer, default=0)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]


class TrainingRun(Base):
    """One training of a model on a dataset, with its progress."""

    __tablename__ = "training_runs"
    __table_args__ = (Index("ix_training_runs_status", "status"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    dataset_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("datasets.id", ondelete="SET NULL"), index=True
    )
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    model_name: Mapped[str] = mapped_column(String(100))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[TrainingStatus] = mapped_column(
        str_enum(TrainingStatus), default=TrainingStatus.QUEUED
    )
    reason: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    requested_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    dataset: Mapped[Dataset | None] = relationship()


class ModelRecord(Base):
    """A version of a named generator: its weights file, segmenter, metrics and status."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_models_name_version"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    file: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64))
    segmenter: Mapped[str] = mapped_column(String(100))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[ModelStatus] = mapped_column(
        str_enum(ModelStatus), default=ModelStatus.CANDIDATE
    )
    training_run_id: Mapped[int | None] = mapped_column(
        BigIntId, ForeignKey("training_runs.id", ondelete="SET NULL")
    )
    trained_by: Mapped[int | None] = mapped_column(BigInteger)
    promoted_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    promoted_at: Mapped[datetime | None]


class AuditLog(Base):
    """An admin action: who did what to which target, and when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_guild_id_at", "guild_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    at: Mapped[datetime]
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
