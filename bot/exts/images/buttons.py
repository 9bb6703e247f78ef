"""The buttons under results (`bot.exts.images`): registered here, so that they answer clicks."""

from __future__ import annotations

from bot.bot import BeautyBot
from bot.exts.images import DYNAMIC_ITEMS, buttons_for


async def setup(bot: BeautyBot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    bot.beautifier.views = buttons_for(bot)  # results get them, whichever process ran them


async def teardown(bot: BeautyBot) -> None:
    bot.beautifier.views = None
    bot.remove_dynamic_items(*DYNAMIC_ITEMS)
