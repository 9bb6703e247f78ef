"""`/admin status`: queue, engine, device, model versions and the last training runs."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.bot import BeautyBot, bot_of
from bot.exts.admin import admin_group, admin_only
from infra.db.models import TrainingRun
from infra.db.training import recent_runs

SHOWN_RUNS = 5
REASON_CHARS = 120  # five runs and the rest stay under Discord's 2,000 characters


@admin_only
@app_commands.command(name="status", description="Queue, engine, models and recent trainings")
async def status(interaction: discord.Interaction) -> None:
    """/admin status."""
    bot = bot_of(interaction)
    engine = bot.engine
    device = getattr(getattr(engine, "engine", None), "device", None)
    served = await bot.catalog.served()
    runtimes = await engine.runtimes()
    lines = [
        await queue_line(bot),
        f"**Engine**: {type(engine).__name__}" + (f" on {device}" if device else ""),
        "**Runtime**: " + ("; ".join(runtimes) or "no model loaded yet"),
        "**Models**: "
        + (
            ", ".join(
                f"{m.name} v{m.version}" + (" (default)" if m.default else "") for m in served
            )
            or "none"
        ),
        f"**Limits**: {bot.settings.max_image_bytes // 1024 // 1024} MiB, "
        f"{bot.settings.max_image_pixels:,} pixels, "
        f"clips up to {bot.settings.max_clip_seconds:g} s",
    ]
    async with bot.db.sessions() as session:
        runs = await recent_runs(session, limit=SHOWN_RUNS)
    lines.append("**Trainings**: " + ("" if runs else "none"))
    lines.extend(f"- {run_line(run)}" for run in runs)
    await interaction.response.send_message("\n".join(lines), ephemeral=True)


async def queue_line(bot: BeautyBot) -> str:
    """The shared queue: waiting, and running per process (this one marked), with its bounds."""
    counts = await bot.jobs.counts()
    bounds = bot.jobs.bounds
    here = bot.requests.worker
    running = ", ".join(
        f"{n} on `{worker}`" + (" (this process)" if worker == here else "")
        for worker, n in sorted(counts.running.items())
    )
    return (
        f"**Queue** (shared): {sum(counts.running.values())} running"
        + (f" ({running})" if running else "")
        + f", {counts.waiting} waiting, capacity {bounds.capacity} ({bounds.per_user} per user), "
        f"cooldown {bounds.cooldown_s:g} s"
    )


def run_line(run: TrainingRun) -> str:
    """'blooms v1 on `flowers` (clusters k=7), finished, by <@42>, 2026-12-02 14:03 UTC, ...'."""
    model = run.model_name + (f" v{run.model_version}" if run.model_version else "")
    who = f"<@{run.user_id}>" if run.user_id is not None else f"`{run.cli_user}` (command line)"
    text = f"{model} on `{run.dataset}` ({run.segmenter}), {run.status.value}, by {who}, "
    text += f"{run.started_at:%Y-%m-%d %H:%M} UTC"
    if run.finished_at is not None:
        text += f", {(run.finished_at - run.started_at).total_seconds() / 60:.0f} min"
    if run.metrics:
        text += ", " + " ".join(f"{k} {v:.3g}" for k, v in sorted(run.metrics.items()))
    if run.reason:
        text += f": {run.reason[:REASON_CHARS]}"
    return text


async def setup(bot: BeautyBot) -> None:
    admin_group(bot).add_command(status)


async def teardown(bot: BeautyBot) -> None:
    admin_group(bot).remove_command("status")
