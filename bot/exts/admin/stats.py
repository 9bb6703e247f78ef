"""`/admin stats`: this server's requests by model, install, channel and day, and their
latency percentiles; for the bot's owners, also every request by install and channel."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import discord
from discord import app_commands
from sqlalchemy.ext.asyncio import AsyncSession

from bot.bot import BeautyBot, bot_of
from bot.exts.admin import admin_group, admin_only
from infra.db.models import Request
from infra.db.queries import counts_by, counts_by_day, stage_latencies

STATS_DAYS = 30


def counts_text(counts: list[tuple[Any, int]]) -> str:
    """'tiny 5, group dm 2, unrecorded 1', or 'none'."""
    labels = [(str(value or "unrecorded").replace("_", " "), n) for value, n in counts]
    return ", ".join(f"{label} {n}" for label, n in labels) or "none"


async def places_text(session: AsyncSession, guild_id: int | None, since: datetime) -> str:
    """'by install: guild 3, user 1; by channel: guild text 4' (in one guild, or everywhere)."""
    installs = await counts_by(session, Request.install, guild_id, since=since)
    kinds = await counts_by(session, Request.channel_kind, guild_id, since=since)
    return f"by install: {counts_text(installs)}; by channel: {counts_text(kinds)}"


@admin_only
@app_commands.command(name="stats", description="Requests by model, place and day, and latencies")
async def stats(interaction: discord.Interaction) -> None:
    """/admin stats: the last 30 days of this server's requests."""
    bot = bot_of(interaction)
    guild_id = interaction.guild_id
    assert guild_id is not None  # the admin group is guild-only
    owner = interaction.user.id in bot.settings.owner_ids  # sees every request too
    since = bot.requests.clock() - timedelta(days=STATS_DAYS)
    async with bot.db.sessions() as session:
        by_model = await counts_by(session, Request.model, guild_id, since=since)
        here = await places_text(session, guild_id, since)
        everywhere = await places_text(session, None, since) if owner else None
        by_day = await counts_by_day(session, guild_id, since=since)
        latencies = await stage_latencies(session, guild_id=guild_id, since=since)
    lines = [
        f"**Requests, last {STATS_DAYS} days**, by model: {counts_text(by_model)}",
        f"**Where**: {here}",
        f"**By day**: {counts_text([(day.isoformat(), n) for day, n in by_day])}",
    ]
    if everywhere is not None:
        lines.insert(2, f"**Everywhere** (every server and DM): {everywhere}")
    for latency in latencies:
        shares = ", ".join(f"p{p} {s:.1f} s" for p, s in latency.percentiles.items())
        lines.append(f"**Latency** ({latency.stage}, {latency.count} requests): {shares}")
    await interaction.response.send_message("\n".join(lines), ephemeral=True)


async def setup(bot: BeautyBot) -> None:
    admin_group(bot).add_command(stats)


async def teardown(bot: BeautyBot) -> None:
    admin_group(bot).remove_command("stats")
