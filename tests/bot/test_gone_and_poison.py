"""A request whose message went away while it waited, and a job that always fails."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.engine_client import TranslateParams
from bot.errors import GENERIC_FAILURE
from infra.db.models import RequestStatus
from tests.conftest import encoded
from tests.fakediscord import FakeDiscord

from .conftest import BotFactory
from .helpers import GatedEngine, idle, replies_to, reply_to, requests_rows


class FailingEngine:
    """The real engine, except that translating always raises (a poison job)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    async def translate(self, data: bytes, params: TranslateParams, *rest: Any) -> Any:
        self.calls += 1
        raise RuntimeError("poison")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_message_deleted_while_queued_is_skipped_and_logged(
    fake: FakeDiscord, start_bot: BotFactory, engine, photo
) -> None:
    gated = GatedEngine(engine)
    bot = await start_bot(engine_client=gated, queue_size=10)
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    image = [("p.png", encoded(photo()), "image/png")]
    running = await fake.post_message(alice, "", image, mention_bot=True)
    await asyncio.wait_for(gated.entered.wait(), 20)
    doomed = await fake.post_message(bob, "", image, mention_bot=True)
    await fake.wait_for(lambda: any("position 1" in r["content"] for r in replies_to(fake, doomed)))
    del fake.messages[int(doomed["id"])]  # bob deletes his message while it waits
    gated.open()
    assert (await reply_to(fake, bot, running))["attachments"]
    await idle(bot)
    (notice,) = replies_to(fake, doomed)
    assert notice["content"] == "⚠️ Skipped: its message was deleted while it waited."
    first, second = await requests_rows(bot)
    assert first.status == RequestStatus.DONE
    assert second.status == RequestStatus.CANCELLED
    assert second.reason == "input gone: its message was deleted while it waited"
    assert len(gated.order) == 1  # the engine never saw it


async def test_a_job_that_always_fails_is_tried_a_few_times_then_failed(
    fake: FakeDiscord, start_bot: BotFactory, engine, photo
) -> None:
    failing = FailingEngine(engine)
    bot = await start_bot(engine_client=failing, job_attempts=3)
    alice = fake.add_user("alice")
    message = await fake.post_message(
        alice, "", [("p.png", encoded(photo()), "image/png")], mention_bot=True
    )
    reply = await reply_to(fake, bot, message)
    assert reply["content"] == f"⚠️ {GENERIC_FAILURE}"
    (row,) = await requests_rows(bot)
    assert failing.calls == 3 and row.attempts == 3
    assert row.status == RequestStatus.FAILED and row.reason == "internal error: RuntimeError"
    assert (await bot.jobs.counts()).waiting == 0
