"""`/admin model default|promote|rollback|delete`: the guild's model and the model registry."""

from __future__ import annotations

import discord
from discord import app_commands

from beautynet.db.preferences import update_guild_settings
from beautynet.db.requests import utcnow
from bot.admin import admin_only, bot_of, record
from bot.bot import BeautyBot
from bot.engine_client.admin import ModelAdmin
from bot.errors import BotError

model = app_commands.Group(name="model", description="The server's model and model versions")


def registry_of(interaction: discord.Interaction) -> ModelAdmin:
    """The engine's model administration, when this engine offers it."""
    engine = bot_of(interaction).engine
    if not isinstance(engine, ModelAdmin):
        raise BotError("Model versions are managed on the engine service, not from here.")
    return engine


async def model_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return await bot_of(interaction).catalog.choices(current)


@admin_only
@model.command(name="default", description="The model used in this server unless users pick one")
@app_commands.describe(name="a model name, or NAME@VERSION")
@app_commands.autocomplete(name=model_choices)
async def default(interaction: discord.Interaction, name: str) -> None:
    """/admin model default NAME."""
    bot = bot_of(interaction)
    if not await bot.catalog.exists(name):
        raise BotError(f"There is no model called `{name}`; see /models.")
    assert interaction.guild_id is not None
    async with bot.db.sessions.begin() as session:
        await update_guild_settings(
            session, interaction.guild_id, actor_id=interaction.user.id, now=utcnow(),
            default_model=name,
        )  # fmt: skip
    await interaction.response.send_message(f"This server now uses `{name}`.", ephemeral=True)


@admin_only
@model.command(name="promote", description="Serve a version of a model (default: the newest)")
@app_commands.autocomplete(name=model_choices)
async def promote(
    interaction: discord.Interaction, name: str, version: app_commands.Range[int, 1] | None = None
) -> None:
    """/admin model promote NAME [VERSION]."""
    label = await registry_of(interaction).promote(name, version)
    await done(interaction, "model.promote", name, f"Now serving {label}.", version=version)


@admin_only
@model.command(name="rollback", description="Undo the last promotion of a model")
@app_commands.autocomplete(name=model_choices)
async def rollback(interaction: discord.Interaction, name: str) -> None:
    """/admin model rollback NAME."""
    label = await registry_of(interaction).rollback(name)
    await done(interaction, "model.rollback", name, f"Rolled back; now serving {label}.")


@admin_only
@model.command(name="delete", description="Delete a trained model version")
@app_commands.autocomplete(name=model_choices)
async def delete(
    interaction: discord.Interaction, name: str, version: app_commands.Range[int, 1]
) -> None:
    """/admin model delete NAME VERSION."""
    await registry_of(interaction).delete(name, version)
    await done(interaction, "model.delete", name, f"Deleted {name} v{version}.", version=version)


async def done(
    interaction: discord.Interaction, action: str, name: str, text: str, **details: object
) -> None:
    """Audit, refresh the model list, and answer."""
    await record(interaction, action, name, dict(details))
    bot_of(interaction).catalog.invalidate()
    await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: BeautyBot) -> None:
    bot.admin_group.add_command(model)


async def teardown(bot: BeautyBot) -> None:
    bot.admin_group.remove_command("model")
