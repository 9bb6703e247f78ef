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
from typing import Any

from aiohttp import WSMsgType, web

from .payloads import Json
from .people import People
from .rest import Rest, read_body
from .world import Call

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20.0


class FakeDiscord(People, Rest):
    """The World served over HTTP and a gateway websocket, on localhost."""

    def __init__(self, attachment_size_limit: int = 10 * 1024 * 1024) -> None:
        super().__init__(attachment_size_limit)
        self.calls: list[Call] = []
        self.fetched: list[str] = []  # the CDN and media proxy paths the bot downloaded
        self.sockets: list[web.WebSocketResponse] = []
        self.shards: dict[web.WebSocketResponse, tuple[int, int]] = {}  # socket -> (id, count)
        self.recommended_shards = 1  # what GET /gateway/bot answers
        self._sessions: dict[str, tuple[int, int]] = {}  # session id -> shard, for RESUME
        self.identified = asyncio.Event()
        self._changed = asyncio.Condition()
        self._sequence = 0
        self._runner: web.AppRunner | None = None

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
        """Wait until predicate() is truthy (re-checked after every request, CDN ones too);
        return it."""

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

    # ---- gateway -------------------------------------------------------------------
    def shard_of(self, guild_id: int, count: int) -> int:
        """Discord's rule: which of `count` shards receives a guild's events."""
        return (guild_id >> 22) % count

    async def dispatch(self, event: str, data: Json) -> None:
        """Send a DISPATCH to the connections of the shard that owns its guild (DMs: shard 0)."""
        self._sequence += 1
        frame = {"op": 0, "t": event, "s": self._sequence, "d": data}
        guild_id = data.get("guild_id") or (data.get("id") if event == "GUILD_CREATE" else None)
        for socket in list(self.sockets):
            shard_id, count = self.shards.get(socket, (0, 1))
            # DMs go to shard 0 (https://discord.com/developers/docs/events/gateway#sharding)
            if self.shard_of(int(guild_id or 0), count) != shard_id:
                continue
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
            self.shards.pop(socket, None)
        return socket

    async def _gateway_op(self, socket: web.WebSocketResponse, message: Json) -> None:
        op = message.get("op")
        if op == 1:
            await socket.send_json({"op": 11})
        elif op == 2:  # IDENTIFY, with [shard id, shard count] when sharded
            await self._ready(socket, tuple(message["d"].get("shard") or (0, 1)))
        elif op == 6:  # RESUME: answered as a fresh session of the same shard
            await self._ready(socket, self._sessions.get(message["d"].get("session_id"), (0, 1)))

    async def _ready(self, socket: web.WebSocketResponse, shard: tuple[int, int]) -> None:
        """READY with the shard's guilds, then a GUILD_CREATE for each, on this socket only."""
        shard_id, count = shard
        session_id = f"session-{self.ids()}"
        self._sessions[session_id] = shard
        self.sockets.append(socket)
        self.shards[socket] = shard
        guilds = [g for g in self.bot_guilds if self.shard_of(g, count) == shard_id]
        ready = {
            "v": 10,
            "user": self.bot_user.payload(),
            "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
            "shard": [shard_id, count],
            "session_id": session_id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        events = [("READY", ready)] + [("GUILD_CREATE", self.guild_payload(g)) for g in guilds]
        for event, data in events:
            self._sequence += 1
            await socket.send_json({"op": 0, "t": event, "s": self._sequence, "d": data})
        self.identified.set()

    # ---- CDN -----------------------------------------------------------------------
    async def _cdn(self, request: web.Request) -> web.Response:
        self.fetched.append(request.match_info["path"])
        await self._notify()
        data = self.cdn.get(request.match_info["path"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _api(self, request: web.Request) -> web.StreamResponse:
        body, files = await read_body(request)
        path = "/" + request.match_info["path"]
        call = Call(request.method, path, body, files)
        self.calls.append(call)
        try:
            status, response = await self.route(request.method, path, body, files, request)
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
