"""The admin features (`/admin ...`) share this group: hidden from members by default
permissions, and checked again in code on every use."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.bot import BeautyBot, bot_of
from bot.errors import NotAdminError
from infra.db.preferences import audit
from infra.db.requests import utcnow

log = logging.getLogger(__name__)

ADMIN = "admin"


def check_admin(interaction: discord.Interaction) -> bool:
    """Raise NotAdminError unless the user has Manage Server here or is a configured owner."""
    if not bot_of(interaction).is_admin(interaction):
        log.info("admin command refused for user %s", interaction.user.id)
        raise NotAdminError()
    return True


# On every admin command: discord.py runs only the nearest group's interaction_check.
admin_only = app_commands.check(check_admin)


class AdminGroup(app_commands.Group):
    """`/admin ...`: Manage Server (or a configured owner), re-checked on every use."""

    def __init__(self) -> None:
        super().__init__(
            name=ADMIN,
            description="Server admin: channels, models, datasets, status",
            default_permissions=discord.Permissions(manage_guild=True),
            guild_only=True,
            # A server's settings are its admins' business: only where the server added the
            # bot, never through a person's install nor in DMs.
            allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=False, private_channel=False
            ),
        )

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Default permissions can be changed by a server's admins; this check cannot."""
        return check_admin(interaction)


def admin_group(bot: BeautyBot) -> AdminGroup:
    """The `/admin` group in the bot's command tree, added there by the first extension to ask."""
    group = bot.tree.get_command(ADMIN)
    if group is None:
        group = AdminGroup()
        bot.tree.add_command(group)
    assert isinstance(group, AdminGroup)
    return group


async def record(
    interaction: discord.Interaction,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write an audit-log row for an admin action."""
    async with bot_of(interaction).db.sessions.begin() as session:
        audit(
            session,
            interaction.user.id,
            action,
            now=utcnow(),
            guild_id=interaction.guild_id,
            target=target,
            details=details,
        )
