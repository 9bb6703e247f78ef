"""Images and clips posted in watched channels, or in messages that mention the bot (or in
the message such a mention replies to)."""

from __future__ import annotations

import logging
import re

import discord
from discord.ext import commands

from bot.bot import BeautyBot
from bot.delivery import Answer
from bot.engine_client import TranslateParams
from bot.errors import BadAttachmentError, BotError, user_message
from bot.media import Media
from bot.places import origin_of_message
from infra.db.preferences import watched_channels

log = logging.getLogger(__name__)

LINK = re.compile(r"https?://\S+")
PREVIEW_WAIT_S = 5.0  # how long a link waits for Discord's preview of it


class Watch(commands.Cog):
    """Answers a message's first image or clip with a reply."""

    def __init__(self, bot: BeautyBot) -> None:
        self.bot = bot

    def mentioned(self, message: discord.Message) -> bool:
        return self.bot.user is not None and self.bot.user in message.mentions

    async def wanted(self, message: discord.Message) -> bool:
        """A person's message in a guild with media, mentioning the bot or in a watched
        channel; or a mention that replies to another message."""
        if message.author.bot or message.guild is None:
            return False
        has_media = bool(self.bot.beautifier.finder.of(message))
        if self.mentioned(message):
            return has_media or message.reference is not None
        if not has_media:
            return False
        async with self.bot.db.sessions() as session:
            watched = await watched_channels(session, message.guild.id)
        return message.channel.id in watched

    def missing_permissions(self, message: discord.Message) -> str | None:
        """What the bot lacks to answer here, or None."""
        guild = message.guild
        if guild is None or not isinstance(message.channel, discord.abc.GuildChannel):
            return None
        allowed = message.channel.permissions_for(guild.me)
        if not allowed.send_messages:
            return "send"
        if not allowed.attach_files:
            return "I need the Attach Files permission in this channel to post results."
        if not allowed.read_message_history:
            return "I need the Read Message History permission in this channel to reply."
        return None

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if not await self.wanted(message):
            return
        missing = self.missing_permissions(message)
        if missing == "send":
            log.info(
                "cannot send in channel %s; ignoring message %s", message.channel.id, message.id
            )
            return
        if missing is not None:
            await message.channel.send(f"{message.author.mention} {missing}")
            return
        await self.beautify(message)

    async def beautify(self, message: discord.Message) -> None:
        """Run the first attachment through the queue; refusals are replies."""
        origin = origin_of_message(message)
        answer = Answer.to_message(message)
        try:
            media = await self.media_of(message)
            if media is None:
                return
            admission = await self.bot.beautifier.precheck(origin, media)
            await self.bot.beautifier.beautify(admission, TranslateParams(), answer)
        except BotError as exc:
            await self.bot.beautifier.open(None, answer).failure(user_message(exc) or str(exc))

    async def media_of(self, message: discord.Message) -> Media | None:
        """The message's first media; for a mention in a reply without any, the replied-to
        message's (fetched when it is not in the cache)."""
        finder = self.bot.beautifier.finder
        found = finder.of(message)
        if not found and LINK.search(message.content or ""):
            found = finder.of(await self.previewed(message))
        if found:
            return found[0]
        if not self.mentioned(message) or message.reference is None:
            return None
        replied = await self.replied_to(message, message.reference)
        found = finder.of(replied)
        if not found:
            raise BadAttachmentError("The message you replied to has no image or clip.")
        return found[0]

    async def previewed(self, message: discord.Message) -> discord.Message:
        """The message once Discord has added its link previews, which usually arrive in a
        MESSAGE_UPDATE just after it; as it was if none comes within PREVIEW_WAIT_S."""

        def previews(event: discord.RawMessageUpdateEvent) -> bool:
            return event.message_id == message.id and bool(event.message.embeds)

        try:
            event = await self.bot.wait_for(
                "raw_message_edit", check=previews, timeout=PREVIEW_WAIT_S
            )
        except TimeoutError:
            return message
        return event.message

    async def replied_to(
        self, message: discord.Message, reference: discord.MessageReference
    ) -> discord.Message:
        resolved = reference.resolved
        if isinstance(resolved, discord.DeletedReferencedMessage):
            raise BadAttachmentError("The message you replied to was deleted.")
        if isinstance(resolved, discord.Message):
            return resolved
        if reference.message_id is None:
            raise BadAttachmentError("I could not find the message you replied to.")
        try:
            return await message.channel.fetch_message(reference.message_id)
        except discord.NotFound as exc:
            raise BadAttachmentError("The message you replied to was deleted.") from exc
        except discord.HTTPException as exc:  # Forbidden among them
            log.info("could not read message %s: %s", reference.message_id, exc)
            raise BadAttachmentError("I could not read the message you replied to.") from exc


async def setup(bot: BeautyBot) -> None:
    await bot.add_cog(Watch(bot))
