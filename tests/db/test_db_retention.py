"""Retention purges old finished requests, with their stages and content, and nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from infra.db.models import Request, RequestKind, RequestSource, RequestStage, RequestStatus
from infra.db.retention import purge_requests
from infra.db.session import Database

from .conftest import T0


def row(status: RequestStatus, days_ago: int | None, user_id: int) -> Request:
    finished = None if days_ago is None else T0 - timedelta(days=days_ago)
    request = Request(
        user_id=user_id,
        model="flowers",
        source=RequestSource.CLI,
        kind=RequestKind.IMAGE,
        status=status,
        queued_at=T0 - timedelta(days=200),
        finished_at=finished,
    )
    request.stages = [RequestStage(stage="total", seconds=1.0)]
    return request


async def test_purge_deletes_only_old_finished_rows(db: Database) -> None:
    async with db.sessions.begin() as session:
        session.add_all(
            [
                row(RequestStatus.DONE, 100, 1),
                row(RequestStatus.FAILED, 91, 2),
                row(RequestStatus.CANCELLED, 89, 3),  # within 90 days: kept
                row(RequestStatus.DONE, 1, 4),
                row(RequestStatus.RUNNING, None, 5),  # old but unfinished: recovery's job
            ]
        )
    assert await purge_requests(db.sessions, older_than_days=0, now=T0) == 0  # 0 keeps all
    assert await purge_requests(db.sessions, older_than_days=90, now=T0) == 2
    assert await purge_requests(db.sessions, older_than_days=90, now=T0) == 0
    async with db.sessions() as session:
        users = set((await session.scalars(select(Request.user_id))).all())
        stage_count = await session.scalar(select(func.count()).select_from(RequestStage))
    assert users == {3, 4, 5}
    assert stage_count == 3
    with pytest.raises(ValueError, match="older_than_days=-1"):
        await purge_requests(db.sessions, older_than_days=-1, now=T0)
