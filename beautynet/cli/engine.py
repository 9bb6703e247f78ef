"""`beautynet engine serve`: the engine as an HTTP service (for the bot's ENGINE_URLS)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from beautynet.components import build_engine, service_threads
from beautynet.db.schema import SchemaError
from beautynet.db.session import open_database
from beautynet.settings import Settings
from engine.service import ServiceConfig, check_listen_address, create_app, serve
from engine.threads import use_threads

from .common import add_device_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("engine", help="run the engine as an HTTP service")
    commands = parser.add_subparsers(dest="engine_command", required=True, metavar="COMMAND")
    serve_parser = commands.add_parser("serve", help="serve translations over HTTP")
    serve_parser.add_argument("--host", help="address to listen on (default BEAUTYNET_ENGINE_HOST)")
    serve_parser.add_argument("--port", type=int, help="port (default BEAUTYNET_ENGINE_PORT)")
    serve_parser.add_argument(
        "--no-batching", action="store_true", help="one image per generator call"
    )
    add_device_argument(serve_parser)
    serve_parser.set_defaults(func=serve_command)


def service_config(
    settings: Settings, batching: bool = True, codec_threads: int = 2
) -> ServiceConfig:
    """The service's limits, batching, decode/encode threads and token from settings."""
    token = settings.engine_token.get_secret_value() if settings.engine_token else None
    return ServiceConfig(
        token=token,
        max_upload_bytes=settings.max_image_bytes,
        queue_size=settings.engine_queue_size,
        max_batch=settings.engine_max_batch if batching else 1,
        batch_wait_s=settings.engine_batch_wait_ms / 1000 if batching else 0.0,
        clip_jobs=settings.engine_clip_jobs,
        live_sessions=settings.engine_live_sessions,
        codec_threads=codec_threads,
    )


async def _check_database(settings: Settings) -> None:
    """The service writes nothing to the database; with DATABASE_URL set, check its schema."""
    if settings.database_url:
        async with open_database(settings, check=True):
            pass


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until interrupted."""
    host = args.host or settings.engine_host
    port = args.port or settings.engine_port

    def listening(url: str) -> None:
        print(f"engine service and its page on {url} (Ctrl+C stops it)", file=sys.stderr)

    return serve_engine(settings, host, port, args.device, listening, not args.no_batching)


def serve_engine(
    settings: Settings, host: str, port: int, device: str | None,
    listening: Callable[[str], None], batching: bool = True,
) -> int:  # fmt: skip
    """Check the settings, build the engine and serve it (with the page) until interrupted."""
    threads = service_threads(settings)
    config = service_config(settings, batching, threads.codec)
    try:
        check_listen_address(host, config.token)
        asyncio.run(_check_database(settings))
    except (ValueError, SchemaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    use_threads(threads)
    print(f"engine service {threads.describe()}", file=sys.stderr)
    engine = build_engine(settings, device, batch_size=max(config.max_batch, 1))
    app = create_app(engine, config)
    try:
        asyncio.run(serve(app, host, port, listening=listening))
    except OSError as exc:  # the port is taken, or the address is not this machine's
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        print("set BEAUTYNET_ENGINE_PORT (or --port) to another port", file=sys.stderr)
        return 2
    return 0
