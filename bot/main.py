"""Start the bot: `run_bot` owns every resource's lifetime and hands them to the bot."""

from __future__ import annotations

import logging

from beautynet.components import build_engine
from beautynet.db.session import open_database
from beautynet.settings import Settings
from bot.bot import BeautyBot, SyncTarget
from bot.endpoints import discord_endpoints
from bot.engine_client import EngineClient
from bot.engine_client.http import http_engine_from_settings
from bot.engine_client.inprocess import InProcessEngine

log = logging.getLogger(__name__)

TOKEN_HELP = """\
No Discord token: set DISCORD_TOKEN (in the environment or in .env).
To get one:
  1. https://discord.com/developers/applications -> New Application.
  2. Bot -> Reset Token -> copy it into DISCORD_TOKEN (keep it secret).
  3. Bot -> Privileged Gateway Intents -> enable Message Content Intent.
  4. OAuth2 -> URL Generator -> scopes bot + applications.commands, then invite the bot.
See the "Discord bot" section of README.md for the permissions and every setting."""


class MissingTokenError(RuntimeError):
    """DISCORD_TOKEN is not set."""


def embedded_engine(settings: Settings, device: str | None = None) -> InProcessEngine:
    """The in-process engine configured from settings."""
    return InProcessEngine(build_engine(settings, device), settings.engine_workers)


async def run_bot(
    settings: Settings,
    *,
    sync: bool = False,
    sync_guild: SyncTarget = None,
    device: str | None = None,
    engine: EngineClient | None = None,
) -> None:
    """Open the database and the engine, run the bot until it is closed, release everything.

    The engine: `engine` when given, else the engine services of ENGINE_URLS, else the
    embedded engine; it is closed here as well.
    """
    if settings.discord_token is None:
        raise MissingTokenError(TOKEN_HELP)
    token = settings.discord_token.get_secret_value()
    async with open_database(settings, create_if_empty=True) as db:
        engine = engine or http_engine_from_settings(settings) or embedded_engine(settings, device)
        try:
            with discord_endpoints(settings.discord_api_base, settings.discord_gateway_url):
                async with BeautyBot(settings, db, engine, sync=sync, sync_guild=sync_guild) as bot:
                    await bot.start(token)
        finally:
            await engine.close()
