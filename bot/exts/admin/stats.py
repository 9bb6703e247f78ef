"""`/admin stats`: this server's requests by model and by day, and their latency percentiles."""

from __future__ import annotations

from datetime import timedelta

import discord
from discord import app_commands

from bot.bot import BeautyBot, bot_of
from bot.exts.admin import admin_group, admin_only
from infra.db.queries import counts_by_day, counts_by_model, stage_latencies

STATS_DAYS = 30


def counts_text(counts: list[tuple[str, int]]) -> str:
    """'tiny 5, tiny-edges 2', or 'none'."""
    return ", ".join(f"{label} {n}" for label, n in counts) or "none"


@admin_only
@app_commands.command(name="stats", description="Requests by model and by day, and latencies")
async def stats(interaction: discord.Interaction) -> None:
    """/admin stats: the last 30 days of this server's requests."""
    bot = bot_of(interaction)
    assert interaction.guild_id is not None  # the admin group is guild-only
    since = bot.requests.clock() - timedelta(days=STATS_DAYS)
    async with bot.db.sessions() as session:
        by_model = await counts_by_model(session, interaction.guild_id, since=since)
        by_day = await counts_by_day(session, interaction.guild_id, since=since)
        latencies = await stage_latencies(session, guild_id=interaction.guild_id, since=since)
    lines = [
        f"**Requests, last {STATS_DAYS} days**, by model: {counts_text(by_model)}",
        f"**By day**: {counts_text([(day.isoformat(), n) for day, n in by_day])}",
    ]
    for latency in latencies:
        shares = ", ".join(f"p{p} {s:.1f} s" for p, s in latency.percentiles.items())
        lines.append(f"**Latency** ({latency.stage}, {latency.count} requests): {shares}")
    await interaction.response.send_message("\n".join(lines), ephemeral=True)


async def setup(bot: BeautyBot) -> None:
    admin_group(bot).add_command(stats)


async def teardown(bot: BeautyBot) -> None:
    admin_group(bot).remove_command("stats")
