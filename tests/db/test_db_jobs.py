"""The durable queue's rows (SQLite and PostgreSQL): fair turns, positions, refusals, claims."""

from __future__ import annotations

from datetime import timedelta

import pytest

from infra.db.jobs import JobStore, QueueBounds, Refusal
from infra.db.models import RequestKind, RequestSource
from infra.db.requests import NewRequest, RequestLog

from .conftest import FakeClock


def store(log: RequestLog, **bounds: float) -> JobStore:
    chosen = {"capacity": 6, "per_user": 3, **bounds}
    return JobStore(log, QueueBounds(**chosen))  # type: ignore[arg-type]


async def admit(jobs: JobStore, user_id: int) -> int:
    new = NewRequest(user_id, RequestSource.MESSAGE, RequestKind.IMAGE, "tiny")
    return (await jobs.admit(new, {"operation": "beautify"}, {"user_id": user_id})).request_id


async def test_users_take_turns_and_a_newcomer_goes_first(request_log: RequestLog) -> None:
    jobs = store(request_log)
    a1, a2, a3 = [await admit(jobs, 1) for _ in range(3)]
    assert await jobs.claim(a1) is not None  # a1 runs
    b1 = await admit(jobs, 2)
    b2, c1 = await admit(jobs, 2), await admit(jobs, 3)
    order = [admitted.request_id for admitted in await jobs.waiting()]
    assert order == [b1, c1, a2, b2, a3]
    assert [await jobs.position(i) for i in (a1, b1, c1, a2, b2, a3)] == [0, 1, 2, 3, 4, 5]
    assert await jobs.positions_of(1) == [0, 3, 5]
    counts = await jobs.counts()
    assert counts.waiting == 5 and counts.running == {"test-worker": 1}


async def test_refusals_say_why_and_how_long(request_log: RequestLog, clock: FakeClock) -> None:
    jobs = store(request_log, capacity=4, cooldown_s=5)
    first = await admit(jobs, 1)
    with pytest.raises(Refusal) as cooling:
        await admit(jobs, 1)
    assert cooling.value.kind == "cooldown" and cooling.value.wait_s == 5
    clock.now += timedelta(seconds=6)
    await jobs.claim(first)
    await admit(jobs, 1), await admit(jobs, 2)
    clock.now += timedelta(seconds=6)
    await admit(jobs, 1)
    clock.now += timedelta(seconds=6)
    with pytest.raises(Refusal) as mine:
        await jobs.check(1)
    assert mine.value.kind == "user" and mine.value.positions == [0, 2, 3]
    with pytest.raises(Refusal) as full:
        await admit(jobs, 3)
    assert full.value.kind == "full" and full.value.wait_s == 5.0  # none finished: the default
    assert len(await jobs.waiting()) == 3  # a refusal writes nothing


async def test_a_claim_counts_attempts_and_a_requeue_puts_it_back(request_log: RequestLog) -> None:
    jobs = store(request_log)
    request_id = await admit(jobs, 1)
    claimed = await jobs.claim(request_id)
    assert claimed is not None and claimed.request.attempts == 1
    await jobs.requeue(request_id, count_attempt=False)  # stopped: not the job's fault
    again = await jobs.claim(request_id)
    assert again is not None and again.request.attempts == 1
    assert await jobs.release_running() == 1  # a restart on SQLite: back in line
    assert [a.request_id for a in await jobs.waiting()] == [request_id]
    await request_log.finish(request_id)
    assert await jobs.claim(request_id) is None  # its job ended with it
    assert (await jobs.counts()).waiting == 0


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="capacity"):
        QueueBounds(capacity=0, per_user=1)
