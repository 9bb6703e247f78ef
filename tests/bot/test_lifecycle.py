"""The bot tells its operator when it has connected (to how many guilds) and when it stops."""

from __future__ import annotations

import asyncio
import logging

import pytest

from .conftest import BotFactory


async def test_the_bot_says_when_it_connects_and_when_it_stops(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.bot")
    bot = await start_bot()
    expected = f"connected to Discord as {bot.user}, in {len(bot.guilds)} guild(s)"

    async def connected() -> None:  # on_ready runs as a task of its own
        while not any(said.startswith(expected) for said in messages(caplog)):
            await asyncio.sleep(0.01)

    await asyncio.wait_for(connected(), 20)
    assert len(bot.guilds) >= 1
    await asyncio.wait_for(bot.close(), 20)
    said = messages(caplog)
    assert said[-1] == "stopped" and said[-2].startswith("stopping")


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "bot.bot"]
