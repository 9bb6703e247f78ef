"""`/beautify` and the message context menu "Beautify"."""

from __future__ import annotations

import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import BeautyBot
from bot.engine_client import TranslateParams
from bot.errors import BadAttachmentError, BotError, MissingChannelPermissionsError
from bot.media import Media
from bot.places import acknowledge, origin_of
from infra.db.models import RequestSource

log = logging.getLogger(__name__)


class Beautify(commands.Cog):
    """Turns an attachment into original | interpretation."""

    def __init__(self, bot: BeautyBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Beautify", callback=self.beautify_message)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    @app_commands.command(
        name="beautify",
        description="See a photo through a network that only knows beautiful things",
    )
    @app_commands.describe(
        file="an image or a short clip",
        model="which model (default: yours, else the server's)",
        k="number of colour clusters (clusters models only)",
        panels="2: original | interpretation; 3: adds the segmentation",
    )
    async def beautify(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        model: str | None = None,
        k: app_commands.Range[int, 2, 32] | None = None,
        panels: Literal[2, 3] = 2,
    ) -> None:
        """/beautify file [model] [k] [panels]."""
        params = TranslateParams(model=model, k=k, panels=panels)
        await self.run(interaction, Media.from_attachment(file), params, RequestSource.SLASH)

    @beautify.autocomplete("model")
    async def model_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.bot.catalog.choices(current)

    @app_commands.command(name="compare", description="One image through every model, side by side")
    @app_commands.describe(file="an image")
    async def compare(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        """/compare file."""
        require_attach_files(interaction)
        admission = await self.bot.beautifier.precheck(
            origin_of(interaction, RequestSource.SLASH), Media.from_attachment(file)
        )
        await self.bot.beautifier.compare(admission, await acknowledge(interaction))

    async def beautify_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """Apps > Beautify on a message with an image or a clip (attached, embedded, a sticker)."""
        found = self.bot.beautifier.finder.of(message)
        if not found:
            raise BadAttachmentError("That message has no image or clip.")
        await self.run(interaction, found[0], TranslateParams(), RequestSource.CONTEXT_MENU)

    async def run(
        self,
        interaction: discord.Interaction,
        media: Media,
        params: TranslateParams,
        source: RequestSource,
    ) -> None:
        """Check at once, defer within Discord's 3 s, then queue and deliver."""
        if params.model and not await self.bot.catalog.exists(params.model):
            raise BotError(f"There is no model called `{params.model}`; see /models.")
        require_attach_files(interaction)
        admission = await self.bot.beautifier.precheck(origin_of(interaction, source), media)
        await self.bot.beautifier.beautify(admission, params, await acknowledge(interaction))


def require_attach_files(interaction: discord.Interaction) -> None:
    """Explain, rather than fail, when the bot may not post files here."""
    if not interaction.app_permissions.attach_files:
        raise MissingChannelPermissionsError(
            "I need the Attach Files permission in this channel to post results."
        )


async def setup(bot: BeautyBot) -> None:
    await bot.add_cog(Beautify(bot))
