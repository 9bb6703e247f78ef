"""The access log (one line per request) and the count of requests in flight.

A line says the method, the path (never the query), the status, how long the answer took and
the request id; never a header's value, so never the token, and never a body.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger("engine.service.access")

REQUEST_ID_HEADER = "X-Request-Id"
MAX_LOGGED_ID = 128


class InFlight:
    """How many requests are being answered now (a graceful stop waits for them)."""

    def __init__(self) -> None:
        self.count = 0


IN_FLIGHT = web.AppKey("in_flight", InFlight)  # here, not in keys: keys imports this module


def _request_id(request: web.Request, response: web.StreamResponse | None) -> str:
    given = response.headers.get(REQUEST_ID_HEADER) if response is not None else None
    return (given or request.headers.get(REQUEST_ID_HEADER) or "-")[:MAX_LOGGED_ID]


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count the request while it runs; log its line when it ends (also when it fails)."""
    in_flight = request.app[IN_FLIGHT]
    in_flight.count += 1
    started = time.monotonic()
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        return response
    finally:
        in_flight.count -= 1
        status = response.status if response is not None else 499  # cancelled: the client left
        log.info(
            "%s %s %d %.1f ms request %s",
            request.method,
            request.path,
            status,
            (time.monotonic() - started) * 1000,
            _request_id(request, response),
        )
