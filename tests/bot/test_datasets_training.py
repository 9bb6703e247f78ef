"""End to end: /admin dataset add|import|list and /admin retrain with progress and cancel."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import torch
from sqlalchemy import select

from bot.bot import BeautyBot
from bot.engine_client.inprocess import InProcessEngine
from bot.exts.admin.training import running
from engine.training import TrainDefaults
from infra.db.models import AuditLog, TrainingRun, TrainingStatus
from infra.db.training import recent_runs
from tests.conftest import encoded
from tests.fakediscord import FakeDiscord

from .conftest import BotFactory
from .helpers import Json, ephemeral_answer


def sub(name: str, *options: Json) -> list[Json]:
    return [{"name": name, "type": 1, "options": list(options)}]


def dataset_sub(name: str, *options: Json) -> list[Json]:
    return [{"name": "dataset", "type": 2, "options": sub(name, *options)}]


def text(name: str, value: str) -> Json:
    return {"name": name, "type": 3, "value": value}


async def followup(fake: FakeDiscord, interaction) -> str:
    """The text of the first follow-up sent for a deferred interaction."""

    def found() -> str | None:
        for call in fake.calls:
            if (
                call.method == "POST"
                and f"/webhooks/{fake.application_id}/{interaction.token}" in call.path
            ):
                return str((call.json or {}).get("content"))
        return None

    return await fake.wait_for(found)


async def training_runs(bot: BeautyBot) -> list[TrainingRun]:
    """The recorded training runs, oldest first."""
    async with bot.db.sessions() as session:
        return list(reversed(await recent_runs(session, limit=10)))


async def add_photos(fake: FakeDiscord, photo, name: str = "flowers", count: int = 3) -> str:
    files = {
        ("image" if i == 0 else f"image{i + 1}"): (
            f"p{i}.png",
            encoded(photo(96, 80, seed=i)),
            "image/png",
        )
        for i in range(count)
    }
    interaction = await fake.slash(
        fake.owner, "admin", dataset_sub("add", text("name", name)), files=files
    )
    return await followup(fake, interaction)


async def actions(bot: BeautyBot) -> list[str]:
    async with bot.db.sessions() as session:
        return list((await session.scalars(select(AuditLog.action).order_by(AuditLog.id))).all())


async def test_dataset_add_dedups_and_refuses(fake: FakeDiscord, bot: BeautyBot, photo) -> None:
    assert "added 3, 0 duplicates; 3 images in all" in await add_photos(fake, photo)
    files = {
        "image": ("again.png", encoded(photo(96, 80, seed=0)), "image/png"),
        "image2": ("fake.png", b"not an image at all", "image/png"),
    }
    interaction = await fake.slash(
        fake.owner, "admin", dataset_sub("add", text("name", "flowers")), files=files
    )
    answer = await followup(fake, interaction)
    assert "added 0, 1 duplicates, 1 refused (fake.png: not an image" in answer
    listing = await fake.slash(fake.owner, "admin", dataset_sub("list"))
    assert "`flowers`: 3 images" in await ephemeral_answer(fake, listing)
    assert await actions(bot) == ["dataset.add", "dataset.add"]


async def test_dataset_import_reads_channel_history(
    fake: FakeDiscord, start_bot: BotFactory, photo
) -> None:
    gallery = fake.add_channel("gallery")
    alice = fake.add_user("alice")
    for seed in range(2):
        await fake.post_message(
            alice, "", [(f"g{seed}.png", encoded(photo(seed=seed)), "image/png")], channel=gallery
        )
    await fake.post_message(alice, "no image here", channel=gallery)
    await start_bot()
    channel = {"name": "channel", "type": 7, "value": str(gallery.id)}
    options = dataset_sub("import", text("name", "gallery"), channel)
    interaction = await fake.slash(fake.owner, "admin", options)
    assert "added 2, 0 duplicates; 2 images in all" in await followup(fake, interaction)


async def test_non_admin_cannot_touch_datasets(fake: FakeDiscord, bot: BeautyBot) -> None:
    mallory = fake.add_user("mallory")
    interaction = await fake.slash(mallory, "admin", dataset_sub("list"))
    assert "Manage Server" in await ephemeral_answer(fake, interaction)


def progress_message(fake: FakeDiscord) -> Json | None:
    return next(
        (
            m
            for m in fake.channel_messages(fake.general)
            if "Training `" in m["content"] or "Trained" in m["content"]
        ),
        None,
    )


async def test_retrain_registers_a_new_version(
    fake: FakeDiscord, bot: BeautyBot, photo, data_dir: Path
) -> None:
    await add_photos(fake, photo)
    interaction = await fake.slash(
        fake.owner,
        "admin",
        sub("retrain", text("dataset", "flowers"), text("name", "blooms")),
    )
    assert "Training started" in await ephemeral_answer(fake, interaction)
    final = await fake.wait_for(
        lambda: (m := progress_message(fake)) is not None and m["content"].startswith("✅") and m
    )
    assert "Trained **blooms v1**" in final["content"] and final["components"] == []
    assert fake.files_of(final)  # the last sample sheet
    assert (data_dir / "models" / "blooms-v1.pt").is_file()
    assert "training.start" in await actions(bot)
    assert any(m.name == "blooms" for m in await bot.catalog.models())
    [run] = await training_runs(bot)
    assert (run.model_name, run.model_version, run.dataset, run.segmenter) == (
        "blooms",
        1,
        "flowers",
        "clusters k=7",
    )
    assert (run.status, run.user_id, run.guild_id, run.cli_user) == (
        TrainingStatus.FINISHED,
        fake.owner.id,
        fake.guild_id,
        None,
    )
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert set(run.metrics) == {"l1", "psnr", "ssim"} and run.worker == "bot"
    status = await ephemeral_answer(fake, await fake.slash(fake.owner, "admin", sub("status")))
    assert f"blooms v1 on `flowers` (clusters k=7), finished, by <@{fake.owner.id}>" in status


async def test_retrain_can_be_cancelled_and_survives_restart_of_the_button(
    fake: FakeDiscord, start_bot: BotFactory, settings, photo, data_dir: Path
) -> None:
    slow = InProcessEngine(
        (await _engine(settings)),
        datasets_dir=settings.datasets_dir,
        runs_dir=settings.data_dir / "runs",
        train_defaults=TrainDefaults(ngf=4, ndf=4, size=64, epochs=10_000, epoch_samples=2),
    )
    bot = await start_bot(engine_client=slow)
    await add_photos(fake, photo)
    await fake.slash(
        fake.owner, "admin", sub("retrain", text("dataset", "flowers"), text("name", "slow"))
    )
    message = copy.deepcopy(
        await fake.wait_for(
            lambda: (m := progress_message(fake)) is not None and "step" in m["content"] and m
        )
    )  # as a client that has not refreshed yet still shows it, with its Cancel button
    (cancel_id,) = [c["custom_id"] for row in message["components"] for c in row["components"]]
    mallory = fake.add_user("mallory")
    denied = await fake.click(mallory, message, cancel_id)
    assert "Manage Server" in await ephemeral_answer(fake, denied)
    click = await fake.click(fake.owner, message, cancel_id)
    assert "Stopping" in await ephemeral_answer(fake, click)
    final = await fake.wait_for(
        lambda: (m := progress_message(fake)) is not None and m["content"].startswith("⏹️") and m
    )
    assert "cancelled; nothing was registered" in final["content"]
    assert not (data_dir / "models" / "slow-v1.pt").exists()
    assert running(bot) == {}
    [run] = await training_runs(bot)
    assert (run.model_name, run.status, run.model_version) == (
        "slow",
        TrainingStatus.CANCELLED,
        None,
    )
    again = await fake.click(fake.owner, message, cancel_id)
    assert "no longer running" in await ephemeral_answer(fake, again)
    await asyncio.wait_for(slow.close(), 20)


async def _engine(settings):
    from engine.core import Engine
    from engine.models import ModelRegistry

    registry = ModelRegistry(settings.models_dir, bundled_dir=settings.data_dir / "no-bundled")
    return Engine(registry, torch.device("cpu"))


async def test_retrain_refuses_bad_arguments_before_starting(
    fake: FakeDiscord, bot: BeautyBot, photo
) -> None:
    """A bad name (the engine's one rule), time budget or dataset: told at once, nothing runs."""
    await add_photos(fake, photo)
    asked = [
        ((text("dataset", "flowers"), text("name", "../../escape")), "model name must be 1-64"),
        ((text("dataset", "flowers"), text("name", "Blooms")), "lowercase"),
        (
            (text("dataset", "flowers"), text("name", "x"), text("time_budget", "soon")),
            "time budget",
        ),
        ((text("dataset", "nope"), text("name", "y")), "nope"),
    ]
    for options, reason in asked:
        interaction = await fake.slash(fake.owner, "admin", sub("retrain", *options))
        assert reason in await ephemeral_answer(fake, interaction)
    assert progress_message(fake) is None  # no training was announced
    assert running(bot) == {}
    assert await training_runs(bot) == []
    runs = bot.settings.data_dir / "runs"
    assert not runs.exists() or not any(runs.iterdir())
    assert not (bot.settings.data_dir.parent / "escape").exists()
