"""`/history`: a user's latest results, with what made them and a link to each."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.bot import BeautyBot, bot_of
from infra.db.models import Request, RequestStatus
from infra.db.queries import recent_requests

HISTORY_SIZE = 10


def message_link(guild_id: int | None, channel_id: int | None, message_id: int) -> str:
    """The jump URL of a message."""
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def history_line(row: Request) -> str:
    """'tiny v1 · clusters k=9 · <when> · [result](link)' for one finished request."""
    model = f"{row.model} v{row.model_version}" if row.model_version else row.model
    when = row.finished_at or row.queued_at
    parts = [f"**{model}**", row.segmenter, discord.utils.format_dt(when, "R")]
    if row.result_message_id and row.channel_id:
        link = message_link(row.guild_id, row.channel_id, row.result_message_id)
        parts.append(f"[result]({link})")
    return " · ".join(part for part in parts if part)


@app_commands.command(name="history", description="Your latest results")
async def history(interaction: discord.Interaction) -> None:
    """/history: only the user sees it."""
    bot = bot_of(interaction)
    async with bot.db.sessions() as session:
        rows = await recent_requests(
            session, interaction.user.id, limit=HISTORY_SIZE, status=RequestStatus.DONE
        )
    if rows:
        text = "**Your latest results**\n" + "\n".join(history_line(row) for row in rows)
    else:
        text = "You have no results yet; try /beautify."
    await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: BeautyBot) -> None:
    bot.tree.add_command(history)


async def teardown(bot: BeautyBot) -> None:
    bot.tree.remove_command("history")
