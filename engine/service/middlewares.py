"""Auth and error handling: domain errors become HTTP errors here, and only here."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from engine.errors import EngineError, ModelError

from . import keys
from .batching import QueueFullError
from .uploads import UploadTooLargeError

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json"})


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """`{"error": message}` with `status`."""
    return web.json_response({"error": message}, status=status, headers=headers)


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def error_response(exc: Exception) -> web.Response:
    """The HTTP answer for an exception raised while handling a request."""
    if isinstance(exc, web.HTTPException):
        headers = {k: v for k, v in exc.headers.items() if k.lower() != "content-type"}
        return json_error(exc.status, exc.reason, headers)
    if isinstance(exc, UploadTooLargeError):
        return json_error(413, str(exc), {"Connection": "close"})
    if isinstance(exc, QueueFullError):
        return json_error(503, str(exc), {"Retry-After": str(exc.retry_after_s)})
    if isinstance(exc, HttpProcessingError):
        return json_error(400, f"malformed request: {exc.message}")
    if isinstance(exc, ModelError):
        return json_error(404, str(exc))
    if isinstance(exc, EngineError | ValueError):  # InputError and the rest: bad requests
        return json_error(400, str(exc))
    log.exception("internal error", exc_info=exc)
    return json_error(500, "internal error")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn exceptions into JSON errors and count every answer."""
    try:
        response = await handler(request)
    except Exception as exc:
        response = error_response(exc)
    request.app[keys.METRICS].count_request(_route_name(request), response.status)
    return response


def _authorized(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require `Authorization: Bearer <ENGINE_TOKEN>` (when one is set) except on public paths."""
    token = request.app[keys.CONFIG].token
    if token and request.path not in PUBLIC_PATHS and not _authorized(request, token):
        raise web.HTTPUnauthorized(
            reason="missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    return await handler(request)
