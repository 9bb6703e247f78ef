"""The read queries the bot needs, written once for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Date, Subquery, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from .models import Request, RequestStage, RequestStatus

DEFAULT_PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class StageLatency:
    """Nearest-rank percentiles (seconds) of one stage's durations."""

    stage: str
    count: int
    percentiles: dict[int, float]


async def find_request(session: AsyncSession, request_id: int) -> Request | None:
    """One request row by id."""
    return await session.get(Request, request_id)


async def recent_requests(
    session: AsyncSession,
    user_id: int,
    *,
    limit: int = 10,
    guild_id: int | None = None,
    status: RequestStatus | None = None,
) -> list[Request]:
    """A user's latest requests, newest first (optionally only in one guild, or one status)."""
    if limit <= 0:
        raise ValueError(f"limit={limit!r}: must be positive")
    query = select(Request).where(Request.user_id == user_id)
    if guild_id is not None:
        query = query.where(Request.guild_id == guild_id)
    if status is not None:
        query = query.where(Request.status == status)
    query = query.order_by(Request.queued_at.desc(), Request.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


async def count_user_requests(
    session: AsyncSession, user_id: int, guild_id: int, *, since: datetime
) -> int:
    """How many requests a user made in a guild since then (cancelled ones do not count)."""
    query = select(func.count(Request.id)).where(
        Request.user_id == user_id,
        *_guild_filter(guild_id, since),
        Request.status != RequestStatus.CANCELLED,
    )
    return int(await session.scalar(query) or 0)


async def counts_by(
    session: AsyncSession,
    column: InstrumentedAttribute[Any],
    guild_id: int | None,
    *,
    since: datetime | None = None,
) -> list[tuple[Any, int]]:
    """Request counts per value of a `Request` column (model, install, channel kind), most
    used first; in one guild, or everywhere when `guild_id` is None."""
    count = func.count(Request.id)
    query = select(column, count).where(*_guild_filter(guild_id, since))
    query = query.group_by(column).order_by(count.desc(), column)
    return [(value, int(n)) for value, n in (await session.execute(query)).all()]


async def counts_by_day(
    session: AsyncSession, guild_id: int, *, since: datetime | None = None
) -> list[tuple[date, int]]:
    """A guild's request count per UTC day, oldest first (days without requests left out)."""
    day = func.date(Request.queued_at, type_=Date)  # SQLite's text date is parsed by Date
    query = select(day, func.count(Request.id)).where(*_guild_filter(guild_id, since))
    query = query.group_by(day).order_by(day)
    return [(d, int(n)) for d, n in (await session.execute(query)).all()]


def _guild_filter(guild_id: int | None, since: datetime | None) -> list[ColumnElement[bool]]:
    where = [] if guild_id is None else [Request.guild_id == guild_id]
    return where if since is None else [*where, Request.queued_at >= since]


async def stage_latencies(
    session: AsyncSession,
    *,
    guild_id: int | None = None,
    since: datetime | None = None,
    percentiles: Sequence[int] = DEFAULT_PERCENTILES,
) -> list[StageLatency]:
    """Latency percentiles per stage, computed in the database with window functions."""
    for p in percentiles:
        if not 1 <= p <= 100:
            raise ValueError(f"percentiles={list(percentiles)!r}: each must be in 1..100")
    ranked = _ranked_stages(guild_id, since)
    columns = [
        # Nearest rank: the ceil(p * n / 100)-th smallest value, in integer arithmetic.
        func.max(case((ranked.c.rank == (p * ranked.c.n + 99) // 100, ranked.c.seconds)))
        for p in percentiles
    ]
    query = select(ranked.c.stage, func.max(ranked.c.n), *columns).group_by(ranked.c.stage)
    rows = (await session.execute(query.order_by(ranked.c.stage))).all()
    return [
        StageLatency(stage, int(n), dict(zip(percentiles, map(float, values), strict=True)))
        for stage, n, *values in rows
    ]


def _ranked_stages(guild_id: int | None, since: datetime | None) -> Subquery:
    by_stage = RequestStage.stage
    query = select(
        RequestStage.stage,
        RequestStage.seconds,
        func.row_number().over(partition_by=by_stage, order_by=RequestStage.seconds).label("rank"),
        func.count().over(partition_by=by_stage).label("n"),
    ).join(Request, Request.id == RequestStage.request_id)
    if guild_id is not None:
        query = query.where(Request.guild_id == guild_id)
    if since is not None:
        query = query.where(Request.queued_at >= since)
    return query.subquery()
