"""The engine's parts as the settings describe them; shared by the CLI, the bot and the service."""

from __future__ import annotations

from beautynet.settings import Settings
from engine.core import Engine
from engine.device import resolve_device
from engine.imaging import ImageLimits
from engine.models import ModelRegistry
from engine.training import TrainDefaults
from engine.video import ClipLimits


def build_engine(settings: Settings, device: str | None = None, batch_size: int = 0) -> Engine:
    """An in-process engine configured from settings (and a device override)."""
    return Engine(
        ModelRegistry(settings.models_dir),
        resolve_device(device or settings.device),
        limits=ImageLimits(settings.max_image_bytes, settings.max_image_pixels),
        batch_size=batch_size,
    )


def clip_limits(settings: Settings) -> ClipLimits:
    """Limits on uploaded clips."""
    return ClipLimits(max_bytes=settings.max_image_bytes, max_seconds=settings.max_clip_seconds)


def train_defaults(settings: Settings) -> TrainDefaults:
    """Network size and run length of trainings started from Discord or over HTTP."""
    return TrainDefaults(
        ngf=settings.train_ngf,
        ndf=settings.train_ngf,
        size=settings.train_size,
        epochs=settings.train_epochs,
        epoch_samples=settings.train_epoch_samples,
    )
