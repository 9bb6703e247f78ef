"""The fake Discord's state: a guild, its people and channels, messages and files."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from . import payloads as p
from .payloads import Channel, Json, Member, Role, User

log = logging.getLogger(__name__)

GUILD_NAME = "Fake Guild"


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str
    json: Json | None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    response: Any = None


@dataclass
class FakeInteraction:
    """An interaction a test user started, and what the bot answered."""

    id: int
    token: str
    payload: Json
    callbacks: list[Json] = field(default_factory=list)
    original_id: int | None = None

    @property
    def response_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None


class World:
    """Guilds (the first made at start) with channels, roles and members, a bot and its app;
    DMs and group DMs between people.

    Every guild has the same members and roles (each its own @everyone); `add_guild` makes
    more, for sharding, or without the bot (where only a person's install reaches).
    """

    def __init__(self, attachment_size_limit: int = 10 * 1024 * 1024) -> None:
        self.ids = p.Snowflakes()
        self.attachment_size_limit = attachment_size_limit
        self.bot_user = User(self.ids(), "beautynet", bot=True)
        self.owner = User(self.ids(), "owner")
        self.application_id = self.ids()
        self.guild_id = self.ids()
        self.guild_names = {self.guild_id: GUILD_NAME}
        self.bot_guilds = {self.guild_id}  # the servers that added the bot
        self.user_installs: set[int] = set()  # the people who added the app to their account
        self.commands: dict[str, list[Json]] = {}  # "global" or guild id -> commands
        self.everyone = Role(self.guild_id, "@everyone", p.MEMBER_PERMISSIONS)
        self.bot_role = Role(self.ids(), "beautynet", p.MEMBER_PERMISSIONS)
        self.admin_role = Role(self.ids(), "admins", p.MEMBER_PERMISSIONS | p.MANAGE_GUILD)
        self.roles = [self.everyone, self.bot_role, self.admin_role]
        self.members: dict[int, Member] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Json] = {}
        self.cdn: dict[str, bytes] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.base_url = ""
        self.add_member(self.bot_user, [self.bot_role])
        self.add_member(self.owner, [self.admin_role])
        self.general = self.add_channel("general")

    # ---- world ---------------------------------------------------------------------
    def add_member(self, user: User, roles: list[Role] | None = None) -> User:
        self.members[user.id] = Member(user, roles or [])
        return user

    def add_user(self, name: str, admin: bool = False) -> User:
        """A new guild member (with Manage Server when admin)."""
        return self.add_member(User(self.ids(), name), [self.admin_role] if admin else [])

    def add_guild(
        self,
        name: str,
        shard: tuple[int, int] | None = None,
        bot: bool = True,
        everyone_denied: int = 0,
    ) -> Channel:
        """Another guild (on shard (id, count) when given; without the bot unless `bot`);
        returns its "general" channel, where `everyone_denied` is denied to @everyone."""
        guild_id = self.ids()
        if shard is not None:  # make the id older by a few ms, onto the wanted shard
            index, count = shard
            guild_id -= (((guild_id >> 22) - index) % count) << 22
        self.guild_names[guild_id] = name
        if bot:
            self.bot_guilds.add(guild_id)
        return self.add_channel("general", guild_id=guild_id, everyone_denied=everyone_denied)

    def add_channel(
        self,
        name: str,
        bot_denied: int = 0,
        guild_id: int | None = None,
        everyone_denied: int = 0,
    ) -> Channel:
        """A text channel (in the first guild by default); bot_denied removes bot permissions,
        everyone_denied those of @everyone (whose role id is the guild's)."""
        guild_id = guild_id or self.guild_id
        overwrites = []
        for role_id, denied in ((self.bot_role.id, bot_denied), (guild_id, everyone_denied)):
            if denied:
                overwrite = {"id": str(role_id), "type": 0, "allow": "0", "deny": str(denied)}
                overwrites.append(overwrite)
        channel = Channel(self.ids(), name, guild_id, overwrites)
        self.channels[channel.id] = channel
        return channel

    def add_private_channel(self, *people: User) -> Channel:
        """A DM between two people, or a group DM between more; the bot is there only if listed."""
        kind = p.DM if len(people) == 2 else p.GROUP_DM
        channel = Channel(self.ids(), "private", None, type=kind, recipients=list(people))
        self.channels[channel.id] = channel
        return channel

    def bot_dm(self, user: User) -> Channel:
        """The person's DM with the bot."""
        return self.add_private_channel(user, self.bot_user)

    def bot_sees(self, channel: Channel) -> bool:
        """Whether the bot can read the channel: it is one of a DM's people, or a member of
        the guild with View Channel there."""
        if channel.guild_id is None:
            return self.bot_user in channel.recipients
        allowed = self.permissions(self.bot_user.id, channel)
        return channel.guild_id in self.bot_guilds and bool(allowed & p.VIEW_CHANNEL)

    def permissions(self, user_id: int, channel: Channel | None = None) -> int:
        """A member's permissions (in a channel): roles, then role overwrites."""
        return self._resolve(self.members[user_id].roles, channel)

    def everyone_permissions(self, channel: Channel) -> int:
        """What @everyone may do in a channel."""
        return self._resolve([], channel)

    def _resolve(self, roles: list[Role], channel: Channel | None) -> int:
        value = self.everyone.permissions
        for role in roles:
            value |= role.permissions
        if value & p.ADMINISTRATOR:
            return (1 << 53) - 1
        guild_id = channel.guild_id if channel else self.guild_id
        role_ids = {str(role.id) for role in roles} | {str(guild_id)}
        for overwrite in channel.overwrites if channel else []:
            if overwrite["id"] in role_ids:
                value = (value & ~int(overwrite["deny"])) | int(overwrite["allow"])
        return value

    def guild_payload(self, guild_id: int | None = None) -> Json:
        guild_id = guild_id or self.guild_id
        ours = [c for c in self.channels.values() if c.guild_id == guild_id]
        channels = [c.payload(i) for i, c in enumerate(ours)]
        everyone = Role(guild_id, "@everyone", self.everyone.permissions)
        roles = [everyone, *self.roles[1:]]
        return {
            "id": str(guild_id),
            "name": self.guild_names[guild_id],
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner.id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [role.payload(i) for i, role in enumerate(roles)],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "members": [member.payload() for member in self.members.values()],
            "channels": channels,
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "joined_at": p.now_iso(),
        }

    def upload(
        self, channel: Channel, filename: str, data: bytes, content_type: str | None
    ) -> Json:
        """Store a file on the fake CDN; returns its attachment payload."""
        attachment_id = self.ids()
        path = f"attachments/{channel.id}/{attachment_id}/{filename}"
        self.cdn[path] = data
        url = f"{self.base_url}/cdn/{path}"
        return p.attachment(attachment_id, filename, len(data), url, content_type)

    def channel_messages(self, channel: Channel) -> list[Json]:
        return [m for m in self.messages.values() if m["channel_id"] == str(channel.id)]

    def files_of(self, message: Json) -> list[bytes]:
        """The bytes of a message's attachments, from the fake CDN."""
        return [self.cdn[a["url"].split("/cdn/", 1)[1]] for a in message["attachments"]]
