"""`/admin watch #channel` and `/admin unwatch #channel`: where plain images are answered."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.bot import BeautyBot, bot_of
from bot.exts.admin import admin_group, admin_only
from infra.db.preferences import set_watched
from infra.db.requests import utcnow


async def change(interaction: discord.Interaction, channel: discord.TextChannel, on: bool) -> None:
    """Watch or unwatch a channel (audited by `set_watched`)."""
    assert interaction.guild_id is not None  # the admin group is guild-only
    async with bot_of(interaction).db.sessions.begin() as session:
        await set_watched(
            session,
            interaction.guild_id,
            channel.id,
            on,
            actor_id=interaction.user.id,
            now=utcnow(),
        )
    text = (
        f"I will answer images posted in {channel.mention}."
        if on
        else f"I will only answer images in {channel.mention} when mentioned."
    )
    allowed = channel.permissions_for(channel.guild.me)
    if on and not (allowed.send_messages and allowed.attach_files):
        text += " Note: I need Send Messages and Attach Files there."
    await interaction.response.send_message(text, ephemeral=True)


@admin_only
@app_commands.command(name="watch", description="Answer every image posted in a channel")
async def watch(interaction: discord.Interaction, channel: discord.TextChannel) -> None:
    """/admin watch #channel."""
    await change(interaction, channel, True)


@admin_only
@app_commands.command(name="unwatch", description="Stop answering images in a channel")
async def unwatch(interaction: discord.Interaction, channel: discord.TextChannel) -> None:
    """/admin unwatch #channel."""
    await change(interaction, channel, False)


async def setup(bot: BeautyBot) -> None:
    admin_group(bot).add_command(watch)
    admin_group(bot).add_command(unwatch)


async def teardown(bot: BeautyBot) -> None:
    admin_group(bot).remove_command("watch")
    admin_group(bot).remove_command("unwatch")
