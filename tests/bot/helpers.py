"""Helpers for end-to-end bot tests: waiting for replies and reading the database."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from PIL import Image
from sqlalchemy import select

from bot.bot import BeautyBot
from bot.engine_client import Translated, TranslateParams
from infra.db.models import Request
from tests.fakediscord import FakeDiscord, FakeInteraction
from tests.fakediscord.server import DEFAULT_TIMEOUT

Json = dict[str, Any]


async def final_reply(fake: FakeDiscord, bot: BeautyBot, interaction: FakeInteraction) -> Json:
    """The interaction's reply once it carries a file or a warning, and the bot is idle."""

    def done() -> Json | None:
        message = fake.messages.get(interaction.original_id or 0)
        if message and (message["attachments"] or message["content"].startswith("⚠️")):
            return message
        return None

    message = await fake.wait_for(done)
    await idle(bot)
    return message


async def original_shows(fake: FakeDiscord, interaction: FakeInteraction, text: str) -> None:
    """Wait until the interaction's (deferred) reply says `text`."""
    await fake.wait_for(
        lambda: text in (fake.messages.get(interaction.original_id or 0) or {}).get("content", "")
    )


async def idle(bot: BeautyBot) -> None:
    """Wait until the shared queue has no job waiting or running."""

    async def drained() -> None:
        while True:
            counts = await bot.jobs.counts()
            if not (counts.waiting or counts.running or bot.dispatcher.running):
                return
            await asyncio.sleep(0.02)

    await asyncio.wait_for(drained(), DEFAULT_TIMEOUT)


async def ephemeral_answer(fake: FakeDiscord, interaction: FakeInteraction) -> str:
    """The text of an ephemeral answer (a response or a follow-up with flag 64)."""

    def found() -> str | None:
        for call in fake.calls:
            token_match = interaction.token in call.path or str(interaction.id) in call.path
            if not token_match or call.method != "POST":
                continue
            body = call.json or {}
            data = body.get("data", body)
            if (data.get("flags") or 0) & 64:
                return str(data.get("content"))
        return None

    return await fake.wait_for(found)


async def reply_to(fake: FakeDiscord, bot: BeautyBot, message: Json) -> Json:
    """The bot's reply to `message`, once it carries a file or a warning."""

    def found() -> Json | None:
        for candidate in fake.messages.values():
            reference = candidate.get("message_reference") or {}
            if str(reference.get("message_id")) != message["id"]:
                continue
            if candidate["attachments"] or candidate["content"].startswith("⚠️"):
                return candidate
        return None

    reply = await fake.wait_for(found)
    await idle(bot)
    return reply


def replies_to(fake: FakeDiscord, message: Json) -> list[Json]:
    return [
        m
        for m in fake.messages.values()
        if str((m.get("message_reference") or {}).get("message_id")) == message["id"]
    ]


def image_of(fake: FakeDiscord, message: Json) -> Image.Image:
    (data,) = fake.files_of(message)
    return Image.open(io.BytesIO(data))


async def requests_rows(bot: BeautyBot) -> list[Request]:
    async with bot.db.sessions() as session:
        return list((await session.scalars(select(Request).order_by(Request.id))).all())


class GatedEngine:
    """Delegates to the real engine, one image per `step()` (or all after `open()`).

    `order` records the request ids in the order the engine got them.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.passes = asyncio.Semaphore(0)
        self.entered = asyncio.Event()
        self.order: list[int] = []
        self.opened = False

    def step(self) -> None:
        """Let one waiting (or the next) image through."""
        self.passes.release()

    def open(self) -> None:
        """Let every image through from now on."""
        self.opened = True
        self.passes.release()

    async def translate(
        self, data: bytes, params: TranslateParams, request_id: str, *rest: Any
    ) -> Translated:
        self.order.append(int(request_id))
        self.entered.set()
        if not self.opened:
            await self.passes.acquire()
        if self.opened:
            self.passes.release()  # wake the next one too
        return await self.inner.translate(data, params, request_id, *rest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
