"""`beautynet run`: the main job on embedded defaults.

With DISCORD_TOKEN set it runs the Discord bot (as `beautynet bot`). Without one it runs a
demo of the engine: everyday photos that the bundled models never saw (scikit-image's
samples) translated by every installed model, and says how to get a token.
"""

from __future__ import annotations

import argparse
import sys

from PIL import Image
from skimage import data as samples

from beautynet.components import build_engine
from beautynet.settings import Settings
from bot.main import TOKEN_HELP
from engine.errors import EngineError
from engine.imaging import encode_image

from .bot import bot_command
from .common import add_device_argument

SAMPLE_NAMES = ("astronaut", "coffee", "chelsea", "rocket")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run the main job on embedded defaults")
    add_device_argument(parser)
    parser.set_defaults(func=run_command)


def sample_images() -> list[tuple[str, Image.Image]]:
    """scikit-image's bundled sample photos, as RGB images."""
    return [
        (name, Image.fromarray(getattr(samples, name)()).convert("RGB")) for name in SAMPLE_NAMES
    ]


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """The bot when a token is set; else the demo, and how to get a token."""
    if settings.discord_token is not None:
        args.sync = None
        return bot_command(args, settings)
    status = demo(args, settings)
    print(f"\n{TOKEN_HELP}", file=sys.stderr)
    return status


def demo(args: argparse.Namespace, settings: Settings) -> int:
    """Translate the sample photos with every model; print where the results are."""
    engine = build_engine(settings, args.device)
    entries = engine.models()
    if not entries:
        print("no models installed; train one with `beautynet train`", file=sys.stderr)
        return 1
    out_dir = settings.data_dir / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = sample_images()
    for entry in entries:
        ref = f"{entry.name}@{entry.version}"
        try:
            results = engine.translator(ref).translate([image for _, image in photos])
        except EngineError as exc:
            print(f"{entry.spec.label}: {exc}", file=sys.stderr)
            continue
        for (name, _), result in zip(photos, results, strict=True):
            target = out_dir / f"{name}.{entry.name}-v{entry.version}.png"
            target.write_bytes(encode_image(result.compose(panels=3)))
            print(target)
    print(f"original | segmentation | interpretation for {len(photos)} photos in {out_dir}")
    return 0
