"""Where progress and results go: an interaction's reply, or a reply to a message.

Where to answer is an `Answer`, kept with the request's job in the database, so that any
process (this one after a restart, or another one) answers the way the person asked: the
interaction's own response while its token lasts (15 minutes), then the channel with a
mention; or the reply to their message, edited in place once posted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import discord

from bot.errors import BotError

log = logging.getLogger(__name__)

DEFAULT_FILESIZE_LIMIT = 10 * 1024 * 1024
EXPIRED_HERE = (
    "Discord's 15 minutes to answer ran out, and I cannot post in this channel; please ask again."
)
TOKEN_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class Answer:
    """Where one request is answered. An interaction's token is a secret: it is kept only
    with the request's job (deleted when the request ends) and never shown (`repr`)."""

    user_id: int
    channel_id: int | None
    filesize_limit: int = DEFAULT_FILESIZE_LIMIT
    message_id: int | None = None  # a message: the bot replies to it,
    reply_id: int | None = None  # then edits its reply, once posted
    application_id: int | None = None  # an interaction: its webhook,
    token: str | None = field(default=None, repr=False)
    response_id: int | None = None  # its deferred response, edited in place,
    expires_at: str | None = None  # until the token expires (ISO 8601)
    note: str = ""  # a line under every text (why only the user sees it)
    channel_fallback: bool = True  # the bot may post in the channel after expiry

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        return cls(**data)

    @classmethod
    def to_message(cls, message: discord.Message) -> Answer:
        """A reply to a person's message."""
        guild = message.guild
        return cls(
            user_id=message.author.id,
            channel_id=message.channel.id,
            filesize_limit=guild.filesize_limit if guild else DEFAULT_FILESIZE_LIMIT,
            message_id=message.id,
        )


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


Remember = Callable[[Answer], Awaitable[None]]  # keeps a changed answer (the reply posted)


def open_delivery(
    client: discord.Client, answer: Answer, remember: Remember | None = None
) -> Delivery:
    """The delivery for a kept answer; `remember` is told where a reply was posted."""
    if answer.token is not None:
        return InteractionDelivery(client, answer)
    return MessageDelivery(client, answer, remember)


async def _channel_send(
    client: discord.Client,
    answer: Answer,
    text: str,
    file: discord.File | None = None,
    view: discord.ui.View | None = None,
) -> int | None:
    """Post in the request's channel, mentioning the person."""
    if answer.channel_id is None:
        log.warning("no channel to answer the request of user %s in", answer.user_id)
        return None
    channel = client.get_partial_messageable(answer.channel_id)
    content = f"<@{answer.user_id}> {text}"
    extra: dict[str, Any] = {"file": file} if file is not None else {}
    if view is not None:
        extra["view"] = view
    message = await channel.send(content, **extra)
    return message.id


class InteractionDelivery:
    """Edits the deferred interaction response; after its token expires, posts in the
    channel where the bot may (else the request fails with a reason)."""

    def __init__(self, client: discord.Client, answer: Answer) -> None:
        assert answer.application_id and answer.token and answer.response_id
        self.client = client
        self.answer = answer
        self.filesize_limit = answer.filesize_limit
        self.webhook = discord.Webhook.partial(answer.application_id, answer.token, client=client)
        self.response_id = answer.response_id

    def token_valid(self) -> bool:
        """Whether the interaction token still has a safe margin left (15 min in all)."""
        expires = datetime.fromisoformat(self.answer.expires_at or "1970-01-01T00:00:00+00:00")
        return discord.utils.utcnow() < expires - TOKEN_MARGIN

    def _noted(self, text: str) -> str:
        return f"{text}\n{self.answer.note}" if self.answer.note else text

    async def progress(self, text: str) -> None:
        if self.token_valid():
            await self.webhook.edit_message(self.response_id, content=self._noted(text))

    async def result(
        self, text: str, file: discord.File, view: discord.ui.View | None
    ) -> int | None:
        if self.token_valid():
            message = await self.webhook.edit_message(
                self.response_id, content=self._noted(text), attachments=[file], view=view
            )
            return message.id
        if not self.answer.channel_fallback:
            raise BotError(EXPIRED_HERE)
        return await _channel_send(self.client, self.answer, text, file, view)

    async def failure(self, text: str) -> None:
        if self.token_valid():
            await self.webhook.edit_message(
                self.response_id, content=self._noted(f"⚠️ {text}"), attachments=[]
            )
        elif self.answer.channel_fallback:
            await _channel_send(self.client, self.answer, f"⚠️ {text}")
        else:
            log.info("an interaction expired; its failure cannot be shown")


class MessageDelivery:
    """Replies to the message that carried the image, then edits that reply."""

    def __init__(
        self, client: discord.Client, answer: Answer, remember: Remember | None = None
    ) -> None:
        assert answer.channel_id is not None and answer.message_id is not None
        self.answer = answer
        self.filesize_limit = answer.filesize_limit
        self.channel = client.get_partial_messageable(answer.channel_id)
        self.remember = remember

    async def progress(self, text: str) -> None:
        await self._show(content=text)

    async def result(
        self, text: str, file: discord.File, view: discord.ui.View | None
    ) -> int | None:
        return await self._show(content=text, file=file, view=view)

    async def failure(self, text: str) -> None:
        await self._show(content=f"⚠️ {text}")

    async def _show(
        self, content: str, file: discord.File | None = None, view: discord.ui.View | None = None
    ) -> int:
        reply_id = self.answer.reply_id
        if reply_id is not None:
            edits: dict[str, Any] = {"content": content}
            if file is not None:
                edits |= {"attachments": [file], "view": view}
            edited = await self.channel.get_partial_message(reply_id).edit(**edits)
            return edited.id
        target = self.channel.get_partial_message(self.answer.message_id or 0)
        extra: dict[str, Any] = {"file": file} if file is not None else {}
        if view is not None:
            extra["view"] = view
        reply = await target.reply(content, mention_author=False, **extra)
        self.answer = replace(self.answer, reply_id=reply.id)
        if self.remember is not None:
            await self.remember(self.answer)
        return reply.id
