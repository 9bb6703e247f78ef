"""A full queue says "busy, try again" through the fake Discord (end to end); the queue's
rows are tested in tests/db/test_db_jobs.py."""

from __future__ import annotations

import asyncio

from tests.conftest import encoded
from tests.fakediscord import FakeDiscord

from .conftest import BotFactory
from .helpers import GatedEngine, ephemeral_answer, final_reply, idle, original_shows

TIMEOUT = 10


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
