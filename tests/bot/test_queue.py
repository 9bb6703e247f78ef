"""The fair queue (unit), and "busy, try again" through the fake Discord (end to end)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from bot.queue import FairQueue

from bot.errors import BusyError
from tests.conftest import encoded
from tests.fakediscord import FakeDiscord

from .conftest import BotFactory
from .helpers import GatedEngine, ephemeral_answer, final_reply, idle, original_shows

TIMEOUT = 10


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def queue(clock: Clock) -> Any:
    fair = FairQueue(capacity=6, cooldown_s=0, workers=1, clock=clock, per_user=3)
    await fair.start()
    yield fair
    await fair.close()


def recorder(gate: asyncio.Event, order: list[str]) -> Callable[[str], Callable[[], Any]]:
    def work(name: str) -> Callable[[], Any]:
        async def run() -> str:
            await gate.wait()
            order.append(name)
            return name

        return run

    return work


async def test_users_are_served_round_robin(queue: FairQueue) -> None:
    gate, order = asyncio.Event(), []
    work = recorder(gate, order)
    jobs = {name: queue.submit(ord(name[0]), work(name)) for name in ("a1", "a2", "a3", "b1")}
    jobs |= {name: queue.submit(ord(name[0]), work(name)) for name in ("b2", "c1")}
    expected = ["a1", "b1", "c1", "a2", "b2", "a3"]
    assert [queue.position(jobs[name]) for name in expected] == [1, 2, 3, 4, 5, 6]
    await asyncio.wait_for(jobs["a1"].started.wait(), TIMEOUT)
    assert [queue.position(jobs[name]) for name in expected] == [0, 1, 2, 3, 4, 5]
    gate.set()
    await asyncio.wait_for(queue.join(), TIMEOUT)
    assert order == expected


async def test_a_newcomer_goes_before_a_users_later_turns(queue: FairQueue) -> None:
    gate, order = asyncio.Event(), []
    work = recorder(gate, order)
    alice = [queue.submit(1, work(f"a{i}")) for i in (1, 2, 3)]
    await asyncio.wait_for(alice[0].started.wait(), TIMEOUT)
    moved = queue.changed()
    bob = queue.submit(2, work("b1"))
    assert moved.is_set() and not queue.changed().is_set()
    assert [queue.position(job) for job in (*alice, bob)] == [0, 2, 3, 1]
    with pytest.raises(BusyError) as refused:
        queue.submit(1, work("a4"))
    assert str(refused.value) == (
        "You already have 3 requests in the queue (running, position 2 and position 3); "
        "wait for one to finish."
    )
    assert refused.value.retry_after_s and refused.value.retry_after_s > 0
    gate.set()
    await asyncio.wait_for(queue.join(), TIMEOUT)
    assert order == ["a1", "b1", "a2", "a3"]
    await asyncio.wait_for(queue.submit(1, work("a4")).result, TIMEOUT)


async def test_capacity_says_how_long_to_wait(clock: Clock) -> None:
    fair = FairQueue(capacity=2, workers=1, clock=clock, per_user=3)
    gate, order = asyncio.Event(), []
    work = recorder(gate, order)
    fair.submit(1, work("a1")), fair.submit(2, work("b1"))
    with pytest.raises(BusyError, match=r"^I'm busy; try again in 5 s\.$") as caught:
        fair.submit(3, work("c1"))
    assert caught.value.retry_after_s == 5.0  # no job finished yet: the default estimate


async def test_cooldown_uses_the_clock(clock: Clock) -> None:
    fair = FairQueue(capacity=3, cooldown_s=5, workers=1, clock=clock, per_user=3)
    await fair.start()

    async def nothing() -> None:
        return None

    try:
        await asyncio.wait_for(fair.submit(7, nothing).result, TIMEOUT)
        with pytest.raises(BusyError, match="try again in 5 s"):
            fair.submit(7, nothing)
        clock.now += 4.2
        with pytest.raises(BusyError, match="try again in 1 s"):
            fair.submit(7, nothing)
        clock.now += 1
        await asyncio.wait_for(fair.submit(7, nothing).result, TIMEOUT)
    finally:
        await fair.close()


async def test_errors_reach_the_submitter(queue: FairQueue) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    job = queue.submit(1, boom)
    with pytest.raises(RuntimeError, match="boom"):
        await asyncio.wait_for(job.result, TIMEOUT)
    assert len(queue) == 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="capacity=0"):
        FairQueue(capacity=0, cooldown_s=0)
    with pytest.raises(ValueError, match="per_user=0"):
        FairQueue(capacity=1, per_user=0)


async def test_busy_queue_end_to_end(
    fake: FakeDiscord, start_bot: BotFactory, engine, photo
) -> None:
    gated = GatedEngine(engine)
    bot = await start_bot(engine_client=gated, queue_size=2)
    users = [fake.add_user(name) for name in ("alice", "bob", "carol")]
    file = {"file": ("p.png", encoded(photo()), "image/png")}
    first = await fake.slash(users[0], "beautify", files=file)
    await asyncio.wait_for(gated.entered.wait(), TIMEOUT)
    second = await fake.slash(users[1], "beautify", files=file)
    await original_shows(fake, second, "position 1")
    third = await fake.slash(users[2], "beautify", files=file)
    assert "busy; try again in" in await ephemeral_answer(fake, third)
    gated.open()
    assert (await final_reply(fake, bot, first))["attachments"]
    assert (await final_reply(fake, bot, second))["attachments"]
    await idle(bot)
