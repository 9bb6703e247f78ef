"""The fake Discord's REST API: the routes discord.py calls for the bot."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import BodyPartReader, web

from . import payloads as p
from .installs import EPHEMERAL, MISSING_ACCESS, Installs
from .payloads import Channel, Json
from .world import FakeInteraction

log = logging.getLogger(__name__)


class Rest(Installs):
    """REST routes over the World; `route` answers (status, JSON)."""

    recommended_shards: int  # the server's (FakeDiscord) own, as is its gateway's URL

    @property
    def gateway_url(self) -> str:
        raise NotImplementedError

    async def route(
        self,
        method: str,
        path: str,
        body: Json | None,
        files: list[tuple[str, bytes]],
        request: web.Request,
    ) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        body = body or {}
        if parts[0] == "channels" and not self.bot_sees(self.channels[int(parts[1])]):
            return 403, MISSING_ACCESS  # a channel the bot is not in
        match (method, parts):
            case ("GET", ["users", "@me"]):
                return 200, self.bot_user.payload()
            case ("GET", ["oauth2", "applications", "@me"]) | ("GET", ["applications", "@me"]):
                return 200, self._application()
            case ("GET", ["gateway"]):
                return 200, {"url": self.gateway_url}
            case ("GET", ["gateway", "bot"]):
                return 200, self._bot_gateway()
            case ("GET", ["guilds", guild_id]) if int(guild_id) in self.bot_guilds:
                return 200, self.guild_payload(int(guild_id))
            case ("GET", ["guilds", _, "channels"]):
                return 200, [c.payload(i) for i, c in enumerate(self.channels.values())]
            case ("GET", ["guilds", _, "members", user_id]):
                return 200, self.members[int(user_id)].payload()
            case ("GET", ["channels", channel_id]):
                return 200, self.channels[int(channel_id)].payload()
            case ("GET", ["channels", channel_id, "messages"]):
                return 200, self._history(int(channel_id), request)
            case ("GET", ["channels", _, "messages", message_id]):
                return 200, self.messages[int(message_id)]
            case ("POST", ["channels", channel_id, "messages"]):
                return self._post(int(channel_id), body, files)
            case ("PATCH", ["channels", _, "messages", message_id]):
                return 200, self._edit(int(message_id), body, files)
            case ("DELETE", ["channels", _, "messages", message_id]):
                self.messages.pop(int(message_id))
                return 204, None
            case ("POST", ["channels", _, "typing"]):
                return 204, None
            case ("POST", ["interactions", interaction_id, _, "callback"]):
                return 200, self._callback(int(interaction_id), body, files)
            case ("GET" | "PATCH" | "DELETE", ["webhooks", _, token, "messages", which]):
                return self._webhook_message(method, token, which, body, files)
            case ("POST", ["webhooks", _, token]):
                return 200, self._followup(token, body, files)
            case ("PUT", ["applications", _, "commands"]):
                return 200, self._overwrite_commands("global", body)
            case ("PUT", ["applications", _, "guilds", guild_id, "commands"]):
                return 200, self._overwrite_commands(guild_id, body)
            case ("GET", ["applications", _, "commands"]):
                return 200, self.commands.get("global", [])
            case ("GET", ["applications", _, "guilds", guild_id, "commands"]):
                return 200, self.commands.get(guild_id, [])
        log.warning("fake discord: no route for %s %s", method, path)
        return 404, {"code": 0, "message": f"fake discord has no route for {method} {path}"}

    def _bot_gateway(self) -> Json:
        """What AutoShardedClient asks first: the URL, shards recommended, identify budget."""
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return {
            "url": self.gateway_url,
            "shards": self.recommended_shards,
            "session_start_limit": limit,
        }

    def _application(self) -> Json:
        return {
            "id": str(self.application_id),
            "name": "beautynet",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner.payload(),
            "verify_key": "0" * 64,
            "flags": 0,
        }

    def _history(self, channel_id: int, request: web.Request) -> list[Json]:
        limit = int(request.query.get("limit", 50))
        before = int(request.query.get("before", 1 << 63))
        found = [
            m
            for m in self.messages.values()
            if m["channel_id"] == str(channel_id)
            and int(m["id"]) < before
            and not m["flags"] & EPHEMERAL  # only their user sees ephemeral messages
        ]
        return sorted(found, key=lambda m: int(m["id"]), reverse=True)[:limit]

    def _new_message(
        self, channel: Channel, body: Json, files: list[tuple[str, bytes]], **extra: Any
    ) -> Json:
        attachments = [self.upload(channel, name, data, None) for name, data in files]
        data = p.message(
            self.ids(), channel, self.bot_user, body.get("content") or "", attachments, **extra
        )
        data["embeds"] = body.get("embeds") or []
        data["components"] = body.get("components") or []
        data["flags"] = body.get("flags") or 0
        if "message_reference" in body:
            data["message_reference"] = body["message_reference"]
        self.messages[int(data["id"])] = data
        return data

    def _post(
        self, channel_id: int, body: Json, files: list[tuple[str, bytes]]
    ) -> tuple[int, Json]:
        channel = self.channels[channel_id]
        allowed = self.permissions(self.bot_user.id, channel)
        needed = p.SEND_MESSAGES | (p.ATTACH_FILES if files else 0)
        if allowed & needed != needed:
            return 403, {"code": 50013, "message": "Missing Permissions"}
        return 200, self._new_message(channel, body, files)

    def _edit(self, message_id: int, body: Json, files: list[tuple[str, bytes]]) -> Json:
        data = self.messages[message_id]
        channel = self.channels[int(data["channel_id"])]
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                data[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
        if "attachments" in body or files:
            keep = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in data["attachments"] if a["id"] in keep]
            data["attachments"] = kept + [
                self.upload(channel, name, content, None) for name, content in files
            ]
        data["edited_timestamp"] = p.now_iso()
        return data

    def _by_token(self, token: str) -> FakeInteraction:
        return next(i for i in self.interactions.values() if i.token == token)

    def _callback(self, interaction_id: int, body: Json, files: list[tuple[str, bytes]]) -> Json:
        interaction = self.interactions[interaction_id]
        interaction.callbacks.append(body)
        kind = body["type"]
        data = self._as_allowed(interaction, body.get("data") or {})
        resource: Json = {"type": kind}
        if kind in (4, 5):  # CHANNEL_MESSAGE(_WITH_SOURCE), DEFERRED_CHANNEL_MESSAGE
            message = self._answer(interaction, data, files)
            if kind == 5:
                message["flags"] = data.get("flags", 0) | 128  # LOADING
            interaction.original_id = int(message["id"])
            resource["message"] = message
        elif kind == 7:  # UPDATE_MESSAGE on the component's message
            target = int(interaction.payload["message"]["id"])
            interaction.original_id = target
            resource["message"] = self._edit(target, data, files)
        elif kind == 6:
            interaction.original_id = int(interaction.payload["message"]["id"])
        return {
            "interaction": {
                "id": str(interaction_id),
                "type": interaction.payload["type"],
                "response_message_id": str(interaction.original_id or 0),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL),
            },
            "resource": resource,
        }

    def _as_allowed(self, interaction: FakeInteraction, data: Json) -> Json:
        """The answer as Discord shows it: ephemeral where a public one is not allowed."""
        if not self.forced_ephemeral(interaction.payload):
            return data
        return {**data, "flags": (data.get("flags") or 0) | EPHEMERAL}

    def _answer(
        self, interaction: FakeInteraction, data: Json, files: list[tuple[str, bytes]]
    ) -> Json:
        """A message answering the interaction: posted in its channel through the
        interaction, wherever that is (the bot need not be in the channel)."""
        payload = interaction.payload
        channel = self.channels[int(payload["channel_id"])]
        return self._new_message(
            channel,
            data,
            files,
            interaction_metadata={
                "id": str(interaction.id),
                "type": payload["type"],
                "user": self.invoker(payload),
                "authorizing_integration_owners": payload["authorizing_integration_owners"],
            },
            application_id=str(self.application_id),
            webhook_id=str(self.application_id),
        )

    def _webhook_message(
        self, method: str, token: str, which: str, body: Json, files: list[tuple[str, bytes]]
    ) -> tuple[int, Any]:
        interaction = self._by_token(token)
        message_id = interaction.original_id if which == "@original" else int(which)
        if message_id is None:
            return 404, {"code": 10008, "message": "Unknown Message"}
        if method == "GET":
            return 200, self.messages[message_id]
        if method == "DELETE":
            self.messages.pop(message_id)
            return 204, None
        message = self._edit(message_id, body, files)
        message["flags"] = message.get("flags", 0) & ~128
        return 200, message

    def _followup(self, token: str, body: Json, files: list[tuple[str, bytes]]) -> Json:
        interaction = self._by_token(token)
        body = self._as_allowed(interaction, body)
        if interaction.original_id is None:  # a follow-up without a response acts as one
            interaction.callbacks.append({"type": 4, "data": body})
        message = self._answer(interaction, body, files)
        if interaction.original_id is None:
            interaction.original_id = int(message["id"])
        return message

    def _overwrite_commands(self, scope: str, body: Any) -> list[Json]:
        commands = []
        for command in body or []:
            command = dict(command)
            command.setdefault("id", str(self.ids()))
            command["application_id"] = str(self.application_id)
            command["version"] = str(self.ids())
            command.setdefault("default_member_permissions", None)
            command.setdefault("description", "")
            command.setdefault("dm_permission", True)
            command.setdefault("nsfw", False)
            if scope != "global":
                command["guild_id"] = scope
            else:  # Discord's defaults for a global command (null means the default too)
                command["integration_types"] = command.get("integration_types") or [0]
                command["contexts"] = command.get("contexts") or [0, 1, 2]
            commands.append(command)
        self.commands[scope] = commands
        return commands


async def read_body(request: web.Request) -> tuple[Json | None, list[tuple[str, bytes]]]:
    """JSON body, or multipart payload_json and files[n] parts."""
    if request.content_type.startswith("multipart/"):
        payload: Json | None = None
        files: list[tuple[str, bytes]] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            content = await part.read()
            if part.name == "payload_json":
                payload = json.loads(content)
            else:
                files.append((part.filename or "file", bytes(content)))
        return payload, files
    if request.can_read_body:
        text = await request.text()
        return (json.loads(text) if text else None), []
    return None, []
