"""`/admin status`: queue, engine, device and model versions."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.admin import admin_group, admin_only
from bot.bot import BeautyBot, bot_of


@admin_only
@app_commands.command(name="status", description="Queue, engine and model versions")
async def status(interaction: discord.Interaction) -> None:
    """/admin status."""
    bot = bot_of(interaction)
    queue = bot.queue
    engine = bot.engine
    device = getattr(getattr(engine, "engine", None), "device", None)
    served = await bot.catalog.served()
    lines = [
        f"**Queue**: {queue.running} running, {queue.waiting} waiting, capacity {queue.capacity} "
        f"({queue.per_user} per user), cooldown {bot.settings.user_cooldown_s:g} s",
        f"**Engine**: {type(engine).__name__}" + (f" on {device}" if device else ""),
        "**Models**: "
        + (
            ", ".join(
                f"{m.name} v{m.version}" + (" (default)" if m.default else "") for m in served
            )
            or "none"
        ),
        f"**Limits**: {bot.settings.max_image_bytes // 1024 // 1024} MiB, "
        f"{bot.settings.max_image_pixels:,} pixels, "
        f"clips up to {bot.settings.max_clip_seconds:g} s",
    ]
    await interaction.response.send_message("\n".join(lines), ephemeral=True)


async def setup(bot: BeautyBot) -> None:
    admin_group(bot).add_command(status)


async def teardown(bot: BeautyBot) -> None:
    admin_group(bot).remove_command("status")
