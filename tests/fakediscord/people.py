"""Tests act as people: post messages, run commands, click buttons."""

from __future__ import annotations

import logging
from typing import Any, Literal

from . import payloads as p
from .installs import Installs
from .payloads import Channel, Json, User
from .world import FakeInteraction

log = logging.getLogger(__name__)


class People(Installs):
    """What a person can do; each ends in a gateway dispatch to the bot (where it sees it)."""

    async def post_message(
        self,
        author: User,
        content: str = "",
        files: list[tuple[str, bytes, str | None]] | None = None,
        channel: Channel | None = None,
        mention_bot: bool = False,
        embeds: list[Json] | None = None,
        stickers: list[Json] | None = None,
        reply_to: Json | None = None,
        referenced: Literal["included", "missing", "deleted"] = "included",
        dispatch: bool = True,
    ) -> Json:
        """A person posts a message; the bot receives MESSAGE_CREATE (unless not `dispatch`,
        or the bot is not in the channel).

        `embeds` are link previews (`embed_image`), `stickers` sticker items (`sticker`);
        `reply_to` makes it a reply, whose gateway event carries the replied-to message
        (`referenced`: included, missing, as when Discord leaves it out, or deleted: null).
        """
        channel = channel or self.general
        attachments = [self.upload(channel, *f) for f in files or []]
        if mention_bot:
            content = f"<@{self.bot_user.id}> {content}".strip()
        extra: Json = {"embeds": embeds or [], "sticker_items": stickers or []}
        if reply_to is not None:
            extra["type"] = 19  # REPLY
            extra["message_reference"] = {
                "type": 0,
                "message_id": reply_to["id"],
                "channel_id": reply_to["channel_id"],
                "guild_id": reply_to.get("guild_id"),
            }
            if referenced == "included":
                extra["referenced_message"] = reply_to
            elif referenced == "deleted":
                extra["referenced_message"] = None
        data = p.message(
            self.ids(),
            channel,
            author,
            content,
            attachments,
            [self.bot_user] if mention_bot else [],
            **extra,
        )
        if channel.guild_id is not None:
            data["member"] = self.members[author.id].payload()
        self.messages[int(data["id"])] = data
        if dispatch and self.bot_sees(channel):
            await self.dispatch("MESSAGE_CREATE", data)
        return data

    async def add_preview(self, message: Json, embeds: list[Json]) -> Json:
        """Discord adds link previews to a posted message later: MESSAGE_UPDATE with them."""
        updated = {**message, "embeds": embeds}
        self.messages[int(message["id"])] = updated
        await self.dispatch("MESSAGE_UPDATE", updated)
        return updated

    def embed_image(
        self, data: bytes, name: str = "picture.png", proxied: str | None = None
    ) -> Json:
        """A link preview of an image, as Discord sends it: `url` the original anywhere,
        `proxy_url` the copy on its media proxy (stored here), unless `proxied` says where."""
        path = f"external/{self.ids()}/{name}"
        self.cdn[path] = data
        proxy_url = proxied or f"{self.base_url}/cdn/{path}"
        original = f"https://example.com/{name}"
        return {
            "type": "image",
            "url": original,
            "thumbnail": {"url": original, "proxy_url": proxy_url, "width": 32, "height": 32},
        }

    def sticker(self, name: str, format_type: int, data: bytes = b"") -> Json:
        """A sticker item (1 PNG, 2 APNG, 3 Lottie, 4 GIF), its file on the fake CDN."""
        sticker_id = self.ids()
        extension = {1: "png", 2: "png", 3: "json", 4: "gif"}[format_type]
        self.cdn[f"stickers/{sticker_id}.{extension}"] = data
        return {"id": str(sticker_id), "name": name, "format_type": format_type}

    def _interaction(
        self,
        user: User,
        kind: int,
        data: Json,
        channel: Channel,
        owners: Json,
        age_s: float = 0.0,
        **extra: Any,
    ) -> FakeInteraction:
        interaction_id = self.ids(age_s)
        token = f"token-{interaction_id}"
        payload: Json = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": owners,
            "attachment_size_limit": self.attachment_size_limit,
            **self.place_fields(user, channel),
        }
        payload.update(extra)
        interaction = FakeInteraction(interaction_id, token, payload)
        self.interactions[interaction_id] = interaction
        return interaction

    def _command_data(self, name: str, channel: Channel, **fields: Any) -> Json:
        """A command's interaction data; `guild_id` only for a command synced to a guild."""
        command = self.synced_command(name, channel) or {}
        data: Json = {"id": command.get("id") or str(self.ids()), "name": name, **fields}
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        return data

    async def slash(
        self,
        user: User,
        name: str,
        options: list[Json] | None = None,
        files: dict[str, tuple[str, bytes, str | None]] | None = None,
        channel: Channel | None = None,
        kind: int = 2,
        age_s: float = 0.0,
    ) -> FakeInteraction:
        """A person runs /name (options: nested subcommand options); files by option name.

        age_s makes the interaction that old (its token expires 15 minutes after creation).
        Raises NotOfferedError where Discord would not offer the command to this person.
        """
        channel = channel or self.general
        owners = self.owners(user, name, channel)
        resolved: Json = {"attachments": {}, "channels": self._resolved_channels(user, channel)}
        options = list(options or [])
        for option_name, upload in (files or {}).items():
            attachment = self.upload(channel, *upload)
            resolved["attachments"][attachment["id"]] = attachment
            target = _innermost(options)
            target.append({"name": option_name, "type": 11, "value": attachment["id"]})
        data = self._command_data(name, channel, type=1, options=options, resolved=resolved)
        interaction = self._interaction(user, kind, data, channel, owners, age_s)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def autocomplete(
        self, user: User, name: str, options: list[Json], channel: Channel | None = None
    ) -> FakeInteraction:
        """Discord asks the bot for choices (options hold one with "focused": True)."""
        return await self.slash(user, name, options, channel=channel, kind=4)

    async def context_menu(self, user: User, name: str, target: Json) -> FakeInteraction:
        """A person picks Apps > name on a message (NotOfferedError where Discord would not
        offer it to this person)."""
        channel = self.channels[int(target["channel_id"])]
        owners = self.owners(user, name, channel)
        resolved = {"messages": {target["id"]: target}}
        data = self._command_data(name, channel, type=3, target_id=target["id"], resolved=resolved)
        interaction = self._interaction(user, 2, data, channel, owners)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def click(
        self, user: User, message: Json, custom_id: str, values: list[str] | None = None
    ) -> FakeInteraction:
        """A person clicks a button (or picks values in a select) on a message; the installs
        that authorize it are those of the interaction that posted the message."""
        channel = self.channels[int(message["channel_id"])]
        metadata = message.get("interaction_metadata") or {}
        owners = metadata.get("authorizing_integration_owners") or {"0": str(channel.guild_id)}
        data: Json = {"custom_id": custom_id, "component_type": 3 if values is not None else 2}
        if values is not None:
            data["values"] = values
        interaction = self._interaction(user, 3, data, channel, owners, message=message)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    def _resolved_channels(self, user: User, where: Channel) -> Json:
        """The channels of the interaction's guild, as a channel option resolves them."""
        return {
            str(c.id): {**c.payload(), "permissions": str(self.permissions(user.id, c))}
            for c in self.channels.values()
            if where.guild_id is not None and c.guild_id == where.guild_id
        }

    async def dispatch(self, event: str, data: Json) -> None:
        raise NotImplementedError  # the server sends it


def _innermost(options: list[Json]) -> list[Json]:
    """The option list of the innermost subcommand (where leaf options go)."""
    while options and options[-1].get("type") in (1, 2) and "options" in options[-1]:
        options = options[-1]["options"]
    return options
