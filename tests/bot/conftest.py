"""Bot fixtures: the fake Discord, a database, a tiny in-process engine, and the bot itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from beautynet.components.bot import build_bot
from bot.bot import BeautyBot
from bot.endpoints import discord_endpoints
from bot.engine_client.inprocess import InProcessEngine
from engine.core import Engine
from engine.imaging import ImageLimits
from engine.models import ModelRegistry
from engine.training import TrainDefaults
from infra.db.session import open_database
from infra.settings import Settings
from tests.fakediscord import FakeDiscord

READY_TIMEOUT = 20.0
TINY_TRAINING = TrainDefaults(ngf=4, ndf=4, size=64, epochs=1, epoch_samples=2)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def settings(data_dir: Path, fake: FakeDiscord) -> Settings:
    return Settings(
        data_dir=data_dir,
        device="cpu",
        discord_token="fake-token",
        discord_api_base=fake.api_base,
        discord_gateway_url=fake.gateway_url,
        discord_cdn_base=f"{fake.base_url}/cdn",
        user_cooldown_s=0,
        queue_size=4,
        max_image_bytes=2_000_000,
        max_image_pixels=4_000_000,
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[InProcessEngine]:
    registry = ModelRegistry(settings.models_dir, bundled_dir=settings.data_dir / "no-bundled")
    limits = ImageLimits(settings.max_image_bytes, settings.max_image_pixels)
    client = InProcessEngine(
        Engine(registry, torch.device("cpu"), limits=limits),
        datasets_dir=settings.datasets_dir,
        runs_dir=settings.data_dir / "runs",
        train_defaults=TINY_TRAINING,
    )
    yield client
    await client.close()


BotFactory = Callable[..., Awaitable[BeautyBot]]


@pytest.fixture
async def start_bot(
    settings: Settings, engine: InProcessEngine, fake: FakeDiscord
) -> AsyncIterator[BotFactory]:
    """Start bots (one at a time) against the fake Discord; all are closed at the end."""
    running: list[tuple[BeautyBot, asyncio.Task[None]]] = []

    async with open_database(settings, create_if_empty=True) as db:
        with discord_endpoints(settings.discord_api_base, settings.discord_gateway_url):

            async def start(engine_client: Any = None, **overrides: Any) -> BeautyBot:
                chosen = settings.model_copy(update=overrides) if overrides else settings
                bot = build_bot(chosen, db, engine_client or engine, guild_ready_timeout=0.05)
                assert chosen.discord_token is not None
                task = asyncio.create_task(bot.start(chosen.discord_token.get_secret_value()))
                running.append((bot, task))
                await asyncio.wait_for(bot.wait_until_ready(), READY_TIMEOUT)
                return bot

            yield start
            for bot, task in running:
                await bot.close()
                await asyncio.wait_for(task, READY_TIMEOUT)


@pytest.fixture
async def bot(start_bot: BotFactory) -> BeautyBot:
    return await start_bot()
