"""Project exceptions of the bot, and the one place that turns errors into user messages."""

from __future__ import annotations

import logging
import math

import discord
from discord import app_commands

from bot.engine_client import EngineUnavailableError, EngineUserError

log = logging.getLogger(__name__)

GENERIC_FAILURE = "Something went wrong on my side; it has been logged. Please try again later."


class BotError(Exception):
    """A failure whose message is short and safe to show to the user."""


class BadAttachmentError(BotError):
    """The attachment is missing, too big, or not an image or a clip."""


class BusyError(BotError):
    """The queue is full, the user already has a job, or the user is cooling down."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class MissingChannelPermissionsError(BotError):
    """The bot may not do what it needs in this channel."""


class NotAdminError(app_commands.CheckFailure, BotError):
    """An admin command used by someone without Manage Server (and not an owner)."""

    def __init__(self) -> None:
        super().__init__("This command needs the Manage Server permission.")


def seconds_text(seconds: float) -> str:
    """'try again in 3 s' style rounding: whole seconds, at least 1."""
    return f"{max(1, math.ceil(seconds))} s"


def user_message(error: BaseException) -> str | None:
    """The short text for an error a user caused or can wait out; None for internal errors."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        error = error.__cause__ or error
    if isinstance(error, BotError | EngineUserError):
        return str(error)
    if isinstance(error, EngineUnavailableError):
        retry = error.retry_after_s
        return "The engine is busy" + (f"; try again in {seconds_text(retry)}." if retry else ".")
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down; try again in {seconds_text(error.retry_after)}."
    if isinstance(error, app_commands.MissingPermissions | app_commands.NoPrivateMessage):
        return str(error)
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use this command here."
    return None


async def tell(interaction: discord.Interaction, text: str) -> None:
    """Answer ephemerally, whether or not the interaction was already answered."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not tell the user about an error: %s", exc)


async def report(interaction: discord.Interaction, error: BaseException, where: str) -> None:
    """Known errors: their message; anything else: a generic line and a logged traceback."""
    message = user_message(error)
    if message is None:
        log.error("%s failed", where, exc_info=error)
        message = GENERIC_FAILURE
    else:
        log.info("%s refused for user %s: %s", where, interaction.user.id, message)
    await tell(interaction, message)
