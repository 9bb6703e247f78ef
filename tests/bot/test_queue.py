"""The fair queue (unit), and "busy, try again" through the fake Discord (end to end)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.engine_client import Translated, TranslateParams
from bot.errors import BusyError
from bot.queue import FairQueue
from tests.conftest import encoded
from tests.fakediscord import FakeDiscord

from .conftest import BotFactory
from .helpers import ephemeral_answer, final_reply, idle

TIMEOUT = 10


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def queue() -> Any:
    clock = Clock()
    fair = FairQueue(capacity=3, cooldown_s=5, workers=1, clock=clock)
    fair.clock_ = clock  # type: ignore[attr-defined]
    await fair.start()
    yield fair
    await fair.close()


async def test_one_job_per_user_and_capacity(queue: FairQueue) -> None:
    gate = asyncio.Event()
    order: list[int] = []

    def work(user: int):
        async def run() -> int:
            await gate.wait()
            order.append(user)
            return user

        return run

    jobs = [queue.submit(user, work(user)) for user in (1, 2, 3)]
    with pytest.raises(BusyError, match="already have a job"):
        queue.submit(1, work(1))
    with pytest.raises(BusyError, match=r"busy; try again in \d+ s") as caught:
        queue.submit(4, work(4))
    assert caught.value.retry_after_s and caught.value.retry_after_s > 0
    await asyncio.wait_for(jobs[0].started.wait(), TIMEOUT)
    assert [queue.position(job) for job in jobs] == [0, 1, 2]
    gate.set()
    assert await asyncio.wait_for(asyncio.gather(*(j.result for j in jobs)), TIMEOUT) == [1, 2, 3]
    assert order == [1, 2, 3]
    await asyncio.wait_for(queue.join(), TIMEOUT)


async def test_cooldown_uses_the_clock(queue: FairQueue) -> None:
    async def nothing() -> None:
        return None

    job = queue.submit(7, nothing)
    await asyncio.wait_for(job.result, TIMEOUT)
    with pytest.raises(BusyError, match="try again in 5 s"):
        queue.submit(7, nothing)
    queue.clock_.now += 4.2  # type: ignore[attr-defined]
    with pytest.raises(BusyError, match="try again in 1 s"):
        queue.submit(7, nothing)
    queue.clock_.now += 1  # type: ignore[attr-defined]
    await asyncio.wait_for(queue.submit(7, nothing).result, TIMEOUT)


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


class GatedEngine:
    """Delegates to the real engine once `gate` is set; counts calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def translate_image(
        self, data: bytes, params: TranslateParams, request_id: str
    ) -> Translated:
        self.entered.set()
        await self.gate.wait()
        return await self.inner.translate_image(data, params, request_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


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
    await fake.wait_for(
        lambda: (
            "position 1" in (fake.messages.get(second.original_id or 0) or {}).get("content", "")
        )
    )
    third = await fake.slash(users[2], "beautify", files=file)
    assert "busy; try again in" in await ephemeral_answer(fake, third)
    again = await fake.slash(users[0], "beautify", files=file)
    assert "already have a job" in await ephemeral_answer(fake, again)
    gated.gate.set()
    assert (await final_reply(fake, bot, first))["attachments"]
    assert (await final_reply(fake, bot, second))["attachments"]
    await idle(bot)
