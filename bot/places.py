"""Where a request happened, and the rules of that place.

Since 2024 a Discord app can be installed to a server or to a person; a person's install
works in their DMs, group DMs and every server they are in, whether or not the server added
the bot (https://discord.com/developers/docs/resources/application#installation-context).
Where the server did not add the bot, the bot is not in the channel: it answers only through
the interaction, and the server's settings do not apply.
"""

from __future__ import annotations

import discord

from bot.delivery import DEFAULT_FILESIZE_LIMIT, Answer
from bot.jobs import Origin
from infra.db.models import ChannelKind, InstallContext, RequestSource

THREADS = (
    discord.ChannelType.public_thread,
    discord.ChannelType.private_thread,
    discord.ChannelType.news_thread,
)
VOICE = (discord.ChannelType.voice, discord.ChannelType.stage_voice)
PRIVATE_NOTE = "-# Only you can see this: this server lets only the apps it added answer publicly."


def install_of(interaction: discord.Interaction) -> InstallContext:
    """The install the interaction came through: the server's, where the server added the bot,
    else the person's.

    Discord's `authorizing_integration_owners` names the installs ("0": the server, "1": the
    person); a private channel (a DM with someone else, a group DM) is reached only through a
    person's install, and the bot's own DM through either.
    """
    if interaction.is_guild_integration():
        return InstallContext.GUILD
    if interaction.context.dm_channel and not interaction.is_user_integration():
        return InstallContext.GUILD  # the bot's DM, opened through a server's install
    return InstallContext.USER


def channel_kind(channel_type: discord.ChannelType | None, bot_dm: bool) -> ChannelKind:
    """The kind of a channel, from its type; a DM is the bot's own or one between people."""
    if channel_type is discord.ChannelType.private:
        return ChannelKind.BOT_DM if bot_dm else ChannelKind.DM
    if channel_type is discord.ChannelType.group:
        return ChannelKind.GROUP_DM
    if channel_type in THREADS:
        return ChannelKind.GUILD_THREAD
    if channel_type in VOICE:
        return ChannelKind.GUILD_VOICE
    return ChannelKind.GUILD_TEXT


def shows_public_answers(interaction: discord.Interaction) -> bool:
    """Whether Discord shows this interaction's answer to everyone in the channel.

    A person's install, in a server that did not add the bot, answers publicly only where
    the person may Use External Apps (and Send Messages); elsewhere Discord makes the answer
    ephemeral (https://discord.com/developers/docs/topics/permissions, USE_EXTERNAL_APPS).
    """
    if interaction.guild_id is None or interaction.is_guild_integration():
        return True
    allowed = interaction.permissions  # the person's, in this channel
    return allowed.use_external_apps and allowed.send_messages


def bot_in_channel(interaction: discord.Interaction) -> bool:
    """Whether the bot itself is where the interaction happened: a server that added it, or
    the bot's own DM (elsewhere it may answer only through the interaction)."""
    return interaction.is_guild_integration() or interaction.context.dm_channel


async def acknowledge(interaction: discord.Interaction) -> Answer:
    """Defer within Discord's 3 s, privately where Discord would not show a public answer;
    returns where to answer: that response, edited (saying why it is private)."""
    public = shows_public_answers(interaction)
    deferred = await interaction.response.defer(thinking=True, ephemeral=not public)
    response_id = deferred.message_id if deferred else None
    if response_id is None:  # Discord did not say: ask for it
        response_id = (await interaction.original_response()).id
    return Answer(
        user_id=interaction.user.id,
        channel_id=interaction.channel_id,
        filesize_limit=interaction.filesize_limit or DEFAULT_FILESIZE_LIMIT,
        application_id=interaction.application_id,
        token=interaction.token,
        response_id=response_id,
        expires_at=interaction.expires_at.isoformat(),
        note="" if public else PRIVATE_NOTE,
        channel_fallback=public and bot_in_channel(interaction),
    )


def origin_of(interaction: discord.Interaction, source: RequestSource) -> Origin:
    """Who asked, where and how, for a command, the Apps menu or a button."""
    channel = interaction.channel
    message = interaction.message
    return Origin(
        user_id=interaction.user.id,
        source=source,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        message_id=message.id if message else None,
        install=install_of(interaction),
        channel_kind=channel_kind(
            channel.type if channel else None, bot_dm=interaction.context.dm_channel
        ),
    )


def origin_of_message(message: discord.Message) -> Origin:
    """Who asked and where, for a message the bot saw (in a server that added it)."""
    return Origin(
        user_id=message.author.id,
        source=RequestSource.MESSAGE,
        guild_id=message.guild.id if message.guild else None,
        channel_id=message.channel.id,
        message_id=message.id,
        install=InstallContext.GUILD,
        channel_kind=channel_kind(message.channel.type, bot_dm=message.guild is None),
    )
