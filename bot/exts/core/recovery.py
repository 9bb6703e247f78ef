"""After a restart, tell people whose requests were interrupted to try again."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.bot import BeautyBot
from infra.db.models import Request

log = logging.getLogger(__name__)


class Recovery(commands.Cog):
    """Posts one short notice per interrupted request, once the bot is ready."""

    def __init__(self, bot: BeautyBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_requests_interrupted(self, rows: list[Request]) -> None:
        """The rows the bot settled at start-up (see `BeautyBot.setup_hook`)."""
        await self.bot.wait_until_ready()
        for row in rows:
            channel = self.bot.get_channel(row.channel_id) if row.channel_id else None
            if not isinstance(channel, discord.TextChannel):
                continue
            if not channel.permissions_for(channel.guild.me).send_messages:
                continue
            try:
                await channel.send(
                    f"<@{row.user_id}> your request #{row.id} was interrupted by a restart; "
                    "please send it again."
                )
            except discord.HTTPException as exc:
                log.warning("could not tell about interrupted request %s: %s", row.id, exc)


async def setup(bot: BeautyBot) -> None:
    await bot.add_cog(Recovery(bot))
