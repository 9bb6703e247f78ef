"""A fake Discord: the REST routes, CDN and gateway that the bot uses, on localhost.

The unmodified discord.py client logs in to it once `discord.http.Route.BASE` and
`DiscordWebSocket.DEFAULT_GATEWAY` point here (`FakeDiscord.api_base`, `.gateway_url`).
Tests act as people through `post_message`, `slash`, `context_menu`, `click` and
`autocomplete`, and await what the bot did with `wait_for`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from . import payloads as p
from .payloads import Channel, Json, Member, Role, User

log = logging.getLogger(__name__)

GUILD_NAME = "Fake Guild"
DEFAULT_TIMEOUT = 20.0


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str
    json: Json | None
    files: list[tuple[str, bytes]] = field(default_factory=list)
    response: Any = None


@dataclass
class FakeInteraction:
    """An interaction a test user started, and what the bot answered."""

    id: int
    token: str
    payload: Json
    callbacks: list[Json] = field(default_factory=list)
    original_id: int | None = None

    @property
    def response_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None


class FakeDiscord:
    """One guild with channels, roles and members; a bot application; a gateway."""

    def __init__(self, attachment_size_limit: int = 10 * 1024 * 1024) -> None:
        self.ids = p.Snowflakes()
        self.attachment_size_limit = attachment_size_limit
        self.bot_user = User(self.ids(), "beautynet", bot=True)
        self.owner = User(self.ids(), "owner")
        self.application_id = self.ids()
        self.guild_id = self.ids()
        self.everyone = Role(self.guild_id, "@everyone", p.MEMBER_PERMISSIONS)
        self.bot_role = Role(self.ids(), "beautynet", p.MEMBER_PERMISSIONS)
        self.admin_role = Role(self.ids(), "admins", p.MEMBER_PERMISSIONS | p.MANAGE_GUILD)
        self.roles = [self.everyone, self.bot_role, self.admin_role]
        self.members: dict[int, Member] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Json] = {}
        self.cdn: dict[str, bytes] = {}
        self.calls: list[Call] = []
        self.commands: dict[str, list[Json]] = {}  # "global" or guild id -> commands
        self.interactions: dict[int, FakeInteraction] = {}
        self.sockets: list[web.WebSocketResponse] = []
        self.identified = asyncio.Event()
        self._changed = asyncio.Condition()
        self._sequence = 0
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.add_member(self.bot_user, [self.bot_role])
        self.add_member(self.owner, [self.admin_role])
        self.general = self.add_channel("general")

    # ---- world ---------------------------------------------------------------------
    def add_member(self, user: User, roles: list[Role] | None = None) -> User:
        self.members[user.id] = Member(user, roles or [])
        return user

    def add_user(self, name: str, admin: bool = False) -> User:
        """A new guild member (with Manage Server when admin)."""
        return self.add_member(User(self.ids(), name), [self.admin_role] if admin else [])

    def add_channel(self, name: str, bot_denied: int = 0) -> Channel:
        """A text channel; bot_denied removes permissions from the bot there."""
        overwrites = []
        if bot_denied:
            overwrites.append(
                {"id": str(self.bot_role.id), "type": 0, "allow": "0", "deny": str(bot_denied)}
            )
        channel = Channel(self.ids(), name, self.guild_id, overwrites)
        self.channels[channel.id] = channel
        return channel

    def permissions(self, user_id: int, channel: Channel | None = None) -> int:
        """A member's permissions (in a channel): roles, then role overwrites."""
        member = self.members[user_id]
        value = self.everyone.permissions
        for role in member.roles:
            value |= role.permissions
        if value & p.ADMINISTRATOR:
            return (1 << 53) - 1
        role_ids = {str(role.id) for role in member.roles} | {str(self.guild_id)}
        for overwrite in channel.overwrites if channel else []:
            if overwrite["id"] in role_ids:
                value = (value & ~int(overwrite["deny"])) | int(overwrite["allow"])
        return value

    def guild_payload(self) -> Json:
        channels = [c.payload(i) for i, c in enumerate(self.channels.values())]
        return {
            "id": str(self.guild_id),
            "name": GUILD_NAME,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner.id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [role.payload(i) for i, role in enumerate(self.roles)],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "members": [member.payload() for member in self.members.values()],
            "channels": channels,
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "joined_at": p.now_iso(),
        }

    # ---- lifetime ------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/cdn/{path:.*}", self._cdn)
        app.router.add_route("*", "/api/v10/{path:.*}", self._api)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        for socket in list(self.sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"{self.base_url.replace('http', 'ws', 1)}/gateway"

    # ---- waiting -------------------------------------------------------------------
    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Wait until predicate() is truthy (re-checked after every request); return it."""

        async def wait() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(wait(), timeout)

    async def wait_for_call(
        self, method: str, fragment: str, after: int = 0, timeout: float = DEFAULT_TIMEOUT
    ) -> Call:
        """The first call (from index `after`) with this method and a path containing fragment."""

        def find() -> Call | None:
            return next(
                (c for c in self.calls[after:] if c.method == method and fragment in c.path),
                None,
            )

        return await self.wait_for(find, timeout)

    def channel_messages(self, channel: Channel) -> list[Json]:
        return [m for m in self.messages.values() if m["channel_id"] == str(channel.id)]

    def files_of(self, message: Json) -> list[bytes]:
        """The bytes of a message's attachments, from the fake CDN."""
        return [self.cdn[a["url"].split("/cdn/", 1)[1]] for a in message["attachments"]]

    # ---- acting as people ----------------------------------------------------------
    def upload(
        self, channel: Channel, filename: str, data: bytes, content_type: str | None
    ) -> Json:
        """Store a file on the fake CDN; returns its attachment payload."""
        attachment_id = self.ids()
        path = f"attachments/{channel.id}/{attachment_id}/{filename}"
        self.cdn[path] = data
        url = f"{self.base_url}/cdn/{path}"
        return p.attachment(attachment_id, filename, len(data), url, content_type)

    async def post_message(
        self,
        author: User,
        content: str = "",
        files: list[tuple[str, bytes, str | None]] | None = None,
        channel: Channel | None = None,
        mention_bot: bool = False,
    ) -> Json:
        """A person posts a message; the bot receives MESSAGE_CREATE."""
        channel = channel or self.general
        attachments = [self.upload(channel, *f) for f in files or []]
        if mention_bot:
            content = f"<@{self.bot_user.id}> {content}".strip()
        data = p.message(
            self.ids(),
            channel,
            author,
            content,
            attachments,
            [self.bot_user] if mention_bot else [],
            member=self.members[author.id].payload(),
        )
        self.messages[int(data["id"])] = data
        await self.dispatch("MESSAGE_CREATE", data)
        return data

    def _interaction(
        self,
        user: User,
        kind: int,
        data: Json,
        channel: Channel | None,
        age_s: float = 0.0,
        **extra: Any,
    ) -> FakeInteraction:
        channel = channel or self.general
        interaction_id = self.ids(age_s)
        token = f"token-{interaction_id}"
        payload: Json = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild_id": str(self.guild_id),
            "channel_id": str(channel.id),
            "channel": channel.payload(),
            "member": self.members[user.id].payload(self.permissions(user.id, channel)),
            "token": token,
            "version": 1,
            "app_permissions": str(self.permissions(self.bot_user.id, channel)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": self.attachment_size_limit,
        }
        payload.update(extra)
        interaction = FakeInteraction(interaction_id, token, payload)
        self.interactions[interaction_id] = interaction
        return interaction

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
        """
        channel = channel or self.general
        resolved: Json = {"attachments": {}, "channels": self._resolved_channels(user)}
        options = list(options or [])
        for option_name, upload in (files or {}).items():
            attachment = self.upload(channel, *upload)
            resolved["attachments"][attachment["id"]] = attachment
            target = _innermost(options)
            target.append({"name": option_name, "type": 11, "value": attachment["id"]})
        data: Json = {
            "id": str(self._command_id(name)),
            "name": name,
            "type": 1,
            "options": options,
            "resolved": resolved,
            "guild_id": str(self.guild_id),
        }
        interaction = self._interaction(user, kind, data, channel, age_s)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def autocomplete(
        self, user: User, name: str, options: list[Json], channel: Channel | None = None
    ) -> FakeInteraction:
        """Discord asks the bot for choices (options hold one with "focused": True)."""
        return await self.slash(user, name, options, channel=channel, kind=4)

    async def context_menu(self, user: User, name: str, target: Json) -> FakeInteraction:
        """A person picks Apps > name on a message."""
        channel = self.channels[int(target["channel_id"])]
        data = {
            "id": str(self._command_id(name)),
            "name": name,
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: target}},
            "guild_id": str(self.guild_id),
        }
        interaction = self._interaction(user, 2, data, channel)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def click(
        self, user: User, message: Json, custom_id: str, values: list[str] | None = None
    ) -> FakeInteraction:
        """A person clicks a button (or picks values in a select) on a message."""
        channel = self.channels[int(message["channel_id"])]
        data: Json = {"custom_id": custom_id, "component_type": 3 if values is not None else 2}
        if values is not None:
            data["values"] = values
        interaction = self._interaction(user, 3, data, channel, message=message)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    def _resolved_channels(self, user: User) -> Json:
        """Every channel, as a channel option resolves it for this user."""
        return {
            str(c.id): {**c.payload(), "permissions": str(self.permissions(user.id, c))}
            for c in self.channels.values()
        }

    def _command_id(self, name: str) -> int:
        for commands in self.commands.values():
            for command in commands:
                if command["name"] == name:
                    return int(command["id"])
        return self.ids()

    # ---- gateway -------------------------------------------------------------------
    async def dispatch(self, event: str, data: Json) -> None:
        """Send a DISPATCH to every identified gateway connection."""
        self._sequence += 1
        frame = {"op": 0, "t": event, "s": self._sequence, "d": data}
        for socket in list(self.sockets):
            if not socket.closed:
                await socket.send_str(json.dumps(frame))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        try:
            async for frame in socket:
                if frame.type != WSMsgType.TEXT:
                    break
                await self._gateway_op(socket, json.loads(frame.data))
        finally:
            if socket in self.sockets:
                self.sockets.remove(socket)
        return socket

    async def _gateway_op(self, socket: web.WebSocketResponse, message: Json) -> None:
        op = message.get("op")
        if op == 1:
            await socket.send_json({"op": 11})
        elif op in (2, 6):  # IDENTIFY, or RESUME (answered as a fresh session)
            self.sockets.append(socket)
            self._sequence += 1
            ready = {
                "v": 10,
                "user": self.bot_user.payload(),
                "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                "session_id": f"session-{self.ids()}",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
            }
            await socket.send_json({"op": 0, "t": "READY", "s": self._sequence, "d": ready})
            await self.dispatch("GUILD_CREATE", self.guild_payload())
            self.identified.set()

    # ---- CDN -----------------------------------------------------------------------
    async def _cdn(self, request: web.Request) -> web.Response:
        data = self.cdn.get(request.match_info["path"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    # ---- REST ----------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.StreamResponse:
        body, files = await _read_body(request)
        path = "/" + request.match_info["path"]
        call = Call(request.method, path, body, files)
        self.calls.append(call)
        try:
            status, response = await self._route(request.method, path, body, files, request)
        except KeyError as exc:
            log.warning("fake discord: unknown object in %s %s: %s", request.method, path, exc)
            status, response = 404, {"code": 10003, "message": "Unknown"}
        call.response = response
        await self._notify()
        if status == 204:
            return web.Response(status=204)
        # discord.py parses JSON only when the content type is exactly application/json.
        return web.Response(
            body=json.dumps(response).encode(),
            status=status,
            headers={"Content-Type": "application/json"},
        )

    async def _route(
        self,
        method: str,
        path: str,
        body: Json | None,
        files: list[tuple[str, bytes]],
        request: web.Request,
    ) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        body = body or {}
        match (method, parts):
            case ("GET", ["users", "@me"]):
                return 200, self.bot_user.payload()
            case ("GET", ["oauth2", "applications", "@me"]) | ("GET", ["applications", "@me"]):
                return 200, self._application()
            case ("GET", ["gateway"]) | ("GET", ["gateway", "bot"]):
                return 200, {"url": self.gateway_url, "shards": 1}
            case ("GET", ["guilds", guild_id]) if int(guild_id) == self.guild_id:
                return 200, self.guild_payload()
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
            if m["channel_id"] == str(channel_id) and int(m["id"]) < before
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
        channel = self.channels[int(interaction.payload["channel_id"])]
        resource: Json = {"type": kind}
        if kind in (4, 5):  # CHANNEL_MESSAGE(_WITH_SOURCE), DEFERRED_CHANNEL_MESSAGE
            message = self._new_message(
                channel,
                body.get("data") or {},
                files,
                interaction_metadata={
                    "id": str(interaction_id),
                    "type": 2,
                    "user": interaction.payload["member"]["user"],
                    "authorizing_integration_owners": {"0": str(self.guild_id)},
                },
                application_id=str(self.application_id),
                webhook_id=str(self.application_id),
            )
            if kind == 5:
                message["flags"] = (body.get("data") or {}).get("flags", 0) | 128  # LOADING
            interaction.original_id = int(message["id"])
            resource["message"] = message
        elif kind == 7:  # UPDATE_MESSAGE on the component's message
            target = int(interaction.payload["message"]["id"])
            interaction.original_id = target
            resource["message"] = self._edit(target, body.get("data") or {}, files)
        elif kind == 6:
            interaction.original_id = int(interaction.payload["message"]["id"])
        return {
            "interaction": {
                "id": str(interaction_id),
                "type": interaction.payload["type"],
                "response_message_id": str(interaction.original_id or 0),
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool((body.get("data") or {}).get("flags", 0) & 64),
            },
            "resource": resource,
        }

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
        channel = self.channels[int(interaction.payload["channel_id"])]
        if interaction.original_id is None:  # a follow-up without a response acts as one
            interaction.callbacks.append({"type": 4, "data": body})
        message = self._new_message(channel, body, files, webhook_id=str(self.application_id))
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
            commands.append(command)
        self.commands[scope] = commands
        return commands


def _innermost(options: list[Json]) -> list[Json]:
    """The option list of the innermost subcommand (where leaf options go)."""
    while options and options[-1].get("type") in (1, 2) and "options" in options[-1]:
        options = options[-1]["options"]
    return options


async def _read_body(request: web.Request) -> tuple[Json | None, list[tuple[str, bytes]]]:
    """JSON body, or multipart payload_json and files[n] parts."""
    if request.content_type.startswith("multipart/"):
        payload: Json | None = None
        files: list[tuple[str, bytes]] = []
        reader = await request.multipart()
        async for part in reader:
            if not hasattr(part, "read"):
                continue
            content = await part.read()  # type: ignore[union-attr]
            if part.name == "payload_json":
                payload = json.loads(content)
            else:
                files.append((part.filename or "file", bytes(content)))  # type: ignore[union-attr]
        return payload, files
    if request.can_read_body:
        text = await request.text()
        return (json.loads(text) if text else None), []
    return None, []
