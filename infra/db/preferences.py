"""Guild settings, user preferences and the audit log of admin actions."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .models import AuditLog, GuildSettings, UserPreferences, WatchedChannel

log = logging.getLogger(__name__)

GUILD_FIELDS = frozenset(
    {
        "default_model",
        "max_image_bytes",
        "max_clip_seconds",
        "requests_per_user_per_hour",
    }
)


def _insert_ignore(session: AsyncSession, table: Any, **values: Any) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING for the session's backend (races are harmless)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).values(**values).on_conflict_do_nothing()


async def guild_settings(session: AsyncSession, guild_id: int) -> GuildSettings:
    """A guild's settings row, created with defaults on first use."""
    await session.execute(_insert_ignore(session, GuildSettings, guild_id=guild_id))
    row = await session.get(GuildSettings, guild_id, populate_existing=True)
    assert row is not None  # just inserted or already there
    return row


async def find_guild_settings(session: AsyncSession, guild_id: int) -> GuildSettings | None:
    """A guild's settings row if its admins ever changed one (read only)."""
    return await session.get(GuildSettings, guild_id)


async def update_guild_settings(
    session: AsyncSession, guild_id: int, *, actor_id: int, now: datetime, **changes: Any
) -> GuildSettings:
    """Change some guild settings and record who did it in the audit log."""
    unknown = set(changes) - GUILD_FIELDS
    if unknown:
        raise ValueError(f"changes={sorted(unknown)!r}: not guild settings")
    row = await guild_settings(session, guild_id)
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_by, row.updated_at = actor_id, now
    audit(session, actor_id, "guild.update", now=now, guild_id=guild_id, details=changes)
    return row


async def set_watched(
    session: AsyncSession,
    guild_id: int,
    channel_id: int,
    watched: bool,
    *,
    actor_id: int,
    now: datetime,
) -> None:
    """Start or stop answering plain messages in a channel (audited)."""
    await guild_settings(session, guild_id)
    if watched:
        await session.execute(
            _insert_ignore(
                session,
                WatchedChannel,
                guild_id=guild_id,
                channel_id=channel_id,
                added_by=actor_id,
                added_at=now,
            )
        )
    else:
        await session.execute(
            delete(WatchedChannel).where(
                WatchedChannel.guild_id == guild_id, WatchedChannel.channel_id == channel_id
            )
        )
    action = "channel.watch" if watched else "channel.unwatch"
    audit(session, actor_id, action, now=now, guild_id=guild_id, target=str(channel_id))


async def watched_channels(session: AsyncSession, guild_id: int) -> set[int]:
    """The channels of a guild whose plain messages the bot answers."""
    query = select(WatchedChannel.channel_id).where(WatchedChannel.guild_id == guild_id)
    return set((await session.scalars(query)).all())


async def user_default_model(session: AsyncSession, user_id: int) -> str | None:
    """A user's chosen default model, if any."""
    query = select(UserPreferences.default_model).where(UserPreferences.user_id == user_id)
    return await session.scalar(query)


async def set_user_default_model(
    session: AsyncSession, user_id: int, model: str | None, *, now: datetime
) -> None:
    """Choose (or clear, with None) a user's default model."""
    await session.execute(_insert_ignore(session, UserPreferences, user_id=user_id))
    row = await session.get(UserPreferences, user_id, populate_existing=True)
    assert row is not None
    row.default_model, row.updated_at = model, now


def audit(
    session: AsyncSession,
    actor_id: int | None,
    action: str,
    *,
    now: datetime,
    guild_id: int | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    cli_user: str | None = None,
) -> AuditLog:
    """Add an audit-log row to the session's transaction: a Discord user's, or a CLI login's."""
    if (actor_id is None) == (cli_user is None):
        raise ValueError(f"actor_id={actor_id!r}, cli_user={cli_user!r}: give exactly one")
    entry = AuditLog(
        at=now,
        actor_id=actor_id,
        cli_user=cli_user,
        action=action,
        guild_id=guild_id,
        target=target,
        details=details or {},
    )
    session.add(entry)
    who = actor_id if cli_user is None else f"cli:{cli_user}"
    log.info("audit: %s by %s in guild %s on %s", action, who, guild_id, target)
    return entry
