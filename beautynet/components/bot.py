"""The bot from settings: its engine client (HTTP services or in-process), every part of the
bot (queue, request log, catalogue, beautifier), and what it opens: the database and the
engine client are opened before the bot starts and closed after it stops.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from bot.bot import BeautyBot, BotParts, SyncTarget, worker_name
from bot.catalog import ModelCatalog
from bot.endpoints import discord_endpoints
from bot.engine_client import EngineClient
from bot.engine_client.http import HttpEngine
from bot.engine_client.inprocess import InProcessEngine
from bot.jobs import Beautifier
from bot.media import Limits, MediaFinder
from infra.db.dispatch import dispatcher_for
from infra.db.jobs import JobStore, QueueBounds
from infra.db.requests import RequestLog
from infra.db.session import Database, open_database
from infra.settings import Settings

from .engine import build_engine

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
    bounds = QueueBounds(
        capacity=settings.queue_size,
        per_user=settings.user_queue,
        cooldown_s=settings.user_cooldown_s,
        workers=settings.engine_workers,
    )
    jobs = JobStore(requests, bounds)
    url = settings.database_url_or_default
    dispatcher = dispatcher_for(jobs, url, settings.engine_workers, settings.job_claim_s)
    limits = Limits(
        max_image_bytes=settings.max_image_bytes,
        max_clip_bytes=settings.max_image_bytes,
        max_pixels=settings.max_image_pixels,
    )
    catalog = ModelCatalog(engine)
    finder = MediaFinder(settings.discord_api_base, settings.discord_cdn_base)
    beautifier = Beautifier(
        engine,
        db,
        requests,
        jobs,
        dispatcher,
        limits,
        catalog,
        finder,
        attempts=settings.job_attempts,
    )
    return BotParts(settings, db, engine, requests, jobs, dispatcher, limits, catalog, beautifier)


def stop_on_signals(bot: BeautyBot) -> None:
    """SIGTERM (a deploy) and SIGINT close the bot as `close` says: running jobs finish
    within BEAUTYNET_STOP_GRACE_S, the others stay queued for the next process."""
    loop = asyncio.get_running_loop()
    closing: set[asyncio.Task[None]] = set()

    def close(name: str) -> None:
        log.info("%s received: stopping", name)
        task = loop.create_task(bot.close())
        closing.add(task)
        task.add_done_callback(closing.discard)

    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, close, signal_number.name)


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
                    stop_on_signals(bot)
                    await bot.start(token)
        finally:
            await engine.close()
