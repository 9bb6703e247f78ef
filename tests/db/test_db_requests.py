"""The durable request log: lifecycle, outcomes, crash recovery, concurrency."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from infra.db.models import Request, RequestKind, RequestSource, RequestStage, RequestStatus
from infra.db.requests import (
    RESTART_REASON,
    NewRequest,
    Outcome,
    RequestLog,
    RequestLogError,
    input_hash,
)
from infra.db.session import Database

from .conftest import T0, FakeClock


def new(user_id: int = 1, **fields) -> NewRequest:
    """A request from a slash command in guild 10."""
    defaults = dict(
        user_id=user_id,
        source=RequestSource.SLASH,
        kind=RequestKind.IMAGE,
        model="flowers",
        guild_id=10,
        channel_id=20,
        parameters={"k": 7},
        input_bytes=1234,
        width=64,
        height=48,
    )
    return NewRequest(**{**defaults, **fields})


async def get(db: Database, request_id: int) -> Request:
    async with db.sessions() as session:
        row = await session.get(Request, request_id)
        assert row is not None
        return row


async def stages(db: Database, request_id: int) -> dict[str, float]:
    async with db.sessions() as session:
        query = select(RequestStage.stage, RequestStage.seconds).where(
            RequestStage.request_id == request_id
        )
        return dict((await session.execute(query)).all())


async def test_row_exists_before_work_and_is_finished_done(
    db: Database, request_log: RequestLog
) -> None:
    request_id = await request_log.create(new())
    row = await get(db, request_id)
    assert (row.status, row.queued_at, row.started_at) == (RequestStatus.QUEUED, T0, None)
    assert (row.parameters, row.width, row.input_hash) == ({"k": 7}, 64, None)

    await request_log.start(request_id)
    assert (await get(db, request_id)).status is RequestStatus.RUNNING
    timed = {"segment": 1.0, "translate": 1.0, "total": 5.0}
    downloaded = Outcome(input_hash=input_hash(b"png"), duration_s=2.5)
    await request_log.finish(request_id, output_bytes=999, stages=timed, outcome=downloaded)

    row = await get(db, request_id)
    assert (row.input_hash, row.duration_s) == (input_hash(b"png"), 2.5)
    assert (row.status, row.reason, row.output_bytes, row.attempts) == (
        RequestStatus.DONE,
        None,
        999,
        1,
    )
    assert row.finished_at == T0 and row.worker == "test-worker"
    assert await stages(db, request_id) == {"segment": 1.0, "translate": 1.0, "total": 5.0}


async def test_finish_records_what_made_the_result(db: Database, request_log: RequestLog) -> None:
    made = await request_log.create(new(model="default"))
    await request_log.finish(made, outcome=Outcome("flowers", 3, "clusters k=9", 555))
    grid = await request_log.create(new(model="compare"))
    await request_log.finish(grid, outcome=Outcome(result_message_id=556))
    rows = [await get(db, made), await get(db, grid)]
    assert [(r.model, r.model_version, r.segmenter, r.result_message_id) for r in rows] == [
        ("flowers", 3, "clusters k=9", 555),
        ("compare", None, None, 556),  # what an outcome does not know stays as it was
    ]


async def test_finish_refuses_missing_and_finished_rows(request_log: RequestLog) -> None:
    request_id = await request_log.create(new())
    await request_log.finish(request_id)
    with pytest.raises(RequestLogError, match="is already done"):
        await request_log.finish(request_id, RequestStatus.FAILED, reason="late")
    with pytest.raises(RequestLogError, match="does not exist"):
        await request_log.start(request_id + 1000)
    with pytest.raises(ValueError, match="needs a reason"):
        await request_log.finish(request_id, RequestStatus.FAILED)
    with pytest.raises(ValueError, match="status="):
        await request_log.finish(request_id, RequestStatus.RUNNING)


async def test_recover_fails_rows_a_crash_left_queued_or_running(db_url: str, db: Database) -> None:
    crashed = RequestLog(db.sessions, worker="shard-0", clock=FakeClock())
    other = RequestLog(db.sessions, worker="shard-1", clock=FakeClock())
    running = [await crashed.create(new(user_id=u)) for u in (1, 2)]
    for request_id in running:
        await crashed.start(request_id)
    queued = await crashed.create(new(user_id=3))
    done = await crashed.create(new(user_id=4))
    await crashed.finish(done)
    elsewhere = await other.create(new(user_id=5))
    await other.start(elsewhere)
    await db.dispose()  # the process dies: nothing else is written

    restarted = Database.from_url(db_url)
    try:
        later = FakeClock(T0.replace(hour=13))
        recovered = await RequestLog(restarted.sessions, worker="shard-0", clock=later).recover()
        assert sorted(r.id for r in recovered) == [*running, queued]
        assert {(r.user_id, r.status) for r in recovered} == {
            (1, RequestStatus.FAILED),
            (2, RequestStatus.FAILED),
            (3, RequestStatus.FAILED),
        }
        for request_id in [*running, queued]:
            row = await get(restarted, request_id)
            assert (row.status, row.reason) == (RequestStatus.FAILED, RESTART_REASON)
            assert row.finished_at == T0.replace(hour=13)
        assert (await get(restarted, done)).status is RequestStatus.DONE
        assert (await get(restarted, elsewhere)).status is RequestStatus.RUNNING  # not ours
        assert await RequestLog(restarted.sessions, worker="shard-0").recover() == []
    finally:
        await restarted.dispose()


async def test_recover_can_requeue_once_then_fails(db: Database) -> None:
    log = RequestLog(db.sessions, clock=FakeClock())  # no worker: a single process
    request_id = await log.create(new())
    await log.start(request_id)
    [row] = await log.recover(retry=True, max_attempts=2)
    assert (row.status, row.started_at) == (RequestStatus.QUEUED, None)
    await log.start(request_id)  # the retry crashes as well
    [row] = await log.recover(retry=True, max_attempts=2)
    assert row.status is RequestStatus.FAILED
    assert (await get(db, request_id)).attempts == 2


async def test_200_concurrent_request_logs_lose_nothing(db: Database) -> None:
    log = RequestLog(db.sessions, worker="w", clock=FakeClock())

    async def one(user_id: int) -> int:
        request_id = await log.create(new(user_id=user_id))
        await log.start(request_id)
        await asyncio.sleep(0)
        await log.finish(request_id, stages={"translate": 1.0, "total": 2.0})
        return request_id

    results = await asyncio.gather(*(one(u) for u in range(200)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []  # in particular no "database is locked"
    assert len(set(results)) == 200
    async with db.sessions() as session:
        by_status = dict(
            (
                await session.execute(select(Request.status, func.count()).group_by(Request.status))
            ).all()
        )
        users = set((await session.scalars(select(Request.user_id))).all())
        stage_rows = await session.scalar(select(func.count()).select_from(RequestStage))
    assert by_status == {RequestStatus.DONE: 200}
    assert users == set(range(200))
    assert stage_rows == 400  # translate + total for each
