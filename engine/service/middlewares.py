"""Auth, error answers and security headers: every exception that leaves a view becomes a
JSON error here, and every response gets the page's security headers.

Domain errors get their usual status here (an unknown model is a 404); a view raises an HTTP
error itself where the route gives the same error another meaning (`views._admin`: a model
catalogue refusal, such as deleting the served version, is a 409).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from engine.errors import EngineError, ModelError, NotConfiguredError

from . import keys
from .batching import QueueFullError
from .uploads import SlowBodyError, UploadTooLargeError

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/", "/healthz", "/openapi.json"})
PUBLIC_PREFIX = "/static/"  # the page's scripts and styles: it asks for the token itself
TOKEN_PROTOCOL = "bearer."  # WebSocket subprotocol carrying the token, base64url-encoded
# The page loads nothing from elsewhere (no CDN): everything it needs is in its static folder.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": PAGE_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """`{"error": message}` with `status`."""
    return web.json_response({"error": message}, status=status, headers=headers)


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def error_status(exc: Exception) -> tuple[int, str]:
    """The HTTP status and the message safe to show for an exception (unexpected: logged)."""
    if isinstance(exc, web.HTTPException):
        return exc.status, exc.reason
    if isinstance(exc, UploadTooLargeError):
        return 413, str(exc)
    if isinstance(exc, SlowBodyError):
        return 408, str(exc)
    if isinstance(exc, QueueFullError):
        return 503, str(exc)
    if isinstance(exc, HttpProcessingError):
        return 400, f"malformed request: {exc.message}"
    if isinstance(exc, ModelError | NotConfiguredError):
        return 404, str(exc)
    if isinstance(exc, EngineError | ValueError):  # InputError and the rest: bad requests
        return 400, str(exc)
    log.exception("internal error", exc_info=exc)
    return 500, "internal error"


def error_response(exc: Exception) -> web.Response:
    """The HTTP answer for an exception raised while handling a request."""
    status, message = error_status(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, web.HTTPException):
        headers = {k: v for k, v in exc.headers.items() if k.lower() != "content-type"}
    elif isinstance(exc, UploadTooLargeError | SlowBodyError):
        headers = {"Connection": "close"}
    elif isinstance(exc, QueueFullError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return json_error(status, message, headers or None)


def _client_went_away(request: web.Request, exc: Exception) -> bool:
    """The client closed the connection (mid-upload, say): its business, not an error."""
    transport = request.transport
    return isinstance(exc, ConnectionError) and (transport is None or transport.is_closing())


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn exceptions into JSON errors and count every answer (and every client gone)."""
    metrics, route = request.app[keys.METRICS], _route_name(request)
    try:
        response = await handler(request)
    except Exception as exc:
        if _client_went_away(request, exc):
            log.info("%s %s: the client went away (%s)", request.method, route, exc)
            metrics.count("beautynet_client_disconnects_total", route=route)
            return json_error(499, "the client went away")  # nobody reads it
        if isinstance(exc, SlowBodyError):
            metrics.count("beautynet_stalled_connections_total", phase="body")
        response = error_response(exc)
    metrics.count_request(route, response.status)
    return response


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The page's security headers on every response: the page, its static files, the API."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def _from_protocols(request: web.Request) -> str | None:
    """Browsers cannot set headers on a WebSocket: the page offers `bearer.<base64url>`."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return None
    for offered in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        offered = offered.strip()
        if offered.startswith(TOKEN_PROTOCOL):
            encoded = offered.removeprefix(TOKEN_PROTOCOL)
            try:
                return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
    return None


def _authorized(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        given = _from_protocols(request) or ""
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIX)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require `Authorization: Bearer <ENGINE_TOKEN>` (when one is set) except on public paths."""
    token = request.app[keys.CONFIG].token
    if token and not _public(request.path) and not _authorized(request, token):
        raise web.HTTPUnauthorized(
            reason="missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    return await handler(request)
