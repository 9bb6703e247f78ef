"""The durable queue: every waiting or running request has a `RequestJob` row.

A request is admitted in the transaction that writes it, so the bounds hold over every
process sharing the database: at most `capacity` jobs, `per_user` of them per user, and a
cooldown between one user's requests. Admissions are serialized (this process's lock, and
on PostgreSQL an advisory lock every process takes). Jobs are served by (turn, request id):
a user's n-th job waits behind everyone's earlier turns. Which process runs which job is
the dispatcher's part (`infra.db.dispatch`); the rows here say who runs what.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Request, RequestJob, RequestStatus
from .requests import NewRequest, RequestLog, insert_request

ADMISSION_LOCK = "SELECT pg_advisory_xact_lock(8470254)"  # beautynet's own arbitrary key
DEFAULT_JOB_SECONDS = 5.0
RECENT_JOBS = 20  # how many finished jobs estimate the next one's duration


@dataclass(frozen=True)
class QueueBounds:
    """How much the queue admits: in all, per user, and how often per user."""

    capacity: int
    per_user: int
    cooldown_s: float = 0.0
    workers: int = 1  # jobs run at once (for the wait estimates)

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.per_user < 1 or self.cooldown_s < 0 or self.workers < 1:
            raise ValueError(f"queue bounds {self!r}: capacity, per_user, workers >= 1")


class Refusal(Exception):
    """The queue does not admit this request now; `wait_s` says for how long (an estimate)."""

    def __init__(self, kind: str, wait_s: float, positions: Sequence[int] = ()) -> None:
        super().__init__(kind)
        self.kind = kind  # "user": their jobs fill their share; "cooldown"; "full"
        self.wait_s = wait_s
        self.positions = list(positions)  # the user's jobs: 0 running, else place in line


@dataclass(frozen=True)
class Admitted:
    """A request written with its job."""

    request_id: int
    turn: int


@dataclass(frozen=True)
class Claimed:
    """A job this process now runs: its request row (attempts counted) and its job row."""

    request: Request
    job: RequestJob


@dataclass(frozen=True)
class QueueCounts:
    """Jobs waiting, and jobs running per process (its worker name)."""

    waiting: int
    running: dict[str, int]


class JobStore:
    """The queue's rows: admission, claims, and what the queue holds."""

    def __init__(self, log: RequestLog, bounds: QueueBounds) -> None:
        self.log = log
        self.sessions = log.sessions
        self.bounds = bounds
        self._admitting = asyncio.Lock()

    # ---- admission ---------------------------------------------------------------
    async def check(self, user_id: int) -> None:
        """Raise `Refusal` when a request of this user would not be admitted now."""
        async with self.sessions() as session:
            await self._refuse(session, user_id)

    async def admit(
        self, new: NewRequest, task: dict[str, Any], answer: dict[str, Any]
    ) -> Admitted:
        """Write a queued request and its job at its fair turn, or raise `Refusal`."""
        async with self._admitting, self.sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(text(ADMISSION_LOCK))
            await self._refuse(session, new.user_id)
            turn = await _next_turn(session, new.user_id)
            request_id = await insert_request(session, new, self.log.worker, self.log.clock())
            job = RequestJob(
                request_id=request_id, user_id=new.user_id, turn=turn, task=task, answer=answer
            )
            session.add(job)
        return Admitted(request_id, turn)

    async def _refuse(self, session: AsyncSession, user_id: int) -> None:
        bounds = self.bounds
        mine = await _jobs_of(session, user_id)
        if len(mine) >= bounds.per_user:
            positions = [await _position(session, job, status) for job, status in mine]
            raise Refusal("user", await self._estimate(session, ahead=1), positions)
        if bounds.cooldown_s:
            last = await session.scalar(
                select(func.max(Request.queued_at)).where(Request.user_id == user_id)
            )
            since = (self.log.clock() - last).total_seconds() if last else float("inf")
            if since < bounds.cooldown_s:
                raise Refusal("cooldown", bounds.cooldown_s - since)
        total = int(await session.scalar(select(func.count()).select_from(RequestJob)) or 0)
        if total >= bounds.capacity:
            ahead = total - bounds.capacity + 1
            raise Refusal("full", await self._estimate(session, ahead=ahead))

    async def _estimate(self, session: AsyncSession, ahead: int) -> float:
        """Seconds until `ahead` jobs finish, from the durations of the last ones."""
        query = (
            select(Request.started_at, Request.finished_at)
            .where(Request.status == RequestStatus.DONE, Request.started_at.is_not(None))
            .order_by(Request.finished_at.desc())
            .limit(RECENT_JOBS)
        )
        rows = await session.execute(query)
        spans = [(end - start).total_seconds() for start, end in rows if start and end]
        per_job = sum(spans) / len(spans) if spans else DEFAULT_JOB_SECONDS
        return per_job * ahead / self.bounds.workers

    # ---- running -----------------------------------------------------------------
    async def claim(self, request_id: int) -> Claimed | None:
        """Mark the job running here (another attempt); None when it has ended already.

        A running job may be claimed again: its process died (SQLite: the one process
        restarted; PostgreSQL: the job queue saw its claim expire).
        """
        async with self.sessions.begin() as session:
            found = (
                await session.execute(
                    select(Request, RequestJob)
                    .join(RequestJob, RequestJob.request_id == Request.id)
                    .where(Request.id == request_id)
                    .with_for_update()
                )
            ).first()
            if found is None:
                return None
            request, job = found
            request.status = RequestStatus.RUNNING
            request.started_at = self.log.clock()
            request.worker = self.log.worker
            request.attempts = request.attempts + 1
        return Claimed(request, job)

    async def requeue(self, request_id: int, *, count_attempt: bool) -> None:
        """Put a running job back in line (a retry, or this process stopping)."""
        attempts = Request.attempts if count_attempt else Request.attempts - 1
        async with self.sessions.begin() as session:
            await session.execute(
                update(Request)
                .where(Request.id == request_id, Request.status == RequestStatus.RUNNING)
                .values(status=RequestStatus.QUEUED, started_at=None, attempts=attempts)
            )

    async def release_running(self) -> int:
        """Requeue every running job (one process on SQLite: whoever ran them is gone)."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Request)
                .where(Request.status == RequestStatus.RUNNING, Request.id.in_(_job_ids()))
                .values(status=RequestStatus.QUEUED, started_at=None)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def remember_answer(self, request_id: int, answer: dict[str, Any]) -> None:
        """Keep where the answer now is (the reply once posted), for whoever runs the job."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(RequestJob).where(RequestJob.request_id == request_id).values(answer=answer)
            )

    # ---- reading -----------------------------------------------------------------
    async def waiting(self) -> list[Admitted]:
        """The waiting jobs, in the order they will be served."""
        query = (
            select(RequestJob.request_id, RequestJob.turn)
            .join(Request, Request.id == RequestJob.request_id)
            .where(Request.status == RequestStatus.QUEUED)
            .order_by(RequestJob.turn, RequestJob.request_id)
        )
        async with self.sessions() as session:
            return [Admitted(int(i), int(t)) for i, t in await session.execute(query)]

    async def position(self, request_id: int) -> int:
        """1 + the jobs served before this waiting one; 0 once it runs (or has ended)."""
        async with self.sessions() as session:
            found = (
                await session.execute(
                    select(RequestJob, Request.status)
                    .join(Request, Request.id == RequestJob.request_id)
                    .where(RequestJob.request_id == request_id)
                )
            ).first()
            return 0 if found is None else await _position(session, *found)

    async def positions_of(self, user_id: int) -> list[int]:
        """A user's jobs: 0 for running, else their place in line (running first)."""
        async with self.sessions() as session:
            return [
                await _position(session, job, status)
                for job, status in await _jobs_of(session, user_id)
            ]

    async def counts(self) -> QueueCounts:
        """What the shared queue holds now."""
        query = (
            select(Request.status, Request.worker, func.count())
            .join(RequestJob, RequestJob.request_id == Request.id)
            .group_by(Request.status, Request.worker)
        )
        waiting, running = 0, dict[str, int]()
        async with self.sessions() as session:
            for status, worker, n in await session.execute(query):
                if status is RequestStatus.QUEUED:
                    waiting += int(n)
                else:
                    running[worker or "?"] = running.get(worker or "?", 0) + int(n)
        return QueueCounts(waiting, running)


def _job_ids() -> Any:
    return select(RequestJob.request_id).scalar_subquery()


async def _jobs_of(session: AsyncSession, user_id: int) -> list[tuple[RequestJob, RequestStatus]]:
    """A user's jobs with their request's status: running first, then in turn order."""
    running_first = Request.status != RequestStatus.RUNNING
    query = (
        select(RequestJob, Request.status)
        .join(Request, Request.id == RequestJob.request_id)
        .where(RequestJob.user_id == user_id)
        .order_by(running_first, RequestJob.turn, RequestJob.request_id)
    )
    return [(job, status) for job, status in await session.execute(query)]


async def _position(session: AsyncSession, job: RequestJob, status: RequestStatus) -> int:
    if status is not RequestStatus.QUEUED:
        return 0
    before = or_(
        RequestJob.turn < job.turn,
        and_(RequestJob.turn == job.turn, RequestJob.request_id < job.request_id),
    )
    query = (
        select(func.count())
        .select_from(RequestJob)
        .join(Request, Request.id == RequestJob.request_id)
        .where(Request.status == RequestStatus.QUEUED, before)
    )
    return 1 + int(await session.scalar(query) or 0)


async def _next_turn(session: AsyncSession, user_id: int) -> int:
    """The turn of a user's next job: after their own, and not before the turn being served
    (that of the jobs running, else the first waiting), so newcomers go first."""
    mine = await session.scalar(
        select(func.max(RequestJob.turn)).where(RequestJob.user_id == user_id)
    )
    joined = select(func.max(RequestJob.turn)).join(Request, Request.id == RequestJob.request_id)
    serving = await session.scalar(joined.where(Request.status == RequestStatus.RUNNING))
    if serving is None:
        first_waiting = select(func.min(RequestJob.turn))
        serving = await session.scalar(first_waiting) or 0
    return max(int(serving), int(mine) + 1 if mine is not None else 0)
