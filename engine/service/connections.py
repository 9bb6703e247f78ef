"""Connections that never finish their request head are closed, and counted.

aiohttp waits for a request head as long as a connection stays open; its keep-alive timer
closes a connection that waits for a request after an answer (or, in recent versions, after
it opened) longer than `keepalive_timeout`, but says nothing of it. `HeaderDeadline` sits
between the socket and aiohttp's own protocol: a connection whose first request head (up to
the blank line that ends it) has not arrived `header_timeout_s` after it opened is closed
here and counted (`beautynet_stalled_connections_total{phase="headers"}`). Later requests on
a kept-alive connection are bounded by `keepalive_timeout`, which `serve` sets to the same
time. A body that stops arriving is the readers' business (`uploads`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

HEAD_ENDS = (b"\r\n\r\n", b"\n\n")


class HeaderDeadline(asyncio.Protocol):
    """aiohttp's protocol for one connection, closed if its first head comes too late."""

    def __init__(
        self, inner: asyncio.Protocol, timeout_s: float, stalled: Callable[[], None]
    ) -> None:
        self.inner, self.timeout_s, self.stalled = inner, timeout_s, stalled
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.tail = b""  # the last bytes seen, for a head end split between two reads

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.timer = asyncio.get_running_loop().call_later(self.timeout_s, self._late)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.timer is not None:
            seen = self.tail + data
            if any(end in seen for end in HEAD_ENDS):
                self._disarm()
            else:
                self.tail = seen[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _late(self) -> None:
        self.timer = None
        if self.transport is not None and not self.transport.is_closing():
            log.debug("closed a connection whose request head took over %g s", self.timeout_s)
            self.stalled()
            self.transport.close()
