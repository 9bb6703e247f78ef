"""Retention: finished request rows (and their stages) older than N days go."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .models import FINAL_REQUEST_STATUSES, Request, RequestStage

log = logging.getLogger(__name__)


async def purge_requests(
    sessions: async_sessionmaker[AsyncSession], *, older_than_days: int, now: datetime
) -> int:
    """Delete finished requests that ended before `now - older_than_days`; 0 days keeps all."""
    if older_than_days < 0:
        raise ValueError(f"older_than_days={older_than_days!r}: must be >= 0")
    if older_than_days == 0:
        return 0
    cutoff = now - timedelta(days=older_than_days)
    old = (Request.status.in_(FINAL_REQUEST_STATUSES), Request.finished_at < cutoff)
    async with sessions.begin() as session:
        old_ids = select(Request.id).where(*old)
        await session.execute(delete(RequestStage).where(RequestStage.request_id.in_(old_ids)))
        result: CursorResult[Any] = await session.execute(delete(Request).where(*old))  # type: ignore[assignment]
    count = int(result.rowcount)
    log.info("purged %d request(s) finished before %s", count, cutoff.isoformat())
    return count
