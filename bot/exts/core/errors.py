"""The command tree's error handler: every slash command, context menu and autocomplete error.

It answers through `bot.errors.report`, as the buttons do; `bot.errors.user_message` is the
one place that turns an error into a short user message (tracebacks go to the log only).
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import BeautyBot
from bot.errors import report

log = logging.getLogger(__name__)


class ErrorHandler(commands.Cog):
    """Installs itself as the command tree's error handler (buttons use `report` too)."""

    def __init__(self, bot: BeautyBot) -> None:
        self.bot = bot
        self._previous = bot.tree.on_error
        bot.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def cog_unload(self) -> None:
        self.bot.tree.on_error = self._previous  # type: ignore[method-assign]

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Every slash command, context menu and autocomplete error ends here."""
        name = interaction.command.qualified_name if interaction.command else "?"
        await report(interaction, error, f"command {name}")


async def setup(bot: BeautyBot) -> None:
    await bot.add_cog(ErrorHandler(bot))
