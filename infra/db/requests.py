"""The durable request log: a row before work starts, always finished, recovered after a crash."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .models import (
    FINAL_REQUEST_STATUSES,
    ChannelKind,
    InstallContext,
    Request,
    RequestJob,
    RequestKind,
    RequestSource,
    RequestStage,
    RequestStatus,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
RESTART_REASON = "interrupted: the bot restarted while this request was running"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class RequestLogError(RuntimeError):
    """A request row is missing or already finished."""


@dataclass(frozen=True)
class NewRequest:
    """What is known about a request before any work is done."""

    user_id: int
    source: RequestSource
    kind: RequestKind
    model: str
    guild_id: int | None = None
    channel_id: int | None = None
    message_id: int | None = None
    install: InstallContext | None = None  # None: not from Discord (the CLI, the service)
    channel_kind: ChannelKind | None = None
    model_version: int | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    input_bytes: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What made a result (the model as served, the segmenter as run), where it went, and
    what the input was once downloaded (its digest, a clip's length)."""

    model: str | None = None  # the name; None keeps the requested one ("compare")
    model_version: int | None = None
    segmenter: str | None = None
    result_message_id: int | None = None
    input_hash: str | None = None
    duration_s: float | None = None
    kind: RequestKind | None = None  # what the engine found the input to be


def input_hash(data: bytes) -> str:
    """The SHA-256 hex digest stored in place of the input itself."""
    return hashlib.sha256(data).hexdigest()


class RequestLog:
    """Writes request rows; every call is one short transaction of its own."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        worker: str | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.sessions = sessions
        self.worker = worker
        self.clock = clock

    async def create(self, new: NewRequest) -> int:
        """Insert a `queued` row and return its id (call before any work starts)."""
        async with self.sessions.begin() as session:
            return await insert_request(session, new, self.worker, self.clock())

    async def start(self, request_id: int) -> None:
        """Mark a queued request `running`."""
        await self._transition(
            request_id,
            (RequestStatus.QUEUED,),
            status=RequestStatus.RUNNING,
            started_at=self.clock(),
            worker=self.worker,
            attempts=Request.attempts + 1,
        )

    async def finish(
        self,
        request_id: int,
        status: RequestStatus = RequestStatus.DONE,
        *,
        reason: str | None = None,
        output_bytes: int | None = None,
        stages: dict[str, float] | None = None,
        outcome: Outcome | None = None,
    ) -> None:
        """Finish a request (done, failed or cancelled) and record its stage timings."""
        if status not in FINAL_REQUEST_STATUSES:
            raise ValueError(f"status={status!r}: finish needs done, failed or cancelled")
        if status is not RequestStatus.DONE and not reason:
            raise ValueError(f"reason={reason!r}: a {status.value} request needs a reason")
        async with self.sessions.begin() as session:
            await self._transition_in(
                session,
                request_id,
                (RequestStatus.QUEUED, RequestStatus.RUNNING),
                status=status,
                reason=reason,
                finished_at=self.clock(),
                output_bytes=output_bytes,
                **_known(outcome),
            )
            await _add_stages(session, request_id, stages or {})
            # Its job (what to run, where to answer, an interaction token) ends with it.
            await session.execute(delete(RequestJob).where(RequestJob.request_id == request_id))

    async def recover(
        self, *, retry: bool = False, max_attempts: int = 2, reason: str = RESTART_REASON
    ) -> list[Request]:
        """Settle rows a crash left unfinished without a job to resume: fail them, or
        requeue them when `retry`.

        Call once at start-up, before new work. Requests with a job (`RequestJob`) are
        resumed by the queue; those without one (written before jobs were kept, or by the
        command line) cannot be. Only this log's `worker` rows are touched (all rows when
        `worker` is None), so one process restarting does not fail the work of others
        sharing the database. Returns the rows with their new status, so that users can be
        told.
        """
        unfinished = (RequestStatus.QUEUED, RequestStatus.RUNNING)
        resumable = select(RequestJob.request_id).where(RequestJob.request_id == Request.id)
        async with self.sessions.begin() as session:
            query = select(Request).where(Request.status.in_(unfinished), ~resumable.exists())
            if self.worker is not None:
                query = query.where(Request.worker == self.worker)
            rows = list((await session.scalars(query.with_for_update())).all())
            for row in rows:
                _settle(
                    row,
                    retry=retry and row.attempts < max_attempts,
                    reason=reason,
                    now=self.clock(),
                )
        if rows:
            log.warning("recovered %d interrupted request(s)", len(rows))
        return rows

    async def _transition(
        self, request_id: int, allowed: tuple[RequestStatus, ...], **values: Any
    ) -> None:
        async with self.sessions.begin() as session:
            await self._transition_in(session, request_id, allowed, **values)

    @staticmethod
    async def _transition_in(
        session: AsyncSession, request_id: int, allowed: tuple[RequestStatus, ...], **values: Any
    ) -> None:
        result = await session.execute(
            update(Request)
            .where(Request.id == request_id, Request.status.in_(allowed))
            .values(**values)
            .returning(Request.id)
        )
        if result.first() is None:
            status = await session.scalar(select(Request.status).where(Request.id == request_id))
            state = "does not exist" if status is None else f"is already {status.value}"
            raise RequestLogError(f"request {request_id} {state}")


async def insert_request(
    session: AsyncSession, new: NewRequest, worker: str | None, now: datetime
) -> int:
    """Insert a `queued` request row in `session`'s transaction; returns its id."""
    values = {**asdict(new), "status": RequestStatus.QUEUED, "queued_at": now}
    result = await session.execute(
        insert(Request).values(worker=worker, attempts=0, **values).returning(Request.id)
    )
    return int(result.scalar_one())


def _known(outcome: Outcome | None) -> dict[str, Any]:
    """The fields an outcome knows (None leaves the column as it was)."""
    fields = asdict(outcome) if outcome else {}
    return {name: value for name, value in fields.items() if value is not None}


def _settle(row: Request, *, retry: bool, reason: str, now: datetime) -> None:
    if retry:
        row.status, row.started_at, row.reason = RequestStatus.QUEUED, None, reason
    else:
        row.status, row.finished_at, row.reason = RequestStatus.FAILED, now, reason


async def _add_stages(session: AsyncSession, request_id: int, stages: dict[str, float]) -> None:
    if stages:
        rows = [{"request_id": request_id, "stage": k, "seconds": v} for k, v in stages.items()]
        await session.execute(insert(RequestStage), rows)
