"""`/admin retrain`: train a model version from a dataset, with a live progress message.

The progress message is an ordinary channel message (it outlives the 15-minute interaction
token), edited every few seconds with step, losses, ETA and the latest sample sheet, and
carrying a Cancel button that survives restarts (a run that is gone says so).
"""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import discord
from discord import app_commands, ui
from discord.ext import commands

from bot.bot import BeautyBot, bot_of, worker_name
from bot.engine_client.admin import TrainingAdmin, TrainRequest, TrainStatus
from bot.errors import BotError, MissingChannelPermissionsError, report, user_message
from bot.exts.admin import admin_group, admin_only, check_admin, record
from infra.db.models import TrainingStatus
from infra.db.requests import utcnow
from infra.db.training import NewRun, finish_run, settle_interrupted_runs, start_run

log = logging.getLogger(__name__)

EDIT_EVERY_S = 3.0
RUN_IDS = itertools.count(1)


@dataclass
class Run:
    """A training started from Discord, and what the progress message shows."""

    request: TrainRequest
    record: NewRun  # what the database's training runs will say about it
    stop: threading.Event = field(default_factory=threading.Event)
    latest: TrainStatus | None = None
    sheet: bytes | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class Trainings(commands.Cog):
    """The trainings this process runs, by run id (one at a time); stopped when unloaded."""

    def __init__(self, bot: BeautyBot) -> None:
        self.bot = bot
        self.runs: dict[str, Run] = {}

    async def cog_load(self) -> None:
        """Runs this process left going when it last stopped ended then: record that."""
        worker = worker_name(self.bot.settings)
        await settle_interrupted_runs(self.bot.db.sessions, worker, now=utcnow())

    async def cog_unload(self) -> None:
        """The bot is closing (or the extension reloading): stop every run."""
        for run in self.runs.values():
            run.stop.set()


def running(bot: BeautyBot) -> dict[str, Run]:
    """The trainings this process runs, by run id."""
    # By name: loading an extension executes its module afresh, so the class may be another.
    cog = bot.get_cog(Trainings.__cog_name__)
    if cog is None:
        raise RuntimeError("the training extension is not loaded")
    return cast(Trainings, cog).runs


class CancelButton(ui.DynamicItem[ui.Button], template=r"bn:train-stop:(?P<run>[\w-]+)"):
    """Stops a training; admins only."""

    def __init__(self, run_id: str) -> None:
        super().__init__(
            ui.Button(
                label="Cancel",
                style=discord.ButtonStyle.danger,
                custom_id=f"bn:train-stop:{run_id}",
            )
        )
        self.run_id = run_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> CancelButton:
        return cls(match["run"])

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            check_admin(interaction)
            run = running(bot_of(interaction)).get(self.run_id)
            if run is None:
                raise BotError("That training is no longer running.")
            run.stop.set()
            await record(interaction, "training.cancel", run.request.name)
            await interaction.response.send_message("Stopping the training…", ephemeral=True)
        except Exception as exc:
            await report(interaction, exc, "cancel button")


def status_text(run: Run, started: float) -> str:
    """Step, losses, ETA."""
    request, latest = run.request, run.latest
    head = f"🏋️ Training `{request.name}` on `{request.dataset}`"
    if latest is None:
        return head + ": starting…"
    total = f"/{latest.total_steps}" if latest.total_steps else ""
    losses = ", ".join(f"{k} {v:.3f}" for k, v in sorted(latest.losses.items()))
    eta = f", ETA {latest.eta_s:.0f} s" if latest.eta_s is not None else ""
    elapsed = time.monotonic() - started
    return (
        f"{head}: step {latest.step}{total}, epoch {latest.epoch}{eta} ({elapsed:.0f} s)\n{losses}"
    )


async def keep_posted(message: discord.Message, run: Run, view: ui.View, started: float) -> None:
    """Edit the progress message when something changed, at most every EDIT_EVERY_S."""
    shown_sheet: bytes | None = None
    while True:
        await run.changed.wait()
        run.changed.clear()
        files = []
        if run.sheet is not None and run.sheet is not shown_sheet:
            shown_sheet = run.sheet
            files = [discord.File(io.BytesIO(run.sheet), "samples.png")]
        try:
            if files:
                await message.edit(content=status_text(run, started), attachments=files, view=view)
            else:
                await message.edit(content=status_text(run, started), view=view)
        except discord.HTTPException as exc:
            log.warning("training progress edit failed: %s", exc)
        await asyncio.sleep(EDIT_EVERY_S)  # rate limit, not synchronisation


@admin_only
@app_commands.command(name="retrain", description="Train a new model version from a dataset")
@app_commands.describe(
    dataset="dataset name (see /admin dataset list)",
    name="model name (lowercase letters, digits, - and _); a new version is registered",
    segmenter="partial information the network learns from",
    k="colour clusters (clusters segmenter)",
    time_budget="stop after this long, e.g. 90m or 2h (default: the configured epochs)",
)
async def retrain(
    interaction: discord.Interaction,
    dataset: str,
    name: str,
    segmenter: Literal["clusters", "edges"] = "clusters",
    k: app_commands.Range[int, 2, 32] = 7,
    time_budget: str | None = None,
) -> None:
    """/admin retrain DATASET NAME [segmenter] [k] [time_budget]."""
    bot = bot_of(interaction)
    engine = bot.engine
    if running(bot):
        raise BotError("A training is already running; cancel it or wait for it.")
    channel = interaction.channel
    if not isinstance(channel, discord.TextChannel):
        raise BotError("Start trainings from a text channel.")
    allowed = channel.permissions_for(channel.guild.me)
    if not (allowed.send_messages and allowed.attach_files):
        raise MissingChannelPermissionsError(
            "I need Send Messages and Attach Files here to post training progress."
        )
    request = TrainRequest(dataset, name, segmenter, k, time_budget)
    await engine.check_training(request)  # a bad name or dataset: told now, nothing started
    as_run = f"clusters k={k}" if segmenter == "clusters" else segmenter
    to_record = NewRun(
        name,
        dataset,
        as_run,
        {"time_budget": time_budget},
        user_id=interaction.user.id,
        guild_id=interaction.guild_id,
        worker=worker_name(bot.settings),
    )
    run_id = f"{interaction.id}-{next(RUN_IDS)}"
    run = Run(request, to_record)
    running(bot)[run_id] = run
    try:
        await record(interaction, "training.start", name, {"dataset": dataset, "k": k})
        await interaction.response.send_message("Training started; progress below.", ephemeral=True)
        await train(bot, engine, channel, run_id, run)
    finally:
        running(bot).pop(run_id, None)


async def train(
    bot: BeautyBot, engine: TrainingAdmin, channel: discord.TextChannel, run_id: str, run: Run
) -> None:
    """Run the training while a task keeps the progress message current."""
    loop = asyncio.get_running_loop()
    view = ui.View(timeout=None)
    view.add_item(CancelButton(run_id))
    started = time.monotonic()
    message = await channel.send(status_text(run, started), view=view)

    def on_progress(status: TrainStatus) -> None:  # called from the training thread
        loop.call_soon_threadsafe(update, status)

    def update(status: TrainStatus) -> None:
        run.latest = status if status.sample_sheet is None else run.latest or status
        if status.sample_sheet is not None:
            run.sheet = status.sample_sheet
        run.changed.set()

    record_id = await start_run(bot.db.sessions, run.record, now=utcnow())
    poster = asyncio.create_task(keep_posted(message, run, view, started))
    try:
        done = await engine.train(run.request, on_progress, run.stop)
    except Exception as exc:
        poster.cancel()
        running(bot).pop(run_id, None)
        text = user_message(exc)
        if text is None:
            log.exception("training %s failed", run.request.name)
        await finish_run(
            bot.db.sessions,
            record_id,
            TrainingStatus.FAILED,
            now=utcnow(),
            reason=text or f"internal error: {type(exc).__name__}",
        )
        await message.edit(
            content=f"⚠️ Training `{run.request.name}` failed: {text or 'internal error'}", view=None
        )
        return
    poster.cancel()
    running(bot).pop(run_id, None)  # before the final edit: the run is over
    await asyncio.gather(poster, return_exceptions=True)
    await finish_run(
        bot.db.sessions,
        record_id,
        TrainingStatus(done.status),
        now=utcnow(),
        model_version=done.version,
        metrics=done.metrics,
    )
    if done.model is not None:
        bot.catalog.invalidate()
        text = (
            f"✅ Trained **{done.model}**. Serve it with `/admin model promote {run.request.name}`."
        )
    else:
        text = f"⏹️ Training `{run.request.name}` was {done.status}; nothing was registered."
    files = (
        [discord.File(io.BytesIO(done.sample_sheet), "samples.png")] if done.sample_sheet else []
    )
    await message.edit(content=text, attachments=files, view=None)


async def setup(bot: BeautyBot) -> None:
    await bot.add_cog(Trainings(bot))
    bot.add_dynamic_items(CancelButton)
    admin_group(bot).add_command(retrain)


async def teardown(bot: BeautyBot) -> None:
    bot.remove_dynamic_items(CancelButton)
    admin_group(bot).remove_command("retrain")
