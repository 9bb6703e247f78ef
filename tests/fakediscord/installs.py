"""How Discord decides who may run a command where, and what the app may do there.

Modelled on Discord's developer documentation (discord/discord-api-docs, 2026):
- interactions/application-commands.mdx, "Contexts": a global command's `integration_types`
  (0 guild install, 1 user install; default `[0]`) and `contexts` (0 guild, 1 the bot's DM,
  2 other DMs and group DMs; default all) say where it is offered; guild commands have
  neither, and are offered only in their guild.
- interactions/receiving-and-responding.mdx, "Authorizing Integration Owners Object": a key
  per install that authorizes the interaction, "0" the guild id (or "0" in the bot's DM),
  "1" the person who installed the app; `app_permissions` in (G)DMs with other people is
  ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE, plus USE_EXTERNAL_EMOJIS in the bot's DM.
- change-log.mdx (Sept 2022, app_permissions): an app without a bot user in the server has
  @everyone's permissions there, limited to those usable in responses (the four above).
- topics/permissions.mdx, USE_EXTERNAL_APPS, and resources/application.mdx, "User Context":
  a person's install, in a server that did not add the app, may answer publicly only where
  the person has Use External Apps (and Send Messages); otherwise its answer is ephemeral.
- A bot reads and posts only in channels it is in; elsewhere the REST API answers 403
  "Missing Access" (code 50001, topics/opcodes-and-status-codes.mdx).
"""

from __future__ import annotations

from . import payloads as p
from .payloads import Channel, Json, User
from .world import World

GUILD_INSTALL, USER_INSTALL = 0, 1
GUILD, BOT_DM, PRIVATE_CHANNEL = 0, 1, 2
EVERY_CONTEXT = [GUILD, BOT_DM, PRIVATE_CHANNEL]
RESPONSE_PERMISSIONS = p.ATTACH_FILES | p.EMBED_LINKS | p.MENTION_EVERYONE | p.USE_EXTERNAL_EMOJIS
PRIVATE_PERMISSIONS = p.ATTACH_FILES | p.EMBED_LINKS | p.MENTION_EVERYONE
PUBLIC_ANSWER = p.USE_EXTERNAL_APPS | p.SEND_MESSAGES
EPHEMERAL = 1 << 6
MISSING_ACCESS = {"code": 50001, "message": "Missing Access"}


class NotOfferedError(Exception):
    """Discord would not offer this command to this person here (it is not in their menu)."""


class Installs(World):
    """Installs and interaction contexts: which commands a person sees, and their payloads."""

    def install_for(self, user: User) -> None:
        """The person adds the app to their account (a user install)."""
        self.user_installs.add(user.id)

    def context_of(self, channel: Channel) -> int:
        if channel.guild_id is not None:
            return GUILD
        return BOT_DM if self.bot_user in channel.recipients else PRIVATE_CHANNEL

    def synced_command(self, name: str, channel: Channel) -> Json | None:
        """The command as the bot synced it: the channel's guild's, else the global one."""
        for scope in (str(channel.guild_id), "global"):
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    return command
        return None

    def owners(self, user: User, name: str, channel: Channel) -> Json:
        """`authorizing_integration_owners` of running `name` here; NotOfferedError when no
        install offers it. A command never synced counts as a guild one (older tests)."""
        command = self.synced_command(name, channel) or {}
        context = self.context_of(channel)
        if "guild_id" in command:  # a guild command: that guild's install only
            installs, contexts = [GUILD_INSTALL], [GUILD]
        else:
            installs = command.get("integration_types") or [GUILD_INSTALL]
            contexts = command.get("contexts") or EVERY_CONTEXT
        found: Json = {}
        if GUILD_INSTALL in installs and context == GUILD and channel.guild_id in self.bot_guilds:
            found["0"] = str(channel.guild_id)
        elif GUILD_INSTALL in installs and context == BOT_DM:
            found["0"] = "0"
        if USER_INSTALL in installs and user.id in self.user_installs:
            found["1"] = str(user.id)
        if context not in contexts or not found:
            raise NotOfferedError(f"Discord does not offer {name!r} to {user.name} here")
        return found

    def app_permissions(self, channel: Channel) -> int:
        """What the app may do in its answers here."""
        context = self.context_of(channel)
        if context == BOT_DM:
            return PRIVATE_PERMISSIONS | p.USE_EXTERNAL_EMOJIS
        if context == PRIVATE_CHANNEL:
            return PRIVATE_PERMISSIONS
        if channel.guild_id in self.bot_guilds:
            return self.permissions(self.bot_user.id, channel)
        return self.everyone_permissions(channel) & RESPONSE_PERMISSIONS

    def forced_ephemeral(self, interaction: Json) -> bool:
        """Whether Discord makes the answer ephemeral whatever the app asks: a person's
        install in a server that did not add it, where the person may not use external apps."""
        if interaction["context"] != GUILD or "0" in interaction["authorizing_integration_owners"]:
            return False
        allowed = int(interaction["member"]["permissions"])
        return allowed & PUBLIC_ANSWER != PUBLIC_ANSWER

    def invoker(self, interaction: Json) -> Json:
        """The user object of who started the interaction (`member.user` in a guild)."""
        return interaction["member"]["user"] if "member" in interaction else interaction["user"]

    def place_fields(self, user: User, channel: Channel) -> Json:
        """The fields of an interaction payload that depend on where it happened."""
        fields: Json = {
            "channel_id": str(channel.id),
            "channel": channel.payload(),
            "context": self.context_of(channel),
            "app_permissions": str(self.app_permissions(channel)),
        }
        if channel.guild_id is None:  # `user` in DMs, `member` (with permissions) in guilds
            fields["user"] = user.payload()
            return fields
        fields.update(
            guild_id=str(channel.guild_id),
            guild={"id": str(channel.guild_id), "locale": "en-US", "features": []},
            guild_locale="en-US",
            member=self.members[user.id].payload(self.permissions(user.id, channel)),
        )
        return fields
