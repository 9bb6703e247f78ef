"""Helpers shared by the CLI commands."""

from __future__ import annotations

import argparse

from beautynet.settings import Settings
from engine.core import Engine
from engine.device import resolve_device
from engine.imaging import ImageLimits
from engine.models import ModelRegistry


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        help="where to run the network (default: BEAUTYNET_DEVICE, else auto)",
    )


def build_engine(settings: Settings, device: str | None = None, batch_size: int = 0) -> Engine:
    """An in-process engine configured from settings (and a --device override)."""
    return Engine(
        ModelRegistry(settings.models_dir),
        resolve_device(device or settings.device),
        limits=ImageLimits(settings.max_image_bytes, settings.max_image_pixels),
        batch_size=batch_size,
    )
