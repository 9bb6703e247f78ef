"""`/admin dataset add|import|list`: training images from attachments or a channel's history."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.bot import BeautyBot, bot_of
from bot.engine_client.admin import DatasetReport
from bot.errors import BotError, MissingChannelPermissionsError
from bot.exts.admin import admin_group, admin_only, record
from bot.media import Media, download, media_attachments, size_text

log = logging.getLogger(__name__)

dataset = app_commands.Group(name="dataset", description="Training images")
MAX_IMPORT = 500


def summary(report: DatasetReport) -> str:
    """'added 3, 1 duplicate, 1 refused (x.png: not an image); 12 images in all'."""
    text = f"`{report.name}`: added {report.added}, {report.duplicates} duplicates"
    if report.rejected:
        reasons = "; ".join(f"{source}: {reason}" for source, reason in report.rejected[:5])
        text += f", {len(report.rejected)} refused ({reasons})"
    return text + f"; {report.total_images} images in all."


async def collect(
    interaction: discord.Interaction, attachments: list[discord.Attachment]
) -> list[tuple[str, bytes]]:
    """Download attachments that pass the size checks (the engine decodes them)."""
    bot = bot_of(interaction)
    files = []
    for attachment in attachments:
        data = await download(Media.from_attachment(attachment), bot.limits, bot.beautifier.finder)
        files.append((attachment.filename, data))
    return files


@admin_only
@dataset.command(name="add", description="Add attached images to a dataset")
@app_commands.describe(name="dataset name (lowercase letters, digits, - and _)")
async def add(
    interaction: discord.Interaction,
    name: str,
    image: discord.Attachment,
    image2: discord.Attachment | None = None,
    image3: discord.Attachment | None = None,
    image4: discord.Attachment | None = None,
    image5: discord.Attachment | None = None,
) -> None:
    """/admin dataset add NAME image [image2..image5]."""
    admin = bot_of(interaction).engine
    await interaction.response.defer(ephemeral=True, thinking=True)
    chosen = [a for a in (image, image2, image3, image4, image5) if a is not None]
    report = await admin.add_images(name, await collect(interaction, chosen))
    await record(interaction, "dataset.add", name, {"added": report.added})
    await interaction.followup.send(summary(report), ephemeral=True)


@admin_only
@dataset.command(name="import", description="Add the images posted in a channel to a dataset")
@app_commands.describe(name="dataset name", channel="where to look", limit="messages to read")
async def import_(
    interaction: discord.Interaction,
    name: str,
    channel: discord.TextChannel,
    limit: app_commands.Range[int, 1, MAX_IMPORT] = 100,
) -> None:
    """/admin dataset import NAME #channel [limit]."""
    admin = bot_of(interaction).engine
    allowed = channel.permissions_for(channel.guild.me)
    if not (allowed.read_message_history and allowed.view_channel):
        raise MissingChannelPermissionsError(
            f"I need View Channel and Read Message History in {channel.mention} to import."
        )
    await interaction.response.defer(ephemeral=True, thinking=True)
    found: list[discord.Attachment] = []
    async for message in channel.history(limit=limit):
        if not message.author.bot:
            found += media_attachments(message)
    if not found:
        raise BotError(f"No images in the last {limit} messages of {channel.mention}.")
    report = await admin.add_images(name, await collect(interaction, found))
    details = {"channel": channel.id, "added": report.added, "messages": limit}
    await record(interaction, "dataset.import", name, details)
    await interaction.followup.send(summary(report), ephemeral=True)


@admin_only
@dataset.command(name="list", description="The datasets and their sizes")
async def list_(interaction: discord.Interaction) -> None:
    """/admin dataset list."""
    infos = await bot_of(interaction).engine.datasets()
    lines = [f"`{d.name}`: {d.images} images, {size_text(d.bytes)}" for d in infos]
    await interaction.response.send_message("\n".join(lines) or "No datasets yet.", ephemeral=True)


async def setup(bot: BeautyBot) -> None:
    admin_group(bot).add_command(dataset)


async def teardown(bot: BeautyBot) -> None:
    admin_group(bot).remove_command("dataset")
