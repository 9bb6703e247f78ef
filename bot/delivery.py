"""Where progress and results go: an interaction's reply, or a reply to a message."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Protocol

import discord

from bot.errors import BotError

log = logging.getLogger(__name__)

DEFAULT_FILESIZE_LIMIT = 10 * 1024 * 1024
EXPIRED_HERE = (
    "Discord's 15 minutes to answer ran out, and I cannot post in this channel; please ask again."
)
TOKEN_MARGIN = timedelta(seconds=60)


class Delivery(Protocol):
    """How one request shows its progress and its outcome."""

    filesize_limit: int

    async def progress(self, text: str) -> None:
        """Replace the status text."""
        ...

    async def result(
        self, text: str, file: discord.File, view: discord.ui.View | None
    ) -> int | None:
        """Show the result (with its buttons); returns the id of the message that shows it."""
        ...

    async def failure(self, text: str) -> None:
        """Say why the request failed."""
        ...


class InteractionDelivery:
    """Edits the deferred interaction reply; after its token expires, posts in the channel
    where the bot may (else the request fails with a reason).

    `note` is a line under every text (why only the user sees it); `channel_fallback` says
    whether the bot may post in the channel: it is there, and the answer is public.
    """

    def __init__(
        self, interaction: discord.Interaction, *, note: str = "", channel_fallback: bool = True
    ) -> None:
        self.interaction = interaction
        self.filesize_limit = interaction.filesize_limit or DEFAULT_FILESIZE_LIMIT
        self.note = note
        self.channel_fallback = channel_fallback

    def token_valid(self) -> bool:
        """Whether the interaction token still has a safe margin left (15 min in all)."""
        return discord.utils.utcnow() < self.interaction.expires_at - TOKEN_MARGIN

    def _noted(self, text: str) -> str:
        return f"{text}\n{self.note}" if self.note else text

    async def progress(self, text: str) -> None:
        if self.token_valid():
            await self.interaction.edit_original_response(content=self._noted(text))

    async def result(
        self, text: str, file: discord.File, view: discord.ui.View | None
    ) -> int | None:
        if self.token_valid():
            message = await self.interaction.edit_original_response(
                content=self._noted(text), attachments=[file], view=view
            )
            return message.id
        if not self.channel_fallback:
            raise BotError(EXPIRED_HERE)
        return await self._channel_send(text, file, view)

    async def failure(self, text: str) -> None:
        if self.token_valid():
            await self.interaction.edit_original_response(
                content=self._noted(f"⚠️ {text}"), attachments=[]
            )
        elif self.channel_fallback:
            await self._channel_send(f"⚠️ {text}")
        else:
            log.info("interaction %s expired; its failure cannot be shown", self.interaction.id)

    async def _channel_send(
        self, text: str, file: discord.File | None = None, view: discord.ui.View | None = None
    ) -> int | None:
        channel = self.interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("interaction %s expired and has no channel", self.interaction.id)
            return None
        content = f"{self.interaction.user.mention} {text}"
        if file is None:
            message = await channel.send(content)
        elif view is None:
            message = await channel.send(content, file=file)
        else:
            message = await channel.send(content, file=file, view=view)
        return message.id


class MessageDelivery:
    """Replies to the message that carried the image, then edits that reply."""

    def __init__(self, message: discord.Message) -> None:
        self.message = message
        guild = message.guild
        self.filesize_limit = guild.filesize_limit if guild else DEFAULT_FILESIZE_LIMIT
        self.reply: discord.Message | None = None

    async def progress(self, text: str) -> None:
        if self.reply is None:
            self.reply = await self.message.reply(text, mention_author=False)
        else:
            self.reply = await self.reply.edit(content=text)

    async def result(
        self, text: str, file: discord.File, view: discord.ui.View | None
    ) -> int | None:
        if self.reply is None:
            self.reply = await self.message.reply(
                text, file=file, view=view or discord.utils.MISSING, mention_author=False
            )
        else:
            self.reply = await self.reply.edit(content=text, attachments=[file], view=view)
        return self.reply.id

    async def failure(self, text: str) -> None:
        await self.progress(f"⚠️ {text}")
