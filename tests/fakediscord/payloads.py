"""Discord API v10 payloads, in the shapes discord.py 2.x parses."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]
EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3
USE_APPLICATION_COMMANDS = 1 << 31
USE_EXTERNAL_APPS = 1 << 50  # on for @everyone by default
MEMBER_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
    | USE_EXTERNAL_APPS
)

# Channel types (https://discord.com/developers/docs/resources/channel#channel-object-channel-types).
GUILD_TEXT, DM, GROUP_DM = 0, 1, 3


class Snowflakes:
    """Increasing snowflake ids whose timestamps are now (or `age_s` seconds ago)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self, age_s: float = 0.0) -> int:
        milliseconds = int((time.time() - age_s) * 1000) - EPOCH_MS
        return (milliseconds << 22) + next(self._counter) % (1 << 22)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class User:
    """A Discord account: a person or a bot."""

    id: int
    name: str
    bot: bool = False

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class Role:
    id: int
    name: str
    permissions: int

    def payload(self, position: int) -> Json:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": position,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }


@dataclass
class Member:
    user: User
    roles: list[Role] = field(default_factory=list)

    def payload(self, permissions: int | None = None) -> Json:
        data: Json = {
            "user": self.user.payload(),
            "roles": [str(role.id) for role in self.roles],
            "joined_at": now_iso(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "pending": False,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class Channel:
    """A server's text channel (guild_id set), or a DM or group DM between `recipients`."""

    id: int
    name: str
    guild_id: int | None
    overwrites: list[Json] = field(default_factory=list)
    type: int = GUILD_TEXT
    recipients: list[User] = field(default_factory=list)

    def payload(self, position: int = 0) -> Json:
        if self.guild_id is None:
            return self._private_payload()
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": position,
            "permission_overwrites": self.overwrites,
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
        }

    def _private_payload(self) -> Json:
        data: Json = {
            "id": str(self.id),
            "type": self.type,
            "recipients": [user.payload() for user in self.recipients],
            "last_message_id": None,
            "flags": 0,
        }
        if self.type == GROUP_DM:
            data.update(name=self.name, icon=None, owner_id=str(self.recipients[0].id))
        return data


def attachment(
    attachment_id: int, filename: str, size: int, url: str, content_type: str | None
) -> Json:
    data: Json = {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
    }
    if content_type:
        data["content_type"] = content_type
    return data


def message(
    message_id: int,
    channel: Channel,
    author: User,
    content: str = "",
    attachments: list[Json] | None = None,
    mentions: list[User] | None = None,
    **extra: Any,
) -> Json:
    data: Json = {
        "id": str(message_id),
        "channel_id": str(channel.id),
        "author": author.payload(),
        "content": content,
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [user.payload() for user in mentions or []],
        "mention_roles": [],
        "attachments": attachments or [],
        "embeds": [],
        "components": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
    }
    if channel.guild_id is not None:
        data["guild_id"] = str(channel.guild_id)
    data.update(extra)
    return data
