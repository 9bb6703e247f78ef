"""`/admin model default|promote|rollback|delete`: the guild's model and the model registry."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.bot import BeautyBot, bot_of
from bot.errors import BotError
from bot.exts.admin import admin_group, admin_only, record
from infra.db.preferences import update_guild_settings
from infra.db.requests import utcnow

model = app_commands.Group(name="model", description="The server's model and model versions")


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
            session,
            interaction.guild_id,
            actor_id=interaction.user.id,
            now=utcnow(),
            default_model=name,
        )
    await interaction.response.send_message(f"This server now uses `{name}`.", ephemeral=True)


@admin_only
@model.command(name="promote", description="Serve a version of a model (default: the newest)")
@app_commands.autocomplete(name=model_choices)
async def promote(
    interaction: discord.Interaction, name: str, version: app_commands.Range[int, 1] | None = None
) -> None:
    """/admin model promote NAME [VERSION]."""
    label = await bot_of(interaction).engine.promote(name, version)
    await done(interaction, "model.promote", name, f"Now serving {label}.", version=version)


@admin_only
@model.command(name="rollback", description="Undo the last promotion of a model")
@app_commands.autocomplete(name=model_choices)
async def rollback(interaction: discord.Interaction, name: str) -> None:
    """/admin model rollback NAME."""
    label = await bot_of(interaction).engine.rollback(name)
    await done(interaction, "model.rollback", name, f"Rolled back; now serving {label}.")


@admin_only
@model.command(name="delete", description="Delete a trained model version")
@app_commands.autocomplete(name=model_choices)
async def delete(
    interaction: discord.Interaction, name: str, version: app_commands.Range[int, 1]
) -> None:
    """/admin model delete NAME VERSION."""
    await bot_of(interaction).engine.delete(name, version)
    await done(interaction, "model.delete", name, f"Deleted {name} v{version}.", version=version)


async def done(
    interaction: discord.Interaction, action: str, name: str, text: str, **details: object
) -> None:
    """Audit, refresh the model list, and answer."""
    await record(interaction, action, name, dict(details))
    bot_of(interaction).catalog.invalidate()
    await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: BeautyBot) -> None:
    admin_group(bot).add_command(model)


async def teardown(bot: BeautyBot) -> None:
    admin_group(bot).remove_command("model")
