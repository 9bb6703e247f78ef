"""The one error handler: errors become short user messages; tracebacks go to the log only."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import BeautyBot
from bot.errors import GENERIC_FAILURE, user_message

log = logging.getLogger(__name__)


async def tell(interaction: discord.Interaction, text: str) -> None:
    """Answer ephemerally, whether or not the interaction was already answered."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not tell the user about an error: %s", exc)


class ErrorHandler(commands.Cog):
    """Installs itself as the command tree's error handler."""

    def __init__(self, bot: BeautyBot) -> None:
        self.bot = bot
        self._previous = bot.tree.on_error
        bot.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = self._previous  # type: ignore[method-assign]

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Known errors: their message; anything else: a generic line and a logged traceback."""
        message = user_message(error)
        if message is None:
            name = interaction.command.qualified_name if interaction.command else "?"
            log.error("command %s failed", name, exc_info=error)
            message = GENERIC_FAILURE
        else:
            log.info("command refused for user %s: %s", interaction.user.id, message)
        await tell(interaction, message)


async def setup(bot: BeautyBot) -> None:
    await bot.add_cog(ErrorHandler(bot))
