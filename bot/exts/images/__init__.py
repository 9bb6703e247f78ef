"""The image features share the buttons under their results: another model, fewer/more
clusters, delete. They survive restarts.

Each is a `DynamicItem` whose custom id carries the request id; the request row (in the
database) holds the source attachment and the parameters, so nothing lives in memory.
The extension `bot.exts.images.buttons` registers them, and sets `Beautifier.views` to
`buttons_for(bot)`: results get them whichever process ran the job. (Here, in the package,
rather than in an extension module: discord.py runs an extension's module afresh when it
loads it.)
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import replace
from typing import Any

import discord
from discord import ui

from bot.bot import BeautyBot, bot_of
from bot.catalog import CLUSTERS
from bot.engine_client import Translated, TranslateParams
from bot.errors import BotError, report
from bot.jobs import ViewFactory
from bot.media import Media
from bot.places import acknowledge, origin_of
from infra.db.models import Request, RequestSource
from infra.db.queries import find_request

log = logging.getLogger(__name__)

MIN_K, MAX_K, K_STEP = 2, 32, 2


async def load_request(bot: BeautyBot, request_id: int) -> Request:
    async with bot.db.sessions() as session:
        row = await find_request(session, request_id)
    if row is None or "source" not in (row.parameters or {}):
        raise BotError("That result is too old to change; run /beautify again.")
    return row


def model_ref(row: Request) -> str | None:
    """The model that made the result ("name@version"), else the one asked for."""
    if row.model_version is not None:
        return f"{row.model}@{row.model_version}"
    return row.model if row.model != "default" else None


async def rerun(interaction: discord.Interaction, request_id: int, **changes: Any) -> None:
    """Run the request's source again with some parameters changed, as a new reply."""
    bot = bot_of(interaction)
    row = await load_request(bot, request_id)
    media = Media.from_dict(row.parameters["source"])
    params = TranslateParams(
        model=model_ref(row),
        k=row.parameters.get("k"),
        panels=row.parameters.get("panels", 2),
    )
    params = replace(params, **changes)
    admission = await bot.beautifier.precheck(origin_of(interaction, RequestSource.SLASH), media)
    await bot.beautifier.beautify(admission, params, await acknowledge(interaction))


class DeleteButton(ui.DynamicItem[ui.Button], template=r"bn:del:(?P<request>\d+)"):
    """Deletes the result; only its requester or an admin may."""

    def __init__(self, request_id: int) -> None:
        super().__init__(
            ui.Button(
                label="Delete", style=discord.ButtonStyle.danger, custom_id=f"bn:del:{request_id}"
            )
        )
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> DeleteButton:
        return cls(int(match["request"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            bot = bot_of(interaction)
            row = await load_request(bot, self.request_id)
            if row.user_id != interaction.user.id and not bot.is_admin(interaction):
                raise BotError("Only the person who asked (or an admin) can delete this.")
            # Through the interaction, not the channel: the bot may not be in the channel
            # (a person's install), and an ephemeral result has no channel message to delete.
            await interaction.response.defer()
            await interaction.delete_original_response()
            await interaction.followup.send("Deleted.", ephemeral=True)
        except Exception as exc:
            await report(interaction, exc, "delete button")


class ClustersButton(ui.DynamicItem[ui.Button], template=r"bn:k:(?P<request>\d+):(?P<k>\d+)"):
    """Runs the same input again with another number of clusters."""

    def __init__(self, request_id: int, k: int, label: str) -> None:
        super().__init__(
            ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"bn:k:{request_id}:{k}"
            )
        )
        self.request_id, self.k = request_id, k

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> ClustersButton:
        label = item.label if isinstance(item, ui.Button) else None
        return cls(int(match["request"]), int(match["k"]), label or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await rerun(interaction, self.request_id, k=self.k)
        except Exception as exc:
            await report(interaction, exc, "clusters button")


class ModelSelect(ui.DynamicItem[ui.Select], template=r"bn:model:(?P<request>\d+)"):
    """Runs the same input again through another model."""

    def __init__(self, request_id: int, options: list[discord.SelectOption] | None = None) -> None:
        super().__init__(
            ui.Select(
                placeholder="Another model…",
                custom_id=f"bn:model:{request_id}",
                options=options or [discord.SelectOption(label="-")],
            )
        )
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: ui.Item[Any], match: re.Match[str]
    ) -> ModelSelect:
        options = item.options if isinstance(item, ui.Select) else None
        return cls(int(match["request"]), options)

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            (choice,) = self.item.values
            await rerun(interaction, self.request_id, model=choice, k=None)
        except Exception as exc:
            await report(interaction, exc, "model select")


async def result_view(
    bot: BeautyBot, request_id: int, params: TranslateParams, result: Translated
) -> ui.View:
    """The buttons under one result."""
    view = ui.View(timeout=None)
    served = await bot.catalog.served()
    others = [m for m in served if m.id != result.model][:25]
    if others:
        options = [
            discord.SelectOption(label=m.name, value=m.name, description=m.segmenter)
            for m in others
        ]
        view.add_item(ModelSelect(request_id, options))
    current = next((m for m in served if m.id == result.model), None)
    found = CLUSTERS.fullmatch(current.segmenter) if current else None
    if found and result.kind == "image":
        k = params.k or int(found[1])
        if k - K_STEP >= MIN_K:
            view.add_item(ClustersButton(request_id, k - K_STEP, f"Fewer clusters ({k - K_STEP})"))
        if k + K_STEP <= MAX_K:
            view.add_item(ClustersButton(request_id, k + K_STEP, f"More clusters ({k + K_STEP})"))
    view.add_item(DeleteButton(request_id))
    return view


def buttons_for(bot: BeautyBot) -> ViewFactory:
    """What `Beautifier.beautify` calls to put the buttons under a result."""
    return functools.partial(result_view, bot)


DYNAMIC_ITEMS = (DeleteButton, ClustersButton, ModelSelect)
