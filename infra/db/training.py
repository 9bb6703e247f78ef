"""Training runs: a row when a run starts (who, on what), finished with how it ended."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .models import TrainingRun, TrainingStatus

log = logging.getLogger(__name__)

ENDED = (TrainingStatus.FINISHED, TrainingStatus.CANCELLED, TrainingStatus.FAILED)
RESTART_REASON = "interrupted: the bot restarted while this run was going on"


@dataclass(frozen=True)
class NewRun:
    """A run about to start, and who started it: a Discord user, or a command-line login."""

    model_name: str
    dataset: str
    segmenter: str  # as trained: "clusters k=7" or "edges"
    parameters: dict[str, Any] = field(default_factory=dict)
    user_id: int | None = None
    guild_id: int | None = None
    cli_user: str | None = None
    worker: str | None = None  # the bot process running it: its restart settles the run

    def __post_init__(self) -> None:
        if (self.user_id is None) == (self.cli_user is None):
            raise ValueError(
                f"user_id={self.user_id!r}, cli_user={self.cli_user!r}: give exactly one"
            )


async def start_run(
    sessions: async_sessionmaker[AsyncSession], run: NewRun, *, now: datetime
) -> int:
    """Record a run as running; returns its id."""
    row = TrainingRun(
        model_name=run.model_name,
        dataset=run.dataset,
        segmenter=run.segmenter,
        parameters=run.parameters,
        status=TrainingStatus.RUNNING,
        user_id=run.user_id,
        guild_id=run.guild_id,
        cli_user=run.cli_user,
        worker=run.worker,
        started_at=now,
    )
    async with sessions.begin() as session:
        session.add(row)
    log.info("training run %d of %s started", row.id, run.model_name)
    return row.id


async def finish_run(
    sessions: async_sessionmaker[AsyncSession],
    run_id: int,
    status: TrainingStatus,
    *,
    now: datetime,
    model_version: int | None = None,
    metrics: dict[str, float] | None = None,
    reason: str | None = None,
) -> None:
    """Record how a running run ended: the version it registered, its metrics, or why it failed."""
    if status not in ENDED:
        raise ValueError(f"status={status!r}: a run ends finished, cancelled or failed")
    async with sessions.begin() as session:
        ended = await session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id, TrainingRun.status == TrainingStatus.RUNNING)
            .values(
                status=status,
                finished_at=now,
                model_version=model_version,
                metrics=metrics or {},
                reason=reason,
            )
            .returning(TrainingRun.id)
        )
        if ended.first() is None:
            raise ValueError(f"run_id={run_id!r}: no such running training run")


async def settle_interrupted_runs(
    sessions: async_sessionmaker[AsyncSession], worker: str, *, now: datetime
) -> int:
    """Fail the runs `worker` left running when it stopped (call at its start); returns how many."""
    async with sessions.begin() as session:
        settled = await session.execute(
            update(TrainingRun)
            .where(TrainingRun.worker == worker, TrainingRun.status == TrainingStatus.RUNNING)
            .values(status=TrainingStatus.FAILED, finished_at=now, reason=RESTART_REASON)
            .returning(TrainingRun.id)
        )
        count = len(settled.all())
    if count:
        log.warning("settled %d training run(s) interrupted by a restart of %s", count, worker)
    return count


async def recent_runs(
    session: AsyncSession, *, limit: int = 5, guild_id: int | None = None
) -> list[TrainingRun]:
    """The latest runs, newest first: those started in one guild, or all of them."""
    if limit <= 0:
        raise ValueError(f"limit={limit!r}: must be positive")
    query = select(TrainingRun)
    if guild_id is not None:
        query = query.where(TrainingRun.guild_id == guild_id)
    query = query.order_by(TrainingRun.started_at.desc(), TrainingRun.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())
