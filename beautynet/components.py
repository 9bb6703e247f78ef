"""The composition root: the one place that builds the concrete parts from settings.

The layers below never reach up here: `engine/` (the library) and `infra/` (settings and the
database) know nothing of each other or of the bot; `bot/` knows the engine only through its
client interface. This module picks the engine client (HTTP services or in-process), builds
the engine and the service's configuration, builds every part of the bot (queue, request
log, catalogue, beautifier) and hands them over, and owns what it opens: the database and
the engine client are opened before the bot starts and closed after it stops.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.bot import BeautyBot, BotParts, SyncTarget, worker_name
from bot.catalog import ModelCatalog
from bot.endpoints import discord_endpoints
from bot.engine_client import EngineClient
from bot.engine_client.http import HttpEngine
from bot.engine_client.inprocess import InProcessEngine
from bot.jobs import Beautifier
from bot.media import Limits, MediaFinder
from bot.queue import FairQueue
from engine.core import Engine
from engine.device import resolve_device
from engine.imaging import ImageLimits
from engine.models import ModelRegistry
from engine.service import ServiceConfig
from engine.threads import ThreadPlan, plan_threads
from engine.training import TrainDefaults
from engine.video import ClipLimits
from infra.db.requests import RequestLog
from infra.db.session import Database, open_database
from infra.settings import Settings

log = logging.getLogger(__name__)

TOKEN_HELP = """\
No Discord token: set DISCORD_TOKEN (in the environment or in .env).
To get one:
  1. https://discord.com/developers/applications -> New Application.
  2. Bot -> Reset Token -> copy it into DISCORD_TOKEN (keep it secret).
  3. Bot -> Privileged Gateway Intents -> enable Message Content Intent.
  4. Installation -> Installation Contexts -> tick Guild Install and User Install.
  5. Add it to a server (scopes bot + applications.commands) or to your own account
     (integration_type=1, scope applications.commands): the links are in README.md.
See the "Discord bot" section of README.md for both links, the permissions and every
setting."""


class MissingTokenError(RuntimeError):
    """DISCORD_TOKEN is not set."""


def build_engine(
    settings: Settings,
    device: str | None = None,
    *,
    batch_size: int | None = None,
    streams: int | None = None,
) -> Engine:
    """The engine configured from settings (and overrides): models, runtime, limits, folders.

    `streams` (generator calls at once) defaults to BEAUTYNET_ENGINE_STREAMS (0: auto).
    """
    return Engine(
        ModelRegistry(settings.models_dir),
        resolve_device(device or settings.device),
        settings.runtime,
        limits=ImageLimits(settings.max_image_bytes, settings.max_image_pixels),
        batch_size=settings.engine_max_batch if batch_size is None else batch_size,
        streams=streams or settings.engine_streams,
        clip_limits=clip_limits(settings),
        datasets_dir=settings.datasets_dir,
        runs_dir=settings.data_dir / "runs",
        train_defaults=train_defaults(settings),
    )


def clip_limits(settings: Settings) -> ClipLimits:
    """Limits on uploaded clips."""
    return ClipLimits(max_bytes=settings.max_image_bytes, max_seconds=settings.max_clip_seconds)


def train_defaults(settings: Settings) -> TrainDefaults:
    """Network size and run length of trainings started from Discord or over HTTP."""
    return TrainDefaults(
        ngf=settings.train_ngf,
        ndf=settings.train_ngf,
        size=settings.train_size,
        epochs=settings.train_epochs,
        epoch_samples=settings.train_epoch_samples,
    )


def service_threads(settings: Settings) -> ThreadPlan:
    """The engine service's threads: the settings', else sized from the machine."""
    return plan_threads(
        settings.engine_network_threads, settings.engine_codec_threads, settings.engine_streams
    )


def service_config(
    settings: Settings, batching: bool = True, codec_threads: int = 2
) -> ServiceConfig:
    """The service's limits, batching, decode/encode threads and token from settings."""
    token = settings.engine_token.get_secret_value() if settings.engine_token else None
    return ServiceConfig(
        token=token,
        max_upload_bytes=settings.max_image_bytes,
        queue_size=settings.engine_queue_size,
        max_batch=(settings.engine_max_batch or None) if batching else 1,
        batch_wait_s=settings.engine_batch_wait_ms / 1000 if batching else 0.0,
        clip_jobs=settings.engine_clip_jobs,
        live_sessions=settings.engine_live_sessions,
        codec_threads=codec_threads,
        header_timeout_s=settings.engine_header_timeout_s,
        body_timeout_s=settings.engine_body_timeout_s,
    )


def http_engine_from_settings(settings: Settings) -> HttpEngine | None:
    """An HttpEngine when ENGINE_URLS lists services; None means: use the in-process engine."""
    if not settings.engine_urls:
        return None
    token = settings.engine_token.get_secret_value() if settings.engine_token else None
    return HttpEngine(settings.engine_urls, token)


def embedded_engine(settings: Settings, device: str | None = None) -> InProcessEngine:
    """The in-process engine configured from settings."""
    return InProcessEngine(build_engine(settings, device), settings.engine_workers)


def engine_client(settings: Settings, device: str | None = None) -> EngineClient:
    """The bot's engine: the services of ENGINE_URLS, else the embedded engine."""
    return http_engine_from_settings(settings) or embedded_engine(settings, device)


def bot_parts(settings: Settings, db: Database, engine: EngineClient) -> BotParts:
    """Every part of the bot, from settings, over an open database and engine."""
    requests = RequestLog(db.sessions, worker=worker_name(settings))
    queue = FairQueue(
        settings.queue_size,
        settings.user_cooldown_s,
        workers=settings.engine_workers,
        per_user=settings.user_queue,
    )
    limits = Limits(
        max_image_bytes=settings.max_image_bytes,
        max_clip_bytes=settings.max_image_bytes,
        max_pixels=settings.max_image_pixels,
    )
    catalog = ModelCatalog(engine)
    finder = MediaFinder(settings.discord_api_base, settings.discord_cdn_base)
    beautifier = Beautifier(engine, db, requests, queue, limits, catalog, finder)
    return BotParts(settings, db, engine, requests, queue, limits, catalog, beautifier)


def build_bot(settings: Settings, db: Database, engine: EngineClient, **options: Any) -> BeautyBot:
    """The bot with its parts; `options` go to discord.py (sync, sync_guild, timeouts)."""
    return BeautyBot(bot_parts(settings, db, engine), **options)


async def run_bot(
    settings: Settings,
    *,
    sync: bool = False,
    sync_guild: SyncTarget = None,
    device: str | None = None,
    engine: EngineClient | None = None,
) -> None:
    """Open the database and the engine, run the bot until it is closed, release everything.

    The engine: `engine` when given, else `engine_client(settings)`; it is closed here as well.
    """
    if settings.discord_token is None:
        raise MissingTokenError(TOKEN_HELP)
    token = settings.discord_token.get_secret_value()
    async with open_database(settings, create_if_empty=True) as db:
        engine = await (engine or engine_client(settings, device)).start()
        try:
            with discord_endpoints(settings.discord_api_base, settings.discord_gateway_url):
                bot = build_bot(settings, db, engine, sync=sync, sync_guild=sync_guild)
                async with bot:
                    await bot.start(token)
        finally:
            await engine.close()
