"""`beautynet run`: the main job on embedded defaults.

With DISCORD_TOKEN set it runs the Discord bot (as `beautynet bot`). Without one it serves
the engine and its web page on 127.0.0.1, so that photos, clips and a live camera can be
tried in a browser at once, and says how to get a token.
"""

from __future__ import annotations

import argparse
import logging
import sys

from PIL import Image

from beautynet.components.bot import TOKEN_HELP
from infra.settings import Settings

from .bot import bot_command
from .common import add_network_arguments
from .engine import serve_engine

SAMPLE_NAMES = ("astronaut", "coffee", "chelsea", "rocket")
LOOPBACK = "127.0.0.1"  # the page needs no token here, and the camera a secure context


def register(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    parser.set_defaults(func=run_command, log_level=logging.INFO)


def sample_images() -> list[tuple[str, Image.Image]]:
    """scikit-image's bundled sample photos (everyday scenes no model saw), as RGB images."""
    from skimage import data as samples  # slow to import; only the page's tests and bench use it

    return [
        (name, Image.fromarray(getattr(samples, name)()).convert("RGB")) for name in SAMPLE_NAMES
    ]


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """The bot when a token is set; else the engine's web page, and how to get a token."""
    if settings.discord_token is not None:
        args.sync = None
        return bot_command(args, settings)

    def listening(url: str) -> None:
        print(f"{TOKEN_HELP}\n", file=sys.stderr)
        print(f"beautynet is ready: open {url} in a browser (Ctrl+C stops it)", file=sys.stderr)

    return serve_engine(settings, LOOPBACK, settings.engine_port, args.device, listening)
