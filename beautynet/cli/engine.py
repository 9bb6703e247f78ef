"""`beautynet engine serve`: the engine as an HTTP service (for the bot's ENGINE_URLS)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable

from beautynet.components.engine import build_engine, service_config, service_threads
from engine.core import Engine
from engine.errors import ModelError
from engine.service import check_listen_address, create_app, serve
from engine.threads import use_threads
from infra.db.errors import SchemaError
from infra.db.session import open_database
from infra.settings import Settings

from .common import add_network_arguments


def register(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="engine_command", required=True, metavar="COMMAND")
    serve_parser = commands.add_parser("serve", help="serve translations over HTTP")
    serve_parser.add_argument("--host", help="address to listen on (default BEAUTYNET_ENGINE_HOST)")
    serve_parser.add_argument("--port", type=int, help="port (default BEAUTYNET_ENGINE_PORT)")
    serve_parser.add_argument(
        "--no-batching", action="store_true", help="one image per generator call"
    )
    add_network_arguments(serve_parser)
    serve_parser.set_defaults(func=serve_command, log_level=logging.INFO)


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


def load_default_model(engine: Engine) -> str:
    """Load the default model now (its runtime built, its batch size measured): what runs."""
    try:
        translator = engine.translator()
    except ModelError as exc:  # none installed yet: the service can still train one
        return f"none loaded ({exc})"
    return translator.describe()


def serve_engine(
    settings: Settings,
    host: str,
    port: int,
    device: str | None,
    listening: Callable[[str], None],
    batching: bool = True,
) -> int:
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
    try:
        batch_size = config.max_batch or 0
        engine = build_engine(settings, device, batch_size=batch_size, streams=threads.streams)
    except ValueError as exc:  # an unknown runtime
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"engine runtime: {load_default_model(engine)}", file=sys.stderr)
    app = create_app(engine, config)
    try:
        asyncio.run(serve(app, host, port, listening=listening))
    except OSError as exc:  # the port is taken, or the address is not this machine's
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        print("set BEAUTYNET_ENGINE_PORT (or --port) to another port", file=sys.stderr)
        return 2
    return 0
