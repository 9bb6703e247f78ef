"""The engine over HTTP: an aiohttp service with dynamic batching, auth and metrics."""

from .app import create_app, serve
from .config import ServiceConfig, check_listen_address, is_loopback

__all__ = ["ServiceConfig", "check_listen_address", "create_app", "is_loopback", "serve"]
