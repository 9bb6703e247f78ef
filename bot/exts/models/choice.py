"""`/models` lists the models; `/model use NAME` picks the user's default."""

from __future__ import annotations

import io
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import BeautyBot
from bot.engine_client import ModelInfo
from bot.errors import BotError
from infra.db.preferences import set_user_default_model, user_default_model
from infra.db.requests import utcnow

log = logging.getLogger(__name__)

MAX_EMBEDS = 10


def model_embed(model: ModelInfo, mine: bool) -> discord.Embed:
    """One model's card: description, segmenter, default and user marks."""
    marks = [label for label, on in (("server default", model.default), ("your model", mine)) if on]
    embed = discord.Embed(
        title=f"{model.name} v{model.version}" + (f" ({', '.join(marks)})" if marks else ""),
        description=model.description or "no description",
    )
    embed.add_field(name="partial information", value=model.segmenter)
    return embed


def with_sheets(
    models: list[ModelInfo], embeds: list[discord.Embed], budget: int
) -> list[discord.File]:
    """Attach sample sheets to their embeds while they fit in `budget` bytes."""
    files: list[discord.File] = []
    for model, embed in zip(models, embeds, strict=True):
        sheet = model.sample_sheet
        if sheet is None or len(sheet) > budget:
            continue
        budget -= len(sheet)
        name = f"{model.name}-v{model.version}.png"
        files.append(discord.File(io.BytesIO(sheet), name))
        embed.set_image(url=f"attachment://{name}")
    return files


class Models(commands.Cog):
    """Model listing and the user's model choice."""

    model = app_commands.Group(name="model", description="choose the model used for you")

    def __init__(self, bot: BeautyBot) -> None:
        self.bot = bot

    @app_commands.command(name="models", description="The models you can use, with samples")
    async def models(self, interaction: discord.Interaction) -> None:
        """/models: the served version of every model."""
        served = (await self.bot.catalog.served())[:MAX_EMBEDS]
        if not served:
            raise BotError("No models are installed yet.")
        async with self.bot.db.sessions() as session:
            mine = await user_default_model(session, interaction.user.id)
        embeds = [model_embed(m, mine in (m.name, f"{m.name}@{m.version}")) for m in served]
        files = with_sheets(served, embeds, interaction.filesize_limit)
        await interaction.response.send_message(embeds=embeds, files=files, ephemeral=True)

    @model.command(name="use", description="Use this model for your requests")
    @app_commands.describe(name="a model name, or NAME@VERSION")
    async def use(self, interaction: discord.Interaction, name: str) -> None:
        """/model use NAME."""
        if not await self.bot.catalog.exists(name):
            raise BotError(f"There is no model called `{name}`; see /models.")
        await self._set(interaction.user.id, name)
        await interaction.response.send_message(
            f"Your images will go through `{name}` unless you pick another model.", ephemeral=True
        )

    @use.autocomplete("name")
    async def use_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self.bot.catalog.choices(current)

    @model.command(name="reset", description="Go back to the server's default model")
    async def reset(self, interaction: discord.Interaction) -> None:
        """/model reset."""
        await self._set(interaction.user.id, None)
        await interaction.response.send_message("You now use the server's model.", ephemeral=True)

    async def _set(self, user_id: int, name: str | None) -> None:
        async with self.bot.db.sessions.begin() as session:
            await set_user_default_model(session, user_id, name, now=utcnow())


async def setup(bot: BeautyBot) -> None:
    await bot.add_cog(Models(bot))
