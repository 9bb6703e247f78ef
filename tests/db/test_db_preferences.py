"""Guild settings, user preferences and the audit log persist."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from infra.db.models import AuditLog
from infra.db.preferences import (
    guild_settings,
    set_user_default_model,
    set_watched,
    update_guild_settings,
    user_default_model,
    watched_channels,
)
from infra.db.session import Database

from .conftest import T0

GUILD = 2**62 + 5  # snowflakes need 64 bits


async def test_guild_settings_default_to_safe_values_and_persist(db: Database) -> None:
    async with db.sessions.begin() as session:
        settings = await guild_settings(session, GUILD)
        assert (settings.requests_per_user_per_hour, settings.default_model) == (None, None)
        await update_guild_settings(
            session, GUILD, actor_id=7, now=T0, default_model="edges", requests_per_user_per_hour=5
        )
        with pytest.raises(ValueError, match="not guild settings"):
            await update_guild_settings(session, GUILD, actor_id=7, now=T0, token="x")
    async with db.sessions() as session:
        settings = await guild_settings(session, GUILD)
        entries = (await session.scalars(select(AuditLog))).all()
    assert (settings.default_model, settings.requests_per_user_per_hour) == ("edges", 5)
    assert (settings.updated_by, settings.updated_at) == (7, T0)
    assert [(e.action, e.actor_id, e.guild_id, e.details) for e in entries] == [
        ("guild.update", 7, GUILD, {"default_model": "edges", "requests_per_user_per_hour": 5})
    ]


async def test_watched_channels(db: Database) -> None:
    channel = 2**60 + 1
    async with db.sessions.begin() as session:
        await set_watched(session, GUILD, channel, True, actor_id=7, now=T0)
        await set_watched(session, GUILD, channel, True, actor_id=7, now=T0)  # idempotent
        await set_watched(session, GUILD, 3, True, actor_id=7, now=T0)
    async with db.sessions.begin() as session:
        assert await watched_channels(session, GUILD) == {channel, 3}
        await set_watched(session, GUILD, 3, False, actor_id=8, now=T0)
    async with db.sessions() as session:
        assert await watched_channels(session, GUILD) == {channel}
        actions = (await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
    assert actions == ["channel.watch"] * 3 + ["channel.unwatch"]


async def test_user_default_model(db: Database) -> None:
    async with db.sessions.begin() as session:
        assert await user_default_model(session, 1) is None
        await set_user_default_model(session, 1, "flowers", now=T0)
    async with db.sessions.begin() as session:
        assert await user_default_model(session, 1) == "flowers"
        await set_user_default_model(session, 1, None, now=T0)
    async with db.sessions() as session:
        assert await user_default_model(session, 1) is None
