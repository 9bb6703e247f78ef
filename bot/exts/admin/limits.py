"""`/admin limits`: this server's upload size, clip length and requests-per-hour limits."""

from __future__ import annotations

import math

import discord
from discord import app_commands

from bot.bot import BeautyBot, bot_of
from bot.exts.admin import admin_group, admin_only
from bot.media import MiB
from infra.db.preferences import guild_settings, update_guild_settings
from infra.db.requests import utcnow


@admin_only
@app_commands.command(name="limits", description="Show or change this server's limits")
@app_commands.describe(
    max_image_mb="largest upload accepted here, in MiB (0: the bot's own limit)",
    requests_per_hour="requests per user per hour (0: no limit)",
    max_clip_seconds="longest clip accepted here, in seconds (0: the bot's own limit)",
)
async def limits(
    interaction: discord.Interaction,
    max_image_mb: app_commands.Range[float, 0, 1024] | None = None,
    requests_per_hour: app_commands.Range[int, 0, 10_000] | None = None,
    max_clip_seconds: app_commands.Range[float, 0, 3600] | None = None,
) -> None:
    """/admin limits [max_image_mb] [requests_per_hour] [max_clip_seconds]."""
    bot = bot_of(interaction)
    assert interaction.guild_id is not None  # the admin group is guild-only
    changes: dict[str, float | None] = {}
    if max_image_mb is not None:
        changes["max_image_bytes"] = int(max_image_mb * MiB) or None
    if max_clip_seconds is not None:
        changes["max_clip_seconds"] = max_clip_seconds or None
    if requests_per_hour is not None:
        changes["requests_per_user_per_hour"] = requests_per_hour or None
    async with bot.db.sessions.begin() as session:
        if changes:
            row = await update_guild_settings(
                session, interaction.guild_id, actor_id=interaction.user.id, now=utcnow(), **changes
            )
        else:
            row = await guild_settings(session, interaction.guild_id)
        size = row.max_image_bytes or bot.settings.max_image_bytes
        hourly = row.requests_per_user_per_hour
        clip_s = min(row.max_clip_seconds or math.inf, bot.settings.max_clip_seconds)
    text = (
        f"Uploads up to {size / MiB:g} MiB, clips up to {clip_s:g} s; "
        f"{f'{hourly} requests per user per hour' if hourly else 'no hourly limit'}; "
        f"cooldown {bot.settings.user_cooldown_s:g} s, queue of {bot.settings.queue_size} "
        f"({bot.settings.user_queue} per user)."
    )
    await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: BeautyBot) -> None:
    admin_group(bot).add_command(limits)


async def teardown(bot: BeautyBot) -> None:
    admin_group(bot).remove_command("limits")
