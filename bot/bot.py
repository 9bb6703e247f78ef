"""The bot: a `commands.Bot` given every part it works with by the composition root
(`beautynet/components/`), which builds them from the settings."""

from __future__ import annotations

import logging
import pkgutil
from dataclasses import dataclass
from typing import Any

import discord
from discord.ext import commands

from bot import exts
from bot.catalog import ModelCatalog
from bot.engine_client import EngineClient
from bot.jobs import Beautifier
from bot.media import Limits
from infra.db.dispatch import Dispatcher
from infra.db.jobs import JobStore
from infra.db.requests import RequestLog
from infra.db.session import Database
from infra.settings import Settings

log = logging.getLogger(__name__)

SyncTarget = int | None  # a guild id, or None for the global commands
# Every command, unless it says otherwise (the admin group does): both installs, everywhere.
EVERY_INSTALL = discord.app_commands.AppInstallationType(guild=True, user=True)
EVERYWHERE = discord.app_commands.AppCommandContext(
    guild=True, dm_channel=True, private_channel=True
)


def find_extensions() -> list[str]:
    """Every `bot/exts/<area>/<feature>.py` module with a `setup` (sorted)."""
    found = []
    for module in pkgutil.walk_packages(exts.__path__, f"{exts.__name__}."):
        if not module.ispkg:
            found.append(module.name)
    return sorted(found)


def intents() -> discord.Intents:
    """Default intents plus message content (privileged: enable it in the developer portal)."""
    chosen = discord.Intents.default()
    chosen.message_content = True
    return chosen


def shard_options(settings: Settings) -> dict[str, Any]:
    """The shards of this process; none given: discord.py asks Discord how many it needs."""
    if settings.shard_count is None:
        return {}
    return {"shard_count": settings.shard_count, "shard_ids": settings.shard_ids}


def worker_name(settings: Settings) -> str:
    """This process's name in the request log: each process recovers only its own rows."""
    if settings.shard_ids is None:
        return "bot"
    return "bot:shards=" + ",".join(map(str, settings.shard_ids))


def bot_of(interaction: discord.Interaction) -> BeautyBot:
    """The BeautyBot handling this interaction."""
    return interaction.client  # type: ignore[return-value]


@dataclass(frozen=True)
class BotParts:
    """Every part the bot and its extensions use, built by the composition root.

    The database and the engine are opened and closed by whoever built them; the dispatcher
    runs jobs while the bot does (started in `setup_hook`, stopped in `close`).
    """

    settings: Settings
    db: Database
    engine: EngineClient
    requests: RequestLog
    jobs: JobStore  # the durable queue, in the database
    dispatcher: Dispatcher
    limits: Limits  # on attachments, before any download
    catalog: ModelCatalog
    beautifier: Beautifier


class BeautyBot(commands.AutoShardedBot):
    """Holds the parts every extension uses; nothing global, and no feature's state.

    Sharded through discord.py: the shards of BEAUTYNET_SHARD_COUNT/SHARD_IDS, else as many
    as Discord recommends (one until the bot is in many guilds).
    """

    def __init__(
        self,
        parts: BotParts,
        *,
        sync: bool = False,
        sync_guild: SyncTarget = None,
        **options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
            allowed_installs=EVERY_INSTALL,
            allowed_contexts=EVERYWHERE,
            **shard_options(parts.settings),
            **options,
        )
        self.settings = parts.settings
        self.db = parts.db
        self.engine = parts.engine
        self.requests = parts.requests
        self.jobs = parts.jobs
        self.dispatcher = parts.dispatcher
        self.limits = parts.limits
        self.catalog = parts.catalog
        self.beautifier = parts.beautifier
        self.sync_on_start = sync
        self.sync_guild = sync_guild

    async def setup_hook(self) -> None:
        """Settle the request log, load every extension, run the queued jobs, sync if asked.

        Queued and running requests are resumed from the database (those of a previous run
        too); rows without a job to resume are settled, then announced to the extensions as
        the `requests_interrupted` event.
        """
        interrupted = await self.requests.recover(retry=False)
        if interrupted:
            log.info("settled %d requests left unfinished by a previous run", len(interrupted))
        self.beautifier.bind(self)
        for extension in find_extensions():
            await self.load_extension(extension)
        await self.dispatcher.start(self.beautifier.run_job)
        self.dispatch("requests_interrupted", interrupted)
        if self.sync_on_start:
            await self.sync_commands(self.sync_guild)

    async def sync_commands(self, guild_id: SyncTarget) -> int:
        """Publish the slash commands globally, or to one guild (instant; for development)."""
        guild = discord.Object(guild_id) if guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        synced = await self.tree.sync(guild=guild)
        log.info(
            "synced %d commands %s", len(synced), f"to guild {guild_id}" if guild else "globally"
        )
        return len(synced)

    async def on_ready(self) -> None:
        """Say so on every (re)connection: who the bot is, and in how many guilds."""
        shards = f", {self.shard_count} shard(s)" if self.shard_count else ""
        log.info(
            "connected to Discord as %s, in %d guild(s)%s", self.user, len(self.guilds), shards
        )

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: messages are handled by the listeners of the extensions."""

    def is_admin(self, interaction: discord.Interaction) -> bool:
        """Manage Server where the interaction happened, or a configured owner id.

        Discord's own resolution of the person's permissions: the bot may not be in that
        server (a person's install), so it cannot compute them from roles it never saw.
        """
        if interaction.user.id in self.settings.owner_ids:
            return True
        return interaction.guild_id is not None and interaction.permissions.manage_guild

    async def close(self) -> None:
        """Take no new job and let the running ones finish (BEAUTYNET_STOP_GRACE_S), leaving
        the rest queued for the next process; then unload the extensions and disconnect."""
        grace = self.settings.stop_grace_s
        log.info("stopping: no new jobs; running ones get %g s, the rest stay queued", grace)
        await self.dispatcher.stop(grace)
        await self.beautifier.close()
        await super().close()
        log.info("stopped")
